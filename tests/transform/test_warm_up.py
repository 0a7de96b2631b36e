"""A first run parses its dbt project while it extracts and loads; the build then re-reads only what changed.

The warm-up parse sees a `raw` source made from shopflow.yml alone, so the build must still get
the real one: the raw tables' columns and the generated key tests.
"""

from __future__ import annotations

import re
from pathlib import Path

from shopflow.config import load_config
from shopflow.pipeline.run import run_pipeline
from shopflow.transform.profile import work_dir
from tests.transform.test_raw_source import MODELS, shop


def test_a_first_run_parses_the_project_once_while_it_loads(tmp_path: Path) -> None:
    config = load_config(shop(tmp_path, {"type": "duckdb", "path": str(tmp_path / "warehouse.duckdb")}))

    report = run_pipeline(config)

    transform = report.transform
    assert transform is not None and transform.ok, report.transform_error
    assert {m.name: m.status for m in transform.models} == dict.fromkeys(MODELS, "success")
    tests = {t.name: t.status for t in transform.tests}
    assert tests["source_unique_raw_orders_id"] == tests["source_not_null_raw_orders_id"] == "pass"
    log = re.sub(r"\x1b\[[0-9;]*m", "", (work_dir(config) / "logs" / "dbt.log").read_text(encoding="utf-8"))
    full = [line for line in log.splitlines() if "Starting full parse" in line]
    assert len(full) == 1 and "MainThread" not in full[0], full  # on the warm-up thread, during the load
    assert "Partial parsing enabled" in log  # the build re-read the regenerated source only
