"""Column and table names as they appear in the lake and the warehouse: snake_case.

Analysts type `invoice_no`, not `"InvoiceNo"`; Delta refuses spaces and `,;{}()=` in names
without column mapping. Every name in source data goes through `source_name`, names in the
config through `normalize_name`.

Names that start with `_sf_` are shopflow's own (`_sf_batch`, `_sf_file`, ...): a source
column or key named so would be overwritten by them, so it is renamed `src_sf_...`, with a
warning.
"""

from __future__ import annotations

import logging
import re

log = logging.getLogger(__name__)

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_WORD = re.compile(r"[^0-9a-zA-Z_]+")
SHOPFLOW_PREFIX = "_sf_"
RENAMED_PREFIX = "src"
# (table, source name) pairs already warned about, so that each is told once, not per file.
_warned: set[tuple[str, str]] = set()


def normalize_name(name: str) -> str:
    """`InvoiceNo` -> `invoice_no`, `Customer ID` -> `customer_id`, `2nd` -> `_2nd`.

    shopflow's own columns (`_sf_loaded_at`, `_sf_change_seq`, ...) keep their name, so a
    config may name them as a cursor or delete flag.
    """
    if name.startswith(SHOPFLOW_PREFIX) and not _NON_WORD.search(name):
        return name
    text = _CAMEL.sub("_", name.strip())
    text = _NON_WORD.sub("_", text).strip("_").lower()
    text = re.sub(r"_+", "_", text) or "_"
    return f"_{text}" if text[0].isdigit() else text


def lake_name(name: str) -> str:
    """`normalize_name`, except that a name taken by shopflow's own columns (`_sf_batch`) becomes `src_sf_batch`.

    A column the config declares matches a source column when both have the same `lake_name`.
    """
    normal = normalize_name(name)
    return RENAMED_PREFIX + normal if normal.startswith(SHOPFLOW_PREFIX) else normal


def source_name(name: str, table: str) -> str:
    """The lake name of a column or key that the source data of `table` names `name` (see `lake_name`).

    A source name renamed so that shopflow's own column does not overwrite it is warned about,
    once per table and name.
    """
    renamed = lake_name(name)
    if renamed != normalize_name(name) and (table, name) not in _warned:
        _warned.add((table, name))
        log.warning(
            "table %s: the source names a column %r, and names starting %s are shopflow's own: it loads as %r "
            "(refer to it as %s in shopflow.yml)", table, name, SHOPFLOW_PREFIX, renamed, renamed,
        )
    return renamed


def singular(name: str) -> str:
    """A naive singular, for parent-key names: `orders` -> `order`, `addresses` -> `address`."""
    if name.endswith("sses") or name.endswith("ches") or name.endswith("shes") or name.endswith("xes"):
        return name[:-2]
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name
