"""Deletes from a real PostgreSQL: soft-delete columns (a flag or a timestamp) and reconcile
(rows gone from the source), deleted or flagged in the warehouse through tombstones in the lake."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from deltalake import DeltaTable
from tests.sources.database.conftest import Pipeline, differences, pg_attach, postgres_source, table_report


def make_users(pg: psycopg.Connection[Any]) -> None:
    pg.execute("""
        CREATE TABLE users (id int PRIMARY KEY, name text, is_deleted boolean NOT NULL DEFAULT false,
                            deleted_at timestamptz, updated_at timestamptz NOT NULL DEFAULT now())
    """)
    pg.execute("INSERT INTO users (id, name, updated_at) "
               "SELECT g, 'user ' || g, now() - interval '1 hour' FROM generate_series(1, 20) g")


def users(url: str, **table: Any) -> dict[str, Any]:
    return postgres_source(url, tables=[{"name": "users", "mode": "incremental", "cursor": "updated_at", **table}])


def lake_rows(pipeline: Pipeline) -> list[dict[str, Any]]:
    table = DeltaTable(str(pipeline.lake / "raw" / "shop" / "users")).to_pyarrow_table()
    return table.to_pylist()


@pytest.mark.parametrize("column", ["is_deleted", "deleted_at"])
def test_rows_marked_deleted_in_the_source_leave_the_warehouse(
    pipeline: Pipeline, pg: psycopg.Connection[Any], postgres_database: str, column: str
) -> None:
    make_users(pg)
    pipeline.source = users(postgres_database, soft_delete=column)
    pipeline.run()

    pg.execute("UPDATE users SET is_deleted = true, deleted_at = now(), updated_at = now() WHERE id IN (2, 3)")
    pipeline.run()

    assert pipeline.query("SELECT count(*) FROM raw.users WHERE id IN (2, 3)") == [(0,)]
    assert pipeline.query("SELECT count(*) FROM raw.users") == [(18,)]
    # Restoring a row brings it back.
    pg.execute("UPDATE users SET is_deleted = false, deleted_at = NULL, updated_at = now() WHERE id = 2")
    pipeline.run()
    assert pipeline.query("SELECT count(*) FROM raw.users WHERE id = 2") == [(1,)]


def test_a_full_table_with_a_soft_delete_column_merges_and_drops_deleted_rows(
    pipeline: Pipeline, pg: psycopg.Connection[Any], postgres_database: str
) -> None:
    make_users(pg)
    pg.execute("UPDATE users SET deleted_at = now() WHERE id = 5")
    pipeline.source = postgres_source(postgres_database, tables=[{"name": "users", "soft_delete": "deleted_at"}])

    pipeline.run()

    assert pipeline.query("SELECT count(*), count(*) FILTER (WHERE id = 5) FROM raw.users") == [(19, 0)]


def test_reconcile_deletes_rows_gone_from_the_source_through_the_lake(
    pipeline: Pipeline, pg: psycopg.Connection[Any], postgres_database: str
) -> None:
    make_users(pg)
    pipeline.source = users(postgres_database, reconcile="delete")
    pipeline.run()

    pg.execute("DELETE FROM users WHERE id IN (4, 5, 6)")
    report = pipeline.run()

    assert table_report(report, "users").rows_deleted == 3
    assert pipeline.query("SELECT count(*) FROM raw.users WHERE id IN (4, 5, 6)") == [(0,)]
    assert differences(pipeline, pg_attach(postgres_database), "public.users") == (0, 0)
    tombstones = [r for r in lake_rows(pipeline) if r["_sf_deleted"]]
    assert sorted(r["id"] for r in tombstones) == [4, 5, 6]
    assert {r["name"] for r in tombstones} == {"user 4", "user 5", "user 6"}
    # Each deletion is written once: a run without changes writes no tombstone again.
    assert table_report(pipeline.run(), "users").rows_deleted == 0


def test_reconcile_flag_keeps_deleted_rows_marked(pipeline: Pipeline, pg: psycopg.Connection[Any],
                                                  postgres_database: str) -> None:
    make_users(pg)
    pipeline.source = users(postgres_database, reconcile="flag")
    pipeline.run()

    pg.execute("DELETE FROM users WHERE id = 7")
    pipeline.run()

    assert pipeline.query("SELECT id, name, _sf_deleted FROM raw.users WHERE id IN (7, 8) ORDER BY id") == [
        (7, "user 7", True), (8, "user 8", False)]


def test_reconcile_respects_the_row_filter(pipeline: Pipeline, pg: psycopg.Connection[Any],
                                          postgres_database: str) -> None:
    make_users(pg)
    pipeline.source = users(postgres_database, reconcile="delete", filter="id <= 10")
    pipeline.run()

    pg.execute("UPDATE users SET name = 'moved', id = id + 100 WHERE id = 9")  # leaves the selection
    pipeline.run()

    assert pipeline.query("SELECT min(id), max(id), count(*) FROM raw.users") == [(1, 10, 9)]
