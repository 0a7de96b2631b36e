"""The shop database's models (examples/shop_db/dbt) on DuckDB and PostgreSQL.

raw.users and raw.transactions are built as shopflow's database source leaves them (the
source's columns plus `_sf_*`), from rows written here. The expected tables are computed in
Python from the same rows: the newest version of each id by updated_at, text lowercased.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.transform.test_totesys_models import ROOT, Warehouse, empty_warehouse, run_dbt

PROJECT = ROOT / "examples" / "shop_db" / "dbt"
T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
SF = "_sf_batch VARCHAR, _sf_file VARCHAR, _sf_load_date VARCHAR, _sf_loaded_at TIMESTAMPTZ"
USERS = f"id BIGINT, name VARCHAR, email VARCHAR, address VARCHAR, created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ, {SF}"
TRANSACTIONS = (f"id BIGINT, user_id BIGINT, amount DECIMAL(12,2), status VARCHAR, created_at TIMESTAMPTZ, "
                f"updated_at TIMESTAMPTZ, {SF}")


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouse]:
    with empty_warehouse(request.param, tmp_path, request) as empty:
        yield empty


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)


def user(uid: int, name: str, email: str, address: str | None, updated: float) -> tuple[Any, ...]:
    return (uid, name, email, address, hours(uid - 100), hours(updated))


def txn(tid: int, user_id: int, amount: str, status: str, updated: float) -> tuple[Any, ...]:
    return (tid, user_id, Decimal(amount), status, hours(tid - 50), hours(updated))


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, datetime):
        return f"TIMESTAMPTZ '{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


class RawTables:
    """raw.users and raw.transactions, loaded batch by batch like shopflow's loads."""

    def __init__(self, warehouse: Warehouse, mode: str) -> None:
        self.warehouse, self.mode, self.batches = warehouse, mode, 0
        self.rows: dict[str, list[tuple[Any, ...]]] = {"users": [], "transactions": []}
        warehouse.execute("CREATE SCHEMA IF NOT EXISTS wh.raw", f"CREATE TABLE wh.raw.users ({USERS})",
                          f"CREATE TABLE wh.raw.transactions ({TRANSACTIONS})")

    def load(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        """`append` adds the rows as new versions; `merge` replaces the rows with their ids."""
        self.batches += 1
        loaded = hours(1000 + self.batches)
        sf = (f"b{self.batches}", None, loaded.date().isoformat(), loaded)
        values = ", ".join("(" + ", ".join(_literal(v) for v in (*row, *sf)) + ")" for row in rows)
        statements = []
        if self.mode == "merge":
            ids = ", ".join(str(row[0]) for row in rows)
            statements.append(f"DELETE FROM wh.raw.{table} WHERE id IN ({ids})")
            self.rows[table] = [r for r in self.rows[table] if r[0] not in {row[0] for row in rows}]
        statements.append(f"INSERT INTO wh.raw.{table} VALUES {values}")
        self.warehouse.execute(*statements)
        self.rows[table].extend(rows)

    def expected(self, table: str) -> set[tuple[Any, ...]]:
        """The newest version of each id (later loads win ties), with the model's text lowercased."""
        newest: dict[int, tuple[Any, ...]] = {}
        for row in self.rows[table]:
            if row[0] not in newest or row[-1] >= newest[row[0]][-1]:
                newest[row[0]] = row
        text = {"users": (1, 2, 3), "transactions": (3,)}[table]
        return {tuple(v.lower() if i in text and v is not None else v for i, v in enumerate(row))
                for row in newest.values()}


def built(warehouse: Warehouse, table: str) -> set[tuple[Any, ...]]:
    columns = {"users": "id, name, email, address, created_at, updated_at",
               "transactions": "id, user_id, amount, status, created_at, updated_at"}[table]
    rows = warehouse.rows(f"SELECT {columns} FROM wh.analytics.{table}")
    assert len(rows) == len({r[0] for r in rows}), f"analytics.{table} holds an id twice"
    return {tuple(v.astimezone(UTC) if isinstance(v, datetime) else v for v in r) for r in rows}


def check(warehouse: Warehouse, raw: RawTables) -> None:
    assert built(warehouse, "users") == raw.expected("users")
    assert built(warehouse, "transactions") == raw.expected("transactions")


def test_incremental_runs_keep_the_newest_version_and_a_full_refresh_dedupes_all_history(
        warehouse: Warehouse, tmp_path: Path) -> None:
    raw = RawTables(warehouse, mode="append")
    raw.load("users", [user(1, "Ann Lee", "Ann.Lee@Example.com", "1 High St, LEEDS", 0),
                       user(2, "Bob Roe", "bob@example.com", None, 0),
                       user(2, "Bob ROE", "Bob.Roe@Example.COM", "2 Low Rd", 5),
                       user(3, "Cy Poe", "cy@example.com", "3 Mid Way", 1),
                       user(4, "Di Day", "DI@EXAMPLE.COM", "4 End Ln", 2)])
    raw.load("transactions", [txn(1, 1, "10.50", "pending", 0), txn(2, 2, "99.99", "completed", 1),
                              txn(3, 3, "5.00", "Failed", 1), txn(1, 1, "10.50", "Completed", 3)])
    run_dbt(PROJECT, warehouse, tmp_path)
    check(warehouse, raw)
    assert ("Bob.Roe@Example.COM".lower(), "2 low rd") in {(r[2], r[3]) for r in built(warehouse, "users")}

    raw.load("users", [user(1, "Ann Lee-Poe", "ANN.POE@example.com", "1 High St, Leeds", 8),  # newer
                       user(3, "Cy Stale", "stale@example.com", "old", 0.5),                 # older: ignored
                       user(4, "Di Late", "di.late@example.com", "4 End Ln", 3),             # committed late
                       user(5, "Ed New", "Ed@New.com", None, 9)])
    raw.load("transactions", [txn(2, 2, "99.99", "refunded", 10), txn(4, 5, "1.25", "pending", 9)])
    run_dbt(PROJECT, warehouse, tmp_path)
    check(warehouse, raw)
    assert {r[0]: r[1] for r in built(warehouse, "users")} == {
        1: "ann lee-poe", 2: "bob roe", 3: "cy poe", 4: "di late", 5: "ed new"}

    run_dbt(PROJECT, warehouse, tmp_path)
    check(warehouse, raw)
    run_dbt(PROJECT, warehouse, tmp_path, full_refresh=True)
    check(warehouse, raw)


def test_raw_tables_merged_by_id_give_the_same_tables(warehouse: Warehouse, tmp_path: Path) -> None:
    raw = RawTables(warehouse, mode="merge")
    raw.load("users", [user(1, "Ann Lee", "Ann@X.com", "A St", 0), user(2, "Bob Roe", "bob@x.com", "B Rd", 0)])
    raw.load("transactions", [txn(1, 1, "3.00", "pending", 0), txn(2, 2, "4.00", "pending", 0)])
    run_dbt(PROJECT, warehouse, tmp_path)
    check(warehouse, raw)

    raw.load("users", [user(2, "Bob Roe", "BOB.ROE@X.COM", "B Rd", 4)])
    raw.load("transactions", [txn(1, 1, "3.00", "completed", 5)])
    run_dbt(PROJECT, warehouse, tmp_path)
    check(warehouse, raw)
    assert {r[0]: r[2] for r in built(warehouse, "users")} == {1: "ann@x.com", 2: "bob.roe@x.com"}
