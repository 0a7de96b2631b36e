"""Seed 004's transaction exports: a JSON array of records, one line each, with the payment system's dirt.

A window's transactions belong to customers who had signed up by then. Most records are
clean; a share `dirty` is spoilt the ways the example's models must handle: amounts as text
(`" 7.50 "`, `"N/A"`), null or with three decimals; customer ids as strings, blank, unknown
or missing; dates with a space instead of `T`, impossible (`2024-02-30`), empty or missing;
currency, category, payment method and status spelled otherwise or missing; now and then a
record without `transaction_id`. A transaction still pending in one export is sent again,
completed, in the next (same `transaction_id`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopflow.demo.generators import customers_vocab as v
from shopflow.demo.generators.core import (
    US,
    decimal_of_cents,
    float_text,
    int_text,
    join,
    pick,
    rng_for,
    seconds_text,
    text,
)
from shopflow.demo.generators.customers import DATASET, FIRST_ID
from shopflow.demo.generators.textio import Template, json_string

if TYPE_CHECKING:
    from shopflow.demo.generators.core import Ints
    from shopflow.demo.generators.customers import Plan

_STATUS = ("completed", "pending", "refunded")
_STATUS_WEIGHTS = (88, 8, 4)


def window_counts(plan: Plan, per_customer: float) -> list[int]:
    """Transactions in each export's window, proportional to its length."""
    total = plan.customers * per_customer
    bounds = [plan.history_us] + [plan.export_us(k) for k in range(plan.exports)]
    span = bounds[-1] - bounds[0]
    edges = [round(total * (b - bounds[0]) / span) for b in bounds]
    return [edges[k + 1] - edges[k] for k in range(plan.exports)]


def _base(plan: Plan, k: int, per_customer: float) -> dict[str, np.ndarray]:
    """Window `k`'s transactions, clean: number, time, customer, amount (cents), category, method, status."""
    counts = window_counts(plan, per_customer)
    n = counts[k]
    rng = rng_for(plan.seed, DATASET, 2, k)
    lo = plan.history_us if k == 0 else plan.export_us(k - 1)
    at = np.sort(lo + (rng.random(n) * (plan.export_us(k) - lo)).astype(np.int64)) // US * US
    signups = plan.signup_us(np.arange(FIRST_ID, FIRST_ID + plan.customers, dtype=np.int64))
    existing = np.maximum(np.searchsorted(signups, at), 1)
    status = _weighted(rng, _STATUS_WEIGHTS, n)
    cents = np.clip(np.round(np.exp(rng.normal(4.1, 0.8, n)) * 100), 199, 99_999).astype(np.int64)
    return {
        "number": 10_001 + sum(counts[:k]) + np.arange(n, dtype=np.int64),
        "at": at,
        "customer": FIRST_ID + (rng.random(n) * existing).astype(np.int64),
        "cents": np.where(status == 2, -cents, cents),
        "category": _weighted(rng, v.CATEGORY_WEIGHTS, n),
        "method": _weighted(rng, v.PAYMENT_WEIGHTS, n),
        "status": status,
    }


def _weighted(rng: np.random.Generator, weights: tuple[int, ...], n: int) -> Ints:
    cumulative = np.cumsum(np.asarray(weights, dtype=np.float64) / sum(weights))
    return np.minimum(np.searchsorted(cumulative, rng.random(n), side="right"), len(weights) - 1).astype(np.int64)


