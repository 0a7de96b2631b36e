"""One pipeline run: extract every table into the lake, then load the lake into the warehouse.

A table that fails (unreadable source, incompatible schema change) is reported and skipped;
the other tables go on. The exit code says what happened: 0 done, 1 a table failed, 3 done
with quarantined records.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

from shopflow.config.model import PipelineConfig
from shopflow.errors import ShopflowError
from shopflow.pipeline.extract_files import extract_file_table
from shopflow.pipeline.history import record_run
from shopflow.pipeline.layout import LakeLayout
from shopflow.pipeline.load import load_table
from shopflow.storage import FileInfo
from shopflow.warehouse.base import open_warehouse

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_QUARANTINED = 0, 1, 3


@dataclass
class TableReport:
    """What a run did to one table."""

    table: str
    files_new: int = 0
    rows_extracted: int = 0
    quarantined: int = 0
    rows_loaded: dict[str, int] = field(default_factory=dict)
    schema_changes: list[str] = field(default_factory=list)
    failed_files: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class RunReport:
    """What a run did, table by table."""

    run_id: str
    pipeline: str
    tables: list[TableReport] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def quarantined(self) -> int:
        """Records quarantined by this run, all tables."""
        return sum(t.quarantined for t in self.tables)

    @property
    def exit_code(self) -> int:
        """0 done, 1 a table failed, 3 done with quarantined records."""
        if any(t.error for t in self.tables):
            return EXIT_FAILED
        return EXIT_QUARANTINED if self.quarantined else EXIT_OK


class RunProgress:
    """Hooks a caller (the CLI's progress bar) gets during a run; all do nothing by default."""

    def table_started(self, table: str) -> None:
        """Extraction of `table` begins."""

    def file_done(self, table: str, file: FileInfo) -> None:
        """One file of `table` was extracted."""

    def files_found(self, table: str, count: int) -> None:
        """`count` files of `table` are pending."""


def run_pipeline(config: PipelineConfig, progress: RunProgress | None = None) -> RunReport:
    """Run the pipeline once; return the report. Raises only for errors that stop every table."""
    from shopflow.engine import connect

    hooks = progress or RunProgress()
    started = datetime.now(UTC)
    clock = time.perf_counter()
    report = RunReport(run_id=uuid.uuid4().hex, pipeline=config.pipeline)
    with open_warehouse(config.warehouse) as warehouse:
        con = connect()
        try:
            for source in config.sources:
                for table in source.tables:
                    layout = LakeLayout(config, source.name, table.name)
                    table_report = TableReport(table.name)
                    report.tables.append(table_report)
                    hooks.table_started(table.name)
                    try:
                        extracted = extract_file_table(
                            con, config, source, table, report.run_id,
                            on_file=partial(hooks.file_done, table.name),
                            on_pending=partial(hooks.files_found, table.name),
                        )
                        table_report.files_new = extracted.files_new
                        table_report.rows_extracted = extracted.rows
                        table_report.quarantined = extracted.quarantined
                        table_report.failed_files = extracted.failed_files
                    except ShopflowError as exc:
                        table_report.error = str(exc)
                        log.error("extracting %s failed: %s", table.name, exc)
                    # Load even after a failed extract: earlier commits still belong in the warehouse.
                    try:
                        loaded = load_table(warehouse, layout, table)
                        if loaded is not None:
                            table_report.rows_loaded = loaded.rows
                            table_report.schema_changes = loaded.added + loaded.widened
                    except ShopflowError as exc:
                        table_report.error = str(exc) if table_report.error is None else f"{table_report.error}\n{exc}"
                        log.error("loading %s failed: %s", table.name, exc)
        finally:
            con.close()
        report.seconds = time.perf_counter() - clock
        status = {EXIT_OK: "ok", EXIT_FAILED: "failed", EXIT_QUARANTINED: "quarantined"}[report.exit_code]
        record_run(
            warehouse, report.run_id, config.pipeline, started, datetime.now(UTC), status,
            sum(sum(t.rows_loaded.values()) for t in report.tables), report.quarantined,
            [f"{t.table}: {t.error}" for t in report.tables if t.error],
        )
    return report
