"""dbt wired for you: models over the raw tables build without a sources.yml, with shopflow's package.

A pipeline loads order files (with line items) and stock files (a key of two columns) through a
real run, then builds a dbt project that holds only models: the `raw` source, its key tests and
the `shopflow` macros come from shopflow, and the project's folder is left as it was.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from shopflow.config import load_config
from shopflow.pipeline.run import run_pipeline
from shopflow.transform.runner import prepare
from tests.transform.conftest import SOURCES_YML, Target

MODELS = {
    "order_totals": (
        "select o.id, o.customer, count(li.sku) as items\n"
        "from {{ source('raw', 'orders') }} as o\n"
        "left join {{ source('raw', 'orders__line_items') }} as li on li.order_id = o.id\n"
        "group by o.id, o.customer"
    ),
    "stock_levels": "select store, sum(qty) as qty from {{ source('raw', 'stock') }} group by store",
    "latest_customers": (
        "with latest as ({{ shopflow.latest_versions(source('raw', 'orders'), 'customer') }})\n"
        "select customer, id as last_order from latest"
    ),
}
MODEL_TESTS = """\
version: 2
models:
  - name: stock_levels
    data_tests:
      - shopflow.expression_is_true: {expression: "qty > 0"}
  - name: latest_customers
    data_tests:
      - shopflow.unique_combination: {columns: [customer]}
"""
ORDERS = [
    {"id": 1, "customer": "ann", "updated_at": "2024-05-01T10:00:00", "line_items": [{"sku": "a"}, {"sku": "b"}]},
    {"id": 2, "customer": "bob", "updated_at": "2024-05-01T11:00:00", "line_items": [{"sku": "c"}]},
    {"id": 3, "customer": "ann", "updated_at": "2024-05-01T12:00:00", "line_items": []},
]
STOCK = [{"store": "north", "sku": "a", "qty": 5}, {"store": "north", "sku": "b", "qty": 2},
         {"store": "south", "sku": "a", "qty": 7}]


def shop(folder: Path, warehouse: dict[str, Any]) -> Path:
    """A pipeline of order and stock files and a dbt project with only models in it; returns shopflow.yml."""
    data = folder / "data"
    (data / "orders").mkdir(parents=True)
    (data / "stock").mkdir()
    write_lines(data / "orders" / "day1.jsonl", ORDERS)
    write_lines(data / "stock" / "day1.jsonl", STOCK)
    project = folder / "dbt" / "models"
    project.mkdir(parents=True)
    (folder / "dbt" / "dbt_project.yml").write_text(
        "name: shop\nversion: '1.0'\nconfig-version: 2\nprofile: shopflow\n"
        "models:\n  shop:\n    +materialized: table\n",
        encoding="utf-8",
    )
    for name, sql in MODELS.items():
        (project / f"{name}.sql").write_text(sql, encoding="utf-8")
    (project / "schema.yml").write_text(MODEL_TESTS, encoding="utf-8")
    config = {
        "pipeline": "shop",
        "lake": str(folder / "lake"),
        "warehouse": warehouse,
        "transform": {"project": "dbt"},
        "sources": [{"name": "drop", "type": "files", "location": str(data), "tables": [
            {"name": "orders", "files": "orders/*.jsonl", "primary_key": "id", "cursor": "updated_at",
             "write_disposition": "merge"},
            {"name": "stock", "files": "stock/*.jsonl", "primary_key": ["store", "sku"],
             "write_disposition": "merge"},
        ]}],
    }
    path = folder / "shopflow.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def write_lines(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def files_of(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_models_over_raw_tables_build_without_a_sources_file(target: Target) -> None:
    config = load_config(shop(target.folder, target.warehouse()))
    before = files_of(target.folder / "dbt")

    report = run_pipeline(config)

    transform = report.transform
    assert transform is not None and report.transform_error is None
    assert {m.name: m.status for m in transform.models} == dict.fromkeys(MODELS, "success")
    assert transform.ok, [(t.name, t.status, t.message) for t in transform.tests]
    assert target.query("SELECT id, customer, items FROM analytics.order_totals ORDER BY id") == [
        (1, "ann", 2), (2, "bob", 1), (3, "ann", 0)]
    assert target.query("SELECT customer, last_order FROM analytics.latest_customers ORDER BY 1") == [
        ("ann", 3), ("bob", 2)]
    # the generated source tests each key: not_null and unique for a merge key, the package's
    # unique_combination for a key of two columns, not_null of a child table's parent key
    tests = {t.name: t.status for t in transform.tests}
    assert tests["source_unique_raw_orders_id"] == tests["source_not_null_raw_orders_id"] == "pass"
    assert tests["source_not_null_raw_orders__line_items_order_id"] == "pass"
    assert [s for n, s in tests.items() if n.startswith("shopflow_source_unique_combination_raw_stock")] == ["pass"]
    assert [s for n, s in tests.items() if "expression_is_true_stock_levels" in n] == ["pass"]
    # the user's project is untouched: no dbt_packages/, target/ or generated file in it
    assert files_of(target.folder / "dbt") == before


def test_a_project_that_defines_the_raw_source_keeps_its_own(tmp_path: Path) -> None:
    path = shop(tmp_path, {"type": "duckdb", "path": str(tmp_path / "warehouse.duckdb")})
    own = tmp_path / "dbt" / "models" / "sources.yml"
    own.write_text(SOURCES_YML, encoding="utf-8")
    config = load_config(path)
    run_pipeline(config.model_copy(update={"transform": None}))  # the raw tables, to generate from

    prepared = prepare(config)

    assert prepared.raw_defined_by == own.resolve()
    package = prepared.root / "dbt_packages" / "shopflow"
    assert (package / "macros" / "latest_versions.sql").is_file()
    assert not (package / "models" / "raw_sources.yml").exists()

    own.unlink()  # without its own, the project gets the generated one, naming every raw table
    generated = yaml.safe_load((prepare(config).root / "dbt_packages" / "shopflow" / "models" /
                                "raw_sources.yml").read_text(encoding="utf-8"))
    (source,) = generated["sources"]
    assert source["name"] == "raw"
    assert {t["name"] for t in source["tables"]} == {"orders", "orders__line_items", "stock", "_quarantine"}
