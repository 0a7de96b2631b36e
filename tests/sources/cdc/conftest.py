"""A captured database per test: its own PostgreSQL database (wal_level=logical), lake and DuckDB warehouse."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pytest
from tests.services import PostgresServer

from shopflow.config.model import PipelineConfig, TableConfig, WarehouseConfig
from shopflow.engine import connect
from shopflow.pipeline.extract_cdc import CdcRun, extract_cdc
from shopflow.pipeline.layout import LakeLayout
from shopflow.pipeline.load import load_table
from shopflow.sources.cdc.settings import CdcSettings, CdcTable
from shopflow.warehouse.base import LoadResult
from shopflow.warehouse.factory import open_warehouse

SOURCE = "shop"


@dataclass
class Capture:
    """One test's source database, with the lake and warehouse its capture fills."""

    server: PostgresServer
    database: str
    folder: Path
    tables: list[str] = field(default_factory=lambda: ["public.orders"])
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.con = connect()

    @property
    def url(self) -> str:
        return self.server.url(self.database)

    @property
    def slot(self) -> str:
        return f"sf_{self.database}".lower()

    @property
    def settings(self) -> CdcSettings:
        return CdcSettings(url=self.url, slot=self.slot, publication=self.slot,
                           tables=tuple(CdcTable.parse(t) for t in self.tables), **self.options)

    @property
    def config(self) -> PipelineConfig:
        return PipelineConfig(pipeline="cdc", lake=str(self.folder / "lake"),
                              warehouse=WarehouseConfig(path=str(self.folder / "warehouse.duckdb")), sources=[])

    def execute(self, sql: str, params: list[Any] | None = None) -> None:
        with psycopg.connect(self.url, autocommit=True) as con:
            con.execute(sql, params)  # type: ignore[arg-type]

    def source(self, sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url, autocommit=True) as con:
            return con.execute(sql).fetchall()  # type: ignore[arg-type]

    def extract(self) -> CdcRun:
        return extract_cdc(self.con, self.config, SOURCE, self.settings, uuid.uuid4().hex)

    def load(self, table: str = "orders", key: list[str] | None = None) -> LoadResult | None:
        """Load the table's pending lake commits with the real load path: merge by key, latest change wins."""
        settings = TableConfig(name=table, write_disposition="merge", primary_key=key or ["id"],
                               cursor="_sf_change_seq", delete_column="_sf_deleted")
        with open_warehouse(self.config.warehouse) as warehouse:
            return load_table(warehouse, LakeLayout(self.config, SOURCE, table), settings)

    def sync(self, tables: dict[str, list[str]] | None = None) -> CdcRun:
        """Extract, then load every captured table."""
        run = self.extract()
        for name, key in (tables or {"orders": ["id"]}).items():
            self.load(name, key)
        return run

    def warehouse(self, sql: str) -> list[tuple[Any, ...]]:
        with open_warehouse(self.config.warehouse, read_only=True) as warehouse:
            return warehouse.query(sql)

    def lake(self, table: str = "orders") -> pa.Table:
        """Every row of the table's lake table that a ledger commit names."""
        layout = LakeLayout(self.config, SOURCE, table)
        reader = layout.main.read_batches([c.batch for c in layout.main.commits()])
        assert reader is not None
        return reader.read_all()

    def slot_position(self) -> str | None:
        rows = self.source("SELECT confirmed_flush_lsn::text FROM pg_replication_slots "
                           f"WHERE slot_name = '{self.slot}'")
        return str(rows[0][0]) if rows else None

    def source_orders(self) -> list[tuple[Any, ...]]:
        """`orders` in the source, json as PostgreSQL prints it."""
        return self.source("SELECT id, amount, placed_at, note, paid, doc::text FROM orders ORDER BY id")

    def warehouse_orders(self) -> list[tuple[Any, ...]]:
        """`raw.orders` in the warehouse, the same columns."""
        return self.warehouse("SELECT id, amount, placed_at, note, paid, doc FROM raw.orders ORDER BY id")

    def close(self) -> None:
        self.con.close()


def drop_slots(server: PostgresServer, database: str) -> None:
    """Drop the replication slots of `database` (a slot keeps its database from being dropped)."""
    with psycopg.connect(server.url(), autocommit=True) as con:
        con.execute(
            "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = %s "
            "AND active_pid IS NOT NULL", [database],
        )
        con.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = %s",
                    [database])


@pytest.fixture
def capture(logical_postgres_server: PostgresServer, tmp_path: Path) -> Iterator[Capture]:
    """A fresh database with an `orders` table, captured into a lake and a DuckDB warehouse in tmp_path."""
    database = logical_postgres_server.create_database("cdc")
    cap = Capture(logical_postgres_server, database, tmp_path)
    cap.execute(
        "CREATE TABLE orders (id bigint PRIMARY KEY, amount numeric(12,2), placed_at timestamptz, "
        "note text, paid boolean, doc jsonb)"
    )
    try:
        yield cap
    finally:
        cap.close()
        drop_slots(logical_postgres_server, database)
        logical_postgres_server.drop_database(database)

