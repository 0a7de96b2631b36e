"""Copy captured tables inside a slot's exported snapshot, with DuckDB's PostgreSQL scanner.

The snapshot sees exactly the transactions that committed before the slot's consistent
point, and the slot sends exactly those that commit after it: the copy and the changes meet
without a gap or an overlap. DuckDB's scanner runs its reads in one PostgreSQL transaction
per DuckDB transaction; the first statement of that transaction imports the snapshot, and the
copy checks the import took effect before it reads a row.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

import pyarrow as pa

from shopflow.errors import SourceError
from shopflow.sources.cdc.changes import DELETED, change_columns_sql, lake_names
from shopflow.sources.cdc.settings import CdcSettings, CdcTable
from shopflow.sources.cdc.slot import ExportedSnapshot, TableInfo, connect
from shopflow.sources.cdc.types import SESSION_SETTINGS, lake_type, snapshot_select
from shopflow.sql import qualified, quote_identifier, quote_literal

if TYPE_CHECKING:
    import duckdb

T = TypeVar("T")


class SnapshotCopy:
    """Reads captured tables as they were at the snapshot's consistent point."""

    def __init__(self, con: duckdb.DuckDBPyConnection, alias: str, snapshot: ExportedSnapshot, batch_rows: int) -> None:
        self.con = con
        self.alias = alias
        self.snapshot = snapshot
        self.batch_rows = batch_rows

    def read(self, table: CdcTable, info: TableInfo) -> pa.RecordBatchReader:
        """A streaming reader of `table`'s rows, typed and marked like changes (`_sf_op` = snapshot, `_sf_seq` 0)."""
        names = lake_names(table, info.columns)
        source = f"SELECT {snapshot_select(list(info.columns))} FROM {qualified(table.schema, table.table)}"
        values = ", ".join(
            f"{lake_type(c.type_oid, c.typmod).from_snapshot(quote_identifier(c.name))} AS {quote_identifier(n)}"
            for c, n in zip(info.columns, names, strict=True)
        )
        lsn = f"CAST({self.snapshot.consistent_point} AS BIGINT)"
        position = change_columns_sql(lsn, "CAST(0 AS BIGINT)")
        sql = (
            f"SELECT {values}{', ' if values else ''}'snapshot' AS _sf_op, {position}, "
            f"false AS {DELETED}, CAST(NULL AS TIMESTAMPTZ) AS _sf_committed_at "
            f"FROM postgres_query({quote_literal(self.alias)}, {quote_literal(source)})"
        )
        return _guarded(lambda: self.con.execute(sql).to_arrow_reader(self.batch_rows), table.qualified)


@contextmanager
def snapshot_copy(
    con: duckdb.DuckDBPyConnection, settings: CdcSettings, snapshot: ExportedSnapshot
) -> Iterator[SnapshotCopy]:
    """Attach the database in DuckDB inside `snapshot`; the snapshot's slot connection must stay open meanwhile."""
    from shopflow.engine import load_extension

    load_extension(con, "postgres_scanner")
    alias = f"_sf_cdc_{uuid.uuid4().hex[:12]}"
    _guarded(lambda: con.execute(f"ATTACH {quote_literal(settings.url)} AS {alias} (TYPE postgres, READ_ONLY)"),
             settings.describe(), settings.url)
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            setup = [f"SET TRANSACTION SNAPSHOT {quote_literal(snapshot.name)}"]
            setup += [f"SET LOCAL {k} = {quote_literal(v)}" for k, v in SESSION_SETTINGS.items()]
            _guarded(lambda: con.execute(
                f"CALL postgres_execute({quote_literal(alias)}, {quote_literal('; '.join(setup))})"
            ), settings.describe())
            _check_imported(con, alias, settings, snapshot)
            yield SnapshotCopy(con, alias, snapshot, settings.batch_rows)
        finally:
            con.execute("ROLLBACK")
    finally:
        con.execute(f"DETACH {alias}")


def _check_imported(
    con: duckdb.DuckDBPyConnection, alias: str, settings: CdcSettings, snapshot: ExportedSnapshot
) -> None:
    """Raise unless DuckDB's PostgreSQL transaction runs in `snapshot` (else the copy could double or lose rows)."""
    with connect(settings) as pg, pg.transaction():
        pg.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        pg.execute(f"SET TRANSACTION SNAPSHOT {quote_literal(snapshot.name)}")
        row = pg.execute("SELECT pg_current_snapshot()::text").fetchone()
    query = quote_literal("SELECT pg_current_snapshot()::text AS s")
    seen = con.execute(f"SELECT s FROM postgres_query({quote_literal(alias)}, {query})").fetchone()
    if row is None or seen is None or row[0] != seen[0]:
        raise SourceError(
            "DuckDB's PostgreSQL scanner did not read inside the slot's exported snapshot",
            fix="report this with the DuckDB and postgres_scanner versions; nothing was copied",
        )


def _guarded(call: Callable[[], T], where: str, url: str = "") -> T:
    import duckdb

    try:
        return call()
    except duckdb.Error as exc:
        message = str(exc)
        password = urlsplit(url).password if url else None
        if password:
            message = message.replace(password, "***")
        raise SourceError(f"reading {where} with DuckDB failed: {message}",
                          fix="check the database URL and that the user may read the tables") from exc
