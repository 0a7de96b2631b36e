"""SQLite sources through DuckDB's sqlite scanner: a real database file, full and incremental,
a path relative to shopflow.yml, and values that do not fit their declared type."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from tests.sources.database.conftest import Pipeline, differences, table_report


def make_shop(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT NOT NULL, total NUMERIC(10,2), "
                   "placed DATE, updated_at TIMESTAMP NOT NULL)")
        db.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?)", [
            (i, f"customer {i}", i * 2.5, f"2024-01-{i:02d}", f"2024-02-01 10:00:{i:02d}") for i in range(1, 21)])


@pytest.fixture
def shop(pipeline: Pipeline) -> Path:
    pipeline.folder.mkdir(parents=True, exist_ok=True)
    path = pipeline.folder / "shop.db"
    make_shop(path)
    return path


def test_a_sqlite_file_next_to_the_pipeline_is_extracted_in_full(pipeline: Pipeline, shop: Path) -> None:
    pipeline.source = {"name": "local", "type": "sqlite", "path": "shop.db"}  # relative to shopflow.yml

    report = pipeline.run()

    assert table_report(report, "orders").rows_extracted == 20
    assert differences(pipeline, (str(shop), "TYPE sqlite"), "main.orders", "orders") == (0, 0)


def test_an_incremental_sqlite_table_reads_only_changed_rows(pipeline: Pipeline, shop: Path) -> None:
    pipeline.source = {"name": "local", "type": "sqlite", "path": str(shop),
                       "defaults": {"mode": "incremental", "cursor": "updated_at"}}
    pipeline.run()

    with sqlite3.connect(shop) as db:
        db.execute("UPDATE orders SET total = 0, updated_at = '2024-03-01 09:00:00' WHERE id = 3")
        db.execute("INSERT INTO orders VALUES (21, 'new', 1, '2024-03-01', '2024-03-01 09:00:01')")
    report = pipeline.run()

    assert table_report(report, "orders").rows_extracted == 2
    assert table_report(report, "orders").watermark == "updated_at > 2024-03-01 09:00:01"
    assert differences(pipeline, (str(shop), "TYPE sqlite"), "main.orders", "orders") == (0, 0)


def test_values_that_do_not_fit_their_declared_type_arrive_as_text(pipeline: Pipeline, shop: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    with sqlite3.connect(shop) as db:
        db.execute("INSERT INTO orders VALUES (99, 'odd', 'n/a', '2024-01-01', '2024-02-01 10:00:00')")
    pipeline.source = {"name": "local", "type": "sqlite", "path": str(shop)}
    with caplog.at_level(logging.WARNING):
        report = pipeline.run()

    assert table_report(report, "orders").text_columns == [
        "total: declared DOUBLE but holds 1 other values: read as text"]
    assert pipeline.query("SELECT typeof(total), typeof(placed) FROM raw.orders LIMIT 1") == [("VARCHAR", "DATE")]
    assert pipeline.query("SELECT total FROM raw.orders WHERE id IN (2, 99) ORDER BY id") == [("5",), ("n/a",)]
    assert any("total" in r.getMessage() for r in caplog.records)
