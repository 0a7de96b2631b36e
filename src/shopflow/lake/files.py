"""The Parquet files of a lake table that hold some batches, for engines that read Parquet themselves.

A warehouse that can scan Parquet (DuckDB) reads the lake's files in place instead of
receiving an Arrow stream: the rows are decoded once, by the engine that stores them, in
bounded memory. The files come from the Delta log's add actions, chosen by their `_sf_batch`
statistics, so a load never lists the storage or opens files of other batches.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import unquote

import pyarrow as pa

from shopflow.lake.written import BATCH_FILE_PREFIX

if TYPE_CHECKING:
    from shopflow.storage import Location


@dataclass(frozen=True)
class LakeFiles:
    """Parquet files that together hold every row of some batches (and maybe rows of others).

    Attributes:
        uris: Absolute file locations: local paths, `s3://...` or `az://...`.
        scheme: `file`, `s3` or `az`: what credentials an engine needs to read `uris`.
        storage_options: The lake's delta-rs storage options (credentials, endpoint).
        columns: The table's columns in the lake's order (partition columns included).
        partition_columns: Columns whose values live in the file paths (`name=value/`), not in the files.
        batches: The wanted `_sf_batch` values; readers must filter on them.
    """

    uris: list[str]
    scheme: str
    storage_options: dict[str, str]
    columns: list[str]
    partition_columns: list[str] = field(default_factory=list)
    batches: list[str] = field(default_factory=list)


def files_holding(
    table_uri: str, add_actions: pa.Table, batch_column: str, batches: Iterable[str]
) -> list[str]:
    """URIs of the files in `add_actions` whose batch statistics may include one of `batches`.

    Args:
        table_uri: The Delta table's root URI; add action paths are relative to it.
        add_actions: `DeltaTable.get_add_actions(flatten=True)` as a pyarrow table.
        batch_column: The batch id column, whose min/max statistics select the files.
        batches: The wanted batch ids.

    A file without statistics for the column is chosen by its name if it is named for its
    batch (`batch-<id>-...`, see `lake.written`), else kept: reading it is slower, never wrong.
    """
    wanted = sorted(set(batches))
    paths = add_actions.column("path").to_pylist()
    names = add_actions.column_names
    lows = add_actions.column(f"min.{batch_column}").to_pylist() if f"min.{batch_column}" in names else None
    highs = add_actions.column(f"max.{batch_column}").to_pylist() if f"max.{batch_column}" in names else None
    root = table_uri.rstrip("/")
    chosen = []
    for i, path in enumerate(paths):
        low = lows[i] if lows is not None else None
        high = highs[i] if highs is not None else None
        if low is not None and high is not None:
            keep = any(_within(b, low, high) for b in wanted)
        else:
            named = _named_batch(path)
            keep = named is None or named in wanted
        if keep:
            chosen.append(path if "://" in path else f"{root}/{unquote(path)}")
    return chosen


def _named_batch(path: str) -> str | None:
    """The batch id in a file name `batch-<id>-<uuid>.parquet`, or None for other names."""
    name = path.rsplit("/", 1)[-1]
    if not name.startswith(BATCH_FILE_PREFIX):
        return None
    batch, _, rest = name.removeprefix(BATCH_FILE_PREFIX).partition("-")
    return batch if rest else None


def _within(batch: str, low: str, high: str) -> bool:
    # Statistics of long strings may be truncated: a truncated max is a prefix of the true max.
    return low <= batch and batch[: len(high)] <= high


def missing_files(location: Location, uris: list[str]) -> list[str]:
    """Those of `uris` (files below `location`) that are not in storage.

    Local files are checked one by one; object-store files by one listing per folder (a
    partition folder usually holds many of them), not one request each.
    """
    if location.scheme == "file":
        return [u for u in uris if not os.path.exists(u)]
    fs = location.filesystem()
    present: set[str] = set()
    for folder in sorted({u.rsplit("/", 1)[0] for u in uris}):
        fs.invalidate_cache(folder)
        try:
            present.update(fs._strip_protocol(p) for p in fs.ls(folder, detail=False))
        except FileNotFoundError:
            continue
    return [u for u in uris if fs._strip_protocol(u) not in present]
