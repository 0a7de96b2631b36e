"""The PostgreSQL side of the shared load logic, on an ADBC connection inside one transaction.

Rows arrive by ADBC's bulk ingest: a binary COPY fed batch by batch from the lake's Arrow
stream, in the load's own transaction. An append or replace whose types are the raw table's
is copied straight into it (`load_into`); anything else is staged in a temporary table first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa

from shopflow.lake.files import LakeFiles
from shopflow.sql import qualified, quote_identifier, quote_literal
from shopflow.warehouse.apply import with_ordinal
from shopflow.warehouse.postgres_types import conform, create_table_sql, staged_columns
from shopflow.warehouse.session import TEMP


class PostgresSession:
    """A LoadSession over an ADBC PostgreSQL connection whose transaction the caller opened.

    Args:
        con: An `adbc_driver_postgresql.dbapi` connection.
    """

    def __init__(self, con: Any) -> None:
        self.con = con
        # An error raised by our own reader inside ADBC's COPY comes back as a driver error; keep the original.
        self.reader_error: BaseException | None = None

    def execute(self, sql: str) -> None:
        """Run one statement."""
        with self.con.cursor() as cur:
            cur.execute(sql)

    def scalar(self, sql: str) -> Any:
        """The first column of the first row of `sql`."""
        with self.con.cursor() as cur:
            cur.execute(sql)
            row = cur.fetchone()
        return None if row is None else row[0]

    def changed(self, sql: str) -> int:
        """Run an INSERT or DELETE; the rows it changed, as the server counted them."""
        with self.con.cursor() as cur:
            cur.execute(sql)
            return max(int(cur.rowcount), 0)

    def stage(self, name: str, reader: pa.RecordBatchReader) -> int:
        """COPY `reader` (plus `_sf_ord`) into temporary table `name`; return the rows copied."""
        ordered = with_ordinal(reader)
        columns = staged_columns(ordered.schema)
        self.execute(create_table_sql(name, columns))
        with self.con.cursor() as cur:
            copied = cur.adbc_ingest(name, self._watched(conform(ordered, columns)), mode="append", temporary=True)
        # autovacuum never analyzes temporary tables: without statistics the merge's joins may plan badly
        self.execute(f"ANALYZE {quote_identifier(name)}")
        if copied is None or copied < 0:
            return int(self.scalar(f"SELECT count(*) FROM {quote_identifier(name)}") or 0)
        return int(copied)

    def stage_files(self, name: str, files: LakeFiles) -> int | None:
        """PostgreSQL cannot read Parquet files: always None, the lake's rows come through `stage`."""
        return None

    def load_into(
        self, schema: str, table: str, files: LakeFiles, read: Callable[[], pa.RecordBatchReader | None], *,
        replace: bool,
    ) -> int | None:
        """COPY the rows of `read()` straight into `schema.table` if its types are the rows'; else None.

        The table is created if missing (typed as a stage would be); every column of the rows
        must exist in it with the same type, as `format_type()` spells it. Columns the rows lack
        are left NULL. Without a stage, no temporary table is written, analyzed and copied again.
        """
        reader = read()
        if reader is None:
            return None
        columns = staged_columns(reader.schema)
        existing = self.columns(schema, table)
        if existing is None:
            self.execute(create_table_sql(table, columns, schema=schema))
        elif any(existing.get(c.name) != c.sql_type for c in columns):
            return None
        elif replace:
            self.execute(f"DELETE FROM {qualified(schema, table)}")
        counted = _Counted(conform(reader, columns))
        with self.con.cursor() as cur:
            cur.adbc_ingest(table, self._watched(counted.reader()), mode="append", db_schema_name=schema)
        return counted.rows

    def unstage(self, name: str) -> None:
        """Drop temporary table `name` if it exists."""
        self.execute(f"DROP TABLE IF EXISTS {quote_identifier(name)}")

    def columns(self, schema: str, table: str) -> dict[str, str] | None:
        """Column name -> type as `format_type()` spells it (`numeric(12,2)`), or None if missing."""
        name = f"pg_temp.{quote_identifier(table)}" if schema == TEMP else qualified(schema, table)
        with self.con.cursor() as cur:
            cur.execute(
                "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_catalog.pg_attribute "
                f"WHERE attrelid = to_regclass({quote_literal(name)}) AND attnum > 0 AND NOT attisdropped "
                "ORDER BY attnum"
            )
            rows = cur.fetchall()
        return {str(r[0]): str(r[1]) for r in rows} or None

    def tables(self, schema: str) -> list[str]:
        """Tables (plain and partitioned) in `schema`, sorted."""
        with self.con.cursor() as cur:
            cur.execute(
                "SELECT c.relname::text FROM pg_catalog.pg_class c "
                "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                f"WHERE n.nspname = {quote_literal(schema)} AND c.relkind IN ('r', 'p') ORDER BY 1"
            )
            return [str(r[0]) for r in cur.fetchall()]

    def create_like(self, schema: str, table: str, staged: str, columns: list[str]) -> None:
        """Create `schema.table` with `columns` typed as in `staged`."""
        col_list = ", ".join(quote_identifier(c) for c in columns)
        self.execute(
            f"CREATE TABLE {qualified(schema, table)} AS SELECT {col_list} FROM {quote_identifier(staged)} WITH NO DATA"
        )

    def index_keys(self, schema: str, table: str, columns: list[str]) -> None:
        """A b-tree on `columns`: a merge's joins against the table become index lookups."""
        digest = hashlib.sha1(f"{schema}.{table}".encode()).hexdigest()[:8]
        name = f"{table[:40]}_sf_key_{digest}"  # PostgreSQL cuts identifiers at 63 bytes
        if self.scalar(f"SELECT to_regclass({quote_literal(f'{quote_identifier(schema)}.{quote_identifier(name)}')})"):
            return
        col_list = ", ".join(quote_identifier(c) for c in columns)
        self.execute(f"CREATE INDEX {quote_identifier(name)} ON {qualified(schema, table)} ({col_list})")
        # A bulk-loaded table has no statistics until autovacuum gets to it; without them the next
        # merge's planner may scan the whole table instead of using the index.
        self.execute(f"ANALYZE {qualified(schema, table)}")

    def add_column(self, schema: str, table: str, column: str, sql_type: str) -> None:
        """Add a nullable column."""
        self.execute(f"ALTER TABLE {qualified(schema, table)} ADD COLUMN {quote_identifier(column)} {sql_type}")

    def widen_column(self, schema: str, table: str, column: str, sql_type: str) -> None:
        """Change a column to a wider type in place (PostgreSQL rewrites the table)."""
        self.execute(
            f"ALTER TABLE {qualified(schema, table)} ALTER COLUMN {quote_identifier(column)} TYPE {sql_type}"
        )

    def _watched(self, reader: pa.RecordBatchReader) -> pa.RecordBatchReader:
        """`reader`, keeping the error it raises (ADBC would hand back only its own)."""

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                yield from reader
            except Exception as exc:
                self.reader_error = exc
                raise

        return pa.RecordBatchReader.from_batches(reader.schema, batches())


class _Counted:
    """A reader that counts the rows it hands out."""

    def __init__(self, reader: pa.RecordBatchReader) -> None:
        self._source = reader
        self.rows = 0

    def reader(self) -> pa.RecordBatchReader:
        def batches() -> Iterator[pa.RecordBatch]:
            for batch in self._source:
                self.rows += batch.num_rows
                yield batch

        return pa.RecordBatchReader.from_batches(self._source.schema, batches())
