"""The demo databases: PostgreSQL (psycopg 3, COPY from Arrow-written CSV) or a SQLite file.

A database is named by a URL: `postgresql://user@host:port/db` for PostgreSQL; `sqlite:///path`,
or a plain file path, for SQLite. Bulk rows arrive as Arrow tables and go in without a Python
object per value on PostgreSQL (CSV bytes written by Arrow's C++ writer into COPY) and in
chunked `executemany` calls on SQLite.
"""

from __future__ import annotations

import io
import logging
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.csv as pacsv

from shopflow.demo.generators.core import prefetch
from shopflow.errors import SourceError

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)


class DemoDatabase(ABC):
    """A connection to a demo database with bulk inserts from Arrow; one transaction at a time."""

    kind: str

    @abstractmethod
    def execute(self, sql: str) -> int:
        """Run one statement; returns the rows it changed (-1 when not applicable)."""

    @abstractmethod
    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """The rows of a query."""

    def scalar(self, sql: str) -> Any:
        """The first value of a query's first row, None when it returns no row."""
        found = self.rows(sql)
        return found[0][0] if found else None

    @abstractmethod
    def insert(self, table: str, data: pa.Table | Iterable[pa.Table]) -> None:
        """Append `data` (one table or a stream of them) to `table`; its columns name the table's columns.

        A stream is consumed one table ahead in a background thread, overlapping its generation
        with the database's work.
        """

    @abstractmethod
    def table_exists(self, table: str) -> bool:
        """Whether `table` exists (in the default schema)."""

    @abstractmethod
    def commit(self) -> None:
        """Commit the open transaction."""

    @abstractmethod
    def rollback(self) -> None:
        """Roll back the open transaction."""

    @abstractmethod
    def close(self) -> None:
        """Close the connection (rolling back anything uncommitted)."""

    def __enter__(self) -> DemoDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def quote(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def is_postgres(db: str) -> bool:
    """Whether `db` names a PostgreSQL database."""
    return db.startswith(("postgresql://", "postgres://"))


def open_database(db: str) -> DemoDatabase:
    """Connect to the demo database named by `db` (see the module docs)."""
    if is_postgres(db):
        return PostgresDatabase(db)
    path = db.removeprefix("sqlite:///") if db.startswith("sqlite:///") else db.removeprefix("sqlite://")
    return SqliteDatabase(path)


class PostgresDatabase(DemoDatabase):
    """A PostgreSQL database through psycopg 3."""

    kind = "postgres"

    def __init__(self, url: str) -> None:
        import psycopg

        try:
            self.con: psycopg.Connection[Any] = psycopg.connect(url)
        except psycopg.Error as exc:
            raise SourceError(
                f"cannot connect to the demo PostgreSQL database: {str(exc).strip()}",
                fix="check that the server runs and the URL (postgresql://user@host:port/database) is right",
            ) from exc

    def execute(self, sql: str) -> int:  # noqa: D102
        return int(self.con.execute(sql.encode()).rowcount)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:  # noqa: D102
        return list(self.con.execute(sql.encode()).fetchall())

    def insert(self, table: str, data: pa.Table | Iterable[pa.Table]) -> None:  # noqa: D102
        encoded = prefetch((batch.schema.names, csv_bytes(batch)) for batch in _batches(data))
        with ExitStack() as stack:
            copy = None
            for names, payload in encoded:
                if copy is None:
                    columns = ", ".join(quote(c) for c in names)
                    statement = f"COPY {table} ({columns}) FROM STDIN (FORMAT csv)"
                    copy = stack.enter_context(self.con.cursor().copy(statement.encode()))
                copy.write(payload)

    def table_exists(self, table: str) -> bool:  # noqa: D102
        name = table.replace("'", "''")
        return self.scalar(f"SELECT to_regclass('{name}') IS NOT NULL") is True

    def commit(self) -> None:  # noqa: D102
        self.con.commit()

    def rollback(self) -> None:  # noqa: D102
        self.con.rollback()

    def close(self) -> None:  # noqa: D102
        self.con.close()


class SqliteDatabase(DemoDatabase):
    """A SQLite file through the standard library."""

    kind = "sqlite"

    def __init__(self, path: str) -> None:
        self.con = sqlite3.connect(path, isolation_level="DEFERRED", timeout=30)
        # WAL lets a pipeline read while the change simulator writes; NORMAL skips an fsync per commit.
        self.con.execute("PRAGMA journal_mode = WAL")
        self.con.execute("PRAGMA synchronous = NORMAL")

    def execute(self, sql: str) -> int:  # noqa: D102
        return int(self.con.execute(sql).rowcount)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:  # noqa: D102
        return list(self.con.execute(sql).fetchall())

    def insert(self, table: str, data: pa.Table | Iterable[pa.Table]) -> None:  # noqa: D102
        for batch in prefetch(_batches(data)):
            columns = ", ".join(quote(c) for c in batch.schema.names)
            marks = ", ".join("?" * batch.num_columns)
            sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"
            self.con.executemany(sql, zip(*(_python_values(col) for col in batch.columns), strict=True))

    def table_exists(self, table: str) -> bool:  # noqa: D102
        found = self.con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
        return found.fetchone() is not None

    def commit(self) -> None:  # noqa: D102
        self.con.commit()

    def rollback(self) -> None:  # noqa: D102
        self.con.rollback()

    def close(self) -> None:  # noqa: D102
        self.con.close()


def _batches(data: pa.Table | Iterable[pa.Table]) -> Iterator[pa.RecordBatch]:
    for table in [data] if isinstance(data, pa.Table) else data:
        yield from table.to_batches(max_chunksize=50_000)


def csv_bytes(batch: pa.RecordBatch) -> bytes:
    """Rows as headerless CSV (PostgreSQL's COPY csv format: empty unquoted = NULL)."""
    columns = [_utc_text(c) if pa.types.is_timestamp(c.type) and c.type.tz else c for c in batch.columns]
    out = io.BytesIO()
    pacsv.write_csv(pa.record_batch(columns, names=batch.schema.names), out, pacsv.WriteOptions(include_header=False))
    return out.getvalue()


def _utc_text(column: pa.Array) -> pa.Array:
    """A zoned timestamp column as UTC text with an offset; Arrow's CSV writer is slow on zoned timestamps."""
    import pyarrow.compute as pc

    naive = column.cast(pa.timestamp(column.type.unit)).cast(pa.string())
    return pc.binary_join_element_wise(naive, "+00", "")


def _python_values(column: pa.Array) -> list[Any]:
    """A column as Python values SQLite takes: timestamps as ISO text, decimals as text."""
    kind = column.type
    if pa.types.is_timestamp(kind):
        # SQLite has no timestamp type; ISO text in UTC sorts and parses with its date functions.
        return list(column.cast(pa.timestamp(kind.unit)).cast(pa.string()).to_pylist())
    if pa.types.is_decimal(kind):
        return list(column.cast(pa.string()).to_pylist())
    if pa.types.is_integer(kind) and column.null_count == 0:
        return list(column.to_numpy().tolist())
    return list(column.to_pylist())
