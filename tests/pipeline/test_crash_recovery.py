"""Crash recovery of a real `shopflow run`: kill -9 it at any checkpoint, run again, and the
warehouse ends identical to a clean run, with no duplicate and no missing row.

Each test runs the CLI as a subprocess on the Glossier example pipeline, pauses it at a named
checkpoint (shopflow.faults), kills it with SIGKILL, reruns it to completion and compares the
warehouse row for row with a clean run over the same files in another folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from shopflow.faults import CHECKPOINTS
from tests.conftest import GLOSSIER_DATA, GLOSSIER_MORE, ROOT

CONFIG = ROOT / "examples" / "glossier" / "shopflow.yml"
DAYS = sorted(GLOSSIER_DATA.glob("*.json"))
MORE = sorted(GLOSSIER_MORE.glob("*.json"))
TABLES = ("orders", "orders__line_items")

# The variables each run gets from its test, never from the caller's environment.
CONTROLLED_ENV = {"SHOPFLOW_PAUSE_AT", "SHOPFLOW_PAUSE_FILE", "SHOPFLOW_LAKE", "SHOPFLOW_WAREHOUSE",
                  "SHOPFLOW_CONFIG", "GLOSSIER_INPUT"}
PAUSE_WAIT = 120.0  # seconds a run may take to reach its checkpoint
RUN_TIMEOUT = 300.0  # seconds a run to completion may take


@dataclass
class Workspace:
    """One pipeline's input folder, lake and warehouse below a temporary folder."""

    root: Path
    config: Path = CONFIG

    @property
    def cli(self) -> list[str]:
        return [sys.executable, "-m", "shopflow.cli.main", "run", "-c", str(self.config)]

    @property
    def input(self) -> Path:
        return self.root / "in"

    @property
    def lake(self) -> Path:
        return self.root / "lake"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def pause_file(self) -> Path:
        return self.root / "paused"

    def add(self, files: list[Path]) -> None:
        self.input.mkdir(parents=True, exist_ok=True)
        for f in files:
            shutil.copyfile(f, self.input / f.name)

    def env(self, pause_at: str | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in CONTROLLED_ENV}
        env.update(GLOSSIER_INPUT=str(self.input), SHOPFLOW_LAKE=str(self.lake), SHOPFLOW_WAREHOUSE=str(self.warehouse))
        if pause_at is not None:
            env.update(SHOPFLOW_PAUSE_AT=pause_at, SHOPFLOW_PAUSE_FILE=str(self.pause_file))
        return env

    def delta_log(self, table: str) -> list[str]:
        """The commit files of lake table `raw/glossier/<table>`, empty if it does not exist."""
        log = self.lake / "raw" / "glossier" / table / "_delta_log"
        return sorted(p.name for p in log.glob("*.json")) if log.exists() else []


def pipeline_file(folder: Path, disposition: str) -> Path:
    """A copy of the Glossier example pipeline without its dbt step (crashes here are about extract and load).

    With `append`, the copy's orders are appended, not merged: a merge folds a row loaded twice
    into one, so the append copy is the one where any file extracted twice or any lake commit
    applied twice shows up as duplicate rows.
    """
    text = CONFIG.read_text(encoding="utf-8")
    assert "write_disposition: merge" in text and "transform:\n  project: dbt\n" in text
    text = text.replace("transform:\n  project: dbt\n", "")
    path = folder / f"shopflow-{disposition}.yml"
    path.write_text(text.replace("write_disposition: merge", f"write_disposition: {disposition}"), encoding="utf-8")
    return path


def workspace(root: Path, files: list[Path], disposition: str = "merge") -> Workspace:
    root.mkdir(parents=True, exist_ok=True)
    ws = Workspace(root, pipeline_file(root, disposition))
    ws.add(files)
    return ws


def start(ws: Workspace, pause_at: str | None = None) -> subprocess.Popen[bytes]:
    ws.root.mkdir(parents=True, exist_ok=True)
    with (ws.root / "stdout.log").open("ab") as out, (ws.root / "stderr.log").open("ab") as err:
        return subprocess.Popen(ws.cli, cwd=ws.root, env=ws.env(pause_at), stdout=out, stderr=err)


def kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL `proc` if it still runs, and reap it."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def logs(ws: Workspace) -> str:
    return "\n".join(
        f"--- {name}\n{(ws.root / name).read_text(errors='replace')}"
        for name in ("stdout.log", "stderr.log") if (ws.root / name).exists()
    )


