"""Continuous mode's freshness: how soon a row committed in the totesys source is in analytics.fact_sales_order.

The totesys example (its real 2024-11-14 snapshot in a scratch PostgreSQL database) runs under
a real `shopflow serve` process with `schedule: {continuous: true, interval: ...}`, into a
PostgreSQL warehouse, so this script can read the fact table while serve writes it. Once the
first load and build are done, CHANGES changes are committed in the source's sales_order, one
at a time, SPACING seconds apart on average (uniformly 0.5x-1.5x): inserts of new orders and
updates of existing ones (a new last_updated: a new version row in the fact). A watcher polls
the fact table every 50 ms; a change's latency is from its commit returning to its row being
visible. Target (issue 12): p95 under 10 s over 100 changes.

Then it reads serve's run history (`shopflow runs --json`) for where the time goes: the runs
that moved rows, the seconds of their extract/load and of dbt, and the gap between a commit and
the start of the run that took it.

    python bench/continuous_latency.py [--changes 100] [--spacing 1.0] [--interval 0.5]

Needs the PostgreSQL at 127.0.0.1:5432 (user postgres, trust); its two databases are named
`sfbench_<pid>_latency_*` and dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import sources  # noqa: E402

EXAMPLE = HERE.parent / "examples" / "totesys"
SHOPFLOW = str(Path(sys.executable).parent / "shopflow")
WATCH_EVERY = 0.05


@dataclass
class Change:
    """One committed change and when it became visible."""

    order_id: int
    versions_before: int
    committed: float  # time.time() once the commit returned
    committed_at: datetime
    seen: float | None = None

    @property
    def latency(self) -> float | None:
        return None if self.seen is None else self.seen - self.committed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--spacing", type=float, default=1.0, help="mean seconds between two commits")
    parser.add_argument("--interval", default="1 second", help="serve's continuous poll interval (whole seconds)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds a change may take to show")
    args = parser.parse_args()
    sources.check_server()
    source_url = sources.recreate_database(sources.database_name("latency_src"))
    warehouse_db = sources.database_name("latency_wh")
    sources.recreate_database(warehouse_db)
    folder = Path(tempfile.mkdtemp(prefix="shopflow-latency-"))
    serve: subprocess.Popen[str] | None = None
    try:
        from shopflow.demo.generators.totesys_snapshot import load_snapshot

        loaded = load_snapshot(source_url)
        print(f"source: {sum(loaded.values()):,} rows of the 2024-11-14 snapshot "
              f"({loaded.get('sales_order', 0):,} sales orders)", flush=True)
        config = write_pipeline(folder, source_url, warehouse_db, args.interval)
        serve, url = start_serve(config, folder)
        clock = time.perf_counter()
        warehouse = psycopg.connect(sources.server_url(warehouse_db), autocommit=True)
        wait_for(lambda: fact_rows(warehouse) >= loaded.get("sales_order", 1), 600, "the first load and build")
        print(f"serve at {url}: first load and build in {time.perf_counter() - clock:.1f} s", flush=True)
        changes = commit_and_watch(source_url, warehouse, args.changes, args.spacing, args.timeout)
        warehouse.close()
        stop(serve)
        serve = None
        runs = runs_of(config)
    finally:
        if serve is not None:
            stop(serve)
        sources.drop_databases(sources.PREFIX + "latency_")
        shutil.rmtree(folder, ignore_errors=True)
    report(changes, runs, args)


def write_pipeline(folder: Path, source_url: str, warehouse_db: str, interval: str) -> Path:
    """The totesys example in `folder`, polled continuously, loading into PostgreSQL database `warehouse_db`."""
    shutil.copytree(EXAMPLE, folder / "totesys", ignore=shutil.ignore_patterns(".shopflow"))
    path = folder / "totesys" / "shopflow.yml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["warehouse"] = {"type": "postgres", "host": "127.0.0.1", "port": 5432, "user": "postgres",
                           "database": warehouse_db}
    config["schedule"] = {"continuous": True, "interval": interval}
    config["alerts"] = []
    config["sources"][0] = {**config["sources"][0], "host": "127.0.0.1", "port": 5432, "user": "postgres",
                            "password": "", "database": source_url.rsplit("/", 1)[1]}
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def start_serve(config: Path, folder: Path) -> tuple[subprocess.Popen[str], str]:
    log = (folder / "serve.log").open("w", encoding="utf-8")
    proc = subprocess.Popen([SHOPFLOW, "serve", "-c", str(config), "--port", "0", "--check-every", "3600"],
                            stdout=subprocess.PIPE, stderr=log, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "shopflow serve:" not in line:
        proc.kill()
        raise SystemExit(f"shopflow serve did not start: {line}{(folder / 'serve.log').read_text()}")
    return proc, line.split(" on ", 1)[1].split(" ", 1)[0]


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def fact_rows(warehouse: psycopg.Connection[Any]) -> int:
    try:
        row = warehouse.execute("SELECT count(*) FROM analytics.fact_sales_order").fetchone()
    except psycopg.errors.UndefinedTable:
        return 0
    return int(row[0]) if row else 0


def wait_for(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def commit_and_watch(
    source_url: str, warehouse: psycopg.Connection[Any], count: int, spacing: float, timeout: float,
) -> list[Change]:
    """Commit `count` changes in sales_order while a thread watches the fact table for each."""
    rng = random.Random(7)
    changes: list[Change] = []
    lock = threading.Lock()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            with lock:
                pending = [c for c in changes if c.seen is None]
            if pending:
                rows = warehouse.execute(
                    "SELECT sales_order_id, count(*) FROM analytics.fact_sales_order WHERE sales_order_id = ANY(%s) "
                    "GROUP BY 1", [[c.order_id for c in pending]]).fetchall()
                versions = {int(r[0]): int(r[1]) for r in rows}
                now = time.time()
                for change in pending:
                    if versions.get(change.order_id, 0) > change.versions_before:
                        change.seen = now
            time.sleep(WATCH_EVERY)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    with psycopg.connect(source_url, autocommit=True) as source:
        top = source.execute("SELECT max(sales_order_id) FROM sales_order").fetchone()
        assert top is not None
        for number in range(count):
            if number % 2 == 0:  # a new order, copied from an old one
                order_id, before = insert_order(source), 0
            else:  # a new version of an existing order
                order_id = rng.randint(1, int(top[0]))
                source.execute("UPDATE sales_order SET units_sold = units_sold + 1, last_updated = now()::timestamp "
                               "WHERE sales_order_id = %s", [order_id])
                before = int(warehouse.execute("SELECT count(*) FROM analytics.fact_sales_order WHERE "
                                               "sales_order_id = %s", [order_id]).fetchone()[0])  # type: ignore[index]
            with lock:
                changes.append(Change(order_id, before, time.time(), datetime.now(UTC)))
            time.sleep(spacing * rng.uniform(0.5, 1.5))
    deadline = time.monotonic() + timeout
    while any(c.seen is None for c in changes) and time.monotonic() < deadline:
        time.sleep(0.1)
    done.set()
    watcher.join(5)
    return changes


def insert_order(source: psycopg.Connection[Any]) -> int:
    row = source.execute(
        "INSERT INTO sales_order (created_at, last_updated, design_id, staff_id, counterparty_id, units_sold, "
        "unit_price, currency_id, agreed_delivery_date, agreed_payment_date, agreed_delivery_location_id) "
        "SELECT now()::timestamp, now()::timestamp, design_id, staff_id, counterparty_id, units_sold, unit_price, "
        "currency_id, agreed_delivery_date, agreed_payment_date, agreed_delivery_location_id "
        "FROM sales_order ORDER BY sales_order_id LIMIT 1 RETURNING sales_order_id").fetchone()
    assert row is not None
    return int(row[0])


def runs_of(config: Path) -> list[dict[str, Any]]:
    out = subprocess.run([SHOPFLOW, "runs", "-c", str(config), "--last", "100000", "--json"], check=True,
                         capture_output=True, text=True).stdout
    return list(json.loads(out))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def report(changes: list[Change], runs: list[dict[str, Any]], args: argparse.Namespace) -> None:
    latencies = [c.latency for c in changes if c.latency is not None]
    missing = len(changes) - len(latencies)
    print(f"\n{len(changes)} changes, one every {args.spacing:g} s on average; serve polls {args.interval} after each "
          f"run; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    if latencies:
        print(f"commit -> visible in analytics.fact_sales_order: p50 {percentile(latencies, 0.5):.2f} s, "
              f"p95 {percentile(latencies, 0.95):.2f} s, max {max(latencies):.2f} s, mean "
              f"{statistics.mean(latencies):.2f} s" + (f"; {missing} never seen" if missing else ""))
    moved = sorted((r for r in runs if r["trigger"] == "continuous" and r["rows_loaded"]
                    and datetime.fromisoformat(r["started_at"]) >= changes[0].committed_at),
                   key=lambda r: r["started_at"])  # polls that found nothing leave no row
    if not moved:
        return
    extract = [sum(s.get("seconds") or 0 for s in r["steps"] if s["step"] == "extract_load") for r in moved]
    dbt = [next((s.get("seconds") or 0 for s in r["steps"] if s["step"] == "transform"), 0.0) for r in moved]
    total = [r["seconds"] or 0 for r in moved]
    print(f"runs that moved rows: {len(moved)}; per run: extract+load of the 11 tables "
          f"{statistics.mean(extract):.2f} s, "
          f"dbt {statistics.mean(dbt):.2f} s, whole run {statistics.mean(total):.2f} s "
          f"(median {statistics.median(total):.2f}, max {max(total):.2f})")
    # Each change waits for the next poll to start (the run in progress, then the interval), then for that run.
    waits = []
    for change in changes:
        run = next((r for r in moved if datetime.fromisoformat(r["started_at"]) >= change.committed_at), None)
        if run is not None:
            waits.append((datetime.fromisoformat(run["started_at"]) - change.committed_at).total_seconds())
    if waits:
        print(f"commit -> start of the next run: mean {statistics.mean(waits):.2f} s, "
              f"p95 {percentile(waits, 0.95):.2f} s")


if __name__ == "__main__":
    main()
