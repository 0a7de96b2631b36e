"""Append and replace loads written straight into the raw table: the rows are written once.

The staged path writes the lake's rows into a temporary table, then copies them into
`raw.<table>` with `INSERT ... SELECT`: on PostgreSQL that writes every row twice (and
analyzes the stage). An append or replace needs neither the stage's ordinal nor a merge,
so when the lake's column types are exactly the table's (or the table is new) the
warehouse session loads the rows into `raw.<table>` itself: a binary COPY on PostgreSQL, an
`INSERT ... SELECT` over the Parquet files on DuckDB. Anything else (schema drift, child
tables, replaced files, no files) goes the staged way, which handles it.

It runs inside the load's transaction like every other statement: a COPY that fails half way
leaves `raw.<table>` as it was.
"""

from __future__ import annotations

import logging

import pyarrow as pa

from shopflow.warehouse.base import RAW_SCHEMA, LoadJob, LoadResult
from shopflow.warehouse.session import LoadSession

log = logging.getLogger(__name__)


def load_direct(session: LoadSession, job: LoadJob, batches: list[str], result: LoadResult) -> bool:
    """Load the rows of `batches` straight into `raw.<table>` if nothing calls for the staged path.

    Returns True if the rows are in (their count added to `result.rows`), False if the caller
    must stage them; nothing has changed in the warehouse then.
    """
    table = job.table
    if table.write_disposition not in ("append", "replace") or job.children or job.files is None:
        return False
    if any(c.replaces for c in job.commits):
        return False  # file replacements delete rows by file first: the staged path does that
    files = job.files(table.name, batches)
    if files is None or not files.uris:
        return False  # no rows in the lake: the staged path decides what an empty load creates
    replace = table.write_disposition == "replace"
    if replace and any(name.startswith(f"{table.name}__") for name in session.tables(RAW_SCHEMA)):
        return False  # child tables of an earlier load: a replace empties them too, as the staged path does

    def read() -> pa.RecordBatchReader | None:
        return job.read(table.name, batches)

    rows = session.load_into(RAW_SCHEMA, table.name, files, read, replace=replace)
    if rows is None:
        log.debug("raw.%s: the lake's column types differ from the table's; staging the rows", table.name)
        return False
    result.rows[table.name] = result.rows.get(table.name, 0) + rows
    return True
