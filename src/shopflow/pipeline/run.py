"""One pipeline run: extract each table into the lake, and load it into the warehouse while the next is extracted.

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
from typing import TYPE_CHECKING

from shopflow.config.database import DatabaseSource
from shopflow.config.events import EventsSource
from shopflow.config.model import FileSource, FileTable, PipelineConfig, TableConfig
from shopflow.errors import ShopflowError, SourceError
from shopflow.pipeline.history import record_run
from shopflow.pipeline.layout import LakeLayout
from shopflow.pipeline.load import LoadQueue, load_table
from shopflow.storage import FileInfo
from shopflow.warehouse.base import LoadResult, Warehouse
from shopflow.warehouse.factory import open_warehouse

if TYPE_CHECKING:
    import duckdb

    from shopflow.transform.report import TransformReport

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
    kind: str = "files"
    rows_deleted: int = 0
    watermark: str | None = None
    text_columns: list[str] = field(default_factory=list)
    warning: str | None = None
    load: LoadResult | None = None  # what the load applied: rows new, updated, deleted per output table


@dataclass
class RunReport:
    """What a run did, table by table."""

    run_id: str
    pipeline: str
    tables: list[TableReport] = field(default_factory=list)
    seconds: float = 0.0
    transform: TransformReport | None = None
    transform_error: str | None = None

    @property
    def quarantined(self) -> int:
        """Records quarantined by this run, all tables."""
        return sum(t.quarantined for t in self.tables)

    @property
    def exit_code(self) -> int:
        """0 done, 1 a table or the transform failed, 3 done with quarantined records."""
        if any(t.error for t in self.tables) or self.transform_error:
            return EXIT_FAILED
        if self.transform is not None and not self.transform.ok:
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

    def rows_done(self, table: str, count: int) -> None:
        """`count` more rows of database table `table` were extracted."""


class ForwardingProgress(RunProgress):
    """Hooks that pass every call on to `inner`; a subclass overrides the ones it watches."""

    def __init__(self, inner: RunProgress | None = None) -> None:
        self.inner = inner or RunProgress()

    def table_started(self, table: str) -> None:
        """Passed on to `inner`."""
        self.inner.table_started(table)

    def file_done(self, table: str, file: FileInfo) -> None:
        """Passed on to `inner`."""
        self.inner.file_done(table, file)

    def files_found(self, table: str, count: int) -> None:
        """Passed on to `inner`."""
        self.inner.files_found(table, count)

    def rows_done(self, table: str, count: int) -> None:
        """Passed on to `inner`."""
        self.inner.rows_done(table, count)


def run_pipeline(config: PipelineConfig, progress: RunProgress | None = None) -> RunReport:
    """Run the pipeline once; return the report. Raises only for errors that stop every table.

    The run holds the warehouse's run lock from start to end, the models included, so a second
    run fails at once (WarehouseError) instead of colliding with this one in the load or in dbt.
    """
    from shopflow.pipeline.run_lock import run_lock

    with run_lock(config.warehouse):
        return _run_locked(config, progress)


def _run_locked(config: PipelineConfig, progress: RunProgress | None) -> RunReport:
    """`run_pipeline`, with the run lock held."""
    from shopflow.engine import connect
    from shopflow.pipeline.preflight import check_before_run
    from shopflow.temp import sweep

    hooks = progress or RunProgress()
    started = datetime.now(UTC)
    clock = time.perf_counter()
    report = RunReport(run_id=uuid.uuid4().hex, pipeline=config.pipeline)
    sweep(before=started.timestamp())  # temporary folders of killed runs
    check_before_run(config)  # a key or cursor that names no column: exit 2 before any data moves
    if config.transform is not None and config.transform.after_run:
        from shopflow.transform.runner import warm_up

        warm_up(config)  # dbt's import and first parse, on a thread, while the tables are extracted and loaded
    with open_warehouse(config.warehouse) as warehouse:
        con = connect()
        try:
            # Each table's load runs on the queue's thread while the next table is extracted.
            with LoadQueue() as queue:
                loads = _Loads(warehouse, queue)
                # Warehouse table -> the source table that fills it: a glob may select a name another source uses.
                taken = {t.name.lower(): f"{s.name}.{t.name}" for s in config.sources if isinstance(s, FileSource)
                         for t in s.tables}
                for source in config.sources:
                    if isinstance(source, FileSource):
                        for table in source.tables:
                            report.tables.append(_file_table(con, config, source, table, loads, report.run_id, hooks))
                    elif isinstance(source, EventsSource):
                        report.tables.extend(_events_source(config, source, loads, report.run_id, hooks))
                    elif source.cdc is not None:
                        report.tables.extend(_cdc_source(con, config, source, loads, report.run_id, hooks))
                    else:
                        report.tables.extend(_database_source(config, source, loads, report.run_id, hooks, taken))
        finally:
            con.close()
        report.seconds = time.perf_counter() - clock
        status = {EXIT_OK: "ok", EXIT_FAILED: "failed", EXIT_QUARANTINED: "quarantined"}[report.exit_code]
        record_run(
            warehouse, report.run_id, config.pipeline, started, datetime.now(UTC), status,
            sum(sum(t.rows_loaded.values()) for t in report.tables), report.quarantined,
            [f"{t.table}: {t.error}" for t in report.tables if t.error],
        )
    # After the warehouse is closed: dbt opens it itself (DuckDB allows one writer).
    if config.transform is not None and config.transform.after_run:
        _transform(config, report)
    return report


def _transform(config: PipelineConfig, report: RunReport) -> None:
    """Build the models downstream of the tables this run changed (none: nothing); the raw data stays."""
    from shopflow.transform import changed_tables, transform_changed

    try:
        report.transform = transform_changed(config, changed_tables(report))
    except ShopflowError as exc:
        report.transform_error = str(exc)
        log.error("transform failed: %s", exc)


def _file_table(
    con: duckdb.DuckDBPyConnection, config: PipelineConfig, source: FileSource, table: FileTable,
    loads: _Loads, run_id: str, hooks: RunProgress,
) -> TableReport:
    from shopflow.pipeline.extract_files import extract_file_table
    from shopflow.pipeline.preflight import no_files_warning

    report = TableReport(table.name)
    hooks.table_started(table.name)
    try:
        if table.engine == "spark":
            from shopflow.engines.spark.extract import extract_spark_table

            extracted = extract_spark_table(
                config, source, table, run_id,
                on_file=partial(hooks.file_done, table.name), on_pending=partial(hooks.files_found, table.name),
            )
        else:
            extracted = extract_file_table(
                con, config, source, table, run_id,
                on_file=partial(hooks.file_done, table.name), on_pending=partial(hooks.files_found, table.name),
            )
        report.files_new = extracted.files_new
        report.rows_extracted = extracted.rows
        report.quarantined = extracted.quarantined
        report.failed_files = extracted.failed_files
        report.error = extracted.error  # a changed file that cannot be read: its earlier rows stay
        if not extracted.files_seen:
            report.warning = no_files_warning(config, source, table)
    except ShopflowError as exc:
        report.error = str(exc)
        log.error("extracting %s failed: %s", table.name, exc)
    # Load even after a failed extract: earlier commits still belong in the warehouse.
    loads.submit(LakeLayout(config, source.name, table.name), table, report)
    return report


def _cdc_source(
    con: duckdb.DuckDBPyConnection, config: PipelineConfig, source: DatabaseSource, loads: _Loads,
    run_id: str, hooks: RunProgress,
) -> list[TableReport]:
    """Capture the changes of `source`'s tables into the lake (one slot per source), then load each table."""
    from shopflow.pipeline.extract_cdc import extract_cdc
    from shopflow.sources.cdc.from_config import cdc_settings, cdc_table_config

    settings = cdc_settings(config, source)
    failure = ""
    for table in settings.tables:
        hooks.table_started(table.name)
    try:
        captured = extract_cdc(con, config, source.name, settings, run_id)
    except ShopflowError as exc:
        log.error("capturing changes of source %s failed: %s", source.name, exc)
        captured = None
        failure = str(exc)
    reports = []
    for table in settings.tables:
        report = TableReport(table.name, kind="database")
        reports.append(report)
        result = captured.tables.get(table.name) if captured is not None else None
        if result is None:
            report.error = failure if captured is None else f"no capture result for {table.qualified}"
        else:
            report.rows_extracted = result.snapshot_rows + result.changes
            report.watermark = result.watermark
        known_key = result.primary_key if result is not None else []
        loads.submit(LakeLayout(config, source.name, table.name), cdc_table_config(source, table, known_key), report)
    return reports


