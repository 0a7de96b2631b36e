"""The Glossier example's pipeline into a PostgreSQL warehouse lands what it lands in DuckDB."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from shopflow.config import load_config
from shopflow.warehouse.factory import open_warehouse
from tests.conftest import GLOSSIER_DATA, GLOSSIER_MORE, ROOT
from tests.helpers import query, run, write_pipeline

CHECKS = [
    "SELECT count(*), count(DISTINCT id), sum(total_price), max(updated_at) FROM raw.orders",
    "SELECT count(*), sum(quantity), count(DISTINCT order_id) FROM raw.orders__line_items",
    "SELECT count(*) FROM raw.orders o WHERE NOT EXISTS "
    "(SELECT 1 FROM raw.orders__line_items i WHERE i.order_id = o.id)",
]


def _example_tables() -> list[dict[str, Any]]:
    example = yaml.safe_load((ROOT / "examples" / "glossier" / "shopflow.yml").read_text(encoding="utf-8"))
    tables: list[dict[str, Any]] = example["sources"][0]["tables"]
    return tables


def _pipeline(folder: Path, drop: Path, warehouse: dict[str, Any] | None = None) -> Path:
    folder.mkdir()
    path = write_pipeline(folder, str(drop), _example_tables(), source="glossier", pipeline="glossier")
    if warehouse is not None:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        config["warehouse"] = warehouse
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def _postgres_rows(config_path: Path, sql: str) -> list[tuple[Any, ...]]:
    with open_warehouse(load_config(config_path).warehouse, read_only=True) as warehouse:
        return [tuple(r) for r in warehouse.query(sql)]


def test_glossier_into_postgres_matches_duckdb(tmp_path: Path, postgres_database: str) -> None:
    drop = tmp_path / "drop"
    shutil.copytree(GLOSSIER_DATA, drop)
    url = urlsplit(postgres_database)
    duck = _pipeline(tmp_path / "duck", drop)
    pg = _pipeline(tmp_path / "pg", drop, {
        "type": "postgres", "host": url.hostname, "port": url.port, "user": url.username,
        "database": url.path.lstrip("/"),
    })

    for day in ("first", "next"):
        if day == "next":  # a later day's file, with updates to earlier orders, merges the same way
            extra = sorted(GLOSSIER_MORE.glob("*.json"))[0]
            shutil.copy(extra, drop / extra.name)
        duck_report, pg_report = run(duck), run(pg)
        assert (duck_report.exit_code, pg_report.exit_code) == (0, 0)
        assert pg_report.tables[0].rows_loaded == duck_report.tables[0].rows_loaded
        for sql in CHECKS:
            assert _postgres_rows(pg, sql) == query(duck, sql), sql

    orders, _, total, _ = _postgres_rows(pg, CHECKS[0])[0]
    assert orders > 700 and total > 0
    # a run with nothing new changes nothing, and the run history is in the warehouse too
    assert run(pg).tables[0].files_new == 0
    assert _postgres_rows(pg, CHECKS[0])[0][0] == orders
    assert _postgres_rows(pg, "SELECT count(*), min(status) FROM _shopflow.runs") == [(3, "ok")]
