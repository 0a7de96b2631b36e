"""Small helpers shared by tests: write a pipeline file, run it, query the warehouse."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import yaml

from shopflow.config import load_config
from shopflow.pipeline.run import RunReport, run_pipeline


def write_pipeline(
    folder: Path,
    location: str,
    tables: list[dict[str, Any]],
    *,
    storage: dict[str, Any] | None = None,
    lake: str | None = None,
    source: str = "shop",
    pipeline: str = "test",
) -> Path:
    """Write `folder/shopflow.yml` for one file source; return its path."""
    config: dict[str, Any] = {
        "pipeline": pipeline,
        "lake": lake or str(folder / "lake"),
        "warehouse": {"path": str(folder / "warehouse.duckdb")},
        "sources": [{"name": source, "type": "files", "location": location, "tables": tables}],
    }
    if storage:
        config["storage"] = storage
    path = folder / "shopflow.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def run(config_path: Path) -> RunReport:
    """Run the pipeline in-process."""
    return run_pipeline(load_config(config_path))


def query(config_path: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of `sql` against the pipeline's DuckDB warehouse (read-only)."""
    warehouse = load_config(config_path).warehouse.path
    con = duckdb.connect(warehouse, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def csv_bytes(rows: Iterable[Sequence[Any]], header: Sequence[str] | None = None, newline: str = "\n") -> bytes:
    """`rows` (after `header`, if given) as CSV, each line ended by `newline`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline)
    if header is not None:
        writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def kill_run_at(config: Path, folder: Path, stop_at: str) -> None:
    """Start `shopflow run`, kill -9 it once it reaches the checkpoint `stop_at`."""
    marker = folder / "paused"
    env = {**os.environ, "SHOPFLOW_PAUSE_AT": stop_at, "SHOPFLOW_PAUSE_FILE": str(marker)}
    run = subprocess.Popen([sys.executable, "-m", "shopflow.cli.main", "run", "-c", str(config)], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert run.poll() is None and time.monotonic() < deadline, "the run never reached the checkpoint"
        time.sleep(0.05)
    run.send_signal(signal.SIGKILL)
    run.wait(30)
    marker.unlink()
