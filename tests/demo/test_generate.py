"""`shopflow.demo.generate`: one entry point, datasets by name."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import shopflow.demo as demo
from shopflow.errors import ConfigError


def test_generate_dispatches_by_name(tmp_path: Path) -> None:
    files = demo.generate("glossier", str(tmp_path / "orders"), days=1, orders_per_day=10, seed=1)
    db = demo.generate("shop", str(tmp_path / "shop.db"), scale=0.01, seed=1)
    orders = demo.generate("orders", f"sqlite:///{tmp_path / 'orders.db'}", rows=1_000, seed=1)

    assert files.dataset == "glossier" and files.rows["orders"] == 10
    assert db.rows == {"users": 100, "transactions": 1_000}
    with sqlite3.connect(tmp_path / "orders.db") as con:
        assert con.execute("SELECT count(*) FROM orders").fetchone() == (orders.rows["orders"],)
    assert set(demo.GENERATORS) == {"shop", "totesys", "glossier", "online_retail", "customers", "orders"}


def test_unknown_dataset_says_which_exist() -> None:
    with pytest.raises(ConfigError, match="unknown demo dataset") as raised:
        demo.generate("nope", "/tmp/x")
    assert "glossier" in str(raised.value)


def test_orders_table_in_postgres(postgres_database: str) -> None:
    import psycopg

    summary = demo.generate_orders_table(postgres_database, rows=20_000, seed=42)

    with psycopg.connect(postgres_database) as con:
        row = con.execute("SELECT count(*), sum(amount), count(*) FILTER (WHERE updated_at < created_at) "
                          "FROM orders").fetchone()
    assert row == (20_000, summary.totals["orders.amount"], 0)
