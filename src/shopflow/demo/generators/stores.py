"""Seed 003's stream path: several stores post their Online Retail invoice lines to the ingest API as they sell.

Each simulated store (a thread with its own HTTP client and token) posts its invoices' lines
in small NDJSON requests, the way a till forwards sales from its own database. Like real
clients, some send garbage (an event that fails its checks: a quantity in words, a column the
stream does not declare, a missing key), and some send a request again after a lost answer:
those resends repeat idempotency keys (store, invoice, line) the pipeline must drop. The lines
come from the retail generator (`retail.day_lines`), so they have the batch dumps' quirks, or
from any invoice lines with the batch table's columns (`events_by_store`): the real sample, say.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from shopflow.demo.generators.core import rng_for
from shopflow.demo.generators.retail import DATASET, FIRST_DAY, day_lines

log = logging.getLogger(__name__)

STREAM = "invoice_lines"
KEY = ("store", "invoice_no", "line")
FAULTS = ("quantity in words", "undeclared column", "missing key")


@dataclass
class StoreTraffic:
    """What the simulated stores sent and what the API answered.

    Attributes:
        posted: Events sent, resends and malformed ones included.
        accepted: Events the API acknowledged as valid (durable in its buffer).
        quarantined: Events the API acknowledged into quarantine (they failed their checks).
        malformed: Events sent that fail their checks.
        faults: Those malformed events by what is wrong with them (one of `FAULTS`).
        resent: Valid events sent again (a repeated request).
        requests: HTTP requests made.
        refused: Requests answered with another status than 200, by status.
        keys: The distinct idempotency keys among the valid events sent.
        seconds: How long the stores posted.
    """

    posted: int = 0
    accepted: int = 0
    quarantined: int = 0
    malformed: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    resent: int = 0
    requests: int = 0
    refused: Counter[int] = field(default_factory=Counter)
    keys: set[tuple[Any, ...]] = field(default_factory=set)
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


def store_lines(seed: int, stores: int, lines: int, day: date = FIRST_DAY) -> dict[int, list[dict[str, Any]]]:
    """One generated trading day's invoice lines as events, by store (1..stores); see `events_by_store`."""
    table = day_lines(seed, day, lines).drop(["_pence"]).to_pylist()
    return events_by_store(
        (
            {
                "invoice_no": row["InvoiceNo"],
                "stock_code": row["StockCode"],
                "description": row["Description"],
                "quantity": row["Quantity"],
                "invoice_date": row["InvoiceDate"],
                "unit_price": f"{row['UnitPrice']:.2f}",
                "customer_id": row["CustomerID"],
                "country": row["Country"],
            }
            for row in table
        ),
        stores,
    )


def events_by_store(lines: Iterable[Mapping[str, Any]], stores: int) -> dict[int, list[dict[str, Any]]]:
    """Invoice lines (the batch table's columns) as the stream's events, by store (1..stores).

    Each invoice belongs to one store (by its number), and each event carries the batch
    table's columns plus `store` and `line` (the line's number on its invoice, in the order
    given), so (store, invoice_no, line) names it even when an invoice lists a product twice.
    A datetime `invoice_date` is sent as `2011-05-09 08:26:00`, a number `unit_price` as text
    (exact), and an empty customer as null.
    """
    by_store: dict[int, list[dict[str, Any]]] = {s: [] for s in range(1, stores + 1)}
    numbers: Counter[str] = Counter()
    for row in lines:
        invoice = _text(row["invoice_no"])
        numbers[invoice] += 1
        store = int("".join(c for c in invoice if c.isdigit()) or 0) % stores + 1
        at = row["invoice_date"]
        price = row["unit_price"]
        customer = row["customer_id"]
        by_store[store].append(
            {
                "store": store,
                "invoice_no": invoice,
                "line": numbers[invoice],
                "stock_code": _text(row["stock_code"]),
                "description": row["description"],
                "quantity": int(row["quantity"]),
                "invoice_date": at.strftime("%Y-%m-%d %H:%M:%S") if isinstance(at, datetime) else at,
                "unit_price": str(price) if isinstance(price, float | Decimal) else price,
                "customer_id": None if customer in (None, "") else int(customer),
                "country": row["country"],
            }
        )
    return by_store