def wait_for_pause(ws: Workspace, proc: subprocess.Popen[bytes], checkpoint: str) -> None:
    deadline = time.monotonic() + PAUSE_WAIT
    while not ws.pause_file.exists():
        if proc.poll() is not None:
            pytest.fail(f"run exited with {proc.returncode} before reaching {checkpoint}\n{logs(ws)}")
        if time.monotonic() > deadline:
            pytest.fail(f"run did not reach {checkpoint} within {PAUSE_WAIT}s\n{logs(ws)}")
        time.sleep(0.05)
    assert ws.pause_file.read_text(encoding="utf-8") == checkpoint


@dataclass
class Paused:
    """A run stopped at a checkpoint, still alive (it holds the warehouse)."""

    ws: Workspace
    proc: subprocess.Popen[bytes]

    def kill(self) -> None:
        kill(self.proc)
        assert self.proc.returncode == -signal.SIGKILL
        self.ws.pause_file.unlink()


def pause(ws: Workspace, checkpoint: str) -> Paused:
    """Start a run and wait until it sleeps at `checkpoint`; the caller must kill it."""
    ws.pause_file.unlink(missing_ok=True)
    proc = start(ws, checkpoint)
    try:
        wait_for_pause(ws, proc, checkpoint)
    except BaseException:
        kill(proc)
        raise
    return Paused(ws, proc)


def crash_at(ws: Workspace, checkpoint: str) -> None:
    """Run until `checkpoint`, then kill -9 the run there."""
    pause(ws, checkpoint).kill()


def run_to_end(ws: Workspace) -> None:
    proc = start(ws)
    try:
        proc.wait(timeout=RUN_TIMEOUT)
    finally:
        kill(proc)
    assert proc.returncode == 0, logs(ws)


def business_rows(ws: Workspace, table: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Columns of `raw.<table>` except shopflow's `_sf_*`, and all its rows in a stable order."""
    con = duckdb.connect(str(ws.warehouse), read_only=True)
    try:
        columns = sorted(
            r[0] for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' AND table_name = ?",
                [table],
            ).fetchall()
            if not r[0].startswith("_sf_")
        )
        assert columns, f"raw.{table} is missing"
        col_list = ", ".join(f'"{c}"' for c in columns)
        rows = con.execute(f"SELECT {col_list} FROM raw.{table} ORDER BY ALL").fetchall()
        return columns, rows
    finally:
        con.close()


def ledger(ws: Workspace) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(ws.warehouse), read_only=True)
    try:
        return con.execute("SELECT lake_key, lake_version FROM _shopflow.loads ORDER BY ALL").fetchall()
    finally:
        con.close()


def expected_counts(files: list[Path]) -> dict[str, int]:
    """Distinct orders and line items in the JSON files, counted without shopflow."""
    orders: set[Any] = set()
    items: set[tuple[Any, Any]] = set()
    for f in files:
        for order in json.loads(f.read_text(encoding="utf-8"))["orders"]:
            orders.add(order["id"])
            items.update((order["id"], item["id"]) for item in order.get("line_items") or [])
    return {"orders": len(orders), "orders__line_items": len(items)}


def assert_same_as_clean(ws: Workspace, clean: Workspace, files: list[Path]) -> None:
    counts = expected_counts(files)
    for table in TABLES:
        columns, rows = business_rows(ws, table)
        clean_columns, clean_rows = business_rows(clean, table)
        assert columns == clean_columns, f"raw.{table} columns differ from a clean run"
        assert len(rows) == counts[table], f"raw.{table} has {len(rows)} rows, the files hold {counts[table]}"
        assert len(set(rows)) == len(rows), f"raw.{table} has duplicate rows"
        assert rows == clean_rows, f"raw.{table} differs from a clean run"
    # keys are unique too (not only whole rows)
    con = duckdb.connect(str(ws.warehouse), read_only=True)
    try:
        assert con.execute("SELECT count(*) - count(DISTINCT id) FROM raw.orders").fetchone() == (0,)
        assert con.execute(
            "SELECT count(*) - count(DISTINCT (order_id, id)) FROM raw.orders__line_items"
        ).fetchone() == (0,)
    finally:
        con.close()
    # every lake commit applied exactly once
    assert len(set(ledger(ws))) == len(ledger(ws))


