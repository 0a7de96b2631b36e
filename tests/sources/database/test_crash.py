"""Crash recovery of a database pipeline: kill -9 a real `shopflow run` at each checkpoint, run
again, and the warehouse equals a clean run's and the source, with no row twice or missing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from tests.sources.database.conftest import Pipeline, differences, pg_attach, postgres_source

from shopflow.faults import CHECKPOINTS

PAUSE_WAIT = 120.0
RUN_TIMEOUT = 300.0


def make_shop(pg: psycopg.Connection[Any]) -> None:
    pg.execute("CREATE TABLE orders (id int PRIMARY KEY, amount numeric(10,2), updated_at timestamptz NOT NULL)")
    pg.execute("INSERT INTO orders SELECT g, g / 4.0, now() - interval '1 day' + g * interval '1 second' "
               "FROM generate_series(1, 3000) g")
    pg.execute("CREATE TABLE customers (id int PRIMARY KEY, name text)")
    pg.execute("INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 500) g")


def shop_pipeline(folder: Path, url: str) -> Pipeline:
    pipeline = Pipeline(folder, postgres_source(url, tables=[
        {"name": "orders", "mode": "incremental", "cursor": "updated_at"}, {"name": "customers"}]))
    pipeline.write()
    return pipeline


def cli(pipeline: Pipeline, pause_at: str | None = None) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPFLOW_")}
    if pause_at:
        env.update(SHOPFLOW_PAUSE_AT=pause_at, SHOPFLOW_PAUSE_FILE=str(pipeline.folder / "paused"))
    with (pipeline.folder / "out.log").open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "shopflow.cli.main", "run", "-c", str(pipeline.path)],
                                cwd=pipeline.folder, env=env, stdout=out, stderr=out)


def run_to_end(pipeline: Pipeline) -> None:
    proc = cli(pipeline)
    try:
        assert proc.wait(timeout=RUN_TIMEOUT) == 0, (pipeline.folder / "out.log").read_text(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()


def crash_at(pipeline: Pipeline, checkpoint: str) -> None:
    marker = pipeline.folder / "paused"
    marker.unlink(missing_ok=True)
    proc = cli(pipeline, checkpoint)
    try:
        deadline = time.monotonic() + PAUSE_WAIT
        while not marker.exists():
            assert proc.poll() is None, f"the run ended before {checkpoint}: " + (
                pipeline.folder / "out.log").read_text(errors="replace")
            assert time.monotonic() < deadline, f"the run did not reach {checkpoint}"
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def business(pipeline: Pipeline, table: str) -> list[tuple[Any, ...]]:
    columns = ", ".join(c for c in pipeline.columns(table) if not c.startswith("_sf_"))
    return pipeline.rows(table, columns)


def assert_same(pipeline: Pipeline, clean: Pipeline, url: str) -> None:
    for table in ("orders", "customers"):
        assert business(pipeline, table) == business(clean, table), f"raw.{table} differs from a clean run"
        assert differences(pipeline, pg_attach(url), f"public.{table}") == (0, 0)
    ledger = pipeline.query("SELECT lake_key, lake_version FROM _shopflow.loads")
    assert len(ledger) == len(set(ledger)), "a lake commit was applied twice"


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_kill_at_a_checkpoint_then_rerun_equals_a_clean_run(
    checkpoint: str, tmp_path: Path, pg: psycopg.Connection[Any], postgres_database: str
) -> None:
    make_shop(pg)
    clean = shop_pipeline(tmp_path / "clean", postgres_database)
    run_to_end(clean)
    crashed = shop_pipeline(tmp_path / "crashed", postgres_database)

    crash_at(crashed, checkpoint)
    run_to_end(crashed)

    assert_same(crashed, clean, postgres_database)


@pytest.mark.parametrize("checkpoint", ["outputs_committed", "lake_committed"])
def test_kill_during_an_incremental_run_then_rerun_loses_no_change(
    checkpoint: str, tmp_path: Path, pg: psycopg.Connection[Any], postgres_database: str
) -> None:
    make_shop(pg)
    crashed = shop_pipeline(tmp_path / "crashed", postgres_database)
    run_to_end(crashed)
    pg.execute("UPDATE orders SET amount = amount + 1, updated_at = now() WHERE id % 100 = 0")
    pg.execute("INSERT INTO orders SELECT g, 1, now() FROM generate_series(3001, 3010) g")

    crash_at(crashed, checkpoint)
    run_to_end(crashed)

    clean = shop_pipeline(tmp_path / "clean", postgres_database)
    run_to_end(clean)
    assert_same(crashed, clean, postgres_database)
