"""A key or cursor that names no column is a config error (exit 2) before any data moves; after the fix, files load."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from shopflow.errors import ConfigError
from tests.conftest import Store
from tests.helpers import query, run, write_pipeline

CSV = b"order_id,total\n1,10\n2,20\n"


def orders(**table: Any) -> list[dict[str, Any]]:
    return [{"name": "orders", "files": "*.csv", "primary_key": "id", "write_disposition": "merge", **table}]


def test_a_primary_key_that_names_no_column_stops_the_run_and_nothing_is_consumed(store: Store, tmp_path: Path) -> None:
    store.put("a.csv", CSV)
    config = write_pipeline(tmp_path, store.url, orders(), storage=store.storage)

    with pytest.raises(ConfigError) as raised:
        run(config)

    assert raised.value.exit_code == 2
    assert "primary_key 'id' names no column of" in raised.value.message
    assert "a.csv" in raised.value.message and "order_id, total" in raised.value.message
    assert not (tmp_path / "lake").exists()  # not one commit: the file still counts as new
    assert not (tmp_path / "warehouse.duckdb").exists()

    write_pipeline(tmp_path, store.url, orders(primary_key="order_id"), storage=store.storage)
    report = run(config)

    assert (report.exit_code, report.tables[0].files_new, report.tables[0].quarantined) == (0, 1, 0)
    assert query(config, "SELECT order_id, total FROM raw.orders ORDER BY 1") == [(1, 10), (2, 20)]


def test_a_cursor_missing_from_every_json_record_is_named(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.jsonl").write_text("".join(json.dumps({"id": i, "changed": "2024-05-01"}) + "\n" for i in range(3)))
    config = write_pipeline(tmp_path, str(data), [{"name": "orders", "files": "*.jsonl", "primary_key": "id",
                                                    "cursor": "updated_at", "write_disposition": "merge"}])

    with pytest.raises(ConfigError, match=r"cursor 'updated_at' names no column of .*a\.jsonl"):
        run(config)


def test_a_json_key_only_later_records_have_is_not_a_config_error(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    records = [{"id": 1}, {"id": 2, "updated_at": "2024-05-01T10:00:00"}]
    (data / "a.json").write_text(json.dumps({"orders": records}))
    config = write_pipeline(tmp_path, str(data), [{"name": "orders", "files": "*.json", "records": "orders",
                                                    "primary_key": "id", "cursor": "updated_at",
                                                    "write_disposition": "merge"}])

    assert run(config).exit_code == 0
    assert query(config, "SELECT count(*) FROM raw.orders") == [(2,)]


def test_one_pending_file_without_the_key_is_bad_data_and_the_others_load(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_bytes(b"ref,total\n9,90\n")  # sorts first, lacks the key
    (data / "b.csv").write_bytes(b"id,total\n1,10\n")
    config = write_pipeline(tmp_path, str(data), orders())

    report = run(config)

    assert (report.exit_code, report.tables[0].quarantined) == (3, 1)
    assert query(config, "SELECT id, total FROM raw.orders") == [(1, 10)]
    assert query(config, "SELECT file FROM raw._quarantine") == [(str(data / "a.csv"),)]


def test_once_the_lake_has_the_key_a_new_file_without_it_is_quarantined(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_bytes(b"id,total\n1,10\n")
    config = write_pipeline(tmp_path, str(data), orders())
    assert run(config).exit_code == 0
    (data / "b.csv").write_bytes(b"ref,total\n9,90\n")

    report = run(config)

    assert (report.exit_code, report.tables[0].quarantined) == (3, 1)


def test_a_database_cursor_that_names_no_column_stops_the_run(tmp_path: Path, postgres_database: str) -> None:
    with psycopg.connect(postgres_database, autocommit=True) as pg:
        pg.execute("CREATE TABLE orders (id int PRIMARY KEY, updated_at timestamptz DEFAULT now())")
        pg.execute("INSERT INTO orders (id) VALUES (1), (2)")
    source = {"name": "shop", "type": "postgres", "url": postgres_database,
              "tables": [{"name": "orders", "mode": "incremental", "cursor": "updatd_at"}]}
    config = tmp_path / "shopflow.yml"
    document = {"pipeline": "t", "lake": str(tmp_path / "lake"),
                "warehouse": {"path": str(tmp_path / "warehouse.duckdb")}, "sources": [source]}
    config.write_text(yaml.safe_dump(document))

    with pytest.raises(ConfigError) as raised:
        run(config)

    assert "table orders: cursor 'updatd_at' names no column of public.orders" in raised.value.message
    assert "did you mean 'updated_at'?" in raised.value.message
    assert not (tmp_path / "lake").exists()

    source["tables"][0]["cursor"] = "updated_at"
    config.write_text(yaml.safe_dump(document))
    assert run(config).exit_code == 0
    assert query(config, "SELECT count(*) FROM raw.orders") == [(2,)]


def test_a_database_cursor_renamed_after_a_load_still_stops_the_run(tmp_path: Path, postgres_database: str) -> None:
    # Once the lake has the declared columns a run skips the source's catalog; a new, wrong name is still caught.
    with psycopg.connect(postgres_database, autocommit=True) as pg:
        pg.execute("CREATE TABLE orders (id int PRIMARY KEY, updated_at timestamptz DEFAULT now())")
        pg.execute("INSERT INTO orders (id) VALUES (1), (2)")
    source = {"name": "shop", "type": "postgres", "url": postgres_database,
              "tables": [{"name": "orders", "mode": "incremental", "cursor": "updated_at"}]}
    config = tmp_path / "shopflow.yml"
    document = {"pipeline": "t", "lake": str(tmp_path / "lake"),
                "warehouse": {"path": str(tmp_path / "warehouse.duckdb")}, "sources": [source]}
    config.write_text(yaml.safe_dump(document))
    assert run(config).exit_code == 0
    assert run(config).exit_code == 0  # nothing new

    source["tables"][0]["cursor"] = "updatd_at"
    config.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError) as raised:
        run(config)

    assert "table orders: cursor 'updatd_at' names no column of public.orders" in raised.value.message
    assert query(config, "SELECT count(*) FROM raw.orders") == [(2,)]