_CLEAN: dict[tuple[str, int], Workspace] = {}


def clean_run(factory: pytest.TempPathFactory, files: list[Path], disposition: str) -> Workspace:
    """A clean, uninterrupted run over `files` (one per disposition and file set, shared)."""
    key = (disposition, len(files))
    if key not in _CLEAN:
        ws = workspace(factory.mktemp(f"clean-{disposition}-{len(files)}"), files, disposition)
        run_to_end(ws)
        _CLEAN[key] = ws
    return _CLEAN[key]


@pytest.fixture(params=["merge", "append"])
def disposition(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clean4(tmp_path_factory: pytest.TempPathFactory, disposition: str) -> Workspace:
    """A clean run over the four days of data/."""
    return clean_run(tmp_path_factory, DAYS, disposition)


@pytest.fixture
def clean5(tmp_path_factory: pytest.TempPathFactory, disposition: str) -> Workspace:
    """A clean run over all five days (data/ and more_data/)."""
    return clean_run(tmp_path_factory, DAYS + MORE, disposition)


@pytest.fixture
def ws(tmp_path: Path, disposition: str) -> Iterator[Workspace]:
    yield workspace(tmp_path / "crash", DAYS, disposition)


def test_every_checkpoint_is_covered() -> None:
    assert set(CHECKPOINTS) == {"file_extracted", "outputs_committed", "lake_committed", "load_applied"}


def test_clean_run_loads_every_order_once(clean4: Workspace) -> None:
    counts = expected_counts(DAYS)
    for table in TABLES:
        assert len(business_rows(clean4, table)[1]) == counts[table]


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_kill_at_checkpoint_then_rerun_equals_clean_run(
    checkpoint: str, ws: Workspace, clean4: Workspace
) -> None:
    assert len(DAYS) >= 3  # the first file is extracted, the others still pending
    paused = pause(ws, checkpoint)
    try:
        lake_main, lake_items = ws.delta_log("orders"), ws.delta_log("orders__line_items")
    finally:
        paused.kill()

    # the run really stopped where it says
    if checkpoint == "file_extracted":
        assert lake_main == [] and lake_items == [], "nothing is in the lake mid-extract"
    elif checkpoint == "outputs_committed":
        assert lake_items and not lake_main, "line items landed, the ledger commit did not"
    else:
        assert lake_main, "the ledger commit landed"

    run_to_end(ws)

    assert_same_as_clean(ws, clean4, DAYS)


def test_kill_at_lake_committed_on_second_run_with_new_file(
    ws: Workspace, clean5: Workspace
) -> None:
    run_to_end(ws)
    ws.add(MORE)

    crash_at(ws, "lake_committed")
    run_to_end(ws)

    assert_same_as_clean(ws, clean5, DAYS + MORE)


def test_killed_twice_in_a_row_then_rerun_equals_clean_run(ws: Workspace, clean4: Workspace) -> None:
    crash_at(ws, "outputs_committed")
    crash_at(ws, "load_applied")
    run_to_end(ws)

    assert_same_as_clean(ws, clean4, DAYS)


@pytest.mark.parametrize("disposition", ["merge"], indirect=True)
@pytest.mark.parametrize("checkpoint", ["file_extracted", "load_applied"])
def test_concurrent_run_fails_fast_while_warehouse_is_held(
    checkpoint: str, ws: Workspace, clean4: Workspace
) -> None:
    paused = pause(ws, checkpoint)
    try:
        lake_before = {t: ws.delta_log(t) for t in TABLES}
        second = Workspace(ws.root / "second")  # same input, lake and warehouse, its own logs
        second.root.mkdir()
        proc = subprocess.Popen(
            ws.cli, cwd=second.root, env=ws.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        try:
            out, _ = proc.communicate(timeout=60)
        finally:
            kill(proc)
        text = " ".join(out.decode(errors="replace").split())
        assert proc.returncode == 1, text
        assert re.search(r"another shopflow run .*holds it", text), text
        assert "warehouse" in text, text
        assert {t: ws.delta_log(t) for t in TABLES} == lake_before, "the refused run wrote to the lake"
        assert paused.proc.poll() is None, "the paused run must still be alive"
    finally:
        paused.kill()

    run_to_end(ws)

    assert_same_as_clean(ws, clean4, DAYS)
