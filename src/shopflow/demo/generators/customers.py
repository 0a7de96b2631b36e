"""Seed 004: a CRM's customer exports (CSV) and a payment system's transaction exports (JSON), dirty.

Export `k` (dated `start_date + k * interval_days`) holds the customers who signed up since the
previous export plus a share of earlier customers who changed (moved house, fixed an email),
with `updated_at` in that window; the first export holds a year of history. Values are dirty
the way hand-kept CRM data is: padded whitespace, mixed-case emails, `name(at)domain`, country
spellings (`UK`, `U.K.`, `england`, `Great Britain`, and a rare typo), UK-style and impossible
dates. On top, each of the nine descriptive columns is missing in a share `missing` of the rows:
empty (NULL), or blank whitespace; a share `missing_ids` of rows even lack `customer_id`.
A customer's name, email and addresses are functions of their id (hashed), so a customer
re-sent in a later export is recognisably the same person. The transactions are in
`customer_transactions`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopflow.demo.generators.core import (
    US,
    Summary,
    epoch_us,
    hashed_uniform,
    pick,
    rng_for,
    scaled,
    seconds_text,
    text,
)
from shopflow.demo.generators.customer_values import clean_values, spoil
from shopflow.demo.generators.target import StorageOptions, Target
from shopflow.demo.generators.textio import csv_pieces

if TYPE_CHECKING:
    from shopflow.demo.generators.core import Ints

log = logging.getLogger(__name__)

DATASET = 4
BASE_CUSTOMERS = 10_000
FIRST_ID = 1001
DEFAULT_START = date(2024, 3, 1)
NULLABLE = ("first_name", "last_name", "email", "phone", "address", "city", "postcode", "country", "signup_date")
COLUMNS = ("customer_id", *NULLABLE, "updated_at")


@dataclass(frozen=True)
class Plan:
    """The export schedule: who signs up when, and which window each export covers."""

    seed: int
    customers: int
    exports: int
    start: date
    interval_days: int

    @property
    def history_us(self) -> int:
        """When the first customer signed up: a year before the first export."""
        return epoch_us(self.start - timedelta(days=365))

    def export_us(self, k: int) -> int:
        """The time of export `k` (midnight of its date); its window ends there."""
        return epoch_us(self.start + timedelta(days=k * self.interval_days))

    def export_date(self, k: int) -> date:
        """The date in export `k`'s file name."""
        return self.start + timedelta(days=k * self.interval_days)

    def signup_us(self, ids: Ints) -> Ints:
        """Sign-up times: ids follow time from the start of history to the last export."""
        spacing = (self.export_us(self.exports - 1) - self.history_us) / self.customers
        position = ids - FIRST_ID + hashed_uniform(self.seed, ids, 1)
        return (self.history_us + position * spacing).astype(np.int64)

    def signed_up_in(self, k: int) -> Ints:
        """Ids of the customers who signed up in export `k`'s window."""
        lo = self.history_us if k == 0 else self.export_us(k - 1)
        ids = np.arange(FIRST_ID, FIRST_ID + self.customers, dtype=np.int64)
        spacing = (self.export_us(self.exports - 1) - self.history_us) / self.customers
        first = max(0, int((lo - self.history_us) / spacing) - 1)
        last = min(self.customers, int((self.export_us(k) - self.history_us) / spacing) + 2)
        ids = ids[first:last]
        at = self.signup_us(ids)
        return ids[(at >= lo if k == 0 else at > lo) & (at <= self.export_us(k))]


