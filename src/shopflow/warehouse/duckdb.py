"""The DuckDB warehouse: one database file, loaded by scanning the lake's Parquet files in place."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from shopflow.errors import WarehouseError
from shopflow.lake.files import LakeFiles
from shopflow.sql import inline, qualified, quote_identifier
from shopflow.warehouse.apply import ORDINAL, ensure_state, with_ordinal
from shopflow.warehouse.base import T, Warehouse
from shopflow.warehouse.duckdb_lake import scan, scan_sql
from shopflow.warehouse.session import TEMP, LoadSession

log = logging.getLogger(__name__)

# DuckDB's words for a file it cannot read as a database: cut short, overwritten, bits flipped.
_DAMAGED = ("not a valid DuckDB database file", "Could not read enough bytes", "Corrupt database file",
            "does not match stored checksum", "database file is corrupt")


class DuckDBWarehouse(Warehouse):
    """A DuckDB file. Opening it for writing takes DuckDB's file lock, so two runs never load at once.

    Args:
        path: The database file; its folder is created if missing.
        read_only: Open without taking the write lock (status, queries).
    """

    def __init__(self, path: str, *, read_only: bool = False) -> None:
        import duckdb

        from shopflow.engine import connect

        self.path = path
        if not read_only:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        elif not Path(path).exists():
            raise WarehouseError(f"warehouse {path} does not exist yet", fix="run `shopflow run` first")
        try:
            if read_only:
                self._con = duckdb.connect(path, read_only=True)
            else:
                self._con = connect(path)
        except duckdb.Error as exc:
            if is_damaged(exc):
                raise damaged(path, exc) from exc
            if not isinstance(exc, duckdb.IOException):
                raise
            raise WarehouseError(
                f"cannot open the DuckDB warehouse {path}: {exc}",
                fix="another shopflow run or a DuckDB client holds it; wait for it to finish or close it",
            ) from exc
        if not read_only:
            try:
                ensure_state(_Session(self._con))
            except duckdb.Error as exc:
                self._con.close()
                if is_damaged(exc):
                    raise damaged(path, exc) from exc
                raise

    def table_exists(self, schema: str, table: str) -> bool:
        """True if the table `schema.table` exists."""
        row = self._con.execute(*inline(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", [schema, table]
        )).fetchone()
        return bool(row and row[0])

    def query(self, sql: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
        """Run a query and return its rows."""
        return self._con.execute(*inline(sql, params)).fetchall()  # inlined: binding would import pandas

    def close(self) -> None:
        """Close the database file."""
        self._con.close()

    def _transaction(self, work: Callable[[LoadSession], T]) -> T:
        """Run `work(session)` in a transaction; roll back if it raises, and drop what it staged either way."""
        session = _Session(self._con)
        self._con.execute("BEGIN TRANSACTION")
        try:
            result = work(session)
            self._con.execute("COMMIT")
        except Exception as exc:
            self._con.execute("ROLLBACK")
            if self._is_driver_error(exc) and is_damaged(exc):
                raise damaged(self.path, exc) from exc
            raise
        finally:
            session.drop_staged()
        return result

    def _is_driver_error(self, exc: BaseException) -> bool:
        """True if `exc` is DuckDB's."""
        import duckdb

        return isinstance(exc, duckdb.Error)


def is_damaged(exc: BaseException) -> bool:
    """True if DuckDB's error says the database file itself is damaged (not locked, not a bad statement)."""
    return any(words in str(exc) for words in _DAMAGED)


def damaged(path: str, exc: BaseException) -> WarehouseError:
    """The error for a damaged warehouse file: what DuckDB saw, and that a run rebuilds it from the lake."""
    return WarehouseError(
        f"the DuckDB warehouse {path} is damaged (cut short or overwritten): DuckDB says {exc}",
        fix=(f"delete {path} (and {path}.wal if it exists), then `shopflow run` rebuilds it from the lake, which "
             "holds every row loaded so far; the models are rebuilt with it. Or restore the file from a backup"),
        path=path,
    )


