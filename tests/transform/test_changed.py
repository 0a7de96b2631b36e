"""Fast when nothing changed: a run builds no model when no raw table changed, else only those downstream.

Real runs of one pipeline (order and stock files, three models) one after the other: a run with
no new file builds nothing, a new stock file rebuilds only the stock model, and a changed or
broken project, or a failed build, brings the next run back to a full build.
"""

from __future__ import annotations

from pathlib import Path

from shopflow.config import load_config
from shopflow.pipeline.run import run_pipeline
from shopflow.transform.report import TransformReport
from tests.transform.test_raw_source import MODELS, shop, write_lines


def built(report: TransformReport | None) -> dict[str, str]:
    assert report is not None
    return {m.name: m.status for m in report.models}


def test_runs_build_only_what_the_new_data_changes(tmp_path: Path) -> None:
    config = load_config(shop(tmp_path, {"type": "duckdb", "path": str(tmp_path / "warehouse.duckdb")}))
    models = tmp_path / "dbt" / "models"

    first = run_pipeline(config).transform
    assert built(first) == dict.fromkeys(MODELS, "success")

    # nothing new: the models are up to date, dbt does not run
    idle = run_pipeline(config).transform
    assert idle is not None and idle.ok and idle.models == [] and idle.skipped
    assert "no raw table changed" in idle.skipped

    # a stock file: only the model over raw.stock is rebuilt, with the tests downstream of it
    write_lines(tmp_path / "data" / "stock" / "day2.jsonl", [{"store": "east", "sku": "z", "qty": 1}])
    stock = run_pipeline(config).transform
    assert built(stock) == {"stock_levels": "success"}
    assert stock is not None and stock.selected == ["source:raw.stock+"]
    assert [t.name for t in stock.tests if "orders" in t.name] == []
    assert any(t.name.startswith("shopflow_source_unique_combination_raw_stock") for t in stock.tests)
    again = run_pipeline(config).transform  # and nothing again
    assert again is not None and again.skipped

    # a changed model: the project changed, so everything is built again
    (models / "order_totals.sql").write_text(MODELS["order_totals"] + "\n-- counts line items\n", encoding="utf-8")
    edited = run_pipeline(config).transform
    assert built(edited) == dict.fromkeys(MODELS, "success")

    # a broken model fails the build; the next run, with no new data, builds again instead of skipping
    (models / "stock_levels.sql").write_text("select nope from {{ source('raw', 'stock') }}", encoding="utf-8")
    broken = run_pipeline(config)
    assert broken.exit_code == 1 and built(broken.transform)["stock_levels"] == "error"
    (models / "stock_levels.sql").write_text(MODELS["stock_levels"], encoding="utf-8")
    fixed = run_pipeline(config).transform
    assert built(fixed) == dict.fromkeys(MODELS, "success")
