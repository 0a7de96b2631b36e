"""run_transform: dbt in-process on the pipeline's own warehouse, on DuckDB and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from shopflow.errors import ConfigError, ShopflowError, WarehouseError
from shopflow.transform import run_transform
from shopflow.transform.profile import work_dir
from tests.transform.conftest import Target, pipeline, seed_raw_orders, write_project

PER_CUSTOMER = """\
select customer, count(*) as orders, sum(total) as spent
from {{ source('raw', 'orders') }}
group by customer
"""


def test_builds_models_from_the_raw_source(target: Target) -> None:
    seed_raw_orders(target)
    project = write_project(target.folder / "dbt", {"per_customer": PER_CUSTOMER})
    config = pipeline(target)

    report = run_transform(config)

    assert report.ok and report.exit_code == 0
    assert [(m.name, m.status) for m in report.models] == [("per_customer", "success")]
    rows = target.query("SELECT customer, orders, spent FROM analytics.per_customer ORDER BY customer")
    assert rows == [("ann", 2, Decimal("15.25")), ("bob", 2, Decimal("21.50")), ("cy", 1, Decimal("7.00"))]
    # dbt's log is kept outside the project, which stays as the user wrote it
    assert report.log_path.is_file() and "per_customer" in report.log_path.read_text(encoding="utf-8")
    assert sorted(p.name for p in project.iterdir()) == ["dbt_project.yml", "models"]
    assert report.log_path.is_relative_to(work_dir(config))


def test_the_profile_comes_from_the_pipeline_file(target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    seed_raw_orders(target)
    write_project(target.folder / "dbt", {"per_customer": PER_CUSTOMER})
    secret = "s3cret-never-on-disk"
    monkeypatch.setenv("SF_TEST_PG_PASSWORD", secret)
    warehouse = target.warehouse()
    if target.kind == "postgres":
        warehouse["password"] = "${SF_TEST_PG_PASSWORD}"  # trust auth on the test server ignores it
    config = pipeline(target, {"project": "dbt", "schema": "marts"}, warehouse=warehouse)

    report = run_transform(config)

    assert report.ok, report
    assert target.tables("marts") == {"per_customer"}
    profile = yaml.safe_load((work_dir(config) / "profiles.yml").read_text(encoding="utf-8"))
    output = profile["shopflow"]["outputs"][profile["shopflow"]["target"]]
    assert output["schema"] == "marts"
    if target.kind == "duckdb":
        assert output["type"] == "duckdb"
        assert output["path"] == warehouse["path"]
    else:
        assert output["type"] == "postgres"
        assert (output["host"], output["port"], output["user"], output["dbname"]) == (
            warehouse["host"], warehouse["port"], warehouse["user"], warehouse["database"]
        )
        assert "env_var(" in output["password"]
    for path in work_dir(config).rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_select_builds_only_the_selected_models(target: Target) -> None:
    seed_raw_orders(target)
    write_project(target.folder / "dbt", {
        "per_customer": PER_CUSTOMER,
        "paid": "select * from {{ source('raw', 'orders') }} where status = 'paid'",
        "paid_total": "select sum(total) as total from {{ ref('paid') }}",
    })
    config = pipeline(target)

    report = run_transform(config, select=["paid+"])

    assert report.ok
    assert sorted(m.name for m in report.models) == ["paid", "paid_total"]
    assert target.tables("analytics") == {"paid", "paid_total"}
    assert target.query("SELECT total FROM analytics.paid_total") == [(Decimal("37.50"),)]


def test_full_refresh_rebuilds_incremental_models(target: Target) -> None:
    seed_raw_orders(target)
    # Each incremental build appends one row per order; a full refresh starts again.
    write_project(target.folder / "dbt", {"builds": (
        "{{ config(materialized='incremental') }}\n"
        "select id, '{{ invocation_id }}' as build from {{ source('raw', 'orders') }}\n"
    )})
    config = pipeline(target)

    assert run_transform(config).ok
    assert run_transform(config).ok
    assert target.query("SELECT count(*), count(DISTINCT build) FROM analytics.builds") == [(10, 2)]

    assert run_transform(config, full_refresh=True).ok
    assert target.query("SELECT count(*), count(DISTINCT build) FROM analytics.builds") == [(5, 1)]


BROKEN_TESTS = """\
version: 2
models:
  - name: per_customer
    columns:
      - name: customer
        data_tests: [unique]
  - name: broken
    columns:
      - name: no_such_column
        data_tests: [not_null]
