"""Ingest API throughput: single-event POSTs per second and NDJSON events per second, acknowledged durable.

    python bench/ingest.py [--seconds 10] [--clients 64] [--batch 100]

Starts `shopflow ingest --no-flush` as a real process on a loopback port, posts from asyncio
clients in this process over raw keep-alive connections (on the same machine: the clients
share its cores), and prints the
rate of acknowledged events and the p50/p99 latency of a request. Every acknowledgement
means the events were fsync'd in the buffer (SQLite WAL, synchronous=FULL, group commit);
the script checks the buffer holds as many events as were acknowledged.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

TOKEN = "bench-token"


def _pipeline(folder: Path) -> Path:
    config = {
        "pipeline": "bench", "lake": str(folder / "lake"), "warehouse": {"path": str(folder / "warehouse.duckdb")},
        "sources": [{"name": "shop", "type": "events", "path": str(folder / "buffer.sqlite"),
                     "max_buffered": 100_000_000, "streams": [{
                         "name": "lines", "token_env": "BENCH_TOKEN",
                         "columns": {"store": "integer", "invoice": "text", "line": "integer", "qty": "integer",
                                     "price": "decimal(10,2)"},
                         "primary_key": ["store", "invoice", "line"]}]}],
    }
    path = folder / "shopflow.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _start(config: Path, folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    out = folder / "ingest.out"
    with out.open("wb") as stdout:
        proc = subprocess.Popen([sys.executable, "-m", "shopflow.cli.main", "ingest", "-c", str(config), "--port", "0",
                                 "--no-flush"], env={**os.environ, "BENCH_TOKEN": TOKEN}, stdout=stdout)
    deadline = time.monotonic() + 60
    while "http://" not in out.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("shopflow ingest did not start")
        time.sleep(0.05)
    return proc, out.read_text().split(" on ", 1)[1].split()[0]


async def _post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, body: bytes) -> dict[str, Any]:
    """One keep-alive POST over a raw connection (httpx would cost the client more CPU than the server uses)."""
    writer.write(b"POST /v1/events/lines HTTP/1.1\r\nHost: " + host.encode() + b"\r\nAuthorization: Bearer "
                 + TOKEN.encode() + b"\r\nContent-Type: application/x-ndjson\r\nContent-Length: "
                 + str(len(body)).encode() + b"\r\n\r\n" + body)
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length"))
    answer = await reader.readexactly(length)
    return {"status": int(head.split(b" ")[1]), **json.loads(answer)}


async def _load(url: str, seconds: float, clients: int, batch: int) -> tuple[int, list[float]]:
    host = url.removeprefix("http://")
    address, port = host.rsplit(":", 1)
    acked = 0
    latencies: list[float] = []
    stop = time.monotonic() + seconds

    async def client(number: int) -> None:
        nonlocal acked
        reader, writer = await asyncio.open_connection(address, int(port))
        # Bodies made before the clock starts: the clients share the server's cores.
        bodies = ["\n".join(json.dumps({"store": number, "invoice": f"I{b}", "line": n, "qty": 1, "price": "1.25"})
                            for n in range(batch)).encode() for b in range(20)]
        sent = 0
        while time.monotonic() < stop:
            body = bodies[sent % len(bodies)]
            started = time.perf_counter()
            answer = await _post(reader, writer, host, body)
            latencies.append(time.perf_counter() - started)
            if answer["status"] == 200:
                acked += answer["accepted"]
            sent += 1
        writer.close()

    await asyncio.gather(*(client(n) for n in range(clients)))
    return acked, latencies


def _measure(url: str, seconds: float, clients: int, batch: int) -> dict[str, float]:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    started = time.perf_counter()
    acked, latencies = asyncio.run(_load(url, seconds, clients, batch))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"events_per_s": acked / elapsed, "requests_per_s": len(latencies) / elapsed, "acked": acked,
            "p50_ms": latencies[len(latencies) // 2] * 1000, "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000}


def main() -> None:
    """Measure both shapes of POST and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="shopflow-bench-ingest-") as tmp:
        folder = Path(tmp)
        proc, url = _start(_pipeline(folder), folder)
        try:
            single = _measure(url, args.seconds, args.clients, 1)
            ndjson = _measure(url, args.seconds, max(4, args.clients // 4), args.batch)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
        con = sqlite3.connect(folder / "buffer.sqlite")
        logged = con.execute("SELECT count(*) FROM log_lines").fetchone()[0]
        con.close()
    total = int(single["acked"] + ndjson["acked"])
    print(f"single-event POSTs: {single['requests_per_s']:,.0f}/s  p50 {single['p50_ms']:.1f} ms  "
          f"p99 {single['p99_ms']:.1f} ms")
    print(f"NDJSON ({args.batch}/POST): {ndjson['events_per_s']:,.0f} events/s  p50 {ndjson['p50_ms']:.1f} ms  "
          f"p99 {ndjson['p99_ms']:.1f} ms")
    print(f"acknowledged {total:,}, in the buffer after kill -9: {logged:,}"
          + ("" if logged >= total else "  LOST EVENTS"))


if __name__ == "__main__":
    main()
