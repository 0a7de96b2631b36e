"""`shopflow serve` killed mid-run, stopped with SIGTERM and restarted: every source row once in the warehouse.

A run is held at the `lake_committed` checkpoint (rows in the lake, not yet in the warehouse)
while its next slots come due: they are recorded as skipped. serve is killed with SIGKILL
there; the restarted serve marks the run interrupted, catches the missed slots up with one
run, and loads the committed rows once. After a SIGTERM and a pause of several slots, the
next start runs once, not once per missed slot.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tests.orchestrate.conftest import Serve, runs_of, wait_until, write_yaml
from tests.orchestrate.test_serve_alerts import insert, make_source, warehouse_rows


def test_kill_mid_run_skip_catch_up_and_sigterm(
    tmp_path: Path, postgres_database: str, serve_process: Callable[..., Serve],
) -> None:
    make_source(postgres_database)
    insert(postgres_database, 100)
    config = write_yaml(tmp_path / "db" / "shopflow.yml", {
        "pipeline": "orders_db", "lake": str(tmp_path / "db" / "lake"),
        "warehouse": {"path": str(tmp_path / "db" / "warehouse.duckdb")},
        "schedule": {"every": "2 seconds"},
        "sources": [{"name": "shop", "type": "postgres", "url": postgres_database,
                     "tables": [{"name": "orders", "mode": "incremental", "cursor": "updated_at",
                                 "write_disposition": "append"}]}],
    })
    pause = tmp_path / "paused"
    serve = serve_process(config).start(SHOPFLOW_PAUSE_AT="lake_committed", SHOPFLOW_PAUSE_FILE=str(pause))
    wait_until(pause.exists, 60, "the run to reach lake_committed", serve)
    skipped = wait_until(lambda: [r for r in runs_of(config) if r.status == "skipped"], 30,
                         "a slot skipped while the run is held", serve)
    assert "still going" in (skipped[0].note or "")
    serve.kill()
    held = runs_of(config)[0]
    assert held.status == "running" and held.trigger == "schedule"

    insert(postgres_database, 20)
    serve.start()
    wait_until(lambda: sum(r.rows_loaded for r in runs_of(config) if r.status == "ok") >= 120, 60,
               "the restarted serve to load every row", serve)
    after_kill = runs_of(config)
    assert next(r for r in after_kill if r.id == held.id).status == "interrupted"
    first = next(r for r in after_kill if r.pid == serve.proc.pid and r.status != "skipped")
    assert first.trigger == "schedule"
    assert serve.terminate() == 0
    assert all(r.status != "running" for r in runs_of(config))

    # Down for more than two slots: the next start runs once for all of them.
    time.sleep(5)
    insert(postgres_database, 7)
    stopped_at = len(runs_of(config))
    serve.start()
    wait_until(lambda: sum(r.rows_loaded for r in runs_of(config) if r.status == "ok") >= 127, 30,
               "the catch-up run", serve)
    started = time.monotonic()
    assert serve.terminate() == 0
    assert time.monotonic() - started < 30
    fresh = [r for r in runs_of(config)[stopped_at:] if r.status != "skipped"]
    assert "missed" in (fresh[0].note or "") and fresh[0].rows_loaded == 7
    assert sum("missed" in (r.note or "") for r in fresh) == 1

    assert warehouse_rows(config, "SELECT count(*), count(DISTINCT id), sum(amount) FROM raw.orders") == [
        (127, 127, sum(range(1, 101)) + sum(range(1, 21)) + sum(range(1, 8)))]
