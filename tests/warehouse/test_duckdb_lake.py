"""The DuckDB warehouse scans the lake's Parquet files in place, on every kind of lake storage."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.conftest import Store
from tests.helpers import query, run, write_pipeline

FALLBACK = "reading the lake through Arrow"


def _lake_of(store: Store) -> str:
    return store.url.rsplit("/", 1)[0] + "/lake" if store.kind != "folder" else str(Path(store.url).parent / "lake")


def test_the_lake_is_scanned_in_place_on_every_storage(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store.put("orders-1.csv", b"id,amount,status\n1,10.50,paid\n2,3.25,paid\n")
    config = write_pipeline(tmp_path, store.url, [{"name": "orders", "files": "orders-*.csv"}],
                            storage=store.storage, lake=_lake_of(store))
    caplog.set_level(logging.INFO, logger="shopflow.warehouse.duckdb_lake")

    assert run(config).exit_code == 0
    # a later drop brings a new column: old rows get NULL, the warehouse table gains the column
    store.put("orders-2.csv", b"id,amount,status,coupon\n3,7.00,refunded,SPRING\n")
    assert run(config).exit_code == 0

    assert not [r for r in caplog.records if FALLBACK in r.getMessage()]
    assert query(config, "SELECT id, amount, status, coupon FROM raw.orders ORDER BY id") == [
        (1, pytest.approx(10.5), "paid", None),
        (2, pytest.approx(3.25), "paid", None),
        (3, pytest.approx(7.0), "refunded", "SPRING"),
    ]
    columns = query(config, "SELECT column_name, data_type FROM information_schema.columns "
                            "WHERE table_schema = 'raw' AND table_name = 'orders' ORDER BY ordinal_position")
    names = [c for c, _ in columns]
    assert names[:3] == ["id", "amount", "status"]
    assert dict(columns)["_sf_load_date"] == "VARCHAR"
    assert query(config, "SELECT count(DISTINCT _sf_batch) FROM raw.orders") == [(2,)]


def test_a_column_named_like_duckdbs_row_number_is_loaded_through_arrow(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "lines.csv").write_text("id,file_row_number\n1,7\n1,8\n2,9\n")
    config = write_pipeline(tmp_path, str(drop), [
        {"name": "lines", "files": "*.csv", "primary_key": ["id"], "write_disposition": "merge"},
    ])
    caplog.set_level(logging.INFO, logger="shopflow.warehouse.duckdb_lake")

    assert run(config).exit_code == 0

    assert [r for r in caplog.records if FALLBACK in r.getMessage()]
    # the merge keeps the last row of a key, in file order
    assert query(config, "SELECT id, file_row_number FROM raw.lines ORDER BY id") == [(1, 8), (2, 9)]


def test_a_merge_keeps_the_last_row_written_for_a_key_across_files_and_runs(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "a.csv").write_text("id,status\n1,new\n2,new\n1,paid\n")
    (drop / "b.csv").write_text("id,status\n2,paid\n")
    config = write_pipeline(tmp_path, str(drop), [
        {"name": "orders", "files": "*.csv", "primary_key": ["id"], "write_disposition": "merge"},
    ])
    assert run(config).exit_code == 0
    (drop / "c.csv").write_text("id,status\n1,refunded\n3,new\n")
    assert run(config).exit_code == 0

    assert query(config, "SELECT id, status FROM raw.orders ORDER BY id") == [
        (1, "refunded"), (2, "paid"), (3, "new"),
    ]
