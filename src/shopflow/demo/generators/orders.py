"""A plain `orders` table in PostgreSQL or SQLite, for benchmarks: numeric, text and timestamptz columns.

`orders(id, customer_id, amount numeric(12,2), status, note, created_at, updated_at)`, ids in
creation order, `updated_at` at or after `created_at`, a short note on one order in twenty.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopflow.demo.generators.core import (
    Summary,
    chunks,
    decimal_of_cents,
    epoch_us,
    money,
    pick,
    rng_for,
    text,
    ts_array,
)
from shopflow.demo.generators.dbio import open_database
from shopflow.errors import SourceError

DATASET = 5
BASE_ORDERS = 100_000
_STATUS = text(["paid", "shipped", "delivered", "cancelled", "refunded"])
_STATUS_WEIGHTS = np.array([0.15, 0.2, 0.55, 0.05, 0.05])
_NOTES = text(["gift wrap", "leave at the door", "call on arrival", "fragile", "express delivery"])

_DDL = {
    "postgres": "CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, amount numeric(12,2) "
                "NOT NULL, status text NOT NULL, note text, created_at timestamptz NOT NULL, "
                "updated_at timestamptz NOT NULL)",
    "sqlite": "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, amount NUMERIC(12,2) "
              "NOT NULL, status TEXT NOT NULL, note TEXT, created_at TIMESTAMP NOT NULL, "
              "updated_at TIMESTAMP NOT NULL)",
}


def orders_chunk(seed: int, index: int, offset: int, rows: int, total: int, start_us: int, end_us: int,
                 customers: int) -> tuple[pa.Table, int]:
    """Chunk `index` of the orders and the sum of its amounts in cents."""
    rng = rng_for(seed, DATASET, index)
    ids = np.arange(offset + 1, offset + rows + 1, dtype=np.int64)
    spacing = (end_us - start_us) / total
    created = (start_us + (ids - 1) * spacing + rng.random(rows) * spacing).astype(np.int64)
    updated = created + (rng.random(rows) ** 4 * 30 * 86_400 * 1_000_000).astype(np.int64)
    cents = np.clip(np.round(np.exp(rng.normal(4.0, 0.8, rows)) * 100), 100, 9_999_999).astype(np.int64)
    status = np.searchsorted(np.cumsum(_STATUS_WEIGHTS), rng.random(rows) * _STATUS_WEIGHTS.sum(), side="right")
    note = pc.if_else(pa.array(rng.random(rows) < 0.05), pick(_NOTES, rng.integers(0, len(_NOTES), rows)),
                      pa.scalar(None, pa.string()))
    table = pa.table({
        "id": ids, "customer_id": rng.integers(1, customers + 1, rows), "amount": money(cents),
        "status": pick(_STATUS, np.minimum(status, len(_STATUS_WEIGHTS) - 1).astype(np.int64)), "note": note,
        "created_at": ts_array(created), "updated_at": ts_array(updated),
    })
    return table, int(cents.sum())


def generate_orders_table(
    db: str,
    rows: int | None = None,
    *,
    scale: float = 1.0,
    seed: int = 0,
    customers: int = 50_000,
    start: datetime = datetime(2024, 1, 1, tzinfo=UTC),
    end: datetime = datetime(2025, 1, 1, tzinfo=UTC),
    replace: bool = False,
) -> Summary:
    """Create and fill an `orders` table.

    Args:
        db: `postgresql://...`, or `sqlite:///path` / a file path.
        rows: Orders to write (default 100,000 times `scale`).
        scale: Size factor when `rows` is not given.
        seed: Same seed and size, same rows.
        customers: Distinct customer ids the orders draw from.
        start: Creation time of the first order.
        end: Creation time of the last order.
        replace: Drop an existing `orders` table first.

    Returns:
        Rows `orders` and total `orders.amount` (exact).
    """
    total = rows if rows is not None else max(1, round(BASE_ORDERS * scale))
    start_us, end_us = epoch_us(start), epoch_us(end)
    summary = Summary("orders")
    cents = 0
    with open_database(db) as con:
        if con.table_exists("orders"):
            if not replace:
                raise SourceError("the database already has an orders table", fix="pass replace=True to drop it")
            con.execute("DROP TABLE orders")
        con.execute(_DDL[con.kind])

        def tables() -> Iterator[pa.Table]:
            nonlocal cents
            for index, offset, count in chunks(total):
                table, chunk_cents = orders_chunk(seed, index, offset, count, total, start_us, end_us, customers)
                cents += chunk_cents
                yield table

        con.insert("orders", tables())
        if con.kind == "postgres":
            con.execute("ANALYZE orders")
        con.commit()
    summary.add_rows("orders", total)
    summary.totals["orders.amount"] = decimal_of_cents(cents)
    return summary.finish()
