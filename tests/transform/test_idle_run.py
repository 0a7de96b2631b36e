"""A run with nothing new skips dbt without laying out its project, and never leaves the models behind.

Real runs of a pipeline of order and stock files with three models: an idle run answers from the
last build's fingerprint (the mirror dbt would run in is not even written), and a transform
that could not run after a load makes the next run build, even though no new file came.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from shopflow.config import load_config
from shopflow.pipeline.run import run_pipeline
from shopflow.transform.profile import work_dir
from tests.transform.test_raw_source import MODELS, shop, write_lines


def stock_levels(warehouse: Path) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute("SELECT store, qty FROM analytics.stock_levels ORDER BY store").fetchall()
    finally:
        con.close()


def test_an_idle_run_skips_dbt_without_laying_out_the_project(tmp_path: Path) -> None:
    config = load_config(shop(tmp_path, {"type": "duckdb", "path": str(tmp_path / "warehouse.duckdb")}))
    first = run_pipeline(config).transform
    assert first is not None and first.ok and {m.name for m in first.models} == set(MODELS)
    mirror = work_dir(config) / "project"
    shutil.rmtree(mirror)

    idle = run_pipeline(config)

    assert idle.exit_code == 0 and idle.transform is not None
    assert idle.transform.models == [] and "no raw table changed" in (idle.transform.skipped or "")
    assert not mirror.exists()  # answered from the fingerprint: nothing laid out for dbt

    # new data still goes all the way: the mirror comes back and the model downstream is rebuilt
    write_lines(tmp_path / "data" / "stock" / "day2.jsonl", [{"store": "west", "sku": "q", "qty": 7}])
    fresh = run_pipeline(config).transform
    assert fresh is not None and [m.name for m in fresh.models] == ["stock_levels"]
    assert mirror.is_dir()
    assert ("west", 7) in stock_levels(tmp_path / "warehouse.duckdb")


def test_models_catch_up_after_a_transform_that_could_not_run(tmp_path: Path) -> None:
    config = load_config(shop(tmp_path, {"type": "duckdb", "path": str(tmp_path / "warehouse.duckdb")}))
    assert run_pipeline(config).exit_code == 0
    before = stock_levels(tmp_path / "warehouse.duckdb")

    # new stock rows load, but the dbt project is away (an unmounted share): the transform fails
    write_lines(tmp_path / "data" / "stock" / "day2.jsonl", [{"store": "west", "sku": "q", "qty": 7}])
    (tmp_path / "dbt").rename(tmp_path / "dbt-away")
    failed = run_pipeline(config)
    assert failed.exit_code == 1 and "does not exist" in (failed.transform_error or "")
    assert sum(sum(t.rows_loaded.values()) for t in failed.tables) == 1
    assert stock_levels(tmp_path / "warehouse.duckdb") == before

    # back again, and no new file: the run still builds, so the models show the rows loaded meanwhile
    (tmp_path / "dbt-away").rename(tmp_path / "dbt")
    caught_up = run_pipeline(config)
    assert caught_up.exit_code == 0 and caught_up.transform is not None and caught_up.transform.skipped is None
    assert ("west", 7) in stock_levels(tmp_path / "warehouse.duckdb")
    idle = run_pipeline(config).transform
    assert idle is not None and idle.skipped
