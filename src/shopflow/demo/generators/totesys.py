"""Seed 002: the totesys database scaled up: more sales and purchase orders, each with its transaction and payment.

Starts from a database holding a real snapshot (`totesys_snapshot.load_snapshot`) and adds
rows consistent with its foreign keys: every new order references an existing staff member,
counterparty, currency, address (and design, for sales); every order gets one transaction
(`SALE` / `PURCHASE`) and one payment (`SALES_RECEIPT` / `PURCHASE_PAYMENT`) whose amount is
the order's value, in the order's currency, to the order's counterparty. Values follow the
real data's ranges; a payment that is paid has a `last_updated` after its `created_at`, as in
the snapshot. `simulate_totesys` (in `totesys_changes`) keeps the database changing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopflow.demo.generators.core import US, Summary, chunks, decimal_of_cents, epoch_us, money, rng_for, ts_array
from shopflow.demo.generators.dbio import DemoDatabase, PostgresDatabase, is_postgres, quote
from shopflow.errors import ConfigError, SourceError

if TYPE_CHECKING:
    from shopflow.demo.generators.core import Ints

log = logging.getLogger(__name__)

DATASET = 2
_ALPHANUMERIC = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", dtype=np.uint8)
_FACTS = ("sales_order", "purchase_order", "transaction", "payment")


@dataclass(frozen=True)
class Refs:
    """What new rows may reference, and where the fact tables' ids end."""

    staff: Ints
    counterparty: Ints
    currency: Ints
    design: Ints
    address: Ints
    sales_receipt: int
    purchase_payment: int
    rows: dict[str, int]
    max_id: dict[str, int]
    span_us: tuple[int, int]


def read_refs(con: DemoDatabase, schema: str) -> Refs:
    """The ids of the dimension tables and the size of the fact tables of the totesys database."""
    def ids(table: str) -> Ints:
        found = con.rows(f"SELECT {table}_id FROM {quote(schema)}.{quote(table)} ORDER BY 1")
        return np.array([r[0] for r in found], dtype=np.int64)

    for table in ("staff", "counterparty", "currency", "design", "address", "payment_type", *_FACTS):
        if not con.table_exists(f"{quote(schema)}.{quote(table)}"):
            raise ConfigError(
                f"the totesys database has no table {schema}.{table}",
                fix="load a snapshot first: shopflow.demo.generators.totesys_snapshot.load_snapshot(url)",
            )
    types = dict(con.rows(f"SELECT payment_type_name, payment_type_id FROM {quote(schema)}.payment_type"))
    rows, max_id = {}, {}
    for table in _FACTS:
        count, top = con.rows(f"SELECT count(*), coalesce(max({table}_id), 0) FROM {quote(schema)}.{quote(table)}")[0]
        rows[table], max_id[table] = int(count), int(top)
    lo, hi = con.rows(f"SELECT min(created_at), max(created_at) FROM {quote(schema)}.sales_order")[0]
    refs = Refs(
        staff=ids("staff"), counterparty=ids("counterparty"), currency=ids("currency"), design=ids("design"),
        address=ids("address"), sales_receipt=int(types.get("SALES_RECEIPT", 1)),
        purchase_payment=int(types.get("PURCHASE_PAYMENT", 3)), rows=rows, max_id=max_id,
        span_us=(epoch_us(lo), epoch_us(hi)) if lo is not None else (0, 0),
    )
    if not all(len(a) for a in (refs.staff, refs.counterparty, refs.currency, refs.design, refs.address)):
        raise SourceError("the totesys database has an empty dimension table", fix="load a full snapshot first")
    return refs


