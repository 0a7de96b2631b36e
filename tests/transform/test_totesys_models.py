"""The totesys galaxy schema (examples/totesys/dbt) on DuckDB and PostgreSQL.

The raw tables are built the way shopflow's database source leaves them (source columns and
types plus `_sf_*` columns) from a small cut of two real snapshots of the totesys database in
tests/data/totesys_models: `initial/` (JSON lines, the first day) and `update/` (parquet, the
next day: new rows, and 15 payments marked paid). Expected values are computed here in Python
from those files, independently of the models' SQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml

from shopflow.engine import connect, load_extension

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "examples" / "totesys" / "dbt"
DATA = ROOT / "tests" / "data" / "totesys_models"

TIMESTAMPS = {"created_at": "timestamp", "last_updated": "timestamp"}
# The column types of the totesys source tables as the database source loads them.
RAW_TYPES: dict[str, dict[str, str]] = {
    "address": {"address_id": "bigint", "address_line_1": "varchar", "address_line_2": "varchar",
                "district": "varchar", "city": "varchar", "postal_code": "varchar", "country": "varchar",
                "phone": "varchar", **TIMESTAMPS},
    "counterparty": {"counterparty_id": "bigint", "counterparty_legal_name": "varchar", "legal_address_id": "bigint",
                     "commercial_contact": "varchar", "delivery_contact": "varchar", **TIMESTAMPS},
    "currency": {"currency_id": "bigint", "currency_code": "varchar", **TIMESTAMPS},
    "department": {"department_id": "bigint", "department_name": "varchar", "location": "varchar",
                   "manager": "varchar", **TIMESTAMPS},
    "design": {"design_id": "bigint", "design_name": "varchar", "file_location": "varchar", "file_name": "varchar",
               **TIMESTAMPS},
    "payment_type": {"payment_type_id": "bigint", "payment_type_name": "varchar", **TIMESTAMPS},
    "staff": {"staff_id": "bigint", "first_name": "varchar", "last_name": "varchar", "department_id": "bigint",
              "email_address": "varchar", **TIMESTAMPS},
    "transaction": {"transaction_id": "bigint", "transaction_type": "varchar", "sales_order_id": "bigint",
                    "purchase_order_id": "bigint", **TIMESTAMPS},
    "sales_order": {"sales_order_id": "bigint", **TIMESTAMPS, "design_id": "bigint", "staff_id": "bigint",
                    "counterparty_id": "bigint", "units_sold": "bigint", "unit_price": "decimal(10,2)",
                    "currency_id": "bigint", "agreed_delivery_date": "varchar", "agreed_payment_date": "varchar",
                    "agreed_delivery_location_id": "bigint"},
    "purchase_order": {"purchase_order_id": "bigint", **TIMESTAMPS, "staff_id": "bigint", "counterparty_id": "bigint",
                       "item_code": "varchar", "item_quantity": "bigint", "item_unit_price": "decimal(10,2)",
                       "currency_id": "bigint", "agreed_delivery_date": "varchar", "agreed_payment_date": "varchar",
                       "agreed_delivery_location_id": "bigint"},
    "payment": {"payment_id": "bigint", **TIMESTAMPS, "transaction_id": "bigint", "counterparty_id": "bigint",
                "payment_amount": "decimal(12,2)", "currency_id": "bigint", "payment_type_id": "bigint",
                "paid": "boolean", "payment_date": "varchar", "company_ac_number": "bigint",
                "counterparty_ac_number": "bigint"},
}


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass
class Warehouse:
    """A test warehouse reached from DuckDB as catalog `wh`: the DuckDB file itself, or PostgreSQL attached."""

    kind: str
    target: str
    config: dict[str, Any]  # the `warehouse:` section of shopflow.yml

    def _attach(self) -> Any:
        if self.kind == "duckdb":
            # the file's catalog is named after it: wh.duckdb -> wh, as the PostgreSQL one is attached
            assert Path(self.target).stem == "wh"
            return connect(self.target)
        con = connect()
        load_extension(con, "postgres_scanner")
        con.execute(f"ATTACH {_quote(self.target)} AS wh (TYPE postgres)")
        return con

    def execute(self, *statements: str) -> None:
        """Run statements that may read local DuckDB views and write `wh.<schema>.<table>`."""
        con = self._attach()
        try:
            for statement in statements:
                con.execute(statement)
        finally:
            con.close()

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        con = self._attach()
        try:
            rows: list[tuple[Any, ...]] = con.execute(sql).fetchall()
            return rows
        finally:
            con.close()

    def scalar(self, sql: str) -> Any:
        return self.rows(sql)[0][0]


def load_raw(warehouse: Warehouse, batch: str, *, mode: str = "merge",
             data: Path = DATA, types: dict[str, dict[str, str]] = RAW_TYPES) -> None:
    """Load the files of `data/<batch>/` into `raw.<table>` as a database source run would.

    mode `merge`: a row replaces the row with its key (raw holds the latest version);
    `append`: versions (key, last_updated) not yet in raw are added (raw holds every version).
    """
    loaded_at = datetime.now().isoformat()
    statements = ["CREATE SCHEMA IF NOT EXISTS wh.raw"]
    existing = {name for (name,) in warehouse.rows(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'wh' AND table_schema = 'raw'")}
    for table, columns in types.items():
        files = sorted((data / batch).glob(f"{table}.*"))
        if not files:
            continue
        reader = "read_parquet" if files[0].suffix == ".parquet" else "read_json"
        select = ", ".join(f"CAST({name} AS {kind}) AS {name}" for name, kind in columns.items())
        stage = (f"SELECT {select}, {_quote(batch)} AS _sf_batch, {_quote(files[0].name)} AS _sf_file, "
                 f"CAST(CAST(TIMESTAMP {_quote(loaded_at)} AS DATE) AS VARCHAR) AS _sf_load_date, "
                 f"CAST(TIMESTAMP {_quote(loaded_at)} AS TIMESTAMPTZ) AS _sf_loaded_at "
                 f"FROM {reader}({_quote(str(files[0]))})")
        key = next(iter(columns))
        target = f'wh.raw."{table}"'
        statements.append(f'CREATE OR REPLACE TEMP TABLE "stage_{table}" AS {stage}')
        if table not in existing:
            statements.append(f'CREATE TABLE {target} AS SELECT * FROM "stage_{table}"')
        elif mode == "merge":
            statements.append(f'DELETE FROM {target} WHERE {key} IN (SELECT {key} FROM "stage_{table}")')
            statements.append(f'INSERT INTO {target} SELECT * FROM "stage_{table}"')
        else:
            statements.append(
                f'INSERT INTO {target} SELECT * FROM "stage_{table}" AS s WHERE NOT EXISTS '
                f"(SELECT 1 FROM {target} AS r WHERE r.{key} = s.{key} AND r.last_updated = s.last_updated)")
    warehouse.execute(*statements)


def run_dbt(project: Path, warehouse: Warehouse, folder: Path, *, full_refresh: bool = False) -> None:
    """`shopflow transform` of `project` into `warehouse` (schema analytics); fails the test if any node fails."""
    from shopflow.config import load_config
    from shopflow.transform import run_transform

    config = {"pipeline": "models", "lake": str(folder / "lake"), "warehouse": warehouse.config,
              "transform": {"project": str(project)}, "sources": []}
    path = folder / "shopflow.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    report = run_transform(load_config(path), full_refresh=full_refresh)
    failed = [(m.name, m.status, m.message) for m in report.models if m.status != "success"]
    failed += [(t.name, t.status, t.message) for t in report.tests if t.status != "pass"]
    assert report.ok and not failed, f"dbt build failed: {failed}"


@contextmanager
def empty_warehouse(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Warehouse]:
    """An empty warehouse: a DuckDB file, or a fresh PostgreSQL database dropped afterwards."""
    if kind == "duckdb":
        path = tmp_path / "wh.duckdb"
        connect(str(path)).close()
        yield Warehouse("duckdb", str(path), {"type": "duckdb", "path": str(path)})
        return
    server = request.getfixturevalue("postgres_server")
    name = server.create_database("models")
    try:
        yield Warehouse("postgres", server.url(name), {"type": "postgres", "host": server.host, "port": server.port,
                                                       "user": server.user, "database": name})
    finally:
        server.drop_database(name)


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouse]:
    with empty_warehouse(request.param, tmp_path, request) as empty:
        yield empty


def source_rows(batch: str, table: str) -> list[dict[str, Any]]:
    """The rows of one fixture file as Python values, read without DuckDB or dbt."""
    path = next((DATA / batch).glob(f"{table}.*"))
    if path.suffix == ".parquet":
        import pyarrow as pa

        data = pq.read_table(path)
        columns = [c.cast(pa.timestamp("us")) if pa.types.is_timestamp(c.type) else c for c in data.columns]
        rows: list[dict[str, Any]] = pa.table(columns, names=data.column_names).to_pylist()
    else:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    for row in rows:
        for name in ("created_at", "last_updated"):
            if isinstance(row[name], str):
                row[name] = datetime.fromisoformat(row[name])
    return rows


def versions(table: str, *batches: str) -> set[tuple[int, datetime]]:
    """Distinct (id, last_updated) of `table` over the fixture batches: the versions a fact must hold."""
    return {(row[f"{table}_id"], row["last_updated"]) for batch in batches for row in source_rows(batch, table)}


def fact_versions(warehouse: Warehouse, table: str) -> dict[tuple[int, datetime], int]:
    """(id, last_updated) -> record id of every row of fact_<table>."""
    record = {"sales_order": "sales_record_id", "purchase_order": "purchase_record_id"}.get(table, f"{table}_record_id")
    rows = warehouse.rows(f"SELECT {table}_id, last_updated_date, last_updated_time, {record} "
                          f"FROM wh.analytics.fact_{table}")
    found = {(key, datetime.combine(day, time)): rid for key, day, time, rid in rows}
    assert len(found) == len(rows), f"fact_{table} holds a version twice"
    return found


FACTS = ("sales_order", "purchase_order", "payment")


def test_star_schema_keeps_every_version_of_a_fact_and_the_latest_dimension(warehouse: Warehouse,
                                                                           tmp_path: Path) -> None:
    load_raw(warehouse, "initial")
    run_dbt(PROJECT, warehouse, tmp_path)

    for table in FACTS:
        assert set(fact_versions(warehouse, table)) == versions(table, "initial")
    ids = warehouse.rows("SELECT sales_record_id FROM wh.analytics.fact_sales_order ORDER BY 1")
    assert [i for (i,) in ids] == list(range(1, len(ids) + 1))

    # dimensions: values joined here in Python from the source files
    departments = {d["department_id"]: d for d in source_rows("initial", "department")}
    expected_staff = {
        s["staff_id"]: (s["first_name"], s["last_name"], departments[s["department_id"]]["department_name"],
                        departments[s["department_id"]]["location"], s["email_address"])
        for s in source_rows("initial", "staff")}
    staff = warehouse.rows("SELECT staff_id, first_name, last_name, department_name, location, email_address "
                           "FROM wh.analytics.dim_staff")
    assert {r[0]: r[1:] for r in staff} == expected_staff and len(staff) == len(expected_staff)

    addresses = {a["address_id"]: a for a in source_rows("initial", "address")}
    expected_counterparties = {
        c["counterparty_id"]: (c["counterparty_legal_name"], addresses[c["legal_address_id"]]["address_line_1"],
                               addresses[c["legal_address_id"]]["city"], addresses[c["legal_address_id"]]["phone"])
        for c in source_rows("initial", "counterparty")}
    counterparties = warehouse.rows(
        "SELECT counterparty_id, counterparty_legal_name, counterparty_legal_address_line_1, counterparty_legal_city, "
        "counterparty_legal_phone_number FROM wh.analytics.dim_counterparty")
    assert {r[0]: r[1:] for r in counterparties} == expected_counterparties

    assert dict(warehouse.rows("SELECT currency_code, currency_name FROM wh.analytics.dim_currency")) == {
        "GBP": "British Pound Sterling", "USD": "United States Dollar", "EUR": "Euro"}
    assert warehouse.scalar("SELECT count(*) FROM wh.analytics.dim_location") == len(addresses)

    # created_at and last_updated split into date and time; text dates become dates
    order = source_rows("initial", "sales_order")[0]
    row = warehouse.rows(
        "SELECT created_date, created_time, agreed_delivery_date, unit_price FROM wh.analytics.fact_sales_order "
        f"WHERE sales_order_id = {order['sales_order_id']}")
    assert row == [(order["created_at"].date(), order["created_at"].time(),
                    date.fromisoformat(order["agreed_delivery_date"]), Decimal(str(order["unit_price"])))]

    # dim_date: every day of the whole years spanning the dates the facts use, with names
    used = [d for table, dates in (("sales_order", ("agreed_delivery_date", "agreed_payment_date")),
                                   ("purchase_order", ("agreed_delivery_date", "agreed_payment_date")),
                                   ("payment", ("payment_date",)))
            for r in source_rows("initial", table)
            for d in (r["created_at"].date(), r["last_updated"].date(), *(date.fromisoformat(r[c]) for c in dates))]
    calendar = warehouse.rows("SELECT min(date_id), max(date_id), count(*), "
                              "max(CASE WHEN date_id = DATE '2024-11-11' THEN day_name END) FROM wh.analytics.dim_date")
    first, last = date(min(used).year, 1, 1), date(max(used).year, 12, 31)
    assert calendar == [(first, last, (last - first).days + 1, "Monday")]
    before = {table: fact_versions(warehouse, table) for table in FACTS}

    # the next day: new rows everywhere, and 15 payments marked paid (new versions of old rows)
    load_raw(warehouse, "update")
    run_dbt(PROJECT, warehouse, tmp_path)

    for table in FACTS:
        after = fact_versions(warehouse, table)
        assert set(after) == versions(table, "initial", "update")
        assert {k: after[k] for k in before[table]} == before[table], "a record id changed"
    paid_later = {r["payment_id"] for r in source_rows("initial", "payment") if not r["paid"]} & {
        r["payment_id"] for r in source_rows("update", "payment") if r["paid"]}
    assert len(paid_later) == 15
    history = warehouse.rows("SELECT payment_id, paid FROM wh.analytics.fact_payment "
                             f"WHERE payment_id IN ({', '.join(map(str, paid_later))}) ORDER BY payment_record_id")
    assert sorted(history) == sorted([(p, False) for p in paid_later] + [(p, True) for p in paid_later])
    assert warehouse.scalar("SELECT count(*) FROM wh.analytics.dim_design") == len(source_rows("update", "design"))
    counts = {table: len(fact_versions(warehouse, table)) for table in FACTS}

    # a full refresh adds nothing and loses nothing: the facts keep their history instead of
    # rebuilding from raw's latest rows (with rebuild_facts unset, it runs like a plain rerun)
    run_dbt(PROJECT, warehouse, tmp_path, full_refresh=True)
    assert {table: len(fact_versions(warehouse, table)) for table in FACTS} == counts

    # three sales orders change in the source: exactly three new fact rows, with the new values
    changed = sorted(o["sales_order_id"] for o in source_rows("update", "sales_order"))[:3]
    warehouse.execute(f"UPDATE wh.raw.sales_order SET units_sold = units_sold + 1000, "
                      f"last_updated = last_updated + INTERVAL 1 HOUR WHERE sales_order_id IN {tuple(changed)}")
    run_dbt(PROJECT, warehouse, tmp_path)
    assert {table: len(fact_versions(warehouse, table)) for table in FACTS} == {**counts,
                                                                             "sales_order": counts["sales_order"] + 3}
    units = {o["sales_order_id"]: o["units_sold"] for o in source_rows("update", "sales_order")}
    latest = warehouse.rows(
        "SELECT sales_order_id, units_sold FROM wh.analytics.fact_sales_order f WHERE sales_record_id = "
        "(SELECT max(sales_record_id) FROM wh.analytics.fact_sales_order g WHERE g.sales_order_id = f.sales_order_id) "
        f"AND sales_order_id IN {tuple(changed)}")
    assert dict(latest) == {i: units[i] + 1000 for i in changed}


def test_raw_tables_that_keep_every_version_rebuild_the_same_history(warehouse: Warehouse, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    load_raw(warehouse, "initial", mode="append")
    load_raw(warehouse, "update", mode="append")
    # a member of staff moves department: a second version of the row in the append-only raw table
    mover = source_rows("update", "staff")[0]
    departments = {d["department_id"]: d for d in source_rows("update", "department")}
    new_department = next(d for d in departments if d != mover["department_id"])
    warehouse.execute(f"INSERT INTO wh.raw.staff SELECT staff_id, first_name, last_name, {new_department}, "
                      "email_address, created_at, last_updated + INTERVAL 1 DAY, _sf_batch, _sf_file, _sf_load_date, "
                      f"_sf_loaded_at FROM wh.raw.staff WHERE staff_id = {mover['staff_id']}")

    run_dbt(PROJECT, warehouse, tmp_path)
    for table in FACTS:
        assert set(fact_versions(warehouse, table)) == versions(table, "initial", "update")
    staff = dict(warehouse.rows("SELECT staff_id, department_name FROM wh.analytics.dim_staff"))
    assert len(staff) == len(source_rows("update", "staff"))
    assert staff[mover["staff_id"]] == departments[new_department]["department_name"]

    # rebuilding the facts from raw gives the same versions, numbered in last_updated order
    before = {table: fact_versions(warehouse, table) for table in FACTS}
    warehouse.execute("UPDATE wh.analytics.fact_sales_order SET units_sold = -1")  # only a rebuild repairs this
    monkeypatch.setenv("TOTESYS_REBUILD_FACTS", "true")
    run_dbt(PROJECT, warehouse, tmp_path, full_refresh=True)
    assert {table: fact_versions(warehouse, table) for table in FACTS} == before
    assert warehouse.scalar("SELECT count(*) FROM wh.analytics.fact_sales_order WHERE units_sold < 0") == 0
