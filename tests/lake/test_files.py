"""Choosing the lake files that hold some batches, from the Delta log's statistics."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from shopflow.config.model import StorageConfig
from shopflow.lake.files import files_holding
from shopflow.lake.table import LakeTable
from shopflow.storage import Location


def _append(table: LakeTable, batch: str, ids: list[int], day: str = "2024-05-01") -> None:
    n = len(ids)
    data = pa.table({"id": ids, "_sf_batch": [batch] * n, "_sf_load_date": [day] * n})
    table.append(pa.RecordBatchReader.from_batches(data.schema, data.to_batches()))


def test_only_the_files_of_the_wanted_batches_are_listed(tmp_path: Path) -> None:
    table = LakeTable(Location(str(tmp_path / "orders"), StorageConfig()), "orders")
    _append(table, "b1", [1, 2])
    _append(table, "b2", [3], day="2024-05-02")
    _append(table, "b3", [4, 5, 6])

    files = table.files(["b2", "b3"])

    assert files is not None
    assert len(files.uris) == 2
    assert all(Path(u).is_file() for u in files.uris)
    assert files.partition_columns == ["_sf_load_date"]
    assert files.columns == ["id", "_sf_batch", "_sf_load_date"]
    assert files.batches == ["b2", "b3"]
    read = pa.concat_tables(pq.read_table(u) for u in files.uris)
    assert sorted(read.column("id").to_pylist()) == [3, 4, 5, 6]


def test_a_table_that_does_not_exist_has_no_files(tmp_path: Path) -> None:
    table = LakeTable(Location(str(tmp_path / "missing"), StorageConfig()), "missing")
    assert table.files(["b1"]) is None


def test_files_without_statistics_are_kept_and_truncated_statistics_still_match() -> None:
    actions = pa.table({
        "path": ["a.parquet", "b.parquet", "c%20d.parquet", "e.parquet"],
        "min._sf_batch": ["b1", None, "b2", "b9"],
        # a writer may truncate long string statistics: `b2` is the prefix of `b2-long`
        "max._sf_batch": ["b1", None, "b2", "b9"],
    })
    chosen = files_holding("s3://lake/orders", actions, "_sf_batch", ["b2-long"])
    assert chosen == ["s3://lake/orders/b.parquet", "s3://lake/orders/c d.parquet"]


def test_files_named_for_their_batch_are_chosen_by_name_when_they_have_no_statistics() -> None:
    actions = pa.table({
        "path": ["d=1/batch-b1-0a.parquet", "d=1/batch-b2-0b.parquet", "d=1/part-00000-x.parquet"],
        "min._sf_batch": pa.array([None, None, None], pa.string()),
        "max._sf_batch": pa.array([None, None, None], pa.string()),
    })
    chosen = files_holding("/lake/orders", actions, "_sf_batch", ["b2"])
    # the unnamed file might hold anything: it is read too
    assert chosen == ["/lake/orders/d=1/batch-b2-0b.parquet", "/lake/orders/d=1/part-00000-x.parquet"]
