"""DuckDB reads the lake's Parquet files in place: local folders, S3 (httpfs) and Azure Blob.

Scanning the files with DuckDB's own reader decodes each row once, in parallel, inside
DuckDB's memory limit, where an Arrow stream handed over from Python would be decoded by
pyarrow and copied again. What DuckDB cannot reach with the lake's credentials is read
through the Arrow stream instead (the caller falls back when `scan_sql` returns None).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shopflow.lake.duckdb_access import grant_lake_access
from shopflow.lake.files import LakeFiles
from shopflow.sql import quote_identifier, quote_literal

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

SOURCE_FILE = "_sf_src"
# DuckDB's name for the row's position in its file; a data column of that name blocks the option.
ROW_NUMBER = "file_row_number"


@dataclass(frozen=True)
class Scan:
    """A SELECT over lake files, and the DuckDB type of each column it returns (in the lake's order)."""

    sql: str
    types: dict[str, str]


def scan_sql(con: duckdb.DuckDBPyConnection, files: LakeFiles, ordinal: str) -> str | None:
    """A SELECT over `files` returning the rows of `files.batches` in the lake's column order.

    The result also has `ordinal`, a (file, row) struct that orders rows as they were written.
    None if DuckDB cannot read these files here (no credentials it can use, a column named
    `file_row_number`, no files): the caller reads through Arrow instead.
    """
    found = scan(con, files, ordinal)
    return None if found is None else found.sql


def scan(con: duckdb.DuckDBPyConnection, files: LakeFiles, ordinal: str | None) -> Scan | None:
    """`scan_sql`, with the columns' types; without `ordinal` (None) the rows carry no position.

    Without the position DuckDB reads no file names or row numbers: an append or replace
    needs no order among the rows.
    """
    import duckdb

    if not files.uris:
        return None
    if not grant_lake_access(con, files.scheme, files.storage_options):
        log.info("reading the lake through Arrow: DuckDB cannot reach its files")
        return None
    source = _read_parquet(files, positions=ordinal is not None)
    try:
        found = {str(r[0]): str(r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
    except duckdb.Error as exc:
        log.info("reading the lake through Arrow: DuckDB cannot scan its files (%s)", exc)
        return None
    data = [c for c in found if c not in (SOURCE_FILE, ROW_NUMBER)] if ordinal is not None else list(found)
    order = {name: i for i, name in enumerate(files.columns)}
    data.sort(key=lambda c: order.get(c, len(order)))
    columns = ", ".join(quote_identifier(c) for c in data)
    wanted = ", ".join(quote_literal(b) for b in files.batches)
    position = f", {{'file': {SOURCE_FILE}, 'row': {ROW_NUMBER}}} AS {quote_identifier(ordinal)}" if ordinal else ""
    sql = f"SELECT {columns}{position} FROM {source} WHERE _sf_batch IN ({wanted})"
    return Scan(sql, {c: found[c] for c in data})


def _read_parquet(files: LakeFiles, *, positions: bool = True) -> str:
    uris = "[" + ", ".join(quote_literal(u) for u in files.uris) + "]"
    options = ["union_by_name = true"]
    if positions:
        options.append(f"filename = {quote_literal(SOURCE_FILE)}, file_row_number = true")
    if files.partition_columns:
        # Delta keeps partition values as text in the path; DuckDB would guess dates and numbers.
        types = ", ".join(f"{quote_literal(c)}: 'VARCHAR'" for c in files.partition_columns)
        options.append(f"hive_partitioning = true, hive_types = {{{types}}}")
    else:
        options.append("hive_partitioning = false")
    return f"read_parquet({uris}, {', '.join(options)})"
