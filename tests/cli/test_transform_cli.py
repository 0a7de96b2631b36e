"""`shopflow transform`, run as a subprocess: its summary and exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import yaml

from tests.cli.test_cli import shopflow
from tests.transform.conftest import Target, seed_raw_orders, write_config, write_project

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "glossier"


def _real_orders(*folders: Path) -> int:
    ids = {
        order["id"]
        for folder in folders
        for path in folder.glob("*.json")
        for order in json.loads(path.read_text(encoding="utf-8"))["orders"]
        if not order["test"]
    }
    return len(ids)


def test_glossier_run_then_transform_builds_the_models_and_keeps_the_example_clean(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(EXAMPLE / "data", data)
    env = {"GLOSSIER_INPUT": str(data), "SHOPFLOW_LAKE": str(tmp_path / "lake"),
           "SHOPFLOW_WAREHOUSE": str(tmp_path / "warehouse.duckdb")}
    before = sorted(str(p.relative_to(EXAMPLE)) for p in EXAMPLE.rglob("*"))
    config = str(EXAMPLE / "shopflow.yml")

    first = shopflow("run", "-c", config, cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "models: 3 built, 0 failed, 0 skipped" in first.stdout  # `run` ends with the models
    done = shopflow("transform", "-c", config, cwd=tmp_path, env=env)

    assert done.returncode == 0, done.stdout + done.stderr
    for model in ("orders_table", "users_table", "order_details"):
        assert model in done.stdout
    assert "models: 3 built, 0 failed, 0 skipped" in done.stdout
    assert "0 failed" in done.stdout.split("tests:")[1]
    assert f"dbt log: {tmp_path / 'warehouse.dbt' / 'logs' / 'dbt.log'}" in done.stdout

    # the next day arrives: a run loads it and rebuilds the models; a transform rebuilds only what is selected
    shutil.copytree(EXAMPLE / "more_data", data, dirs_exist_ok=True)
    assert shopflow("run", "-c", config, cwd=tmp_path, env=env).returncode == 0
    again = shopflow("transform", "-c", config, "--select", "orders_table", cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "models: 1 built" in again.stdout and "users_table" not in again.stdout

    con = duckdb.connect(env["SHOPFLOW_WAREHOUSE"], read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM analytics.orders_table").fetchall() == [
            (_real_orders(EXAMPLE / "data", EXAMPLE / "more_data"),)
        ]
        # users_table was rebuilt by the run, so it counts the fifth day's orders too
        assert con.execute("SELECT sum(number_of_orders) FROM analytics.users_table").fetchall() == [
            (_real_orders(EXAMPLE / "data", EXAMPLE / "more_data"),)
        ]
    finally:
        con.close()
    assert sorted(str(p.relative_to(EXAMPLE)) for p in EXAMPLE.rglob("*")) == before


def test_a_failed_model_and_failed_tests_exit_1_and_are_named(tmp_path: Path) -> None:
    target = Target("duckdb", tmp_path)
    seed_raw_orders(target)
    write_project(tmp_path / "dbt", {
        "orders_copy": "select * from {{ source('raw', 'orders') }}",
        "broken": "select no_such_column, [status] as pair from {{ ref('orders_copy') }}",
        "after_broken": "select * from {{ ref('broken') }}",
    }, "version: 2\nmodels:\n  - name: orders_copy\n    columns:\n      - name: coupon\n"
       "        data_tests: [not_null]\n")
    config = write_config(target)

    done = shopflow("transform", "-c", str(config), cwd=tmp_path)

    assert done.returncode == 1, done.stdout + done.stderr
    assert "models: 1 built, 1 failed, 1 skipped; tests: 0 passed, 1 failed" in done.stdout
    assert "model broken failed" in done.stdout and "no_such_column" in done.stdout
    assert "[status] as pair" in done.stdout  # SQL quoted in the error is printed as is, not read as markup
    assert "model after_broken skipped: upstream model broken failed" in done.stdout
    assert "not_null_orders_copy_coupon: 2 failing rows" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_without_a_transform_section_exits_2_with_a_fix(tmp_path: Path) -> None:
    target = Target("duckdb", tmp_path)
    config = write_config(target)
    text = yaml.safe_load(config.read_text(encoding="utf-8"))
    del text["transform"]
    config.write_text(yaml.safe_dump(text), encoding="utf-8")

    done = shopflow("transform", "-c", str(config), cwd=tmp_path)

    assert done.returncode == 2, done.stdout + done.stderr
    assert "no transform step" in done.stderr
    assert "fix:" in done.stderr and "transform:" in done.stderr


def test_a_missing_dbt_project_exits_2_with_a_fix(tmp_path: Path) -> None:
    target = Target("duckdb", tmp_path)
    seed_raw_orders(target)
    config = write_config(target, {"project": "nowhere"})

    done = shopflow("transform", "-c", str(config), cwd=tmp_path)

    assert done.returncode == 2, done.stdout + done.stderr
    assert str(tmp_path / "nowhere") in done.stderr
    assert "fix:" in done.stderr
    assert "Traceback" not in done.stderr


def test_help_lists_transform_and_its_options(tmp_path: Path) -> None:
    done = shopflow("--help", cwd=tmp_path)
    assert done.returncode == 0 and "transform" in done.stdout
    sub = shopflow("transform", "--help", cwd=tmp_path)
    assert sub.returncode == 0, sub.stderr
    for option in ("--config", "--select", "--full-refresh"):
        assert option in sub.stdout
