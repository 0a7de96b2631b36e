"""The seed-001 shop database (users, transactions) and its change simulator, in SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from shopflow.demo import HeldChanges, Summary, generate_shop, simulate_changes
from shopflow.errors import ConfigError, SourceError


def sqlite_rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as con:
        return list(con.execute(sql).fetchall())


def test_sqlite_shop_has_consistent_users_and_transactions(tmp_path: Path) -> None:
    db = tmp_path / "shop.db"

    summary = generate_shop(str(db), users=2_000, transactions=15_000, seed=1)

    assert summary.rows == {"users": 2_000, "transactions": 15_000}
    assert sqlite_rows(db, "SELECT count(*), count(DISTINCT email), min(id), max(id) FROM users") == [
        (2_000, 2_000, 1, 2_000)]
    total = sqlite_rows(db, "SELECT sum(CAST(round(amount * 100) AS INTEGER)) FROM transactions")[0][0]
    assert Decimal(int(total)).scaleb(-2) == summary.totals["transactions.amount"]
    # Every transaction belongs to a user who existed when it was made.
    assert sqlite_rows(db, "SELECT count(*) FROM transactions t LEFT JOIN users u ON u.id = t.user_id "
                           "WHERE u.id IS NULL OR u.created_at > t.created_at") == [(0,)]
    assert sqlite_rows(db, "SELECT count(*) FROM users WHERE updated_at < created_at") == [(0,)]
    statuses = dict(sqlite_rows(db, "SELECT status, count(*) FROM transactions GROUP BY 1"))
    assert statuses == {s: summary.totals[f"transactions.status.{s}"] for s in statuses}
    assert set(statuses) == {"completed", "pending", "failed", "refunded"}
    # About one email in ten has capitals, for the models to lowercase.
    mixed = sqlite_rows(db, "SELECT count(*) FROM users WHERE email <> lower(email)")[0][0]
    assert 100 < mixed < 300


def test_same_seed_same_rows_other_seed_other_rows(tmp_path: Path) -> None:
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        generate_shop(str(tmp_path / f"{name}.db"), users=300, transactions=1_000, seed=seed)

    def content(name: str) -> list[tuple[Any, ...]]:
        return sqlite_rows(tmp_path / f"{name}.db", "SELECT * FROM users ORDER BY id") + sqlite_rows(
            tmp_path / f"{name}.db", "SELECT * FROM transactions ORDER BY id")

    assert content("a") == content("b")
    assert content("a") != content("c")


def test_an_existing_shop_is_kept_unless_replaced(tmp_path: Path) -> None:
    db = str(tmp_path / "shop.db")
    generate_shop(db, users=10, seed=1)

    with pytest.raises(SourceError, match="already has"):
        generate_shop(db, users=10, seed=1)
    assert generate_shop(db, users=20, seed=1, replace=True).rows["users"] == 20


def test_changes_insert_and_update_rows_with_a_new_updated_at(tmp_path: Path) -> None:
    db = tmp_path / "shop.db"
    generate_shop(str(db), users=1_000, transactions=5_000, seed=1)
    first, second = datetime(2025, 6, 1, 12, 0, tzinfo=UTC), datetime(2025, 6, 1, 13, 0, tzinfo=UTC)

    one = simulate_changes(str(db), fraction=0.02, seed=3, at=first)
    two = simulate_changes(str(db), fraction=0.02, seed=3, at=second)

    assert isinstance(one, Summary) and isinstance(two, Summary)
    assert one.rows == {"users.inserted": 20, "transactions.inserted": 100, "users.updated": 20,
                        "transactions.updated": 100}
    stamp = "2025-06-01 13:00:00.000000"
    assert sqlite_rows(db, f"SELECT count(*) FROM users WHERE created_at = '{stamp}'") == [
        (two.rows["users.inserted"],)]
    assert sqlite_rows(db, f"SELECT count(*) FROM users WHERE updated_at = '{stamp}'") == [
        (two.rows["users.inserted"] + two.rows["users.updated"],)]
    assert sqlite_rows(db, f"SELECT count(*) FROM transactions WHERE updated_at = '{stamp}'") == [
        (two.rows["transactions.inserted"] + two.rows["transactions.updated"],)]
    assert sqlite_rows(db, "SELECT count(*), max(id) FROM users") == [(1_000 + 20 + 20, 1_040)]
    # The same seed on a changed database makes different changes.
    assert two.totals["transactions.amount_inserted"] != one.totals["transactions.amount_inserted"]
    assert sqlite_rows(db, "SELECT count(*) FROM transactions t LEFT JOIN users u ON u.id = t.user_id "
                           "WHERE u.id IS NULL") == [(0,)]


def test_held_changes_need_postgres(tmp_path: Path) -> None:
    db = str(tmp_path / "shop.db")
    generate_shop(db, users=10, seed=1)

    with pytest.raises(ConfigError, match="PostgreSQL"):
        simulate_changes(db, hold=True)


def test_million_rows_into_postgres(postgres_database: str) -> None:
    started = time.perf_counter()
    summary = generate_shop(postgres_database, users=100_000, transactions=900_000, seed=11)
    seconds = time.perf_counter() - started

    with psycopg.connect(postgres_database) as con:
        row = con.execute("SELECT (SELECT count(*) FROM users), count(*), sum(amount) FROM transactions").fetchone()
    assert row == (100_000, 900_000, summary.totals["transactions.amount"])
    print(f"\nshop: 1,000,000 rows into PostgreSQL in {seconds:.1f} s ({1_000_000 / seconds:,.0f} rows/s)")


def test_a_late_commit_carries_an_older_updated_at(postgres_database: str) -> None:
    generate_shop(postgres_database, users=500, transactions=2_000, seed=2)

    held = simulate_changes(postgres_database, fraction=0.02, seed=4, hold=True)
    assert isinstance(held, HeldChanges)
    with psycopg.connect(postgres_database) as con:
        invisible = con.execute("SELECT count(*) FROM users WHERE id > 500").fetchone()
    time.sleep(0.05)
    meanwhile = simulate_changes(postgres_database, fraction=0.02, seed=5)
    assert isinstance(meanwhile, Summary)
    late = held.commit()

    with psycopg.connect(postgres_database) as con:
        stamps = con.execute("SELECT DISTINCT created_at FROM users WHERE id > 500 ORDER BY 1").fetchall()
        ids_first = con.execute("SELECT min(id), max(id) FROM users WHERE created_at = %s", [stamps[0][0]]).fetchone()
    assert invisible == (0,)
    assert late.rows["users.inserted"] == 10 and meanwhile.rows["users.inserted"] == 10
    # The held rows committed last but carry the earlier time, and the lower ids.
    assert len(stamps) == 2 and stamps[1][0] - stamps[0][0] >= timedelta(milliseconds=40)
    assert ids_first == (501, 510)
