"""One run per warehouse, from extract to the last dbt model: two real `shopflow run` processes.

The first run is held inside its transform by a model that waits for the test (DuckDB: a
Python model waiting for a file to go; PostgreSQL: a model waiting for an advisory lock the
test holds). A second run started then fails at once with the run lock's message, naming
the first run, and writes nothing; the first run then finishes its models.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psycopg
import pytest
import yaml

from shopflow.config import load_config
from shopflow.config.model import PipelineConfig
from shopflow.errors import WarehouseError
from shopflow.pipeline.run_lock import run_lock

HOLD_KEY = 4242_4242  # the advisory lock the PostgreSQL model waits for
WAIT = 120.0

# A Python model (run by dbt-duckdb in the run's process) that waits while the test holds it.
DUCKDB_HOLD = """\
import os
import time


def model(dbt, session):
    open(os.environ["SF_TEST_ENTERED"], "w").close()
    while os.path.exists(os.environ["SF_TEST_HOLD"]):
        time.sleep(0.05)
    return session.sql("select 1 as held")
"""
POSTGRES_HOLD = f"select count(*) as orders from raw.orders, (select pg_advisory_lock({HOLD_KEY})) as held\n"


@dataclass
class Held:
    """A pipeline whose transform waits until the test lets it go."""

    folder: Path
    kind: str
    url: str | None = None

    @property
    def config_path(self) -> Path:
        return self.folder / "shopflow.yml"

    def config(self) -> PipelineConfig:
        return load_config(self.config_path)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPFLOW_")}
        env.update(SF_TEST_ENTERED=str(self.folder / "entered"), SF_TEST_HOLD=str(self.folder / "hold"),
                   COLUMNS="200", NO_COLOR="1")
        return env

    def start(self) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "shopflow.cli.main", "run", "-c", str(self.config_path)],
                                cwd=self.folder, env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)

    def wait_until_held(self, proc: subprocess.Popen[str]) -> None:
        deadline = time.monotonic() + WAIT
        while not self._entered():
            if proc.poll() is not None:
                pytest.fail(f"the run ended before its transform was held: {proc.communicate()[0]}")
            assert time.monotonic() < deadline, "the run did not reach its transform"
            time.sleep(0.1)

    def _entered(self) -> bool:
        if self.kind == "duckdb":
            return (self.folder / "entered").exists()
        assert self.url is not None
        with psycopg.connect(self.url, autocommit=True) as pg:
            row = pg.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                             "AND objid = %s", [HOLD_KEY]).fetchone()
        return bool(row and row[0])


def make_held(folder: Path, kind: str, url: str | None) -> Held:
    (folder / "in").mkdir(parents=True)
    (folder / "in" / "orders.jsonl").write_text('{"id": 1}\n{"id": 2}\n', encoding="utf-8")
    project = folder / "dbt"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: held\nversion: '1.0'\nconfig-version: 2\nprofile: shopflow\n"
                                             "models:\n  held:\n    +materialized: table\n", encoding="utf-8")
    (project / "models" / "sources.yml").write_text(
        "version: 2\nsources:\n  - name: raw\n    schema: raw\n    tables:\n      - name: orders\n", encoding="utf-8")
    if kind == "duckdb":
        (project / "models" / "held.py").write_text(DUCKDB_HOLD, encoding="utf-8")
        warehouse: dict[str, Any] = {"type": "duckdb", "path": str(folder / "warehouse.duckdb")}
    else:
        assert url is not None
        (project / "models" / "held.sql").write_text(POSTGRES_HOLD, encoding="utf-8")
        parts = urlparse(url)
        warehouse = {"type": "postgres", "host": parts.hostname, "port": parts.port, "user": parts.username,
                     "database": parts.path.lstrip("/")}
    config = {"pipeline": "held", "lake": str(folder / "lake"), "warehouse": warehouse,
              "transform": {"project": "dbt"},
              "sources": [{"name": "shop", "type": "files", "location": str(folder / "in"),
                           "tables": [{"name": "orders", "files": "*.jsonl", "write_disposition": "append"}]}]}
    (folder / "shopflow.yml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return Held(folder, kind, url)


@pytest.fixture(params=["duckdb", "postgres"])
def held(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Held]:
    url = request.getfixturevalue("postgres_database") if request.param == "postgres" else None
    yield make_held(tmp_path, request.param, url)


@pytest.fixture
def hold(held: Held) -> Iterator[Any]:
    """Make the held model wait; yields a function that lets it go."""
    pg = None
    if held.kind == "duckdb":
        (held.folder / "hold").touch()
    else:
        assert held.url is not None
        pg = psycopg.connect(held.url, autocommit=True)
        pg.execute("SELECT pg_advisory_lock(%s)", [HOLD_KEY])

    def release() -> None:
        (held.folder / "hold").unlink(missing_ok=True)
        if pg is not None and not pg.closed:
            pg.close()

    try:
        yield release
    finally:
        release()


def lake_log(held: Held) -> list[str]:
    log = held.folder / "lake" / "raw" / "shop" / "orders" / "_delta_log"
    return sorted(p.name for p in log.glob("*.json"))


def test_a_second_run_fails_at_once_while_the_first_builds_its_models(held: Held, hold: Any) -> None:
    first = held.start()
    try:
        held.wait_until_held(first)
        lake_before = lake_log(held)

        clock = time.monotonic()
        second = held.start()
        out, _ = second.communicate(timeout=WAIT)
        seconds = time.monotonic() - clock

        text = " ".join(out.split())
        assert second.returncode == 1, text
        assert f"is busy: another shopflow run (pid {first.pid} " in text, text
        assert "wait for that run to finish" in text, text
        assert seconds < 15, f"the second run took {seconds:.1f}s to give up"
        assert lake_log(held) == lake_before, "the refused run wrote to the lake"
        assert first.poll() is None, "the first run must still be building its models"

        hold()
        out, _ = first.communicate(timeout=WAIT)
        assert first.returncode == 0, out
        assert "models: 1 built, 0 failed" in " ".join(out.split()), out
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    with run_lock(held.config().warehouse):  # released when the run ended
        pass


def test_a_killed_run_leaves_no_lock_behind(held: Held, hold: Any) -> None:
    first = held.start()
    try:
        held.wait_until_held(first)
        with pytest.raises(WarehouseError, match="another shopflow run"), run_lock(held.config().warehouse):
            pass
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    deadline = time.monotonic() + 10
    while True:  # a PostgreSQL backend notices its client's death within moments
        try:
            with run_lock(held.config().warehouse):
                break
        except WarehouseError:
            assert time.monotonic() < deadline, "the lock outlived the killed run"
            time.sleep(0.2)