def _text(value: Any) -> str:
    """A code as text: a spreadsheet's number cell 536365 (or 536365.0) as `536365`."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def malformed(event: dict[str, Any], kind: str) -> dict[str, Any]:
    """A copy of `event` broken the way `kind` says (one of `FAULTS`)."""
    bad = dict(event)
    if kind == "quantity in words":
        bad["quantity"] = "a dozen"
    elif kind == "undeclared column":
        bad["discount_code"] = "XMAS10"
    else:
        del bad["invoice_no"]
    return bad


def simulate_stores(
    url: str,
    tokens: list[str],
    *,
    lines: int = 600,
    seed: int = 42,
    batch: int = 10,
    malformed_rate: float = 0.1,
    resend_rate: float = 0.1,
    pause: float = 0.1,
    day: date = FIRST_DAY,
    events: dict[int, list[dict[str, Any]]] | None = None,
) -> StoreTraffic:
    """Post one day's invoice lines from `len(tokens)` stores at once to the ingest API at `url`.

    Args:
        url: The ingest API's base URL (`shopflow ingest` or `shopflow serve`).
        tokens: One bearer token per store.
        lines: About this many generated invoice lines in all (unless `events` is given).
        seed: Same seed, same events, malformed ones and resends.
        batch: Events per request.
        malformed_rate: Share of requests that carry one extra event failing its checks.
        resend_rate: Share of requests sent a second time (as after a lost answer).
        pause: Seconds a store waits between requests.
        day: The trading day the generated lines come from.
        events: Instead of generated lines, these events by store (`events_by_store`), one
            store per token.

    Returns:
        What was sent and what the API answered.
    """
    import httpx

    traffic = StoreTraffic()
    by_store = store_lines(seed, len(tokens), lines, day) if events is None else events
    clock = time.perf_counter()

    def run_store(store: int, token: str) -> None:
        rng = rng_for(seed, DATASET, 10_000 + store)
        own = by_store[store]
        with httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"}) as client:
            for start in range(0, len(own), batch):
                chunk = own[start : start + batch]
                fault = None
                if rng.random() < malformed_rate:
                    fault = FAULTS[int(rng.integers(0, len(FAULTS)))]
                    chunk = [*chunk, malformed(chunk[0], fault)]
                sends = 2 if rng.random() < resend_rate else 1
                for attempt in range(sends):
                    _post(client, chunk, traffic, fault=fault, resend=attempt > 0)
                time.sleep(pause)

    threads = [
        threading.Thread(target=run_store, args=(n, t), name=f"store-{n}", daemon=True)
        for n, t in enumerate(tokens, start=1)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    traffic.seconds = time.perf_counter() - clock
    log.info("stores posted %d events in %d requests (%.1fs)", traffic.posted, traffic.requests, traffic.seconds)
    return traffic


def _post(client: Any, chunk: list[dict[str, Any]], traffic: StoreTraffic, *, fault: str | None, resend: bool) -> None:
    """Post `chunk` (its last event malformed by `fault`, if one is named) and count what the API answered."""
    import orjson

    body = b"\n".join(orjson.dumps(e) for e in chunk)
    answer = client.post(f"/v1/events/{STREAM}", content=body, headers={"Content-Type": "application/x-ndjson"})
    valid = chunk[:-1] if fault is not None else chunk
    with traffic.lock:
        traffic.requests += 1
        traffic.posted += len(chunk)
        if fault is not None:
            traffic.malformed += 1
            traffic.faults[fault] += 1
        traffic.resent += len(valid) if resend else 0
        if answer.status_code != 200:
            traffic.refused[answer.status_code] += 1
            return
        counts = answer.json()
        traffic.accepted += int(counts["accepted"])
        traffic.quarantined += int(counts["quarantined"])
        traffic.keys.update(tuple(e[k] for k in KEY) for e in valid)


def distinct_keys(traffic: StoreTraffic) -> int:
    """Distinct (store, invoice, line) among the valid events the API acknowledged: the rows the warehouse must hold."""
    return len(traffic.keys)
