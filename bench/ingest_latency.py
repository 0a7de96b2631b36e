"""Event -> warehouse row latency for bench/ingest.py, with `shopflow ingest`'s own flush cadence.

Posts NDJSON batches at a steady rate, each event stamped with its send time (`sent_at`),
to a `shopflow ingest` that micro-batches on its `flush:` cadence; once every acknowledged
event is loaded, each warehouse row's latency is the time its load was applied (the
warehouse's load ledger `_shopflow.loads.loaded_at`, written in the load's transaction) minus
its `sent_at`. Nothing polls the warehouse while it is loaded, so measuring does not delay it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

TOKEN = "bench-token"


@dataclass
class Latency:
    """Event -> warehouse latency figures, and the exactly-once check."""

    acked: int
    rows: int
    distinct: int
    p50_s: float
    p95_s: float
    max_s: float


async def _post_steadily(url: str, rate: float, seconds: float, per_post: int) -> int:
    import httpx

    acked = 0
    interval = per_post / rate
    async with httpx.AsyncClient(base_url=url, timeout=30, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        start = time.monotonic()
        sent = 0
        while (due := start + sent * interval) < start + seconds:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            now = time.time()
            body = b"\n".join(
                orjson.dumps({"store": 1, "invoice": f"L{sent}", "line": n, "qty": 1, "price": "1.25", "sent_at": now})
                for n in range(per_post)
            )
            answer = await client.post("/v1/events/lines", content=body)
            if answer.status_code == 200:
                acked += answer.json()["accepted"]
            sent += 1
    return acked


def post_steadily(url: str, rate: float, seconds: float, per_post: int = 10) -> int:
    """POST `rate` events/s in NDJSON batches of `per_post` for `seconds`; return how many were acknowledged."""
    return asyncio.run(_post_steadily(url, rate, seconds, per_post))


def wait_flushed(buffer: Path, wait: float) -> bool:
    """Wait up to `wait` seconds until the lake and warehouse hold every event logged in `buffer` (True if so).

    Reads the buffer file (SQLite), not the warehouse, so the flusher's loads are never blocked.
    """
    import sqlite3

    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        con = sqlite3.connect(buffer, timeout=10)
        try:
            last = con.execute("SELECT seq FROM sqlite_sequence WHERE name = 'log_lines'").fetchone()
            upto = con.execute("SELECT upto FROM flushed WHERE stream = 'lines'").fetchone()
        except sqlite3.Error:
            last, upto = None, None
        finally:
            con.close()
        if last is not None and upto is not None and upto[0] >= last[0]:
            return True
        time.sleep(0.5)
    return False


def measure(warehouse: Path, acked: int) -> Latency:
    """The latencies of the rows of the DuckDB `warehouse` (its server stopped), and their counts."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "SELECT l.sent_at, epoch(d.loaded_at) FROM raw.lines l JOIN _shopflow.loads d ON d.batch = l._sf_batch"
        ).fetchall()
        found = con.execute("SELECT count(*), count(DISTINCT (invoice, line)) FROM raw.lines").fetchone()
    finally:
        con.close()
    assert found is not None
    delays = sorted(loaded - sent for sent, loaded in rows)
    if not delays:
        return Latency(acked, int(found[0]), int(found[1]), float("nan"), float("nan"), float("nan"))
    return Latency(
        acked, int(found[0]), int(found[1]), delays[len(delays) // 2], delays[int(len(delays) * 0.95)], delays[-1]
    )
