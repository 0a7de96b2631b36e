"""Changes to the seed-001 shop database: new users and transactions, edits that bump `updated_at`.

Each round inserts new rows and updates existing ones the way the shop's app would: new users
sign up, new transactions arrive (mostly pending), users change email or address, pending
transactions settle. Every changed row gets `updated_at` = the change time: by default the
database clock at the start of the transaction (PostgreSQL's `now()`, like a column default), so
a transaction that commits late carries an `updated_at` older than rows committed before it:
the case an incremental extract must not skip. `hold=True` leaves the transaction open for the
caller to commit later.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from shopflow.demo.generators.core import Summary, decimal_of_cents, money, rng_for, text
from shopflow.demo.generators.dbio import DemoDatabase, open_database
from shopflow.demo.generators.people import people
from shopflow.demo.generators.shop import DATASET
from shopflow.errors import ConfigError

if TYPE_CHECKING:
    from shopflow.demo.generators.core import Ints

log = logging.getLogger(__name__)

_SETTLED = text(["completed", "completed", "completed", "completed", "refunded", "failed"])
_NEW_STATUS = text(["pending", "pending", "pending", "completed"])


@dataclass
class HeldChanges:
    """Changes written in a transaction that is still open; `commit()` makes them visible.

    Attributes:
        summary: What the held transaction wrote.
    """

    summary: Summary
    _con: DemoDatabase

    def commit(self) -> Summary:
        """Commit the held transaction and close its connection."""
        try:
            self._con.commit()
        finally:
            self._con.close()
        return self.summary

    def rollback(self) -> None:
        """Discard the held changes."""
        self._con.close()


def simulate_changes(
    db: str,
    *,
    rounds: int = 1,
    fraction: float = 0.01,
    seed: int = 0,
    at: datetime | None = None,
    hold: bool = False,
) -> Summary | HeldChanges:
    """Insert and update rows in the seed-001 shop database.

    Args:
        db: The database `generate_shop` filled (PostgreSQL URL or SQLite path).
        rounds: Rounds of changes; each is its own transaction (unless held).
        fraction: Per round and table, the share of existing rows inserted anew and, separately,
            the share updated.
        seed: With the same seed and the same database content, the same changes.
        at: The change time written to `created_at`/`updated_at`; default the database clock
            (`now()` on PostgreSQL, the current UTC time on SQLite).
        hold: Write one round and leave its transaction open (PostgreSQL only): returns a
            `HeldChanges` to commit later, so its rows commit after rows written meanwhile.

    Returns:
        Rows inserted and updated per table, and `transactions.amount_inserted`; or, with
        `hold`, the open `HeldChanges`.
    """
    if fraction <= 0 or rounds < 1:
        raise ValueError("fraction must be positive and rounds at least 1")
    con = open_database(db)
    if hold and con.kind != "postgres":
        con.close()
        raise ConfigError(
            "held (late-committing) changes need a PostgreSQL demo database",
            fix="use a postgresql:// database, or pass at= an earlier time to write rows with an old updated_at",
        )
    summary = Summary("shop_changes")
    try:
        for _ in range(1 if hold else rounds):
            _round(con, summary, seed, fraction, at)
            if hold:
                return HeldChanges(summary.finish(), con)
            con.commit()
    except BaseException:
        con.close()
        raise
    con.close()
    return summary.finish()


def _round(con: DemoDatabase, summary: Summary, seed: int, fraction: float, at: datetime | None) -> None:
    n_users, max_user = (int(v or 0) for v in con.rows("SELECT count(*), max(id) FROM users")[0])
    n_tx, max_tx = (int(v or 0) for v in con.rows("SELECT count(*), max(id) FROM transactions")[0])
    if not max_user:
        raise ConfigError("the demo shop database has no users", fix="fill it with generate_shop first")
    # The database's content keys the stream: repeated calls with one seed make new changes.
    rng = rng_for(seed, DATASET, 3, max_user, max_tx)
    clock = _clock(con, at)

    # New rows: the database numbers them (identity / rowid), as the shop's app would.
    new_users = max(1, round(n_users * fraction))
    who = people(rng, np.arange(max_user + 1, max_user + new_users + 1, dtype=np.int64), mixed_case_emails=0.1)
    stage = _stage(con, "users", pa.table({
        "id": np.arange(new_users, dtype=np.int64), "name": who.name, "email": who.email, "address": who.address,
    }))
    summary.add_rows("users.inserted", con.execute(
        f"INSERT INTO users (name, email, address, created_at, updated_at) "
        f"SELECT name, email, address, {clock}, {clock} FROM {stage} ORDER BY id"))
    con.execute(f"DROP TABLE {stage}")

    new_tx = max(1, round(n_tx * fraction))
    cents = np.clip(np.round(np.exp(rng.normal(3.6, 0.9, new_tx)) * 100), 50, 5_000_000).astype(np.int64)
    stage = _stage(con, "transactions", pa.table({
        "id": np.arange(new_tx, dtype=np.int64), "user_id": rng.integers(1, max_user + 1, new_tx),
        "amount": money(cents), "status": _NEW_STATUS.take(pa.array(rng.integers(0, len(_NEW_STATUS), new_tx))),
    }))
    # A buyer id that does not exist (a gap left by a rolled-back change) falls back to user 1.
    summary.add_rows("transactions.inserted", con.execute(
        f"INSERT INTO transactions (user_id, amount, status, created_at, updated_at) "
        f"SELECT COALESCE((SELECT u.id FROM users u WHERE u.id = s.user_id), 1), s.amount, s.status, {clock}, {clock} "
        f"FROM {stage} s ORDER BY s.id"))
    con.execute(f"DROP TABLE {stage}")
    summary.add_total("transactions.amount_inserted", decimal_of_cents(int(cents.sum())))

    ids = _sample_ids(rng, max_user, round(n_users * fraction))
    moved = people(rng, ids, mixed_case_emails=0.1)
    summary.add_rows("users.updated", _update(
        con, "users", pa.table({"id": ids, "email": moved.email, "address": moved.address}), clock))
    if max_tx:
        ids = _sample_ids(rng, max_tx, round(n_tx * fraction))
        status = _SETTLED.take(pa.array(rng.integers(0, len(_SETTLED), len(ids))))
        summary.add_rows("transactions.updated", _update(con, "transactions", pa.table({"id": ids, "status": status}),
                                                         clock))


def _sample_ids(rng: np.random.Generator, max_id: int, count: int) -> Ints:
    count = min(max(1, count), max_id)
    return np.sort(rng.choice(max_id, size=count, replace=False).astype(np.int64) + 1)


def _clock(con: DemoDatabase, at: datetime | None) -> str:
    """The change time as an SQL expression."""
    if at is None and con.kind == "postgres":
        return "now()"
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    if con.kind == "postgres":
        return f"'{moment.isoformat()}'::timestamptz"
    return f"'{moment.strftime('%Y-%m-%d %H:%M:%S.%f')}'"


def _update(con: DemoDatabase, table: str, data: pa.Table, clock: str) -> int:
    """Set `data`'s columns on the rows with its ids and updated_at to `clock`; returns the rows updated."""
    stage = _stage(con, table, data)
    names = [c for c in data.column_names if c != "id"]
    if con.kind == "postgres":
        # Rows a held (late-committing) change has locked are skipped rather than waited for.
        sets = ", ".join(f"{c} = s.{c}" for c in names)
        changed = con.execute(
            f"UPDATE {table} SET {sets}, updated_at = {clock} FROM {stage} s "
            f"WHERE {table}.id = s.id AND {table}.id IN "
            f"(SELECT t.id FROM {table} t JOIN {stage} x ON x.id = t.id FOR NO KEY UPDATE OF t SKIP LOCKED)")
    else:
        sets = ", ".join(f"{c} = (SELECT s.{c} FROM {stage} s WHERE s.id = {table}.id)" for c in names)
        changed = con.execute(f"UPDATE {table} SET {sets}, updated_at = {clock} WHERE id IN (SELECT id FROM {stage})")
    con.execute(f"DROP TABLE {stage}")
    return changed


def _stage(con: DemoDatabase, table: str, data: pa.Table) -> str:
    """A temporary table shaped like `table` holding `data`; the caller drops it."""
    stage = f"_demo_stage_{table}"
    con.execute(f"CREATE TEMP TABLE {stage} AS SELECT * FROM {table} WHERE 1 = 0")
    con.insert(stage, data)
    return stage
