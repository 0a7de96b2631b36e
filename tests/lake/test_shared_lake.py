"""Two warehouses fed from one lake: each file and each watermark is consumed once, by one run.

Two pipeline files share one lake and have a DuckDB warehouse each. Whichever run commits a
table's ledger first consumes its files; the other run's ledger commit conflicts (Delta's
conditional commit against the version it planned on), it re-reads the ledger and loads the
lake versions the first run wrote. Both warehouses end with the same rows, the lake holds
them once. The tables are `append`, where anything consumed twice shows up as twice the rows.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from shopflow.config.model import StorageConfig
from shopflow.lake.table import LakeTable
from shopflow.storage import Location

FILES, ROWS_PER_FILE = 5, 5_000
ORDERS = FILES * ROWS_PER_FILE
PAUSE_WAIT = 60.0
RUN_TIMEOUT = 120.0


@dataclass
class Side:
    """One of the two pipelines: its pipeline file, warehouse and log, in its own folder."""

    folder: Path

    @property
    def config(self) -> Path:
        return self.folder / "shopflow.yml"

    @property
    def warehouse(self) -> Path:
        return self.folder / "warehouse.duckdb"

    @property
    def pause_file(self) -> Path:
        return self.folder / "paused"

    def start(self, pause_at: str | None = None) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPFLOW_")}
        if pause_at is not None:
            env.update(SHOPFLOW_PAUSE_AT=pause_at, SHOPFLOW_PAUSE_FILE=str(self.pause_file))
        with (self.folder / "out.log").open("ab") as out:
            return subprocess.Popen([sys.executable, "-m", "shopflow.cli.main", "run", "-c", str(self.config)],
                                    cwd=self.folder, env=env, stdout=out, stderr=out)

    def log(self) -> str:
        path = self.folder / "out.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def finish(self, proc: subprocess.Popen[bytes]) -> int:
        try:
            return proc.wait(timeout=RUN_TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def run(self) -> None:
        assert self.finish(self.start()) == 0, self.log()

    def pause(self, checkpoint: str) -> subprocess.Popen[bytes]:
        """Start a run and wait until it sleeps at `checkpoint` (removing the pause file resumes it)."""
        proc = self.start(checkpoint)
        deadline = time.monotonic() + PAUSE_WAIT
        while not self.pause_file.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"the run did not reach {checkpoint}: {self.log()}")
            time.sleep(0.05)
        return proc

    def rows(self, table: str) -> int:
        con = duckdb.connect(str(self.warehouse), read_only=True)
        try:
            row = con.execute(f"SELECT count(*) FROM raw.{table}").fetchone()
            distinct = con.execute(f"SELECT count(DISTINCT id) FROM raw.{table}").fetchone()
        finally:
            con.close()
        assert row is not None and distinct is not None
        assert row[0] == distinct[0], f"raw.{table} of {self.folder.name} has duplicate ids"
        return int(row[0])


def write_side(folder: Path, lake: Path, source: dict[str, Any]) -> Side:
    folder.mkdir(parents=True)
    config = {"pipeline": "shop", "lake": str(lake), "warehouse": {"path": str(folder / "warehouse.duckdb")},
              "sources": [source]}
    (folder / "shopflow.yml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return Side(folder)


def lake_rows(lake: Path, source: str, table: str) -> tuple[int, Counter[str]]:
    """Rows of the lake table that its ledger commits name, and how often each file was consumed."""
    main = LakeTable(Location(str(lake / "raw" / source / table), StorageConfig()), table)
    commits = main.commits()
    reader = main.read_batches([c.batch for c in commits])
    assert reader is not None
    return reader.read_all().num_rows, Counter(f.url for c in commits for f in c.files)


@pytest.fixture
def orders_files(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for f in range(FILES):
        lines = (json.dumps({"id": f * ROWS_PER_FILE + i, "qty": i % 7}) for i in range(ROWS_PER_FILE))
        (folder / f"orders-{f}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture
def two_sides(tmp_path: Path, orders_files: Path) -> tuple[Side, Side]:
    source = {"name": "shop", "type": "files", "location": str(orders_files),
              "tables": [{"name": "orders", "files": "*.jsonl", "write_disposition": "append"}]}
    lake = tmp_path / "lake"
    return write_side(tmp_path / "a", lake, source), write_side(tmp_path / "b", lake, source)


def assert_both_hold_every_order_once(a: Side, b: Side, lake: Path) -> None:
    assert (a.rows("orders"), b.rows("orders")) == (ORDERS, ORDERS)
    rows, consumed = lake_rows(lake, "shop", "orders")
    assert rows == ORDERS
    assert len(consumed) == FILES and set(consumed.values()) == {1}, consumed


def test_the_second_warehouse_loads_what_the_first_extracted(two_sides: tuple[Side, Side], tmp_path: Path) -> None:
    a, b = two_sides
    a.run()
    b.run()

    assert_both_hold_every_order_once(a, b, tmp_path / "lake")


def test_two_runs_at_once_consume_each_file_once(two_sides: tuple[Side, Side], tmp_path: Path) -> None:
    a, b = two_sides
    procs = [a.start(), b.start()]

    assert [a.finish(procs[0]), b.finish(procs[1])] == [0, 0], a.log() + b.log()
    assert_both_hold_every_order_once(a, b, tmp_path / "lake")


def test_the_run_whose_ledger_commit_lost_replans_instead_of_duplicating(
    two_sides: tuple[Side, Side], tmp_path: Path
) -> None:
    a, b = two_sides
    # a has read every file and is about to commit them; b reads and commits the same files first
    paused = a.pause("outputs_committed")
    try:
        b.run()
        a.pause_file.unlink()  # a goes on: its commit must conflict with b's
        assert a.finish(paused) == 0, a.log()
    finally:
        if paused.poll() is None:
            paused.kill()

    assert_both_hold_every_order_once(a, b, tmp_path / "lake")
    assert "another run committed" in a.log()  # a said why it extracted nothing
    main = LakeTable(Location(str(tmp_path / "lake" / "raw" / "shop" / "orders"), StorageConfig()), "orders")
    assert len(main.commits()) == 1, "only b's ledger commit is in the lake"


def test_a_watermark_is_consumed_once(tmp_path: Path) -> None:
    database = tmp_path / "shop.sqlite"
    with sqlite3.connect(database) as con:
        con.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, qty INTEGER, updated_at INTEGER)")
        con.executemany("INSERT INTO orders VALUES (?, ?, ?)", [(i, i % 7, i) for i in range(1, 2001)])
    source = {"name": "db", "type": "sqlite", "path": str(database),
              "tables": [{"name": "orders", "mode": "incremental", "cursor": "updated_at",
                          "write_disposition": "append"}]}
    lake = tmp_path / "lake"
    a, b = write_side(tmp_path / "a", lake, source), write_side(tmp_path / "b", lake, source)

    # a has read every row from the empty watermark; b reads and commits them first
    paused = a.pause("outputs_committed")
    try:
        b.run()
        a.pause_file.unlink()
        assert a.finish(paused) == 0, a.log()
    finally:
        if paused.poll() is None:
            paused.kill()
    with sqlite3.connect(database) as con:
        con.executemany("INSERT INTO orders VALUES (?, ?, ?)", [(i, 1, i) for i in range(2001, 2101)])
    a.run()
    b.run()

    assert (a.rows("orders"), b.rows("orders")) == (2100, 2100)
    rows, _ = lake_rows(lake, "db", "orders")
    assert rows == 2100
