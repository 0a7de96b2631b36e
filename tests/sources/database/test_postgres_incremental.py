"""Incremental extracts by cursor from a real PostgreSQL: only changed rows, merged by key, and
no row lost to a transaction that commits after a run with a cursor older than what it read."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from deltalake import DeltaTable
from tests.sources.database.conftest import Pipeline, differences, pg_attach, postgres_source, table_report


def make_orders(pg: psycopg.Connection[Any], cursor_type: str = "timestamptz") -> None:
    pg.execute(f"""
        CREATE TABLE orders (id bigserial PRIMARY KEY, status text NOT NULL, amount numeric(12,2) NOT NULL,
                             updated_at {cursor_type} NOT NULL DEFAULT now())
    """)
    pg.execute("CREATE INDEX ON orders (updated_at)")
    pg.execute("INSERT INTO orders (status, amount, updated_at) "
               "SELECT 'new', g, now() - interval '1 day' + g * interval '1 second' FROM generate_series(1, 100) g")


def incremental(url: str, cursor: str = "updated_at", **table: Any) -> dict[str, Any]:
    return postgres_source(url, tables=[{"name": "orders", "mode": "incremental", "cursor": cursor, **table}])


def lake_version(pipeline: Pipeline) -> int:
    return DeltaTable(str(pipeline.lake / "raw" / "shop" / "orders")).version()


def test_a_second_run_reads_only_the_changed_rows_and_merges_them(pipeline: Pipeline, pg: psycopg.Connection[Any],
                                                                  postgres_database: str) -> None:
    make_orders(pg)
    pipeline.source = incremental(postgres_database)
    assert table_report(pipeline.run(), "orders").rows_extracted == 100

    pg.execute("UPDATE orders SET status = 'paid', updated_at = now() WHERE id IN (3, 4, 5)")
    pg.execute("INSERT INTO orders (status, amount) VALUES ('new', 7), ('new', 8)")
    report = pipeline.run()

    assert table_report(report, "orders").rows_extracted == 5
    assert pipeline.query("SELECT count(*), count(*) FILTER (WHERE status = 'paid') FROM raw.orders") == [(102, 3)]
    assert differences(pipeline, pg_attach(postgres_database), "public.orders") == (0, 0)


def test_a_run_without_changes_commits_nothing(pipeline: Pipeline, pg: psycopg.Connection[Any],
                                               postgres_database: str) -> None:
    make_orders(pg)
    pipeline.source = incremental(postgres_database)
    pipeline.run()
    version = lake_version(pipeline)

    report = pipeline.run()

    assert table_report(report, "orders").rows_extracted == 0
    assert lake_version(pipeline) == version
    assert pipeline.query("SELECT count(*) FROM raw.orders") == [(100,)]


@pytest.mark.parametrize("cursor_type", ["timestamptz", "timestamp"])
def test_a_late_commit_with_an_older_cursor_appears_after_the_next_run(
    pipeline: Pipeline, pg: psycopg.Connection[Any], postgres_database: str, cursor_type: str
) -> None:
    make_orders(pg, cursor_type)
    pipeline.source = incremental(postgres_database)
    pipeline.run()

    with psycopg.connect(postgres_database) as late:  # a transaction held open across a run
        late.execute("INSERT INTO orders (status, amount) VALUES ('late', 1)")  # updated_at: its start time
        pg.execute("INSERT INTO orders (status, amount) VALUES ('after', 2)")  # a later updated_at, committed
        report = pipeline.run()
        assert pipeline.query("SELECT status FROM raw.orders WHERE status IN ('late', 'after')") == [("after",)]
        late.commit()
    late_row = pg.execute("SELECT updated_at FROM orders WHERE status = 'late'").fetchone()
    after_row = pg.execute("SELECT updated_at FROM orders WHERE status = 'after'").fetchone()
    assert late_row is not None and after_row is not None and late_row[0] < after_row[0]
    assert table_report(report, "orders").watermark is not None

    pipeline.run()

    assert pipeline.query("SELECT status FROM raw.orders WHERE status IN ('late', 'after') ORDER BY 1") == [
        ("after",), ("late",)]
    assert differences(pipeline, pg_attach(postgres_database), "public.orders") == (0, 0)


def test_a_transaction_open_before_a_run_that_writes_after_it_is_not_lost(
    pipeline: Pipeline, pg: psycopg.Connection[Any], postgres_database: str
) -> None:
    make_orders(pg)
    pipeline.source = incremental(postgres_database)
    pipeline.run()

    with psycopg.connect(postgres_database) as late:
        late.execute("SELECT 1")  # the transaction starts (now() is fixed) but writes nothing yet
        pg.execute("INSERT INTO orders (status, amount) VALUES ('after', 2)")
        pipeline.run()
        late.execute("INSERT INTO orders (status, amount) VALUES ('late', 1)")  # stamped with its start time
        late.commit()

    pipeline.run()

    assert differences(pipeline, pg_attach(postgres_database), "public.orders") == (0, 0)


def test_an_integer_cursor_waits_for_transactions_in_flight(pipeline: Pipeline, pg: psycopg.Connection[Any],
                                                           postgres_database: str) -> None:
    make_orders(pg)
    pipeline.source = incremental(postgres_database, cursor="id")
    pipeline.run()

    with psycopg.connect(postgres_database) as late:
        late.execute("INSERT INTO orders (status, amount) VALUES ('late', 1)")  # takes id 101
        pg.execute("INSERT INTO orders (status, amount) VALUES ('after', 2)")  # takes id 102, commits first
        report = pipeline.run()
        late.commit()
    assert table_report(report, "orders").watermark == "id > 100 (1 pending)"

    pipeline.run()

    assert pipeline.query("SELECT id, status FROM raw.orders WHERE id > 100 ORDER BY id") == [
        (101, "late"), (102, "after")]
    assert differences(pipeline, pg_attach(postgres_database), "public.orders") == (0, 0)


def test_lookback_reads_recent_rows_again_without_duplicating_them(pipeline: Pipeline, pg: psycopg.Connection[Any],
                                                                   postgres_database: str) -> None:
    make_orders(pg)
    pg.execute("UPDATE orders SET updated_at = now() - interval '5 minutes' WHERE id > 90")
    pipeline.source = incremental(postgres_database, lookback="10 minutes")
    pipeline.run()

    report = pipeline.run()

    assert table_report(report, "orders").rows_extracted == 10
    assert pipeline.query("SELECT count(*), count(DISTINCT id) FROM raw.orders") == [(100, 100)]


def test_a_new_cursor_reads_the_whole_table_once(pipeline: Pipeline, pg: psycopg.Connection[Any],
                                                  postgres_database: str) -> None:
    make_orders(pg)
    pipeline.source = incremental(postgres_database)
    pipeline.run()
    pipeline.source = incremental(postgres_database, cursor="id")

    assert table_report(pipeline.run(), "orders").rows_extracted == 100
    assert pipeline.query("SELECT count(*), count(DISTINCT id) FROM raw.orders") == [(100, 100)]
