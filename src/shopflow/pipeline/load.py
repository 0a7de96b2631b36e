"""Load a source table's pending lake commits into the warehouse."""

from __future__ import annotations

import pyarrow as pa

from shopflow.config.model import TableConfig
from shopflow.lake.files import LakeFiles
from shopflow.pipeline.layout import LakeLayout
from shopflow.warehouse.base import LoadJob, LoadResult, Warehouse


def load_table(warehouse: Warehouse, layout: LakeLayout, table: TableConfig) -> LoadResult | None:
    """Apply the lake commits of `table` that the warehouse has not applied; None if there are none."""
    applied = warehouse.applied_version(layout.key)
    commits = layout.main.commits(after=applied)
    if not commits:
        return None

    def read(output: str, batches: list[str]) -> pa.RecordBatchReader | None:
        return layout.output(output).read_batches(batches)

    def files(output: str, batches: list[str]) -> LakeFiles | None:
        return layout.output(output).files(batches)

    return warehouse.load(LoadJob(table=table, lake_key=layout.key, commits=commits, read=read, files=files))
