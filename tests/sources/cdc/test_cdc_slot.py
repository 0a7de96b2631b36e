"""The slot's life: a snapshot that meets the changes exactly, exactly once across a kill -9, lag, drop."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest

from shopflow.errors import SourceError
from shopflow.sources.cdc import slot

Capture = Any  # the `capture` fixture's class lives in conftest.py
DRIVER = Path(__file__).with_name("cdc_driver.py")
PAUSE_WAIT = 120.0  # seconds the driver may take to reach its checkpoint
TWO_TABLES = {"orders": ["id"], "customers": ["id"]}


def add_customers(cap: Capture, n: int = 10) -> None:
    cap.execute("CREATE TABLE customers (id int PRIMARY KEY, name text, vip boolean)")
    cap.execute(f"INSERT INTO customers SELECT g, 'customer ' || g, g % 3 = 0 FROM generate_series(1, {n}) g")


def seed(cap: Capture, n: int) -> None:
    cap.execute(f"INSERT INTO orders SELECT g, g, now(), 'seed', true, '{{}}' FROM generate_series(1, {n}) g")


class Writer(threading.Thread):
    """Inserts a new order and bumps order 1 in small transactions until stopped."""

    def __init__(self, url: str, first_id: int) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.next_id = first_id
        self.written = 0
        self.stop = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as con:
            while not self.stop.is_set():
                with con.transaction():
                    con.execute("INSERT INTO orders VALUES (%s, 1, now(), 'live', true, '{}')", [self.next_id])
                    con.execute("UPDATE orders SET amount = amount + 1 WHERE id = 1")
                self.next_id += 1
                self.written += 1

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + 60
        while self.written < count:
            assert self.is_alive() and time.monotonic() < deadline, "the writer stopped writing"
            time.sleep(0.01)


def test_writes_during_the_first_copy_are_neither_lost_nor_doubled(capture: Capture) -> None:
    seed(capture, 20_000)
    writer = Writer(capture.url, first_id=100_000)
    writer.start()
    try:
        writer.wait_for(50)
        capture.sync()  # creates the slot and copies while the writer commits
        writer.wait_for(writer.written + 50)
    finally:
        writer.stop.set()
        writer.join()
    capture.sync()

    assert capture.warehouse_orders() == capture.source_orders()
    lake = capture.lake().to_pylist()
    arrivals = Counter(r["id"] for r in lake if r["_sf_op"] in ("snapshot", "insert"))
    assert set(arrivals.values()) == {1}  # each row came once: in the copy or as an insert, never both
    live = [r["_sf_op"] for r in lake if r["id"] >= 100_000]
    assert "snapshot" in live and "insert" in live  # the writer's rows straddle the slot's start


def run_driver_until(cap: Capture, checkpoint: str, folder: Path) -> None:
    """Run an extraction in a subprocess, stop it at `checkpoint` and kill it with SIGKILL."""
    marker = folder / "paused"
    env = {**os.environ, "SHOPFLOW_PAUSE_AT": checkpoint, "SHOPFLOW_PAUSE_FILE": str(marker)}
    args = json.dumps({"url": cap.url, "slot": cap.slot, "tables": cap.tables, "lake": str(folder / "lake")})
    with (folder / "driver.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, str(DRIVER), args], env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + PAUSE_WAIT
        while not marker.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"driver did not reach {checkpoint}: {(folder / 'driver.log').read_text()}")
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    marker.unlink()


def test_a_kill_after_the_lake_commit_before_the_slot_moves_replays_without_duplicates(capture: Capture) -> None:
    add_customers(capture)
    capture.tables = ["public.orders", "public.customers"]
    seed(capture, 20)
    capture.sync(TWO_TABLES)
    capture.execute("UPDATE orders SET amount = amount + 1 WHERE id <= 5")
    capture.execute("DELETE FROM orders WHERE id > 18")
    capture.execute("INSERT INTO orders VALUES (21, 1, now(), 'new', true, '{}')")
    capture.execute("UPDATE customers SET vip = true WHERE id = 1")
    position = capture.slot_position()

    # killed after the first table's commit: orders holds the changes, customers not, the slot did not move
    run_driver_until(capture, "lake_committed", capture.folder)
    assert capture.slot_position() == position
    assert sum(r["_sf_op"] != "snapshot" for r in capture.lake("orders").to_pylist()) == 8
    capture.load("orders")  # the warehouse may load the landed commit before the rerun

    capture.sync(TWO_TABLES)

    for table in TWO_TABLES:
        changes = Counter((r["id"], r["_sf_change_seq"]) for r in capture.lake(table).to_pylist())
        assert set(changes.values()) == {1}, f"a change of {table} was committed twice"
    assert sum(r["_sf_op"] != "snapshot" for r in capture.lake("orders").to_pylist()) == 8
    assert sum(r["_sf_op"] != "snapshot" for r in capture.lake("customers").to_pylist()) == 1
    assert capture.warehouse_orders() == capture.source_orders()
    assert capture.warehouse("SELECT * FROM raw.customers WHERE vip ORDER BY id")[0][:3] == (1, "customer 1", True)
    assert capture.slot_position() != position


def test_a_kill_during_the_first_copy_copies_the_rest_in_a_later_snapshot(capture: Capture) -> None:
    add_customers(capture)
    capture.tables = ["public.orders", "public.customers"]
    seed(capture, 20)

    run_driver_until(capture, "lake_committed", capture.folder)  # orders copied, customers not
    capture.execute("UPDATE customers SET name = 'renamed' WHERE id = 2")
    capture.execute("UPDATE orders SET note = 'changed' WHERE id = 2")
    capture.sync(TWO_TABLES)

    assert capture.warehouse_orders() == capture.source_orders()
    assert capture.warehouse("SELECT name FROM raw.customers WHERE id = 2") == [("renamed",)]
    assert capture.warehouse("SELECT count(*) FROM raw.customers") == [(10,)]
    customers = Counter(r["id"] for r in capture.lake("customers").to_pylist())
    assert set(customers.values()) == {1}  # copied after the rename: the rename is not replayed on top
    assert capture.source("SELECT slot_name FROM pg_replication_slots WHERE database = current_database()") == [
        (capture.slot,)]


def test_a_table_added_later_is_copied_and_then_followed(capture: Capture) -> None:
    seed(capture, 5)
    capture.sync()
    add_customers(capture, 3)
    capture.tables = ["public.orders", "public.customers"]
    capture.execute("UPDATE orders SET amount = 0 WHERE id = 1")

    run = capture.sync(TWO_TABLES)
    assert run.tables["customers"].snapshot_rows == 3 and run.tables["orders"].changes == 1
    capture.execute("INSERT INTO customers VALUES (4, 'late', false)")
    capture.sync(TWO_TABLES)

    assert capture.warehouse("SELECT id, name FROM raw.customers ORDER BY id")[-1] == (4, "late")
    assert capture.warehouse_orders() == capture.source_orders()
    assert len(capture.source("SELECT 1 FROM pg_replication_slots WHERE database = current_database()")) == 1


def test_the_lag_check_warns_when_the_slot_holds_back_too_much_wal(
    capture: Capture, caplog: pytest.LogCaptureFixture
) -> None:
    capture.options = {"max_lag_bytes": 256 * 1024}
    seed(capture, 5)
    run = capture.sync()
    assert run.lag_bytes is not None and run.lag_bytes < 256 * 1024
    capture.execute("CREATE TABLE filler AS SELECT g, md5(g::text) AS t FROM generate_series(1, 20000) g")

    with caplog.at_level(logging.WARNING):
        lag = slot.retained_wal(capture.settings)

    assert lag is not None and lag > 256 * 1024
    assert any(capture.slot in r.getMessage() and "holds back" in r.getMessage() for r in caplog.records)


def test_drop_removes_the_slot_and_the_publication(capture: Capture) -> None:
    seed(capture, 3)
    capture.sync()

    dropped = slot.drop(capture.settings)

    assert dropped == [f"replication slot {capture.slot}", f"publication {capture.slot}"]
    assert capture.source(f"SELECT 1 FROM pg_replication_slots WHERE slot_name = '{capture.slot}'") == []
    assert capture.source(f"SELECT 1 FROM pg_publication WHERE pubname = '{capture.slot}'") == []
    assert slot.drop(capture.settings) == []
    with pytest.raises(SourceError, match="is gone"):
        capture.extract()  # the lake holds changes the dropped slot can no longer continue


def test_a_table_without_a_key_is_refused_before_it_is_published(capture: Capture) -> None:
    capture.execute("CREATE TABLE notes (body text)")
    capture.execute("INSERT INTO notes VALUES ('a')")
    capture.tables = ["public.notes"]

    with pytest.raises(SourceError, match="no primary key") as error:
        capture.extract()

    assert error.value.fix is not None and "REPLICA IDENTITY FULL" in error.value.fix
    assert capture.source("SELECT 1 FROM pg_publication") == []
    capture.execute("UPDATE notes SET body = 'b'")  # the application's updates still work


def test_a_missing_table_is_named(capture: Capture) -> None:
    capture.tables = ["public.orders", "sales.nothing"]
    with pytest.raises(SourceError, match=r"sales\.nothing does not exist"):
        capture.extract()