"""


def test_a_broken_model_names_its_error_and_skips_only_its_dependents(target: Target) -> None:
    seed_raw_orders(target)
    write_project(target.folder / "dbt", {
        "per_customer": PER_CUSTOMER,
        "broken": "select no_such_column from {{ ref('per_customer') }}",
        "after_broken": "select * from {{ ref('broken') }}",
        "coupons": "select id, coupon from {{ source('raw', 'orders') }} where coupon is not null",
    }, BROKEN_TESTS)
    config = pipeline(target)

    report = run_transform(config)

    assert not report.ok and report.exit_code == 1
    models = {m.name: m for m in report.models}
    assert {name: m.status for name, m in models.items()} == {
        "per_customer": "success", "broken": "error", "after_broken": "skipped", "coupons": "success",
    }
    assert models["broken"].message is not None
    assert "broken" in models["broken"].message and "no_such_column" in models["broken"].message
    assert models["after_broken"].message is not None and "broken" in models["after_broken"].message
    assert target.tables("analytics") == {"per_customer", "coupons"}
    assert target.query("SELECT count(*) FROM raw.orders") == [(5,)]
    # the tests of a model that did not build are not run against a missing table
    assert [(t.name, t.status) for t in report.tests] == [("unique_per_customer_customer", "pass")]


FAILING_TESTS = """\
version: 2
models:
  - name: orders_copy
    columns:
      - name: id
        data_tests: [unique, not_null]
      - name: status
        data_tests: [not_null]
      - name: coupon
        data_tests: [not_null]
      - name: customer
        data_tests:
          - accepted_values:
              arguments:
                values: [ann, bob]
"""


def test_failing_tests_are_reported_by_name_with_their_failing_rows(target: Target) -> None:
    seed_raw_orders(target)
    write_project(target.folder / "dbt", {
        "orders_copy": "select * from {{ source('raw', 'orders') }}",
        "paid": "select * from {{ ref('orders_copy') }} where status = 'paid'",
    }, FAILING_TESTS)

    report = run_transform(pipeline(target))

    assert not report.ok and report.exit_code == 1
    # a failing data test reports bad rows; it does not hold back the models downstream
    assert {m.name: m.status for m in report.models} == {"orders_copy": "success", "paid": "success"}
    assert target.query("SELECT count(*) FROM analytics.paid") == [(3,)]
    outcome = {t.name: (t.status, t.failures) for t in report.tests}
    assert outcome == {
        "unique_orders_copy_id": ("pass", None),
        "not_null_orders_copy_id": ("pass", None),
        "not_null_orders_copy_status": ("fail", 1),
        "not_null_orders_copy_coupon": ("fail", 2),
        "accepted_values_orders_copy_customer__ann__bob": ("fail", 1),
    }


def test_after_a_transform_another_process_can_open_the_duckdb_file(tmp_path: Path) -> None:
    target = Target("duckdb", tmp_path)
    seed_raw_orders(target)
    write_project(tmp_path / "dbt", {"per_customer": PER_CUSTOMER})
    assert run_transform(pipeline(target)).ok

    # The next `shopflow run` is another process that needs DuckDB's write lock.
    code = f"import duckdb; duckdb.connect({str(tmp_path / 'warehouse.duckdb')!r}).close()"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_a_pipeline_without_a_transform_section_is_a_config_error(tmp_path: Path) -> None:
    target = Target("duckdb", tmp_path)
    config = pipeline(target).model_copy(update={"transform": None})
    with pytest.raises(ConfigError) as error:
        run_transform(config)
    assert "transform" in str(error.value.fix)


def test_a_missing_project_folder_is_a_config_error(tmp_path: Path) -> None:
    target = Target("duckdb", tmp_path)
    seed_raw_orders(target)
    with pytest.raises(ConfigError) as error:
        run_transform(pipeline(target, {"project": "models_here"}))
    assert str(tmp_path / "models_here") in error.value.message
    assert error.value.fix and "transform.project" in error.value.fix


def test_a_folder_without_dbt_project_yml_is_a_config_error(tmp_path: Path) -> None:
    target = Target("duckdb", tmp_path)
    seed_raw_orders(target)
    (tmp_path / "dbt" / "models").mkdir(parents=True)
    with pytest.raises(ConfigError) as error:
        run_transform(pipeline(target))
    assert "dbt_project.yml" in error.value.message
    assert error.value.exit_code == 2


def test_transforming_before_the_first_load_says_to_run_first(tmp_path: Path) -> None:
    target = Target("duckdb", tmp_path)
    write_project(tmp_path / "dbt", {"per_customer": PER_CUSTOMER})
    with pytest.raises(WarehouseError) as error:
        run_transform(pipeline(target))
    assert error.value.fix and "shopflow run" in error.value.fix
    assert not (tmp_path / "warehouse.duckdb").exists()


def test_a_project_dbt_cannot_parse_names_the_project(tmp_path: Path) -> None:
    target = Target("duckdb", tmp_path)
    seed_raw_orders(target)
    write_project(tmp_path / "dbt", {"per_customer": "select {{ unclosed( from x"})
    with pytest.raises(ShopflowError) as error:
        run_transform(pipeline(target))
    assert str(tmp_path / "dbt") in error.value.message
    assert "per_customer" in error.value.message


def test_models_may_not_be_built_in_the_raw_schema(tmp_path: Path) -> None:
    target = Target("duckdb", tmp_path)
    seed_raw_orders(target)
    write_project(tmp_path / "dbt", {"orders": "select 1 as id"})
    with pytest.raises(ConfigError) as error:
        run_transform(pipeline(target, {"project": "dbt", "schema": "raw"}))
    assert "raw" in error.value.message and error.value.fix and "analytics" in error.value.fix
    assert target.query("SELECT count(*) FROM raw.orders") == [(5,)]