class _Session:
    """The DuckDB side of the shared load logic."""

    def __init__(self, con: object) -> None:
        import duckdb

        assert isinstance(con, duckdb.DuckDBPyConnection)
        self.con = con
        self._staged: dict[str, str] = {}  # name -> TABLE or VIEW

    def execute(self, sql: str) -> None:
        self.con.execute(sql)

    def scalar(self, sql: str) -> Any:
        row = self.con.execute(sql).fetchone()
        return None if row is None else row[0]

    def changed(self, sql: str) -> int:
        row = self.con.execute(sql).fetchone()  # DuckDB answers an INSERT or DELETE with its row count
        return int(row[0]) if row else 0

    def stage(self, name: str, reader: pa.RecordBatchReader) -> int:
        view = f"_sf_arrow_{uuid.uuid4().hex}"
        self.con.register(view, with_ordinal(reader))
        try:
            self.con.execute(f"CREATE TEMPORARY TABLE {quote_identifier(name)} AS SELECT * FROM {view}")
        finally:
            self.con.unregister(view)
        self._staged[name] = "TABLE"
        return int(self.scalar(f"SELECT count(*) FROM {quote_identifier(name)}") or 0)

    def stage_files(self, name: str, files: LakeFiles) -> int | None:
        # A view, not a copy: the insert that follows streams the files straight into the table.
        select = scan_sql(self.con, files, ORDINAL)
        if select is None:
            return None
        self.con.execute(f"CREATE TEMPORARY VIEW {quote_identifier(name)} AS {select}")
        self._staged[name] = "VIEW"
        return int(self.scalar(f"SELECT count(*) FROM {quote_identifier(name)}") or 0)

    def load_into(
        self, schema: str, table: str, files: LakeFiles, read: Callable[[], pa.RecordBatchReader | None], *,
        replace: bool,
    ) -> int | None:
        # The files straight into the table, no view in between: no row positions read, no count of its own.
        found = scan(self.con, files, None)
        if found is None:
            return None
        target = qualified(schema, table)
        existing = self.columns(schema, table)
        if existing is None:
            row = self.con.execute(f"CREATE TABLE {target} AS {found.sql}").fetchone()
            return int(row[0]) if row else 0
        if any(existing.get(name) != sql_type for name, sql_type in found.types.items()):
            return None
        if replace:
            self.con.execute(f"DELETE FROM {target}")
        col_list = ", ".join(quote_identifier(c) for c in found.types)
        row = self.con.execute(f"INSERT INTO {target} ({col_list}) {found.sql}").fetchone()
        return int(row[0]) if row else 0

    def unstage(self, name: str) -> None:
        kind = self._staged.pop(name, "TABLE")
        self.con.execute(f"DROP {kind} IF EXISTS {quote_identifier(name)}")

    def columns(self, schema: str, table: str) -> dict[str, str] | None:
        where = "table_schema = ?" if schema != TEMP else "table_catalog = 'temp'"
        params = [schema, table] if schema != TEMP else [table]
        rows = self.con.execute(
            f"SELECT column_name, data_type FROM information_schema.columns WHERE {where} AND table_name = ? "
            "ORDER BY ordinal_position",
            params,
        ).fetchall()
        return {str(r[0]): str(r[1]) for r in rows} or None

    def tables(self, schema: str) -> list[str]:
        rows = self.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY table_name", [schema]
        ).fetchall()
        return [str(r[0]) for r in rows]

    def create_like(self, schema: str, table: str, staged: str, columns: list[str]) -> None:
        col_list = ", ".join(quote_identifier(c) for c in columns)
        self.con.execute(
            f"CREATE TABLE {qualified(schema, table)} AS SELECT {col_list} FROM {quote_identifier(staged)} LIMIT 0"
        )

    def index_keys(self, schema: str, table: str, columns: list[str]) -> None:
        # DuckDB joins by hashing; an ART index would only slow the bulk inserts down.
        return None

    def add_column(self, schema: str, table: str, column: str, sql_type: str) -> None:
        self.con.execute(f"ALTER TABLE {qualified(schema, table)} ADD COLUMN {quote_identifier(column)} {sql_type}")

    def widen_column(self, schema: str, table: str, column: str, sql_type: str) -> None:
        self.con.execute(
            f"ALTER TABLE {qualified(schema, table)} ALTER COLUMN {quote_identifier(column)} SET DATA TYPE {sql_type}"
        )

    def drop_staged(self) -> None:
        for name in list(self._staged):
            self.unstage(name)
