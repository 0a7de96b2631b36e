"""Database rows written into the lake by DuckDB's COPY, and the Arrow path where COPY cannot go."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.dataset as ds
import pytest
from deltalake import DeltaTable
from tests.conftest import Store, make_store
from tests.sources.database.conftest import Pipeline, postgres_source

ORDERS = """
CREATE TABLE orders (id bigint PRIMARY KEY, amount numeric(12,2), status text, created_at timestamptz);
INSERT INTO orders SELECT g, g * 1.25, CASE WHEN g % 3 = 0 THEN 'paid' ELSE 'new' END,
       timestamptz '2024-05-01 00:00:00+00' + g * interval '1 minute'
FROM generate_series(1, 300000) g;
"""


def _lake_table(pipeline: Pipeline) -> DeltaTable:
    return DeltaTable(str(pipeline.lake / "raw" / "shop" / "orders"))


def test_a_local_lake_gets_duckdbs_files_in_one_commit_that_every_reader_sees(
    pipeline: Pipeline, pg: psycopg.Connection[Any], postgres_database: str
) -> None:
    pg.execute(ORDERS)
    pipeline.source = postgres_source(postgres_database, tables=[{"name": "orders"}])
    pipeline.run()

    lake = _lake_table(pipeline)
    names = [Path(p).name for p in lake.file_uris()]
    assert names and all(n.startswith("batch-") for n in names)
    dataset = lake.to_pyarrow_dataset()
    assert dataset.count_rows() == 300_000
    # without full column statistics no file may be skipped by a filter on a data column
    assert dataset.to_table(filter=ds.field("id") == 299_999).column("status").to_pylist() == ["new"]
    assert dataset.to_table(filter=ds.field("status") == "paid").num_rows == 100_000
    assert pipeline.query("SELECT count(*), sum(amount), max(created_at)::text FROM raw.orders") == [
        (300_000, Decimal("56250187500.00"), "2024-11-25 08:00:00+00")
    ]


def test_a_new_source_column_goes_through_the_arrow_path_and_evolves_the_lake(
    pipeline: Pipeline, pg: psycopg.Connection[Any], postgres_database: str
) -> None:
    pg.execute(ORDERS)
    pipeline.source = postgres_source(postgres_database, tables=[{"name": "orders", "mode": "incremental",
                                                                  "cursor": "created_at"}])
    pipeline.run()
    pg.execute("ALTER TABLE orders ADD COLUMN coupon text")
    pg.execute("INSERT INTO orders VALUES (300001, 9.99, 'new', now(), 'SPRING')")
    pipeline.run()

    lake = _lake_table(pipeline)
    assert "coupon" in lake.schema().to_arrow().names  # type: ignore[attr-defined]
    assert lake.to_pyarrow_dataset().count_rows() == 300_001
    assert pipeline.query("SELECT count(*), count(coupon), max(coupon) FROM raw.orders") == [(300_001, 1, "SPRING")]


def test_a_database_source_into_an_s3_lake_is_written_by_duckdb_and_loads_every_row(
    pipeline: Pipeline, pg: psycopg.Connection[Any], postgres_database: str, tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    store: Store = make_store("s3", tmp_path, request)
    pg.execute(ORDERS)
    pg.execute("CREATE TABLE refunds (id bigint PRIMARY KEY, amount numeric(12,2))")
    pipeline.source = postgres_source(postgres_database, tables=[{"name": "orders"}, {"name": "refunds"}])
    lake = store.url.rsplit("/", 1)[0] + "/lake"
    config = pipeline.write().read_text().replace(f"lake: {pipeline.lake}", f"lake: {lake}")
    pipeline.path.write_text(config + "storage:\n" + "".join(
        f"  {k}:\n" + "".join(f"    {kk}: {vv}\n" for kk, vv in v.items()) for k, v in store.storage.items()))

    from shopflow.config import load_config
    from shopflow.pipeline.run import run_pipeline

    report = run_pipeline(load_config(pipeline.path))

    assert [t.error for t in report.tables] == [None, None]
    assert store._s3 is not None
    bucket = lake.split("/")[2]
    keys = [o["Key"] for o in store._s3.client().list_objects_v2(Bucket=bucket)["Contents"]]
    assert any("/orders/_sf_load_date=" in k and "/batch-" in k for k in keys)
    # an empty table leaves no empty data file behind, and still becomes an empty typed table
    assert not [k for k in keys if "/refunds/_sf_load_date=" in k]
    assert pipeline.query("SELECT count(*) FROM raw.refunds") == [(0,)]
    assert pipeline.query("SELECT count(*), count(DISTINCT id), sum(amount) FROM raw.orders") == [
        (300_000, 300_000, Decimal("56250187500.00"))
    ]
