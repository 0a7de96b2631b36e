"""A text value holding a NUL byte is quarantined at extract, so every load into PostgreSQL still succeeds.

PostgreSQL cannot store a NUL byte in text: one such value in a CSV, JSON or database row
used to fail every later load of its table (`invalid byte sequence for encoding "UTF8": 0x00`
at the COPY into the stage), with nothing quarantined.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb
import pytest
import yaml

from shopflow.config import load_config
from shopflow.warehouse.factory import open_warehouse
from tests.helpers import run, write_pipeline

NUL = "\x00"
REASON = "text value contains a NUL byte (0x00), which PostgreSQL cannot store"


def _warehouse(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    return {"type": "postgres", "host": parts.hostname, "port": parts.port, "user": parts.username,
            "database": parts.path.lstrip("/")}


def _rows(config: Path, sql: str) -> list[tuple[Any, ...]]:
    with open_warehouse(load_config(config).warehouse, read_only=True) as warehouse:
        return [tuple(r) for r in warehouse.query(sql)]


def _parquet(tmp_path: Path) -> bytes:
    path = tmp_path / "made.parquet"
    duckdb.sql(f"COPY (SELECT * FROM (VALUES (1, 'Ada'), (2, 'Gr' || chr(0) || 'ace')) AS t(id, name)) "
               f"TO '{path}' (FORMAT parquet)")
    return path.read_bytes()


def _files(tmp_path: Path) -> dict[str, tuple[str, bytes]]:
    """Per format: a file name and data whose row 2 holds a NUL byte (row 1 is good)."""
    records = [{"id": 1, "name": "Ada"}, {"id": 2, "name": f"Gr{NUL}ace"}]
    return {
        "csv": ("people.csv", f"id,name\n1,Ada\n2,Gr{NUL}ace\n".encode()),
        "jsonl": ("people.jsonl", "".join(json.dumps(r) + "\n" for r in records).encode()),
        "json": ("people.json", json.dumps(records).encode()),
        "nested": ("people.json", json.dumps([
            {"id": 1, "name": "Ada", "tags": ["a"]}, {"id": 2, "name": "Grace", "tags": ["ok", f"b{NUL}d"]}]).encode()),
        "parquet": ("people.parquet", _parquet(tmp_path)),
    }


@pytest.mark.parametrize("kind", ["csv", "jsonl", "json", "nested", "parquet"])
def test_a_nul_byte_quarantines_its_row_and_later_loads_succeed(
    tmp_path: Path, postgres_database: str, kind: str
) -> None:
    name, data = _files(tmp_path)[kind]
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / name).write_bytes(data)
    pattern = "*." + name.rsplit(".", 1)[1]
    config = write_pipeline(tmp_path, str(drop), [{"name": "people", "files": pattern, "primary_key": "id"}])
    settings = yaml.safe_load(config.read_text(encoding="utf-8"))
    settings["warehouse"] = _warehouse(postgres_database)
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")

    first = run(config)

    assert first.exit_code == 3, first
    assert _rows(config, "SELECT id, name FROM raw.people") == [(1, "Ada")]
    column = "tags" if kind == "nested" else "name"
    [(key, reason, raw)] = _rows(config, "SELECT key, reason, raw FROM raw._quarantine")
    assert (key, reason) == ("[2]", f"{column}: {REASON}")
    assert "\\u0000" in raw  # the row as JSON, its NUL escaped

    more = drop / ("more" + name[name.index("."):])
    if kind == "parquet":
        duckdb.sql(f"COPY (SELECT 3 AS id, 'Katherine' AS name) TO '{more}' (FORMAT parquet)")
    else:
        more.write_bytes({"csv": b"id,name\n3,Katherine\n", "jsonl": b'{"id": 3, "name": "Katherine"}\n'}.get(
            kind, b'[{"id": 3, "name": "Katherine"}]'))
    second = run(config)

    assert second.exit_code == 0, second
    assert _rows(config, "SELECT id, name FROM raw.people ORDER BY id") == [(1, "Ada"), (3, "Katherine")]


def test_a_nul_byte_from_a_database_source_is_quarantined(tmp_path: Path, postgres_database: str) -> None:
    folder = tmp_path / "pipeline"
    folder.mkdir()
    shop = folder / "shop.db"
    with sqlite3.connect(shop) as db:
        db.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT)")
        db.executemany("INSERT INTO people VALUES (?, ?, ?)", [
            (1, "Ada", "2024-01-01 10:00:00"), (2, f"Gr{NUL}ace", "2024-01-01 11:00:00")])
    config = folder / "shopflow.yml"
    config.write_text(yaml.safe_dump({
        "pipeline": "db", "lake": str(folder / "lake"), "warehouse": _warehouse(postgres_database),
        "sources": [{"name": "local", "type": "sqlite", "path": "shop.db",
                     "defaults": {"mode": "incremental", "cursor": "updated_at"}}],
    }), encoding="utf-8")

    first = run(config)

    assert first.exit_code == 3, first
    assert _rows(config, "SELECT id, name FROM raw.people") == [(1, "Ada")]
    [(key, reason, raw)] = _rows(config, "SELECT key, reason, raw FROM raw._quarantine")
    assert (key, reason) == ("[2]", f"name: {REASON}")
    assert "\\u0000" in raw
    # The quarantined row's cursor counts: it is not read again. A new column takes the Arrow path
    # (DuckDB's COPY wrote the first run's rows); it quarantines the same way.
    with sqlite3.connect(shop) as db:
        db.execute("ALTER TABLE people ADD COLUMN note TEXT")
        db.executemany("INSERT INTO people VALUES (?, ?, ?, ?)", [
            (3, "Katherine", "2024-01-02 09:00:00", "ok"), (4, "Hedy", "2024-01-02 10:00:00", f"n{NUL}")])
    second = run(config)

    assert second.exit_code == 3, second
    assert _rows(config, "SELECT key, reason FROM raw._quarantine ORDER BY key") == [
        ("[2]", f"name: {REASON}"), ("[4]", f"note: {REASON}")]
    with sqlite3.connect(shop) as db:
        db.execute("INSERT INTO people VALUES (5, 'Grace', '2024-01-03 09:00:00', NULL)")
    third = run(config)

    assert third.exit_code == 0, third
    assert _rows(config, "SELECT id, name FROM raw.people ORDER BY id") == [(1, "Ada"), (3, "Katherine"), (5, "Grace")]
    assert _rows(config, "SELECT count(*) FROM raw._quarantine") == [(2,)]
