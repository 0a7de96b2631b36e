"""The shop_db example (seed 001): its schema and seed data in a real PostgreSQL, its pipeline
run twice around a day of changes; raw keeps every version of each row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from tests.sources.database.conftest import table_report

from shopflow.config import load_config
from shopflow.pipeline.run import run_pipeline

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "shop_db"


def test_the_shop_db_example_reads_the_day_of_changes_only(
    postgres_database: str, pg: psycopg.Connection[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pg.execute((EXAMPLE / "schema.sql").read_text(encoding="utf-8"))
    pg.execute((EXAMPLE / "seed.sql").read_text(encoding="utf-8"))
    monkeypatch.setenv("SHOP_DATABASE_URL", postgres_database)
    monkeypatch.setenv("SHOPFLOW_LAKE", str(tmp_path / "lake"))
    monkeypatch.setenv("SHOPFLOW_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    config = load_config(EXAMPLE / "shopflow.yml")

    first = run_pipeline(config)
    pg.execute((EXAMPLE / "changes.sql").read_text(encoding="utf-8"))
    second = run_pipeline(config)

    assert [t.error for t in first.tables + second.tables if t.error] == []
    assert (table_report(first, "users").rows_extracted, table_report(first, "transactions").rows_extracted) == (4, 5)
    assert (table_report(second, "users").rows_extracted, table_report(second, "transactions").rows_extracted) == (2, 2)
    import duckdb

    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT status FROM raw.transactions WHERE id = 3 ORDER BY updated_at").fetchall() == [
            ("pending",), ("completed",)]
        assert con.execute("SELECT count(*), count(DISTINCT id) FROM raw.users").fetchone() == (6, 5)
    finally:
        con.close()