def customer_rows(plan: Plan, k: int, missing: float, missing_ids: float, dirty: float) -> tuple[pa.Table,
                                                                                                  dict[str, int]]:
    """Export `k` of the customers and its counts of missing values per column."""
    rng = rng_for(plan.seed, DATASET, 1, k)
    new = plan.signed_up_in(k)
    window_lo = plan.history_us if k == 0 else plan.export_us(k - 1)
    changed = np.empty(0, dtype=np.int64)
    if k > 0:
        earlier = int(np.count_nonzero(plan.signup_us(np.arange(FIRST_ID, FIRST_ID + plan.customers)) <= window_lo))
        changed = np.sort(rng.choice(earlier, size=min(earlier, round(earlier * 0.05)), replace=False)) + FIRST_ID
    ids = np.concatenate([changed, new])
    n = len(ids)
    version = np.concatenate([np.full(len(changed), k), np.zeros(len(new), dtype=np.int64)])
    signup = plan.signup_us(ids)
    moved_at = window_lo + (rng.random(len(changed)) * (plan.export_us(k) - window_lo)).astype(np.int64)
    updated = np.concatenate([moved_at, np.minimum(signup[len(changed):] + rng.integers(0, 3600, len(new)) * US,
                                                   plan.export_us(k) - US)])

    columns = spoil(rng, clean_values(plan.seed, ids, version, signup), dirty)
    missing_counts: dict[str, int] = {}
    for name in NULLABLE:
        mask = rng.random(n) < missing
        blank = pick(text(["", " ", "   ", "\t"]), rng.integers(0, 4, n))
        as_blank = rng.random(n) < 0.5  # half empty (NULL), half blank whitespace
        columns[name] = pc.if_else(pa.array(mask & as_blank), blank,
                                   pc.if_else(pa.array(mask), pa.scalar(None, pa.string()), columns[name]))
        missing_counts[name] = int(mask.sum())
    no_id = rng.random(n) < missing_ids
    missing_counts["customer_id"] = int(no_id.sum())
    table = pa.table({
        "customer_id": pa.array(ids, mask=no_id), **{name: columns[name] for name in NULLABLE},
        "updated_at": seconds_text(updated // US),
    })
    return table.sort_by([("updated_at", "ascending")]) if k else table, missing_counts


def generate_customers(
    target: str,
    *,
    customers: int | None = None,
    transactions_per_customer: float = 5.0,
    exports: int = 1,
    interval_days: int = 30,
    start_date: date = DEFAULT_START,
    seed: int = 0,
    scale: float = 1.0,
    missing: float = 0.05,
    missing_ids: float = 0.002,
    dirty: float = 0.05,
    storage: StorageOptions = None,
    transactions_target: str | None = None,
    transactions_storage: StorageOptions = None,
    only: int | None = None,
) -> Summary:
    """Write the seed-004 exports: `customers_<date>.csv` and `transactions_<date>.json`, one pair per export.

    Args:
        target: Where the customer CSVs go (a folder, `s3://...`, `az://...`); the transactions
            too unless `transactions_target` is given (seed 004 had S3 and Azure).
        customers: Customers over all exports (default 10,000 times `scale`).
        transactions_per_customer: Transactions per customer, on average.
        exports: Export pairs to write; the first covers a year, each next one `interval_days`.
        interval_days: Days between exports.
        start_date: The date of the first export.
        seed: Same seed and sizes, same bytes.
        scale: Size factor when `customers` is not given.
        missing: Share of rows in which each descriptive column is missing (empty or blank).
        missing_ids: Share of customer rows without a customer_id.
        dirty: Share of values spoilt (whitespace, case, spelling, date format).
        storage: Storage options for `target`.
        transactions_target: Where the transaction JSON files go.
        transactions_storage: Storage options for `transactions_target`.
        only: Write only export `only` (0-based) of the schedule: the same bytes as the full
            run writes for it, so the exports of one plan can be delivered one at a time.

    Returns:
        Rows `customers` and `transactions`, the files, and totals: `customers.missing.<column>`
        (values written empty or blank), `customers.missing.customer_id`, and the transaction
        figures of `customer_transactions.transaction_rows`.
    """
    from shopflow.demo.generators.customer_transactions import transaction_rows

    n = customers if customers is not None else scaled(BASE_CUSTOMERS, scale)
    if n < 1 or exports < 1 or interval_days < 1:
        raise ValueError("need at least one customer, one export and a positive interval")
    if only is not None and not 0 <= only < exports:
        raise ValueError(f"only must name one of the {exports} exports (0 to {exports - 1}), got {only}")
    plan = Plan(seed=seed, customers=n, exports=exports, start=start_date, interval_days=interval_days)
    customers_out = Target(target, storage)
    transactions_out = Target(transactions_target, transactions_storage) if transactions_target else customers_out
    summary = Summary("customers")
    for k in range(exports) if only is None else [only]:
        table, missing_counts = customer_rows(plan, k, missing, missing_ids, dirty)
        pieces = csv_pieces(table)
        url = customers_out.write(f"customers_{plan.export_date(k).isoformat()}.csv", pieces)
        summary.add_file(url, pieces)
        summary.add_rows("customers", table.num_rows)
        for name, count in missing_counts.items():
            summary.add_total(f"customers.missing.{name}", count)
        json_pieces, figures = transaction_rows(plan, k, transactions_per_customer, dirty)
        url = transactions_out.write(f"transactions_{plan.export_date(k).isoformat()}.json", json_pieces)
        summary.add_file(url, json_pieces)
        summary.add_rows("transactions", figures.pop("rows"))
        for name, value in figures.items():
            summary.add_total(f"transactions.{name}", value)
    log.info("wrote %s customer and transaction exports", exports)
    return summary.finish()
