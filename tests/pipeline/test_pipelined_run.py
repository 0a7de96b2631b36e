"""A run extracts the next table while the previous one loads; killed in between, it reruns to a clean state.

A real `shopflow run` (CLI subprocess) of a pipeline with two tables over the Glossier files:
the first table's load is held inside its warehouse transaction (checkpoint `load_applied`)
while the second table is extracted into the lake. Killed with SIGKILL there, the rerun loads
both tables and the warehouse equals a clean run's, row for row, every lake commit applied once.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from tests.pipeline.test_crash_recovery import (
    CONFIG,
    DAYS,
    PAUSE_WAIT,
    Workspace,
    business_rows,
    expected_counts,
    ledger,
    pause,
    run_to_end,
)

TABLES = ("orders", "orders__line_items", "orders_copy", "orders_copy__line_items")


def two_tables(root: Path) -> Workspace:
    """The Glossier pipeline without dbt, with a second table reading the same files (`orders_copy`)."""
    root.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    config.pop("transform")
    tables = config["sources"][0]["tables"]
    tables.append({**tables[0], "name": "orders_copy"})
    path = root / "shopflow-two.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    ws = Workspace(root, path)
    ws.add(DAYS)
    return ws


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = two_tables(tmp_path_factory.mktemp("clean-two"))
    run_to_end(ws)
    return ws


def test_a_run_killed_while_a_load_is_held_reruns_to_the_clean_state(tmp_path: Path, clean: Workspace) -> None:
    ws = two_tables(tmp_path / "crash")
    paused = pause(ws, "load_applied")  # the load of orders, inside its transaction
    try:
        deadline = time.monotonic() + PAUSE_WAIT
        while not ws.delta_log("orders_copy") and time.monotonic() < deadline:
            time.sleep(0.1)
        extracted_meanwhile = ws.delta_log("orders_copy")
    finally:
        paused.kill()
    assert extracted_meanwhile, "the second table is extracted while the first one's load is held"
    assert ledger(ws) == [], "the held load never committed"

    run_to_end(ws)

    counts = expected_counts(DAYS)
    for table in TABLES:
        columns, rows = business_rows(ws, table)
        assert (columns, rows) == business_rows(clean, table), f"raw.{table} differs from a clean run"
        assert len(rows) == counts[table.replace("_copy", "")], f"raw.{table} has {len(rows)} rows"
    assert sorted(ledger(ws)) == sorted(ledger(clean))
    assert len(set(ledger(ws))) == len(ledger(ws))