def new_orders(rng: np.random.Generator, refs: Refs, sales: int, purchases: int, created_us: Ints,
               first_id: dict[str, int], paid_share: float = 0.61) -> tuple[dict[str, pa.Table], Ints]:
    """Sales and purchase orders with their transactions and payments, created at `created_us`.

    `created_us` holds one sorted time per order (sales and purchases interleaved by a random
    draw); ids start at `first_id[table]` and follow creation time in every table. Also returns
    the payments' amounts in cents. A share `paid_share` of the payments is paid, some hours to
    days after creation (when it was last updated).
    """
    total = sales + purchases
    is_sale = np.zeros(total, dtype=bool)
    is_sale[rng.choice(total, size=sales, replace=False)] = True
    so_at, po_at = created_us[is_sale], created_us[~is_sale]
    day = created_us // (86_400 * US)

    units = rng.integers(1001, 100_000, sales)
    price = rng.integers(200, 401, sales)  # 2.00 .. 4.00
    so_counterparty = rng.choice(refs.counterparty, sales)
    so_currency = rng.choice(refs.currency, sales)
    so = pa.table({
        "sales_order_id": np.arange(first_id["sales_order"], first_id["sales_order"] + sales, dtype=np.int64),
        "created_at": ts_array(so_at, None), "last_updated": ts_array(so_at, None),
        "design_id": rng.choice(refs.design, sales), "staff_id": rng.choice(refs.staff, sales),
        "counterparty_id": so_counterparty, "units_sold": units, "unit_price": money(price, 10),
        "currency_id": so_currency, "agreed_delivery_date": _date_text(day[is_sale] + rng.integers(0, 7, sales)),
        "agreed_payment_date": _date_text(day[is_sale] + rng.integers(0, 7, sales)),
        "agreed_delivery_location_id": rng.choice(refs.address, sales),
    })

    quantity = rng.integers(1, 1000, purchases)
    unit_cents = rng.integers(100, 100_000, purchases)
    po_counterparty = rng.choice(refs.counterparty, purchases)
    po_currency = rng.choice(refs.currency, purchases)
    po = pa.table({
        "purchase_order_id": np.arange(first_id["purchase_order"], first_id["purchase_order"] + purchases,
                                       dtype=np.int64),
        "created_at": ts_array(po_at, None), "last_updated": ts_array(po_at, None),
        "staff_id": rng.choice(refs.staff, purchases), "counterparty_id": po_counterparty,
        "item_code": _codes(rng, purchases, 7), "item_quantity": quantity, "item_unit_price": money(unit_cents, 10),
        "currency_id": po_currency, "agreed_delivery_date": _date_text(day[~is_sale] + rng.integers(0, 7, purchases)),
        "agreed_payment_date": _date_text(day[~is_sale] + rng.integers(0, 7, purchases)),
        "agreed_delivery_location_id": rng.choice(refs.address, purchases),
    })

    # One transaction and one payment per order, numbered in creation order.
    order_id = np.empty(total, dtype=np.int64)
    order_id[is_sale] = so["sales_order_id"].to_numpy()
    order_id[~is_sale] = po["purchase_order_id"].to_numpy()
    tx_id = np.arange(first_id["transaction"], first_id["transaction"] + total, dtype=np.int64)
    tx = pa.table({
        "transaction_id": tx_id,
        "transaction_type": pc.if_else(pa.array(is_sale), "SALE", "PURCHASE"),
        "sales_order_id": pa.array(order_id, mask=~is_sale),
        "purchase_order_id": pa.array(order_id, mask=is_sale),
        "created_at": ts_array(created_us, None), "last_updated": ts_array(created_us, None),
    })
    cents = np.empty(total, dtype=np.int64)
    cents[is_sale], cents[~is_sale] = units * price, quantity * unit_cents
    counterparty = np.empty(total, dtype=np.int64)
    counterparty[is_sale], counterparty[~is_sale] = so_counterparty, po_counterparty
    currency = np.empty(total, dtype=np.int64)
    currency[is_sale], currency[~is_sale] = so_currency, po_currency
    paid = rng.random(total) < paid_share
    paid_at = np.where(paid, created_us + rng.integers(3600, 6 * 86_400, total) * US, created_us)
    pay = pa.table({
        "payment_id": np.arange(first_id["payment"], first_id["payment"] + total, dtype=np.int64),
        "created_at": ts_array(created_us, None), "last_updated": ts_array(paid_at, None),
        "transaction_id": tx_id, "counterparty_id": counterparty, "payment_amount": money(cents, 10),
        "currency_id": currency,
        "payment_type_id": np.where(is_sale, refs.sales_receipt, refs.purchase_payment).astype(np.int64),
        "paid": paid, "payment_date": _date_text(day + rng.integers(0, 7, total)),
        "company_ac_number": rng.integers(10_000_000, 100_000_000, total),
        "counterparty_ac_number": rng.integers(10_000_000, 100_000_000, total),
    })
    return {"sales_order": so, "purchase_order": po, "transaction": tx, "payment": pay}, cents


def _date_text(days: Ints) -> pa.Array:
    """Days since the epoch as `YYYY-MM-DD` text (totesys keeps agreed dates as text)."""
    return pa.array(days.astype(np.int32), type=pa.date32()).cast(pa.string())


def _codes(rng: np.random.Generator, n: int, width: int) -> pa.Array:
    letters = _ALPHANUMERIC[rng.integers(0, len(_ALPHANUMERIC), size=(n, width))]
    return pa.array(np.ascontiguousarray(letters).view(f"S{width}").ravel()).cast(pa.string())


