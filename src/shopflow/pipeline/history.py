"""Run history in the warehouse: `_shopflow.runs`, one row per run."""

from __future__ import annotations

from datetime import datetime

from shopflow.sql import qualified
from shopflow.warehouse.base import STATE_SCHEMA, Warehouse

RUNS = qualified(STATE_SCHEMA, "runs")


def record_run(
    warehouse: Warehouse, run_id: str, pipeline: str, started: datetime, finished: datetime,
    status: str, rows: int, quarantined: int, errors: list[str],
) -> None:
    """Append one run to the history."""
    warehouse.query(
        f"CREATE TABLE IF NOT EXISTS {RUNS} (run_id VARCHAR PRIMARY KEY, pipeline VARCHAR, "
        "started_at TIMESTAMP WITH TIME ZONE, finished_at TIMESTAMP WITH TIME ZONE, status VARCHAR, "
        "rows_loaded BIGINT, quarantined BIGINT, errors VARCHAR)"
    )
    warehouse.query(
        f"INSERT INTO {RUNS} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [run_id, pipeline, started, finished, status, rows, quarantined, "\n".join(errors) or None],
    )


def last_run(warehouse: Warehouse) -> tuple[object, ...] | None:
    """(run_id, finished_at, status) of the latest run, or None."""
    try:
        rows = warehouse.query(f"SELECT run_id, finished_at, status FROM {RUNS} ORDER BY finished_at DESC LIMIT 1")
    except Exception:  # no run recorded yet: the table does not exist
        return None
    return rows[0] if rows else None
