"""Full extracts from a real PostgreSQL: every row and type, replace on rerun, column and row
selection, glob table selection, and one snapshot for every table of a run."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from deltalake import DeltaTable
from tests.sources.database.conftest import Pipeline, differences, pg_attach, postgres_source, table_report

from shopflow.pipeline.run import RunProgress


def make_customers(pg: psycopg.Connection[Any]) -> None:
    pg.execute("""
        CREATE TABLE customers (
            id bigint PRIMARY KEY, name text NOT NULL, email text, country char(2),
            balance numeric(12,2), signed_up date, last_seen timestamptz, born timestamp, active boolean,
            tags text[], profile jsonb)
    """)
    pg.execute("""
        INSERT INTO customers
        SELECT g, 'customer ' || g, 'c' || g || '@example.com', CASE WHEN g % 3 = 0 THEN 'GB' ELSE 'FR' END,
               g * 10.25, date '2024-01-01' + g, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 hour',
               timestamp '1990-01-01' + g * interval '1 day', g % 2 = 0, ARRAY['t' || g, 'x'],
               jsonb_build_object('n', g)
        FROM generate_series(1, 300) AS g
    """)


def test_a_full_extract_loads_every_row_with_its_types(pipeline: Pipeline, pg: psycopg.Connection[Any],
                                                        postgres_database: str) -> None:
    make_customers(pg)
    pipeline.source = postgres_source(postgres_database, tables=[{"name": "customers"}])

    report = pipeline.run()

    assert table_report(report, "customers").rows_extracted == 300
    assert differences(pipeline, pg_attach(postgres_database), "public.customers") == (0, 0)
    row = pipeline.rows("customers", "id, balance, signed_up, last_seen, born, active, tags, profile", "id")[1]
    assert row == (2, Decimal("20.50"), date(2024, 1, 3), datetime(2024, 1, 1, 2, tzinfo=UTC),
                   datetime(1990, 1, 3), True, ["t2", "x"], '{"n": 2}')


def test_a_second_full_run_replaces_the_table(pipeline: Pipeline, pg: psycopg.Connection[Any],
                                              postgres_database: str) -> None:
    make_customers(pg)
    pipeline.source = postgres_source(postgres_database, tables=[{"name": "customers"}])
    pipeline.run()

    pg.execute("DELETE FROM customers WHERE id <= 10")
    pg.execute("UPDATE customers SET name = 'renamed' WHERE id = 11")
    pg.execute("INSERT INTO customers (id, name) VALUES (1000, 'new')")
    pipeline.run()

    assert pipeline.query("SELECT count(*), min(id), max(id) FROM raw.customers") == [(291, 11, 1000)]
    assert pipeline.rows("customers", "name", "id")[0] == ("renamed",)
    assert differences(pipeline, pg_attach(postgres_database), "public.customers") == (0, 0)


def test_excluded_columns_never_reach_the_lake_or_the_warehouse(pipeline: Pipeline, pg: psycopg.Connection[Any],
                                                                postgres_database: str) -> None:
    make_customers(pg)
    pipeline.source = postgres_source(postgres_database, tables=[
        {"name": "customers", "exclude_columns": ["email", "born"]}])

    pipeline.run()

    assert "email" not in pipeline.columns("customers") and "born" not in pipeline.columns("customers")
    lake = DeltaTable(str(pipeline.lake / "raw" / "shop" / "customers"))
    assert {"email", "born"}.isdisjoint(lake.schema().to_arrow().names)
    assert not any(b"@example.com" in path.read_bytes() for path in pipeline.lake.rglob("*.parquet"))
    assert pipeline.query("SELECT count(*) FROM raw.customers") == [(300,)]


def test_a_row_filter_keeps_only_the_rows_it_matches(pipeline: Pipeline, pg: psycopg.Connection[Any],
                                                     postgres_database: str) -> None:
    make_customers(pg)
    pipeline.source = postgres_source(postgres_database, tables=[
        {"name": "customers", "filter": "country = 'GB' AND balance > 100"}])

    pipeline.run()

    expected = pg.execute("SELECT count(*) FROM customers WHERE country = 'GB' AND balance > 100").fetchone()
    assert pipeline.query("SELECT count(*) FROM raw.customers") == [expected]
    assert pipeline.query("SELECT DISTINCT country FROM raw.customers") == [("GB",)]


def test_globs_select_tables_and_a_glob_entry_sets_their_options(pipeline: Pipeline, pg: psycopg.Connection[Any],
                                                                 postgres_database: str) -> None:
    for name in ("app_users", "app_orders", "audit_log", "stage_tmp", "OrderItems"):
        pg.execute(f'CREATE TABLE "{name}" (id int PRIMARY KEY, changed_at timestamptz DEFAULT now())')
        pg.execute(f'INSERT INTO "{name}" (id) SELECT generate_series(1, 5)')
    pipeline.source = postgres_source(
        postgres_database, include=["app_*", "Order*", "audit_*"], exclude=["audit_*"],
        tables=[{"name": "app_*", "mode": "incremental", "cursor": "changed_at"}],
    )

    report = pipeline.run()

    assert sorted(t.table for t in report.tables) == ["app_orders", "app_users", "order_items"]
    assert table_report(report, "app_users").watermark is not None  # the glob entry made it incremental
    assert table_report(report, "order_items").watermark is None
    assert pipeline.query("SELECT count(*) FROM raw.order_items") == [(5,)]


def test_every_table_of_a_run_is_read_in_one_snapshot(pipeline: Pipeline, pg: psycopg.Connection[Any],
                                                      postgres_database: str) -> None:
    pg.execute("CREATE TABLE a_orders (id int PRIMARY KEY)")
    pg.execute("CREATE TABLE b_payments (id int PRIMARY KEY, order_id int)")
    pg.execute("INSERT INTO a_orders VALUES (1), (2)")
    pg.execute("INSERT INTO b_payments VALUES (1, 1), (2, 2)")
    pipeline.source = postgres_source(postgres_database)

    class WriteWhileReading(RunProgress):
        """Commit a new order and its payment while the run extracts the orders."""

        def table_started(self, table: str) -> None:
            if table == "a_orders":
                pg.execute("INSERT INTO a_orders VALUES (3)")
                pg.execute("INSERT INTO b_payments VALUES (3, 3)")

    from shopflow.config import load_config
    from shopflow.pipeline.run import run_pipeline

    run_pipeline(load_config(pipeline.write()), WriteWhileReading())

    # The payments were read after the new rows committed, but in the run's snapshot: neither is there.
    assert pipeline.rows("a_orders", "id") == [(1,), (2,)]
    assert pipeline.rows("b_payments", "id") == [(1,), (2,)]
    pipeline.run()
    assert pipeline.rows("b_payments", "id") == [(1,), (2,), (3,)]


def test_an_empty_source_table_becomes_an_empty_warehouse_table(pipeline: Pipeline, pg: psycopg.Connection[Any],
                                                               postgres_database: str) -> None:
    # Models join to it (totesys' payment is empty in the first snapshot): it must exist, typed.
    pg.execute("CREATE TABLE payment (payment_id integer PRIMARY KEY, amount numeric(10,2), last_updated timestamp)")
    pipeline.source = postgres_source(
        postgres_database, defaults={"mode": "incremental", "cursor": "last_updated", "write_disposition": "merge"},
        tables=[{"name": "payment"}],
    )

    pipeline.run()

    assert pipeline.rows("payment") == []
    data_columns = [c for c in pipeline.columns("payment") if not c.startswith("_sf_")]
    assert data_columns == ["payment_id", "amount", "last_updated"]
    pg.execute("INSERT INTO payment VALUES (1, 9.99, now())")
    pipeline.run()
    assert pipeline.rows("payment", "payment_id, amount") == [(1, Decimal("9.99"))]
