"""Source columns named like shopflow's own (`_sf_batch`, `_sf_file`, any `_sf_*`) load renamed, never overwritten.

shopflow adds `_sf_batch`, `_sf_file`, `_sf_load_date`, `_sf_loaded_at` to every row and
`_sf_idx` to child rows; a source column of one of those names used to be overwritten by
it. It now loads as `src_sf_...`, with its own values and a warning.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from pathlib import Path

import pytest
import yaml

from shopflow.config import load_config
from shopflow.errors import ConfigError
from tests.helpers import query, run, write_pipeline

CSV = b"id,_sf_batch,_sf_file,_sf_loaded_at,_sf_note\n1,batch-a,orders.csv,yesterday,x\n2,batch-b,other.csv,today,y\n"


def _drop(tmp_path: Path, files: dict[str, bytes]) -> Path:
    folder = tmp_path / "drop"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def test_csv_columns_named_like_shopflows_load_renamed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    drop = _drop(tmp_path, {"orders.csv": CSV})
    # The warning is given once per table and name in a process: this test's table has its own name.
    config = write_pipeline(tmp_path, str(drop), [{"name": "csv_orders", "files": "*.csv", "primary_key": "id"}])

    with caplog.at_level(logging.WARNING):
        assert run(config).exit_code == 0

    rows = query(config, "SELECT id, src_sf_batch, src_sf_file, src_sf_loaded_at, src_sf_note, _sf_batch, _sf_file "
                         "FROM raw.csv_orders ORDER BY id")
    assert [r[:5] for r in rows] == [(1, "batch-a", "orders.csv", "yesterday", "x"),
                                     (2, "batch-b", "other.csv", "today", "y")]
    assert all(re.fullmatch("[0-9a-f]{32}", r[5]) and r[6] == str(drop / "orders.csv") for r in rows)
    warned = [r.getMessage() for r in caplog.records if "src_sf_batch" in r.getMessage()]
    assert len(warned) == 1 and "'_sf_batch'" in warned[0] and "shopflow's own" in warned[0]


def test_a_declared_column_named_so_is_typed(tmp_path: Path) -> None:
    drop = _drop(tmp_path, {"orders.csv": b"id,_sf_amount\n1,2.50\n"})
    config = write_pipeline(tmp_path, str(drop), [
        {"name": "orders", "files": "*.csv", "primary_key": "id", "columns": {"_sf_amount": "decimal(10,2)"}}])

    assert run(config).exit_code == 0
    assert query(config, "SELECT typeof(src_sf_amount), src_sf_amount::VARCHAR FROM raw.orders") == [
        ("DECIMAL(10,2)", "2.50")]


def test_nested_keys_named_so_load_renamed(tmp_path: Path) -> None:
    orders = [{"id": 7, "meta": {"_sf_batch": "m"}, "lines": [{"_sf_idx": 40, "_sf_file": "f", "sku": "a"},
                                                               {"_sf_idx": 41, "_sf_file": "g", "sku": "b"}]}]
    drop = _drop(tmp_path, {"orders.json": json.dumps(orders).encode()})
    config = write_pipeline(tmp_path, str(drop), [{"name": "orders", "files": "*.json", "primary_key": "id"}])

    assert run(config).exit_code == 0
    assert query(config, "SELECT meta__src_sf_batch FROM raw.orders") == [("m",)]
    assert query(config, "SELECT _sf_idx, src_sf_idx, src_sf_file, sku, _sf_file FROM raw.orders__lines "
                         "ORDER BY _sf_idx") == [(0, 40, "f", "a", str(drop / "orders.json")),
                                                 (1, 41, "g", "b", str(drop / "orders.json"))]


def test_a_database_column_named_so_loads_renamed(tmp_path: Path) -> None:
    folder = tmp_path / "pipeline"
    folder.mkdir()
    with sqlite3.connect(folder / "shop.db") as db:
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, _sf_batch TEXT, _sf_deleted INTEGER)")
        db.executemany("INSERT INTO orders VALUES (?, ?, ?)", [(1, "theirs-1", 0), (2, "theirs-2", 1)])
    config = folder / "shopflow.yml"
    config.write_text(yaml.safe_dump({
        "pipeline": "db", "lake": str(folder / "lake"), "warehouse": {"path": str(folder / "warehouse.duckdb")},
        "sources": [{"name": "local", "type": "sqlite", "path": "shop.db"}],
    }), encoding="utf-8")

    assert run(config).exit_code == 0
    rows = query(config, "SELECT id, src_sf_batch, src_sf_deleted, _sf_batch FROM raw.orders ORDER BY id")
    assert [r[:3] for r in rows] == [(1, "theirs-1", 0), (2, "theirs-2", 1)]
    assert all(re.fullmatch("[0-9a-f]{32}", r[3]) for r in rows)


def test_a_key_named_like_shopflows_columns_is_a_config_error(tmp_path: Path) -> None:
    drop = _drop(tmp_path, {"orders.csv": b"_sf_id,x\n1,2\n"})
    config = write_pipeline(tmp_path, str(drop), [{"name": "orders", "files": "*.csv", "primary_key": "_sf_id"}])

    with pytest.raises(ConfigError) as raised:
        load_config(config)

    assert raised.value.exit_code == 2
    assert "primary_key '_sf_id'" in str(raised.value) and "write primary_key: src_sf_id" in str(raised.value)
