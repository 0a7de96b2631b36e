"""Ingest API throughput and latency, side by side with a plain FastAPI + PostgreSQL insert endpoint.

    python bench/ingest.py [--seconds 8] [--connections 64] [--batch 100] [--no-competitor]
                           [--granian] [--nats] [--latency-seconds 20] [--rate 2000] [--no-record]

Starts `shopflow ingest --no-flush` as a real process on a loopback port and loads it with
single-event POSTs, then NDJSON POSTs of `--batch` events, from a load generator in another
process (wrk if installed, else an asyncio client: bench/ingest_load.py); every 2xx means the
events were fsync'd in the buffer (SQLite WAL, synchronous=FULL, group commit), and after a
kill -9 the buffer must hold at least as many events as were acknowledged. The same load then
goes to bench/ingest_pg.py (what a shop would write instead: FastAPI + pydantic + psycopg,
one INSERT transaction per request, acknowledged after COMMIT) in a database created and
dropped here. Last, event -> warehouse latency through `shopflow ingest` with its flusher
(`flush: every_seconds: 1`) at `--rate` events/s (bench/ingest_latency.py).

Prints one table; nothing is written anywhere (`--no-record` is accepted for symmetry with
bench/run.py). The load generator shares the machine's 2 cores with the server.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_latency import Latency, measure, post_steadily, wait_flushed
from ingest_load import TOKEN, Load, run_load

HERE = Path(__file__).resolve().parent
PG = "postgresql://postgres@127.0.0.1:5432"
NATS = "nats://127.0.0.1:4222"


def _pipeline(folder: Path, *, every: float = 1.0, buffer: str | None = None) -> Path:
    source: dict[str, Any] = {
        "name": "shop",
        "type": "events",
        "path": str(folder / "buffer.sqlite"),
        "max_buffered": 100_000_000,
        "flush": {"every_seconds": every},
        "streams": [
            {
                "name": "lines",
                "token_env": "BENCH_TOKEN",
                "columns": {
                    "store": "integer",
                    "invoice": "text",
                    "line": "integer",
                    "qty": "integer",
                    "price": "decimal(10,2)",
                    "sent_at": "double",
                },
                "primary_key": ["store", "invoice", "line"],
            }
        ],
    }
    if buffer is not None:
        source["buffer"] = buffer
    config = {
        "pipeline": "bench",
        "lake": str(folder / "lake"),
        "warehouse": {"path": str(folder / "warehouse.duckdb")},
        "sources": [source],
    }
    path = folder / "shopflow.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(proc: subprocess.Popen[bytes], port: int, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise SystemExit(f"{what} did not start")


@contextlib.contextmanager
def _server(args: list[str], port: int, what: str, folder: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "BENCH_TOKEN": TOKEN}
    with (folder / f"{what.split()[0]}.err").open("wb") as err:
        # A session of its own: SIGKILL then reaches granian's worker processes too, not only their parent.
        proc = subprocess.Popen(
            args, env=env, stdout=subprocess.DEVNULL, stderr=err, cwd=folder, start_new_session=True
        )
    try:
        _wait_listening(proc, port, what)
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)


def _ingest_args(config: Path, port: int, *, flush: bool) -> list[str]:
    return [
        sys.executable,
        "-m",
        "shopflow.cli.main",
        "ingest",
        "-c",
        str(config),
        "--port",
        str(port),
        "--flush" if flush else "--no-flush",
    ]


def _bodies(batch: int) -> tuple[bytes, bytes]:
    one = orjson.dumps({"store": 1, "invoice": "I1", "line": 1, "qty": 1, "price": "1.25"})
    many = b"\n".join(
        orjson.dumps({"store": 1, "invoice": "I1", "line": n, "qty": 1, "price": "1.25"}) for n in range(batch)
    )
    return one, many


def _both_shapes(url: str, args: argparse.Namespace) -> tuple[Load, Load]:
    one, many = _bodies(args.batch)
    single = run_load(url, one, args.connections, args.seconds)
    ndjson = run_load(url, many, max(4, args.connections // 4), args.seconds)
    return single, ndjson


def _buffered(folder: Path) -> int:
    con = sqlite3.connect(folder / "buffer.sqlite")
    try:
        return int(con.execute("SELECT count(*) FROM log_lines").fetchone()[0])
    finally:
        con.close()


def _shopflow(folder: Path, args: argparse.Namespace, *, granian: bool = False) -> tuple[Load, Load, str]:
    config = _pipeline(folder)
    port = _free_port()
    if granian:
        command = [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--factory",
            "ingest_granian:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--loop",
            "uvloop",
            "--no-ws",
            "--log-level",
            "warning",
        ]
        os.environ["BENCH_INGEST_CONFIG"] = str(config)
        os.environ["PYTHONPATH"] = os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])
    else:
        command = _ingest_args(config, port, flush=False)
    with _server(command, port, "shopflow ingest", folder):
        single, ndjson = _both_shapes(f"http://127.0.0.1:{port}/v1/events/lines", args)
    logged = _buffered(folder)  # after kill -9
    acked = single.requests + ndjson.requests * args.batch
    check = f"acknowledged {acked:,}, in the buffer after kill -9: {logged:,}" + ("" if logged >= acked else " LOST")
    return single, ndjson, check


def _nats(folder: Path, args: argparse.Namespace) -> tuple[Load, Load, str]:
    """The same load with the log on NATS JetStream (`buffer: nats://127.0.0.1:4222`); its stream is deleted after."""
    import asyncio

    import nats

    pipeline = f"bench{os.getpid()}"
    config = _pipeline(folder, buffer=NATS)
    config.write_text(config.read_text().replace("pipeline: bench", f"pipeline: {pipeline}"), encoding="utf-8")
    port = _free_port()
    with _server(_ingest_args(config, port, flush=False), port, "shopflow ingest (NATS)", folder):
        single, ndjson = _both_shapes(f"http://127.0.0.1:{port}/v1/events/lines", args)

    async def held_then_delete() -> int:
        nc = await nats.connect(NATS)
        try:
            js = nc.jetstream()
            name = f"SHOPFLOW_{pipeline}_shop"
            held = int((await js.stream_info(name)).state.messages)
            await js.delete_stream(name)
            return held
        finally:
            await nc.close()

    held = asyncio.run(held_then_delete())
    acked = single.requests + ndjson.requests * args.batch
    return single, ndjson, f"acknowledged {acked:,}, in JetStream: {held:,}" + ("" if held >= acked else " LOST")


def _competitor(folder: Path, args: argparse.Namespace) -> tuple[Load, Load, str]:
    import psycopg

    database = f"sfbench_ingest_{os.getpid()}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as con:
        con.execute(f"CREATE DATABASE {database}")
    try:
        port = _free_port()
        command = [sys.executable, str(HERE / "ingest_pg.py"), "--port", str(port), "--dsn", f"{PG}/{database}"]
        with _server(command, port, "fastapi+postgres", folder):
            single, ndjson = _both_shapes(f"http://127.0.0.1:{port}/v1/events/lines", args)
        with psycopg.connect(f"{PG}/{database}") as con:
            stored = con.execute("SELECT count(*) FROM lines").fetchone()
        acked = single.requests + ndjson.requests * args.batch
        count = int(stored[0]) if stored else 0
        check = f"acknowledged {acked:,}, in PostgreSQL: {count:,}" + ("" if count >= acked else " LOST")
    finally:
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as con:
            con.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    return single, ndjson, check


def _latency(folder: Path, args: argparse.Namespace) -> Latency:
    config = _pipeline(folder, every=1.0)
    port = _free_port()
    with _server(_ingest_args(config, port, flush=True), port, "shopflow ingest --flush", folder) as proc:
        acked = post_steadily(f"http://127.0.0.1:{port}", args.rate, args.latency_seconds)
        if not wait_flushed(folder / "buffer.sqlite", 60):
            print("warning: not every event reached the warehouse within 60 s", file=sys.stderr)
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    return measure(folder / "warehouse.duckdb", acked)


def _row(label: str, load: Load, per_request: int) -> str:
    events = load.per_second * per_request
    refused = f"  ({load.refused:,} refused)" if load.refused else ""
    return f"| {label} | {events:,.0f} | {load.p50_ms:.1f} | {load.p99_ms:.1f} |{refused}"


def _ratio(ours: Load, theirs: Load) -> str:
    return f"{ours.per_second / theirs.per_second:.1f}x" if theirs.per_second else "n/a (the competitor acked none)"


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--nats", action="store_true", help="also measure with the log on NATS JetStream")
    parser.add_argument("--no-competitor", action="store_true", help="skip FastAPI + PostgreSQL")
    parser.add_argument("--granian", action="store_true", help="also serve shopflow's ingest app on granian")
    parser.add_argument("--latency-seconds", type=float, default=20, help="0: skip the event -> warehouse run")
    parser.add_argument("--rate", type=float, default=2000, help="events/s posted during the latency run")
    parser.add_argument("--no-record", action="store_true", help="accepted; this bench never records")
    args = parser.parse_args()
    rows: list[str] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="shopflow-bench-ingest-") as tmp:
        folder = Path(tmp)
        (folder / "shopflow").mkdir()
        single, ndjson, check = _shopflow(folder / "shopflow", args)
        rows += [
            _row("shopflow ingest, single-event POSTs", single, 1),
            _row(f"shopflow ingest, NDJSON ({args.batch}/POST)", ndjson, args.batch),
        ]
        notes.append(f"shopflow: {check}; load by {single.tool}")
        if args.granian and importlib.util.find_spec("granian") is None:
            notes.append("granian: not installed (pip install granian), row skipped")
        elif args.granian:
            (folder / "granian").mkdir()
            g_single, g_ndjson, g_check = _shopflow(folder / "granian", args, granian=True)
            rows += [
                _row("shopflow app on granian, single", g_single, 1),
                _row(f"shopflow app on granian, NDJSON ({args.batch}/POST)", g_ndjson, args.batch),
            ]
            notes.append(f"granian: {g_check}")
        if args.nats:
            (folder / "nats").mkdir()
            n_single, n_ndjson, n_check = _nats(folder / "nats", args)
            rows += [
                _row("shopflow ingest on NATS JetStream, single", n_single, 1),
                _row(f"shopflow ingest on NATS JetStream, NDJSON ({args.batch}/POST)", n_ndjson, args.batch),
            ]
            notes.append(f"NATS: {n_check}")
        if not args.no_competitor:
            (folder / "pg").mkdir()
            c_single, c_ndjson, c_check = _competitor(folder / "pg", args)
            rows += [
                _row("FastAPI + PostgreSQL, single-event POSTs", c_single, 1),
                _row(f"FastAPI + PostgreSQL, NDJSON ({args.batch}/POST)", c_ndjson, args.batch),
            ]
            notes.append(f"FastAPI + PostgreSQL: {c_check}")
            notes.append(
                f"ratio shopflow / FastAPI+PostgreSQL: single {_ratio(single, c_single)}, "
                f"NDJSON {_ratio(ndjson, c_ndjson)}"
            )
        if args.latency_seconds > 0:
            (folder / "latency").mkdir()
            lat = _latency(folder / "latency", args)
            once = "each once" if lat.rows == lat.distinct == lat.acked else "COUNTS DIFFER"
            notes.append(
                f"event -> warehouse row at {args.rate:,.0f} events/s, flush every 1 s: p50 {lat.p50_s:.2f} s, "
                f"p95 {lat.p95_s:.2f} s, max {lat.max_s:.2f} s (acked {lat.acked:,}, rows {lat.rows:,}: {once})"
            )
    print("| server | events/s | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|")
    print("\n".join(rows))
    print("\n".join(notes))


if __name__ == "__main__":
    main()
