"""A real `shopflow ingest` subprocess on a free loopback port, and the pipeline file it serves."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from shopflow.config import load_config
from shopflow.config.events import EventsSource
from shopflow.sources.events.buffer import Appended, BufferWriter

TOKEN = "s3cret-store-token"


def events_pipeline(folder: Path, *, max_buffered: int = 1_000_000, max_body_bytes: int = 1 << 20,
                    on_invalid: str = "quarantine") -> Path:
    """Write `folder/shopflow.yml`: one events source `shop` with the stream `lines` (token in INGEST_TOKEN)."""
    config: dict[str, Any] = {
        "pipeline": "stream",
        "lake": str(folder / "lake"),
        "warehouse": {"path": str(folder / "warehouse.duckdb")},
        "sources": [{
            "name": "shop", "type": "events", "path": str(folder / "buffer.sqlite"),
            "max_buffered": max_buffered, "max_body_bytes": max_body_bytes,
            "flush": {"every_seconds": 1},
            "streams": [{
                "name": "lines", "token_env": "INGEST_TOKEN", "on_invalid": on_invalid,
                "columns": {"store": "integer", "invoice": "text", "line": "integer", "qty": "integer",
                            "price": "decimal(10,2)", "sold_at": "timestamp"},
                "primary_key": ["store", "invoice", "line"],
                "idempotency_key": ["store", "invoice", "line"],
            }],
        }],
    }
    path = folder / "shopflow.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


@dataclass
class Ingest:
    """`shopflow ingest -c config --port 0` as a subprocess."""

    config: Path
    folder: Path
    proc: subprocess.Popen[bytes] | None = None
    url: str = ""
    starts: int = 0

    def start(self, *, flush: bool = False) -> Ingest:
        self.starts += 1
        out = self.folder / f"ingest-{self.starts}.out"
        err = self.folder / f"ingest-{self.starts}.err"
        args = [sys.executable, "-m", "shopflow.cli.main", "ingest", "-c", str(self.config), "--port", "0",
                "--flush" if flush else "--no-flush"]
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("SHOPFLOW_PAUSE")}, "INGEST_TOKEN": TOKEN}
        with out.open("wb") as stdout, err.open("wb") as stderr:
            self.proc = subprocess.Popen(args, env=env, stdout=stdout, stderr=stderr, cwd=self.folder)
        deadline = time.monotonic() + 60
        while "http://" not in out.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"ingest did not start:\n{self.logs()}")
            time.sleep(0.05)
        self.url = out.read_text().split(" on ", 1)[1].split()[0]
        return self

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
                         for p in sorted(self.folder.glob(f"ingest-{self.starts}.*")))

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)

    def stop_if_running(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()


@pytest.fixture
def ingest(tmp_path: Path) -> Iterator[Ingest]:
    """An ingest server (not started) for a fresh events pipeline in `tmp_path`."""
    server = Ingest(events_pipeline(tmp_path), tmp_path)
    yield server
    server.stop_if_running()


def line(store: int, invoice: str, number: int, qty: int = 1) -> dict[str, Any]:
    """One valid invoice line event."""
    return {"store": store, "invoice": invoice, "line": number, "qty": qty, "price": "2.50",
            "sold_at": "2026-12-03T08:00:00"}


def warehouse_rows(folder: Path, sql: str) -> list[tuple[object, ...]]:
    """The rows of `sql` in `folder`'s DuckDB warehouse, read-only."""
    import duckdb

    con = duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def auth(token: str = TOKEN) -> dict[str, str]:
    """The header a client with `token` sends."""
    return {"Authorization": f"Bearer {token}"}


def append_events(config: Path, events: list[dict[str, Any]], reason: str | None = None) -> Appended:
    """Log `events` in the pipeline's buffer through the group-commit writer, as the API does; wait until durable."""
    source = load_config(config).sources[0]
    assert isinstance(source, EventsSource)
    writer = BufferWriter(source.buffer_path, [t.name for t in source.tables], 1_000_000)
    got: list[Appended | None] = []
    done = threading.Event()

    def finished(appended: Appended | None, error: BaseException | None) -> None:
        got.append(appended)
        done.set()

    writer.submit("lines", [(json.dumps(e), reason, time.time()) for e in events], finished)
    assert done.wait(10)
    writer.close()
    assert got[0] is not None
    return got[0]
