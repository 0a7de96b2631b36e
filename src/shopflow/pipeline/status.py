"""Per-table status: what the lake holds, what the warehouse applied, and the last run."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from shopflow.config.database import DatabaseSource
from shopflow.config.events import EventsSource
from shopflow.config.model import FileSource, PipelineConfig
from shopflow.errors import ShopflowError
from shopflow.pipeline.layout import LakeLayout
from shopflow.storage import Location


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
    warning: str | None = None


def pipeline_status(config: PipelineConfig) -> list[TableStatus]:
    """The state of every table of the pipeline; works before the first run too."""
    from shopflow.sources.database.watermark import Watermark
    from shopflow.warehouse.factory import open_warehouse

    warehouse = (
        open_warehouse(config.warehouse, read_only=True)
        if config.warehouse.type == "postgres" or Path(config.warehouse.path).exists()
        else None
    )
    statuses = []
    try:
        for source in config.sources:
            for name in table_names(config, source):
                layout = LakeLayout(config, source.name, name)
                commits = layout.main.commits()
                files = {f.url for c in commits for f in c.files}
                last = commits[-1] if commits else None
                stored = next((c.watermark for c in reversed(commits) if c.watermark), None)
                watermark = Watermark.from_text(stored) if isinstance(source, DatabaseSource) else None
                statuses.append(TableStatus(
                    table=name,
                    lake_version=layout.main.version(),
                    applied_version=warehouse.applied_version(layout.key) if warehouse else -1,
                    warehouse_rows=warehouse.row_count(name) if warehouse else None,
                    last_commit=(
                        datetime.fromtimestamp(last.timestamp_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
                        if last else None
                    ),
                    files_consumed=len(files),
                    watermark=watermark.describe() if watermark is not None else stored,
                    warning=_files_warning(config, source, name),
                ))
    finally:
        if warehouse is not None:
            warehouse.close()
    return statuses


def _files_warning(config: PipelineConfig, source: FileSource | DatabaseSource | EventsSource, name: str) -> str | None:
    """A file table's location or glob that finds no file (as the run warns); None otherwise."""
    from shopflow.pipeline.preflight import no_files_fix, no_files_message

    if not isinstance(source, FileSource):
        return None
    table = next(t for t in source.tables if t.name == name)
    location = Location(source.location, config.storage)
    try:
        if location.list_files(table.files):
            return None
    except ShopflowError as exc:
        return exc.message
    return f"{no_files_message(location, table)}; {no_files_fix(source, table)}"


def table_names(config: PipelineConfig, source: FileSource | DatabaseSource | EventsSource) -> list[str]:
    """The tables of a source: file tables, event streams, a database source's named tables and its globs' ones."""
    if isinstance(source, FileSource | EventsSource):
        return [t.name for t in source.tables]
    names = {source.table_name(t.name) for t in source.tables if not t.is_pattern}
    folder = Location(config.lake, config.storage).join("raw", source.name)
    try:
        if folder.scheme == "file":  # a local lake is listed without importing fsspec
            found: list[str] = os.listdir(folder.path)
        else:
            found = folder.filesystem().ls(folder.path, detail=False)
    except FileNotFoundError:
        found = []
    names.update(str(path).rstrip("/").rsplit("/", 1)[-1] for path in found)
    return sorted(names)
