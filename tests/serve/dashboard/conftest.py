"""The five example pipelines built by the demo (two rounds, small scale), and `shopflow dashboard` over them.

The demo's warehouses are what a user has after `shopflow demo` twice: two runs in each
pipeline's history, customers who moved, a quarantined record. The dashboard runs as a real
process on a loopback port, as `shopflow dashboard --project <demo folder>` would.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest

SHOPFLOW = str(Path(sys.executable).with_name("shopflow"))
PIPELINES = ("glossier", "shop_db", "totesys", "online_retail", "customers")
SEED, SCALE = 11, 0.15


@dataclass(frozen=True)
class Demo:
    """A demo folder with every example pipeline built."""

    folder: Path

    def config(self, pipeline: str) -> Path:
        return self.folder / pipeline / "shopflow.yml"

    def warehouse(self, pipeline: str) -> Path:
        return self.folder / pipeline / "warehouse.duckdb"

    def query(self, pipeline: str, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        con = duckdb.connect(str(self.warehouse(pipeline)), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def scalar(self, pipeline: str, sql: str, params: list[Any] | None = None) -> Any:
        return self.query(pipeline, sql, params)[0][0]


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """`shopflow demo` twice into one folder: built, then a round of changes."""
    from shopflow.demo.showcase import run_demo

    folder = tmp_path_factory.mktemp("dashboard") / "demo"
    for _ in range(2):
        report = run_demo(folder, seed=SEED, scale=SCALE)
        failed = {p.name: p.error for p in report.pipelines if p.error}
        assert not failed and not report.skipped, (failed, report.skipped)
    return Demo(folder)


@dataclass
class Dashboard:
    """A running `shopflow dashboard` process."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path
    lines: list[str] = field(default_factory=list)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def start_dashboard(args: list[str], log: Path, env: dict[str, str] | None = None) -> Dashboard:
    """Start `shopflow dashboard ARGS --port 0` and wait for the address it listens on."""
    out = log.open("wb")
    process = subprocess.Popen([SHOPFLOW, "dashboard", *args, "--port", "0"], stdout=out, stderr=subprocess.STDOUT,
                               env={**os.environ, **(env or {})}, start_new_session=True)
    out.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = log.read_text(encoding="utf-8", errors="replace")
        found = re.search(r"at (http://\S+/)", text)
        if found:
            return Dashboard(process, found.group(1), log)
        if process.poll() is not None:
            raise AssertionError(f"shopflow dashboard exited with {process.returncode}:\n{text}")
        time.sleep(0.05)
    stop_dashboard(process)
    raise AssertionError(f"shopflow dashboard printed no address within 60 s:\n{log.read_text()}")


def stop_dashboard(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def dashboard(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """`shopflow dashboard --project <demo folder>` on a free loopback port."""
    running = start_dashboard(["--project", str(demo.folder)], tmp_path_factory.mktemp("dashboard-log") / "out.txt")
    yield running
    stop_dashboard(running.process)
