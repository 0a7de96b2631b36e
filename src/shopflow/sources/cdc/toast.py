"""Fill the values an update left in TOAST and PostgreSQL therefore did not send.

An update that does not touch a large (TOASTed) value logs the row without it, so pgoutput
marks it unchanged. Under REPLICA IDENTITY FULL the old row carries it (`changes.py` uses
that); otherwise the value is the key's latest before this change: an earlier row of the same
commit, else the latest row in the lake, which holds every version of the row (the snapshot
copy and every change since). Only commits with such updates pay for the lake lookup.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pyarrow as pa

from shopflow.lake.table import LakeTable
from shopflow.sources.cdc.changes import CHANGE_SEQ, UNCHANGED_COLUMN
from shopflow.sql import quote_identifier, quote_literal

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

_NEW, _PRIOR, _OUT = "_sf_toast_new", "_sf_toast_prior", "_sf_toast_out"


@contextmanager
def filled(
    con: duckdb.DuckDBPyConnection, lake: LakeTable, key: list[str], reader: pa.RecordBatchReader, batch_rows: int
) -> Iterator[pa.RecordBatchReader]:
    """`reader`'s rows with every unchanged value filled in and without `_sf_unchanged`.

    Args:
        con: DuckDB, which spills to disk past its memory limit.
        lake: The table's main lake table.
        key: The key columns (lake names); without a key nothing can be looked up.
        reader: One commit's rows of the table, with `_sf_unchanged`.
        batch_rows: Rows per output batch.
    """
    con.register("_sf_toast_in", reader)
    try:
        con.execute(f"CREATE OR REPLACE TEMPORARY TABLE {_NEW} AS SELECT * FROM _sf_toast_in")
    finally:
        con.unregister("_sf_toast_in")
    try:
        names = [f.name for f in reader.schema if f.name != UNCHANGED_COLUMN]
        row = con.execute(f"SELECT list_distinct(flatten(list({UNCHANGED_COLUMN}))) FROM {_NEW}").fetchone()
        columns = sorted(c for c in (row[0] if row and row[0] else []) if c in names)
        if not columns:
            yield _select(con, names, batch_rows)
            return
        if not key:
            log.warning("%s: %d columns of updates were not sent (TOAST) and the table has no key to look them up; "
                        "they stay null. Set REPLICA IDENTITY FULL on the table to avoid this", lake.name, len(columns))
            yield _select(con, names, batch_rows)
            return
        _load_prior(con, lake, key, columns)
        keys = ", ".join(quote_identifier(k) for k in key)
        previous = ", ".join(
            f"last_value(CASE WHEN NOT {_unchanged(c)} THEN struct_pack(v := {quote_identifier(c)}) END IGNORE NULLS) "
            f"OVER w AS {quote_identifier('_sf_prev_' + c)}" for c in columns
        )
        con.execute(
            f"CREATE OR REPLACE TEMPORARY TABLE {_OUT} AS SELECT * FROM (SELECT *, {previous} FROM "
            f"(SELECT *, false AS _sf_prior FROM {_NEW} UNION ALL BY NAME SELECT *, true AS _sf_prior FROM {_PRIOR}) "
            f"WINDOW w AS (PARTITION BY {keys} ORDER BY {CHANGE_SEQ} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"
            f") WHERE NOT _sf_prior"
        )
        select = ", ".join(
            f"CASE WHEN {_unchanged(n)} THEN {quote_identifier('_sf_prev_' + n)}.v ELSE {quote_identifier(n)} END "
            f"AS {quote_identifier(n)}" if n in columns else quote_identifier(n) for n in names
        )
        yield con.execute(f"SELECT {select} FROM {_OUT} ORDER BY {CHANGE_SEQ}").to_arrow_reader(batch_rows)
    finally:
        for table in (_NEW, _PRIOR, _OUT):
            con.execute(f"DROP TABLE IF EXISTS {table}")


def _unchanged(column: str) -> str:
    return f"coalesce(list_contains({UNCHANGED_COLUMN}, {quote_literal(column)}), false)"


def _select(con: duckdb.DuckDBPyConnection, names: list[str], batch_rows: int) -> pa.RecordBatchReader:
    cols = ", ".join(quote_identifier(n) for n in names)
    return con.execute(f"SELECT {cols} FROM {_NEW} ORDER BY {CHANGE_SEQ}").to_arrow_reader(batch_rows)


def _load_prior(con: duckdb.DuckDBPyConnection, lake: LakeTable, key: list[str], columns: list[str]) -> None:
    """The latest lake row of each key that has unchanged values, in `_sf_toast_prior`."""
    from deltalake import DeltaTable

    keys = ", ".join(quote_identifier(k) for k in key)
    wanted = ", ".join(quote_identifier(c) for c in [*key, *columns, CHANGE_SEQ])
    match = " AND ".join(f"l.{quote_identifier(k)} = n.{quote_identifier(k)}" for k in key)
    if lake.version() is None:
        con.execute(f"CREATE OR REPLACE TEMPORARY TABLE {_PRIOR} AS SELECT {wanted}, "
                    f"CAST(NULL AS VARCHAR[]) AS {UNCHANGED_COLUMN} FROM {_NEW} LIMIT 0")
        return
    dataset = DeltaTable(lake.uri, storage_options=lake.location.delta_storage_options()).to_pyarrow_dataset()
    # Only rows a ledger commit names: a commit cut short by a crash left rows no one loads.
    ledger = pa.table({"batch": pa.array([c.batch for c in lake.commits()], pa.string())})
    con.register("_sf_toast_lake", dataset)
    con.register("_sf_toast_ledger", ledger)
    try:
        con.execute(
            f"CREATE OR REPLACE TEMPORARY TABLE {_PRIOR} AS SELECT {wanted}, CAST(NULL AS VARCHAR[]) AS "
            f"{UNCHANGED_COLUMN} FROM (SELECT {', '.join('l.' + quote_identifier(c) for c in [*key, *columns])}, "
            f"l.{CHANGE_SEQ} FROM _sf_toast_lake l SEMI JOIN (SELECT DISTINCT {keys} FROM {_NEW} "
            f"WHERE {UNCHANGED_COLUMN} IS NOT NULL) n ON {match} "
            f"WHERE l._sf_batch IN (SELECT batch FROM _sf_toast_ledger)) "
            f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY {CHANGE_SEQ} DESC) = 1"
        )
    finally:
        con.unregister("_sf_toast_lake")
        con.unregister("_sf_toast_ledger")