def transaction_rows(plan: Plan, k: int, per_customer: float, dirty: float) -> tuple[list[bytes], dict[str, Any]]:
    """Export `k`'s transaction file as byte pieces, and its figures (rows, resent, exact amount, dirt counts)."""
    rows = _base(plan, k, per_customer)
    resent = 0
    if k > 0:  # pending transactions of the previous window, now completed
        before = _base(plan, k - 1, per_customer)
        pending = before["status"] == 1
        resent = int(pending.sum())
        before["status"] = np.zeros(len(before["status"]), dtype=np.int64)
        rows = {name: np.concatenate([before[name][pending], rows[name]]) for name in rows}
    n = len(rows["number"])
    if n == 0:
        return [b"[]"], {"rows": 0, "resent": 0, "amount": decimal_of_cents(0)}
    rng = rng_for(plan.seed, DATASET, 3, k)

    def some(share: float) -> np.ndarray:
        return rng.random(n) < share

    null = pa.scalar(None, pa.string())
    figures: dict[str, Any] = {"rows": n, "resent": resent}

    no_id = some(dirty / 25)
    figures["missing_transaction_id"] = int(no_id.sum())
    transaction_id = pc.if_else(pa.array(no_id), null, join('"transaction_id": "T-', int_text(rows["number"]), '"'))

    customer = int_text(rows["customer"])
    unknown = some(dirty / 3)
    figures["unknown_customer"] = int(unknown.sum())
    customer = pc.if_else(pa.array(unknown), int_text(99_000 + rows["number"] % 900), customer)
    customer = pc.if_else(pa.array(some(dirty)), join('"', customer, '"'), customer)
    customer = pc.if_else(pa.array(some(dirty / 5)), "null", customer)
    customer = pc.if_else(pa.array(some(dirty / 10)), '" "', customer)
    customer = pc.if_else(pa.array(some(dirty / 10)), null, join('"customer_id": ', customer))

    iso = seconds_text(rows["at"] // US, "T")
    when = pc.if_else(pa.array(some(dirty * 2)), pc.replace_substring(iso, "T", " "), iso)
    when = pc.if_else(pa.array(some(dirty / 10)), join(pc.utf8_slice_codeunits(iso, 0, 5), "02-30",
                                                        pc.utf8_slice_codeunits(iso, 10, 19)), when)
    when = pc.if_else(pa.array(some(dirty / 5)), "", when)
    when = pc.if_else(pa.array(some(dirty / 10)), null, join('"transaction_date": "', when, '"'))

    cents = rows["cents"]
    number = float_text(cents / 100)
    as_text = some(dirty / 5)
    not_available, absent, three = some(dirty / 10), some(dirty / 5), some(dirty / 10)
    numeric = ~(as_text | not_available | absent | three)
    figures["amount"] = decimal_of_cents(int(cents[numeric].sum()))
    figures["amount_not_numeric"] = int((~numeric).sum())
    magnitude = np.abs(cents)
    two_decimals = join(pc.if_else(pa.array(cents < 0), "-", ""), int_text(magnitude // 100), ".",
                        pc.utf8_lpad(int_text(magnitude % 100), 2, "0"))
    amount = pc.if_else(pa.array(as_text), join('" ', two_decimals, ' "'), number)
    amount = pc.if_else(pa.array(three), join(two_decimals, "5"), amount)  # one decimal too many
    amount = pc.if_else(pa.array(not_available), '"N/A"', amount)
    amount = pc.if_else(pa.array(absent), "null", amount)

    def spoilt(clean: pa.Array | str, variants: tuple[str, ...], share: float) -> pa.Array:
        other = pick(json_string(text(list(variants))), rng.integers(0, len(variants), n))
        return pc.if_else(pa.array(some(share)), other, clean)

    currency = spoilt('"GBP"', v.CURRENCY_VARIANTS, dirty)
    currency = pc.if_else(pa.array(some(dirty / 5)), "null", currency)
    category = pick(json_string(text(list(v.CATEGORIES))), rows["category"])
    category = spoilt(category, tuple(c.lower() for c in v.CATEGORIES) + tuple(c.upper() for c in v.CATEGORIES),
                      dirty)
    category = pc.if_else(pa.array(some(dirty / 5)), "null", category)
    method = spoilt(pick(json_string(text(list(v.PAYMENT_METHODS))), rows["method"]), v.PAYMENT_VARIANTS, dirty)
    method = pc.if_else(pa.array(some(dirty / 10)), null, join('"payment_method": ', method))
    status = spoilt(pick(json_string(text(list(_STATUS))), rows["status"]), v.STATUS_VARIANTS, dirty / 2)
    status = pc.if_else(pa.array(some(dirty / 10)), "null", status)

    record = pc.binary_join_element_wise(
        transaction_id, customer, when, join('"amount": ', amount), join('"currency": ', currency),
        join('"product_category": ', category), method, join('"status": ', status), ", ", null_handling="skip")
    template = Template()
    template.add("{", record, "},\n")
    pieces = template.pieces(n)
    pieces[-1] = pieces[-1][:-2]  # no comma after the last record
    return [b"[\n", *pieces, b"\n]\n"], figures
