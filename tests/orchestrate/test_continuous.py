"""Continuous mode in the serve scheduler: real PostgreSQL, DuckDB and dbt in-process, polled every second.

A poll that finds no change runs no dbt and leaves no row in the history; a committed row
reaches the model within seconds, through dbt kept in this process.
"""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb

from shopflow.orchestrate.scheduler import Scheduler
from shopflow.serve.server import load_pipelines
from shopflow.transform.profile import work_dir
from tests.orchestrate.conftest import runs_of, wait_until, write_yaml
from tests.orchestrate.test_serve_alerts import insert, make_source

DBT_PROJECT = {"name": "orders_models", "version": "1.0.0", "config-version": 2, "profile": "shopflow",
               "models": {"orders_models": {"+materialized": "table"}}}


def test_continuous_polls_skip_dbt_until_a_row_changes(tmp_path: Path, postgres_database: str) -> None:
    make_source(postgres_database)
    insert(postgres_database, 10)
    dbt = tmp_path / "dbt"
    write_yaml(dbt / "dbt_project.yml", DBT_PROJECT)
    (dbt / "models").mkdir()
    (dbt / "models" / "order_totals.sql").write_text(
        "select count(*) as orders, sum(amount) as amount from {{ source('raw', 'orders') }}\n", encoding="utf-8")
    config_path = write_yaml(tmp_path / "shopflow.yml", {
        "pipeline": "orders_db", "lake": str(tmp_path / "lake"), "warehouse": {"path": str(tmp_path / "w.duckdb")},
        "transform": {"project": str(dbt)},
        "schedule": {"continuous": True, "interval": "1 second"},
        "sources": [{"name": "shop", "type": "postgres", "url": postgres_database,
                     "tables": [{"name": "orders", "mode": "incremental", "cursor": "updated_at",
                                 "write_disposition": "merge"}]}],
    })
    [handle] = load_pipelines([config_path])
    stop = threading.Event()
    scheduler = Scheduler([handle], stop, check_every=60)
    thread = threading.Thread(target=scheduler.run, daemon=True)
    thread.start()

    def model() -> list[tuple[object, ...]]:
        with handle.warehouse_lock:
            con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
            try:
                return con.execute("SELECT orders, amount FROM analytics.order_totals").fetchall()
            finally:
                con.close()

    try:
        wait_until(lambda: any(s.get("step") == "transform" and s.get("models") for r in runs_of(config_path)
                               for s in r.steps), 90, "the first load and build")
        assert model() == [(10, 55)]
        def finished() -> int:
            return sum(r.status != "running" for r in runs_of(config_path))

        recorded, polls = finished(), len(scheduler.overhead)
        dbt_log = work_dir(handle.config) / "logs" / "dbt.log"
        built = dbt_log.stat().st_mtime_ns
        wait_until(lambda: len(scheduler.overhead) >= polls + 3, 30, "three quiet polls")
        assert finished() == recorded  # quiet polls leave no history
        assert dbt_log.stat().st_mtime_ns == built  # and run no dbt

        insert(postgres_database, 1)
        wait_until(lambda: model() == [(11, 56)], 30, "the new row in the model")
        last = runs_of(config_path)[-1]
        assert last.trigger == "continuous" and last.rows_loaded == 1
        assert [s["step"] for s in last.steps] == ["extract_load", "transform"]
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive()
