"""Column and table names as they appear in the lake and the warehouse: snake_case.

Analysts type `invoice_no`, not `"InvoiceNo"`; Delta refuses spaces and `,;{}()=` in names
without column mapping. Every source name goes through `normalize_name`.
"""

from __future__ import annotations

import re

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_WORD = re.compile(r"[^0-9a-zA-Z_]+")
SHOPFLOW_PREFIX = "_sf_"


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


def singular(name: str) -> str:
    """A naive singular, for parent-key names: `orders` -> `order`, `addresses` -> `address`."""
    if name.endswith("sses") or name.endswith("ches") or name.endswith("shes") or name.endswith("xes"):
        return name[:-2]
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name
