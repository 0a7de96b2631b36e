"""The live totesys database: rows added and updated at random intervals, as the seed describes.

Each round, in one transaction stamped with the database clock (`localtimestamp`, the
transaction's start), adds sales and purchase orders with their transactions and (unpaid)
payments, marks some payments paid, moves some orders' agreed delivery dates, and now and
then changes a counterparty's contact or an address's phone. Every changed row gets a fresh
`last_updated`. Between rounds it sleeps a random (exponential) time.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from shopflow.demo.generators.core import US, Summary, decimal_of_cents, epoch_us, join, pick, rng_for, text
from shopflow.demo.generators.dbio import DemoDatabase, PostgresDatabase, is_postgres, quote
from shopflow.demo.generators.totesys import DATASET, new_orders, read_refs, reset_sequences
from shopflow.demo.generators.vocab import FIRST_NAMES, LAST_NAMES
from shopflow.errors import ConfigError

log = logging.getLogger(__name__)

_FACTS = ("sales_order", "purchase_order", "transaction", "payment")


def simulate_totesys(
    db: str,
    rounds: int = 1,
    *,
    seed: int = 0,
    orders: int = 20,
    updates: int = 10,
    mean_interval: float = 0.0,
    schema: str = "public",
) -> Summary:
    """Add and update rows of a loaded totesys database, round after round.

    Args:
        db: PostgreSQL URL of a database holding a totesys snapshot.
        rounds: Rounds of changes, each its own transaction.
        seed: With the same seed and database content, the same changes (times aside).
        orders: New orders per round (about two sales orders to one purchase order).
        updates: Existing rows updated per round: payments marked paid, and as many orders re-dated.
        mean_interval: Mean seconds to sleep between rounds (exponentially distributed); 0 runs
            the rounds back to back.
        schema: The schema of the totesys tables.

    Returns:
        Rows `<table>.inserted` and `<table>.updated`, and `payment.amount_inserted`.
    """
    if not is_postgres(db):
        raise ConfigError("the totesys demo database is PostgreSQL", fix="pass a postgresql:// URL")
    if rounds < 1 or orders < 0 or updates < 0:
        raise ValueError("rounds must be at least 1, orders and updates not negative")
    summary = Summary("totesys_changes")
    sleeper = rng_for(seed, DATASET, 9)
    with PostgresDatabase(db) as con:
        for number in range(rounds):
            if number and mean_interval > 0:
                time.sleep(float(sleeper.exponential(mean_interval)))
            _round(con, summary, seed, orders, updates, schema)
            con.commit()
    return summary.finish()


def _round(con: DemoDatabase, summary: Summary, seed: int, orders: int, updates: int, schema: str) -> None:
    def table(name: str) -> str:
        return f"{quote(schema)}.{quote(name)}"

    # Concurrent simulators take turns; readers (extracts) are not blocked.
    con.execute(f"LOCK TABLE {', '.join(table(t) for t in _FACTS)} IN SHARE ROW EXCLUSIVE MODE")
    refs = read_refs(con, schema)
    rng = rng_for(seed, DATASET, 2, *refs.max_id.values())
    now_us = epoch_us(con.scalar("SELECT localtimestamp"))
    if orders:
        sales = int(rng.binomial(orders, 2 / 3))
        # A new payment is not paid yet; later rounds pay it.
        tables, cents = new_orders(rng, refs, sales, orders - sales, np.full(orders, now_us // 1000 * 1000),
                                   {t: refs.max_id[t] + 1 for t in _FACTS}, paid_share=0.0)
        for name, data in tables.items():
            con.insert(table(name), data)
            summary.add_rows(f"{name}.inserted", data.num_rows)
        summary.add_total("payment.amount_inserted", decimal_of_cents(int(cents.sum())))
        reset_sequences(con, schema)
    if updates and refs.max_id["payment"]:
        ids = _ids(rng, refs.max_id["payment"], updates * 3)
        summary.add_rows("payment.updated", con.execute(
            f"UPDATE {table('payment')} SET paid = true, last_updated = localtimestamp "
            f"WHERE payment_id IN (SELECT payment_id FROM {table('payment')} "
            f"WHERE payment_id IN ({ids}) AND NOT paid ORDER BY payment_id LIMIT {updates})"))
    for name in ("sales_order", "purchase_order"):
        if updates and refs.max_id[name]:
            ids = _ids(rng, refs.max_id[name], max(1, updates // 2))
            summary.add_rows(f"{name}.updated", con.execute(
                f"UPDATE {table(name)} SET agreed_delivery_date = "
                f"to_char(agreed_delivery_date::date + {int(rng.integers(1, 4))}, 'YYYY-MM-DD'), "
                f"last_updated = localtimestamp WHERE {name}_id IN ({ids})"))
    if rng.random() < 0.3:
        contact = join(pick(text(list(FIRST_NAMES)), rng.integers(0, len(FIRST_NAMES), 1)),
                       pick(text(list(LAST_NAMES)), rng.integers(0, len(LAST_NAMES), 1)), sep=" ")[0].as_py()
        summary.add_rows("counterparty.updated", con.execute(
            f"UPDATE {table('counterparty')} SET delivery_contact = '{contact.replace(chr(39), chr(39) * 2)}', "
            f"last_updated = localtimestamp WHERE counterparty_id = {int(rng.choice(refs.counterparty))}"))
    if rng.random() < 0.1:
        phone = f"{int(rng.integers(1000, 10000))} {int(rng.integers(100000, 1000000))}"
        summary.add_rows("address.updated", con.execute(
            f"UPDATE {table('address')} SET phone = '{phone}', last_updated = localtimestamp "
            f"WHERE address_id = {int(rng.choice(refs.address))}"))
    log.debug("totesys round at %s", now_us // US)


def _ids(rng: np.random.Generator, max_id: int, count: int) -> str:
    """A comma-separated sample of ids in `1..max_id`."""
    picked = rng.choice(max_id, size=min(count, max_id), replace=False) + 1
    return ", ".join(str(int(i)) for i in np.sort(picked))
