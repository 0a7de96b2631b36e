"""The totesys database (seed 002) scaled up from the real snapshot, and kept changing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from shopflow.demo import generate_totesys, scale_totesys, simulate_totesys
from shopflow.errors import ConfigError
from tests.services import PostgresServer

# Every foreign key of the totesys schema, as (table, column, referenced table).
REFERENCES = [
    ("sales_order", "design_id", "design"), ("sales_order", "staff_id", "staff"),
    ("sales_order", "counterparty_id", "counterparty"), ("sales_order", "currency_id", "currency"),
    ("sales_order", "agreed_delivery_location_id", "address"), ("purchase_order", "staff_id", "staff"),
    ("purchase_order", "counterparty_id", "counterparty"), ("purchase_order", "currency_id", "currency"),
    ("purchase_order", "agreed_delivery_location_id", "address"), ("transaction", "sales_order_id", "sales_order"),
    ("transaction", "purchase_order_id", "purchase_order"), ("payment", "transaction_id", "transaction"),
    ("payment", "counterparty_id", "counterparty"), ("payment", "currency_id", "currency"),
    ("payment", "payment_type_id", "payment_type"), ("counterparty", "legal_address_id", "address"),
    ("staff", "department_id", "department"),
]


def scalar(url: str, sql: str) -> Any:
    with psycopg.connect(url) as con:
        row = con.execute(sql.encode()).fetchone()
    assert row is not None
    return row[0]


def broken_references(url: str) -> dict[str, int]:
    broken = {}
    for table, column, target in REFERENCES:
        count = scalar(url, f'SELECT count(*) FROM "{table}" t WHERE t.{column} IS NOT NULL AND NOT EXISTS '
                            f'(SELECT 1 FROM "{target}" r WHERE r.{target}_id = t.{column})')
        if count:
            broken[f"{table}.{column}"] = int(count)
    return broken


@pytest.fixture
def second_database(postgres_server: PostgresServer) -> Iterator[str]:
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


def test_scaled_database_keeps_every_foreign_key(postgres_database: str) -> None:
    summary = generate_totesys(postgres_database, scale=3.0, seed=1)

    # The 2024-11-15 snapshot holds 11,187 sales and 4,649 purchase orders: tripled.
    assert summary.rows["sales_order"] == 11_187 * 3 and summary.rows["purchase_order"] == 4_649 * 3
    assert scalar(postgres_database, "SELECT count(*) FROM sales_order") == 33_561
    assert broken_references(postgres_database) == {}
    # One transaction and one payment per order; the payment is the order's value, currency and counterparty.
    assert scalar(postgres_database, "SELECT count(*) - count(DISTINCT (sales_order_id, purchase_order_id)) "
                                     "FROM transaction") == 0
    assert scalar(postgres_database, "SELECT count(*) FROM transaction") == 3 * 15_836
    assert scalar(postgres_database, "SELECT count(*) FROM transaction t JOIN payment p USING (transaction_id) "
                                     "JOIN sales_order s USING (sales_order_id) WHERE p.payment_amount <> "
                                     "s.units_sold * s.unit_price OR p.currency_id <> s.currency_id OR "
                                     "p.counterparty_id <> s.counterparty_id OR t.transaction_type <> 'SALE'") == 0
    assert scalar(postgres_database, "SELECT count(*) FROM transaction t JOIN payment p USING (transaction_id) "
                                     "JOIN purchase_order o USING (purchase_order_id) WHERE p.payment_amount <> "
                                     "o.item_quantity * o.item_unit_price OR t.transaction_type <> 'PURCHASE'") == 0
    assert scalar(postgres_database, "SELECT count(*) FROM payment WHERE paid AND last_updated <= created_at "
                                     "AND payment_id > 15836") == 0
    added = scalar(postgres_database, "SELECT sum(payment_amount) FROM payment WHERE payment_id > 15836")
    assert added == summary.totals["payment.amount"]
    # The sequences continue after the new ids, as a live database's do.
    assert scalar(postgres_database, "SELECT nextval(pg_get_serial_sequence('sales_order', 'sales_order_id'))") \
        == 33_562


def test_same_seed_same_rows(postgres_database: str, second_database: str) -> None:
    digest = ("SELECT md5(string_agg(p::text, ',' ORDER BY payment_id)) || md5(string_agg(s::text, ',' "
              "ORDER BY s.sales_order_id)) FROM payment p FULL JOIN sales_order s ON s.sales_order_id = p.payment_id")
    generate_totesys(postgres_database, scale=1.5, seed=4)
    generate_totesys(second_database, scale=1.5, seed=4)
    assert scalar(postgres_database, digest) == scalar(second_database, digest)

    scale_totesys(second_database, scale=1.2, seed=5)
    assert scalar(postgres_database, digest) != scalar(second_database, digest)


def test_simulator_adds_and_updates_rows_with_a_fresh_last_updated(postgres_database: str) -> None:
    generate_totesys(postgres_database, seed=1)
    before = scalar(postgres_database, "SELECT max(last_updated) FROM payment")

    summary = simulate_totesys(postgres_database, rounds=3, seed=2, orders=30, updates=10)

    assert summary.rows["sales_order.inserted"] + summary.rows["purchase_order.inserted"] == 90
    assert summary.rows["transaction.inserted"] == summary.rows["payment.inserted"] == 90
    assert summary.rows["payment.updated"] > 0 and summary.rows["sales_order.updated"] > 0
    fresh = scalar(postgres_database, f"SELECT count(*) FROM payment WHERE last_updated > '{before}'")
    assert fresh == summary.rows["payment.inserted"] + summary.rows["payment.updated"]
    assert scalar(postgres_database, "SELECT count(*) FROM payment WHERE payment_id > 15836 AND paid") == 0
    assert broken_references(postgres_database) == {}


def test_totesys_needs_postgres_and_a_snapshot(tmp_path: object, postgres_database: str) -> None:
    with pytest.raises(ConfigError, match="PostgreSQL"):
        generate_totesys("/tmp/not-postgres.db")
    with pytest.raises(ConfigError, match="load a snapshot first"):
        scale_totesys(postgres_database, 2.0)
