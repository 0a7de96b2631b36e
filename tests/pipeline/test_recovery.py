"""Recovering after bad input or a fix: raw._quarantine from the start, quarantine by reason, reprocess, rebuild."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from shopflow.config import load_config
from shopflow.pipeline.quarantine_summary import quarantine_summary
from shopflow.pipeline.rebuild import rebuild_table
from shopflow.pipeline.reprocess import reprocess
from shopflow.warehouse.factory import open_warehouse
from tests.helpers import query, run, write_pipeline


def drop(tmp_path: Path, files: dict[str, str]) -> Path:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    for name, text in files.items():
        (data / name).write_text(text, encoding="utf-8")
    return data


def test_raw_quarantine_exists_and_is_empty_after_a_clean_first_load(tmp_path: Path) -> None:
    data = drop(tmp_path, {"a.csv": "id,total\n1,10\n"})
    config = write_pipeline(tmp_path, str(data), [{"name": "orders", "files": "*.csv"}])

    assert run(config).exit_code == 0
    assert query(config, "SELECT count(*) FROM raw._quarantine") == [(0,)]
    assert [c[0] for c in query(config, "DESCRIBE raw._quarantine")][:8] == [
        "pipeline", "source", "table", "file", "line", "key", "reason", "raw"]


def test_reprocess_reads_the_files_that_loaded_no_row_again_exactly_once(tmp_path: Path) -> None:
    orders = [{"id": 1, "total": 10}, {"id": 2, "total": 20}]
    data = drop(tmp_path, {
        "a.json": json.dumps({"orders": orders}),  # records: under a key the config misspells
        "b.csv": "id,qty\n3,1.5\n4,2.5\n",  # every qty has a fraction: none fits bigint
        "c.csv": "id,qty\n5,1\n6,x\n",  # loads one row: never read again
    })
    tables: list[dict[str, Any]] = [
        {"name": "orders", "files": "*.json", "records": "order", "primary_key": "id"},
        {"name": "items", "files": "*.csv", "primary_key": "id", "columns": {"qty": "bigint"}},
    ]
    config = write_pipeline(tmp_path, str(data), tables)
    assert run(config).exit_code == 3
    before = {t.table: (t.records, {r.reason for r in t.reasons.values()}, len(t.rereadable))
              for t in quarantine_summary(load_config(config))}
    assert before["items"] == (3, {"qty: <value> is not a whole number; declare round: true to round it",
                                   "qty: cannot cast <value> to BIGINT"}, 1)
    assert before["orders"][0] == 1 and before["orders"][2] == 1

    tables[0]["records"] = "orders"
    tables[1]["columns"] = {"qty": {"type": "bigint", "round": True}}
    write_pipeline(tmp_path, str(data), tables)
    pipeline = load_config(config)
    marked = reprocess(pipeline)

    assert sorted(Path(f.url).name for f in marked) == ["a.json", "b.csv"]
    assert reprocess(pipeline) == []  # pending already: marked once
    report = run(config)
    assert {t.table: t.files_new for t in report.tables} == {"orders": 1, "items": 1}
    assert run(config).tables[0].files_new == 0 and reprocess(pipeline) == []
    assert query(config, "SELECT id, total FROM raw.orders ORDER BY id") == [(1, 10), (2, 20)]
    assert query(config, "SELECT id, qty FROM raw.items ORDER BY id") == [(3, 2), (4, 3), (5, 1)]
    after = {t.table: t.records for t in quarantine_summary(pipeline)}
    assert after == {"items": 1}  # c.csv's 'x': its file was not read again


def test_quarantine_summary_counts_records_and_files_per_reason(tmp_path: Path) -> None:
    data = drop(tmp_path, {"a.csv": "id,qty\n1,x\n2,y\n3,3\n", "b.csv": "id,qty\n4,z\n"})
    config = write_pipeline(tmp_path, str(data), [{"name": "items", "files": "*.csv", "columns": {"qty": "bigint"}}])
    run(config)

    [summary] = quarantine_summary(load_config(config), "items")

    assert (summary.records, len(summary.files)) == (3, 2)
    [reason] = summary.reasons.values()
    assert (reason.reason, reason.records, len(reason.files)) == ("qty: cannot cast <value> to BIGINT", 3, 2)
    assert reason.example.startswith("a.csv")
    assert [Path(f.url).name for f in summary.rereadable] == ["b.csv"]  # a.csv loaded a row: not read again
    assert query(config, "SELECT count(*) FROM raw._quarantine") == [(3,)]


def write_pg(folder: Path, data: Path, warehouse: dict[str, Any], tables: list[dict[str, Any]]) -> Path:
    document = {"pipeline": "t", "lake": str(folder / "lake"), "warehouse": warehouse,
                "sources": [{"name": "shop", "type": "files", "location": str(data), "tables": tables}]}
    path = folder / "shopflow.yml"
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.mark.parametrize("kind", ["duckdb", "postgres"])
def test_rebuild_restores_what_the_lake_holds(tmp_path: Path, kind: str, request: pytest.FixtureRequest) -> None:
    if kind == "postgres":
        server = request.getfixturevalue("postgres_server")
        name = server.create_database()
        request.addfinalizer(lambda: server.drop_database(name))
        warehouse: dict[str, Any] = {"type": "postgres", "host": server.host, "port": server.port,
                                     "user": server.user, "database": name}
    else:
        warehouse = {"path": str(tmp_path / "warehouse.duckdb")}
    data = drop(tmp_path, {
        "a.json": json.dumps({"orders": [{"id": 1, "items": [{"sku": "x"}, {"sku": "y"}]}, {"id": 2, "items": []}]}),
        "b.csv": "id,qty\n1,1\n2,oops\n",
    })
    tables: list[dict[str, Any]] = [
        {"name": "orders", "files": "*.json", "records": "orders", "write_disposition": "append"},
        {"name": "items", "files": "*.csv", "primary_key": "id", "write_disposition": "merge",
         "columns": {"qty": "bigint"}},
    ]
    config = write_pg(tmp_path, data, warehouse, tables)
    run(config)
    # a.json changes in place: its rows are replaced, and a rebuild must not bring the old ones back.
    (data / "a.json").write_text(json.dumps({"orders": [{"id": 1, "items": [{"sku": "z"}]}, {"id": 3, "items": []}]}))
    run(config)
    pipeline = load_config(config)

    def state() -> list[Any]:
        with open_warehouse(pipeline.warehouse, read_only=True) as wh:
            return [
                wh.query("SELECT id FROM raw.orders ORDER BY id"),
                wh.query("SELECT sku FROM raw.orders__items ORDER BY sku"),
                wh.query("SELECT id, qty FROM raw.items ORDER BY id"),
                wh.query('SELECT count(*) FROM raw._quarantine WHERE "table" = \'items\''),
            ]

    expected = state()
    assert expected[:2] == [[(1,), (3,)], [("z",)]]
    with open_warehouse(pipeline.warehouse) as wh:  # the warehouse drifts from the lake
        wh.query("DELETE FROM raw.orders__items")
        wh.query("INSERT INTO raw.orders (id) VALUES (99)")
        wh.query("DELETE FROM raw.items")

    for table in ("orders", "items"):
        result = rebuild_table(pipeline, table)
        assert result.commits == (2 if table == "orders" else 1)

    assert state() == expected
    assert run(config).tables[0].rows_loaded == {}  # nothing pending: the ledger was rebuilt too
