"""Per-table status: what the lake holds, what the warehouse applied, and the last run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from shopflow.config.model import PipelineConfig
from shopflow.pipeline.layout import LakeLayout


@dataclass
class TableStatus:
    """One table's state."""

    table: str
    lake_version: int | None
    applied_version: int
    warehouse_rows: int | None
    last_commit: str | None
    files_consumed: int
    watermark: str | None


def pipeline_status(config: PipelineConfig) -> list[TableStatus]:
    """The state of every table of the pipeline; works before the first run too."""
    from shopflow.warehouse.base import open_warehouse

    warehouse = open_warehouse(config.warehouse, read_only=True) if Path(config.warehouse.path).exists() else None
    statuses = []
    try:
        for source in config.sources:
            for table in source.tables:
                layout = LakeLayout(config, source.name, table.name)
                commits = layout.main.commits()
                files = {f.url for c in commits for f in c.files}
                last = commits[-1] if commits else None
                statuses.append(TableStatus(
                    table=table.name,
                    lake_version=layout.main.version(),
                    applied_version=warehouse.applied_version(layout.key) if warehouse else -1,
                    warehouse_rows=warehouse.row_count(table.name) if warehouse else None,
                    last_commit=(
                        datetime.fromtimestamp(last.timestamp_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
                        if last else None
                    ),
                    files_consumed=len(files),
                    watermark=next((c.watermark for c in reversed(commits) if c.watermark), None),
                ))
    finally:
        if warehouse is not None:
            warehouse.close()
    return statuses
