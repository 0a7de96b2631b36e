"""Change data capture configured in shopflow.yml: `shopflow run` captures, `shopflow cdc` shows and drops the slot."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from tests.sources.cdc.conftest import Capture

from shopflow.config import load_config
from shopflow.pipeline.run import run_pipeline


def _write_pipeline(capture: Capture) -> Path:
    config: dict[str, Any] = {
        "pipeline": "cdc",
        "lake": str(capture.folder / "lake"),
        "warehouse": {"path": str(capture.folder / "warehouse.duckdb")},
        "sources": [{"name": "shop", "type": "postgres", "url": capture.url, "cdc": {"slot": capture.slot},
                     "tables": [{"name": "orders"}]}],
    }
    path = capture.folder / "shopflow.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def _shopflow(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shopflow.cli.main", *args], capture_output=True, text=True,
                          timeout=300)


def test_a_cdc_source_follows_inserts_updates_and_deletes(capture: Capture) -> None:
    capture.execute("INSERT INTO orders SELECT g, g * 1.5, now(), 'n' || g, false, '{}' FROM generate_series(1, 50) g")
    path = _write_pipeline(capture)

    first = run_pipeline(load_config(path))
    assert [t.error for t in first.tables] == [None]
    assert first.tables[0].rows_loaded == {"orders": 50}

    capture.execute("UPDATE orders SET amount = 999.99, paid = true WHERE id <= 10")
    capture.execute("DELETE FROM orders WHERE id > 45")
    capture.execute("INSERT INTO orders VALUES (100, 1.25, now(), 'late', false, '{\"a\": 1}')")
    second = run_pipeline(load_config(path))

    assert [t.error for t in second.tables] == [None]
    assert capture.warehouse_orders() == capture.source_orders()
    expected = sum(Decimal("1.5") * g for g in range(11, 46)) + 10 * Decimal("999.99") + Decimal("1.25")
    assert capture.warehouse("SELECT count(*), sum(amount) FROM raw.orders") == [(46, expected)]


def test_cdc_status_and_drop_leave_no_slot_behind(capture: Capture) -> None:
    capture.execute("INSERT INTO orders VALUES (1, 1.00, now(), 'a', false, '{}')")
    path = _write_pipeline(capture)
    assert _shopflow("run", "-c", str(path)).returncode == 0

    status = _shopflow("cdc", "status", "-c", str(path))
    assert status.returncode == 0, status.stderr
    assert f"slot {capture.slot}" in status.stdout and "bytes of WAL retained" in status.stdout

    dropped = _shopflow("cdc", "drop", "-c", str(path))
    assert dropped.returncode == 0, dropped.stderr
    assert f"replication slot {capture.slot}" in dropped.stdout
    assert capture.source(f"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{capture.slot}'") == [(0,)]
    again = _shopflow("cdc", "drop", "-c", str(path))
    assert "nothing to drop" in again.stdout


def test_cdc_on_a_mysql_source_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "shopflow.yml"
    path.write_text(yaml.safe_dump({"pipeline": "p", "sources": [
        {"name": "shop", "type": "mysql", "host": "127.0.0.1", "database": "x", "cdc": {}, "tables": [{"name": "t"}]}
    ]}), encoding="utf-8")
    result = _shopflow("run", "-c", str(path))
    assert result.returncode == 2
    assert "cdc: needs type: postgres" in result.stderr