def _events_source(
    config: PipelineConfig, source: EventsSource, loads: _Loads, run_id: str, hooks: RunProgress,
) -> list[TableReport]:
    """Commit each stream's buffered events to the lake (sources.events.flush), then load each stream."""
    from shopflow.sources.events.flush import flush_stream

    reports = []
    for stream in source.streams:
        hooks.table_started(stream.name)
        report = TableReport(stream.name, kind="events")
        try:
            flushed = flush_stream(config, source, stream, run_id)
            report.rows_extracted, report.quarantined, report.watermark = (
                flushed.rows, flushed.quarantined, flushed.watermark)
        except ShopflowError as exc:
            report.error = str(exc)
            log.error("flushing stream %s failed: %s", stream.name, exc)
        loads.submit(LakeLayout(config, source.name, stream.name), stream, report)
        reports.append(report)
    return reports


def _database_source(
    config: PipelineConfig, source: DatabaseSource, loads: _Loads, run_id: str, hooks: RunProgress,
    taken: dict[str, str],
) -> list[TableReport]:
    """Extract and load every table `source` selects, all read in one transaction (one snapshot)."""
    import duckdb

    from shopflow.pipeline.extract_database import extract_database_table
    from shopflow.sources.database.catalog import resolve_tables
    from shopflow.sources.database.session import SourceSession

    named = [t.name for t in source.tables if not t.is_pattern]
    try:
        session = SourceSession(source, named)
    except ShopflowError as exc:
        log.error("source %s: %s", source.name, exc)
        return [TableReport(source.table_name(n), kind="database", error=str(exc)) for n in named or [source.name]]
    reports: list[TableReport] = []
    try:
        try:
            tables, errors = resolve_tables(session)
        except duckdb.Error as exc:
            raise session.conn.error(exc, "read the catalog of") from None
        for name, error in errors.items():
            log.error("source %s: %s", source.name, error)
            reports.append(TableReport(source.table_name(name), kind="database", error=str(error)))
        for table in tables:
            report = TableReport(table.name, kind="database")
            reports.append(report)
            owner = taken.setdefault(table.name, f"{source.name}.{table.source_table}")
            if owner != f"{source.name}.{table.source_table}":
                report.error = str(SourceError(
                    f"table {table.source_table!r} of source {source.name!r} would load into raw.{table.name}, "
                    f"which {owner} fills",
                    fix=f"set prefix: on source {source.name!r} (e.g. prefix: {source.name}_), or exclude the table",
                    source=source.name, table=table.source_table,
                ))
                continue
            hooks.table_started(table.name)
            try:
                extracted = extract_database_table(
                    session, config, table, run_id, on_rows=partial(hooks.rows_done, table.name)
                )
                report.rows_extracted = extracted.rows
                report.rows_deleted = extracted.deleted
                report.watermark = extracted.watermark
                report.text_columns = extracted.text_columns
                report.quarantined = extracted.quarantined
            except (ShopflowError, duckdb.Error) as exc:
                failure: ShopflowError = (
                    exc if isinstance(exc, ShopflowError) else session.conn.error(exc, "read", table.source_table)
                )
                report.error = str(failure)
                log.error("extracting %s failed: %s", table.name, failure)
                session.restart()  # a failed read aborts the transaction; the other tables get a new one
            loads.submit(LakeLayout(config, source.name, table.name), table.config, report)
    except ShopflowError as exc:
        log.error("source %s: %s", source.name, exc)
        reports.append(TableReport(source.name, kind="database", error=str(exc)))
    finally:
        session.close()
    return sorted(reports, key=lambda r: r.table)


@dataclass
class _Loads:
    """The run's warehouse and the queue its loads go through."""

    warehouse: Warehouse
    queue: LoadQueue

    def submit(self, layout: LakeLayout, table: TableConfig, report: TableReport) -> None:
        """Queue the load of the table's pending lake commits; its outcome goes into `report`."""
        self.queue.submit(partial(_load, self.warehouse, layout, table, report))


def _load(warehouse: Warehouse, layout: LakeLayout, table: TableConfig, report: TableReport) -> None:
    """Apply the table's pending lake commits; a failure is added to the report."""
    try:
        loaded = load_table(warehouse, layout, table)
        if loaded is not None:
            report.rows_loaded = loaded.rows
            report.load = loaded
            report.schema_changes = loaded.added + loaded.widened
    except ShopflowError as exc:
        report.error = str(exc) if report.error is None else f"{report.error}\n{exc}"
        log.error("loading %s failed: %s", report.table, exc)