def scale_totesys(
    db: str,
    scale: float = 2.0,
    *,
    seed: int = 0,
    schema: str = "public",
    start: datetime | None = None,
    end: datetime | None = None,
) -> Summary:
    """Grow a loaded totesys database to `scale` times its sales and purchase orders.

    New orders (with their transactions and payments) get ids after the existing ones and
    creation times spread over `start`..`end`, by default the span of the snapshot's sales
    orders: the same two years, a busier business. Scale before the first extract: rows
    created "in the past" are invisible to an extract that already passed those times.

    Args:
        db: PostgreSQL URL of a database holding a totesys snapshot.
        scale: Target size as a multiple of the current fact tables (2.0 doubles them).
        seed: Same seed and same starting database, same rows.
        schema: The schema of the totesys tables.
        start: Earliest creation time of the new rows.
        end: Latest creation time of the new rows.

    Returns:
        Rows added per table and totals `payment.amount` (exact sum of the new payments) and
        `payment.paid` (new paid payments).
    """
    if not is_postgres(db):
        raise ConfigError("the totesys demo database is PostgreSQL", fix="pass a postgresql:// URL")
    if scale < 1:
        raise ValueError("scale must be at least 1 (the snapshot is kept)")
    summary = Summary("totesys")
    with PostgresDatabase(db) as con:
        refs = read_refs(con, schema)
        lo = epoch_us(start) if start else refs.span_us[0]
        hi = epoch_us(end) if end else refs.span_us[1]
        sales = round(refs.rows["sales_order"] * (scale - 1))
        purchases = round(refs.rows["purchase_order"] * (scale - 1))
        total = sales + purchases
        cents, paid = 0, 0
        next_id = {t: refs.max_id[t] + 1 for t in _FACTS}
        for index, offset, rows in chunks(total):
            rng = rng_for(seed, DATASET, 1, index)
            share = round(sales * (offset + rows) / max(total, 1)) - round(sales * offset / max(total, 1))
            # Each chunk owns a slice of the time span, so ids follow time across chunks too.
            t0 = lo + (hi - lo) * offset // max(total, 1)
            t1 = lo + (hi - lo) * (offset + rows) // max(total, 1)
            created = np.sort(rng.integers(t0, max(t1, t0 + 1), rows)) // 1000 * 1000  # ms, like totesys
            tables, amounts = new_orders(rng, refs, share, rows - share, created, next_id)
            for table, data in tables.items():
                con.insert(f"{quote(schema)}.{quote(table)}", data)
                next_id[table] += data.num_rows
                summary.add_rows(table, data.num_rows)
            cents += int(amounts.sum())
            paid += int(np.count_nonzero(tables["payment"]["paid"].to_numpy(zero_copy_only=False)))
        reset_sequences(con, schema)
        con.commit()
    summary.totals["payment.amount"] = decimal_of_cents(cents)
    summary.totals["payment.paid"] = paid
    log.info("totesys scaled by %s: %s sales and %s purchase orders added", scale, sales, purchases)
    return summary.finish()


def reset_sequences(con: DemoDatabase, schema: str) -> None:
    """Move each fact table's id sequence past its largest id."""
    for table in _FACTS:
        name = f"{quote(schema)}.{quote(table)}".replace("'", "''")
        con.execute(f"SELECT setval(pg_get_serial_sequence('{name}', '{table}_id'), "
                    f"coalesce((SELECT max({table}_id) FROM {quote(schema)}.{quote(table)}), 0) + 1, false)")


def generate_totesys(
    db: str, scale: float = 1.0, *, seed: int = 0, snapshot: str = "2024-11-15", schema: str = "public",
) -> Summary:
    """The totesys database: load the real `snapshot` unless the database has one, then scale it.

    Args:
        db: PostgreSQL URL of the database (an empty one, or one holding a snapshot).
        scale: Size of the fact tables as a multiple of the snapshot's (1.0 keeps the snapshot).
        seed: Same seed, same added rows.
        snapshot: The snapshot to load into an empty database (`2024-11-14` or `2024-11-15`).
        schema: The schema of the totesys tables.

    Returns:
        Rows per table (loaded and added) and the totals of `scale_totesys`.
    """
    from shopflow.demo.generators import totesys_snapshot

    if not is_postgres(db):
        raise ConfigError("the totesys demo database is PostgreSQL", fix="pass a postgresql:// URL")
    with PostgresDatabase(db) as con:
        loaded = con.table_exists(f"{quote(schema)}.{quote('sales_order')}")
    summary = Summary("totesys")
    if not loaded:
        for table, rows in totesys_snapshot.load_snapshot(db, snapshot, schema=schema).items():
            summary.add_rows(table, rows)
    if scale > 1:
        added = scale_totesys(db, scale, seed=seed, schema=schema)
        for table, rows in added.rows.items():
            summary.add_rows(table, rows)
        summary.totals.update(added.totals)
    return summary.finish()
