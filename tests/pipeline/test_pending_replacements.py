"""A file rewritten while its first version waits in the lake: the load lands only the new version.

Two extractions reach the lake before one load (a run whose load failed, then the next run):
the second commit replaces the file's rows, and the load applies it after the first.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from shopflow.config import load_config
from shopflow.config.model import FileSource
from shopflow.engine import connect
from shopflow.pipeline.extract_files import extract_file_table
from shopflow.warehouse.base import RowChanges
from shopflow.warehouse.factory import open_warehouse
from tests.helpers import csv_bytes, run, write_pipeline


def _extract(config_path: Path) -> None:
    """Extract the pipeline's one file table into the lake, without loading it."""
    config = load_config(config_path)
    source = config.sources[0]
    assert isinstance(source, FileSource)
    con = connect()
    try:
        extract_file_table(con, config, source, source.tables[0], uuid.uuid4().hex)
    finally:
        con.close()


def _rows(config_path: Path, sql: str) -> list[tuple[Any, ...]]:
    with open_warehouse(load_config(config_path).warehouse, read_only=True) as warehouse:
        return [tuple(r) for r in warehouse.query(sql)]


@pytest.mark.parametrize("warehouse", ["duckdb", "postgres"])
def test_two_extracts_of_a_rewritten_file_then_one_load_keep_only_its_new_rows(
    tmp_path: Path, request: pytest.FixtureRequest, warehouse: str
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "daily.csv").write_bytes(csv_bytes([(1, "old"), (2, "old"), (3, "old")], ["id", "note"]))
    (drop / "other.csv").write_bytes(csv_bytes([(9, "other")], ["id", "note"]))
    config = write_pipeline(tmp_path, str(drop), [{"name": "orders", "files": "*.csv", "write_disposition": "append",
                                                  "on_file_change": "replace"}])
    if warehouse == "postgres":
        url = urlsplit(request.getfixturevalue("postgres_database"))
        settings = yaml.safe_load(config.read_text(encoding="utf-8"))
        settings["warehouse"] = {"type": "postgres", "host": url.hostname, "port": url.port, "user": url.username,
                                 "database": url.path.lstrip("/")}
        config.write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")

    _extract(config)
    (drop / "daily.csv").write_bytes(csv_bytes([(1, "new"), (4, "new")], ["id", "note"]))
    _extract(config)
    report = run(config)  # nothing new to extract: loads both pending commits at once

    assert report.exit_code == 0, report
    assert _rows(config, "SELECT id, note FROM raw.orders ORDER BY id") == [(1, "new"), (4, "new"), (9, "other")]
    [table] = report.tables
    assert table.rows_loaded == {"orders": 3}
    assert table.load is not None and table.load.changes("orders") == RowChanges(new=3)
    assert _rows(config, "SELECT count(*) FROM _shopflow.loads") == [(2,)]
    again = run(config)
    assert again.exit_code == 0, again
    assert _rows(config, "SELECT count(*) FROM raw.orders") == [(3,)]
