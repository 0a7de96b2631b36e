"""How the CLI shows progress, run reports and status."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from shopflow.config.model import PipelineConfig
from shopflow.pipeline.run import RunProgress, RunReport
from shopflow.pipeline.status import TableStatus
from shopflow.storage import FileInfo

if TYPE_CHECKING:
    from shopflow.transform.report import TransformReport


class RichProgress(RunProgress):
    """A progress bar per table, advancing per file."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=console, transient=True,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._progress.stop()

    def table_started(self, table: str) -> None:
        """Add a bar for `table`."""
        self._tasks[table] = self._progress.add_task(f"extract {table}", total=None)

    def files_found(self, table: str, count: int) -> None:
        """Set the bar's total to the pending files."""
        self._progress.update(self._tasks[table], total=count)

    def file_done(self, table: str, file: FileInfo) -> None:
        """Advance the bar by one file."""
        self._progress.advance(self._tasks[table])

    def rows_done(self, table: str, count: int) -> None:
        """Advance a database table's bar by the rows just extracted."""
        self._progress.advance(self._tasks[table], count)


def print_report(console: Console, report: RunReport, config: PipelineConfig) -> None:
    """The run summary: a row per table, then errors and quarantine counts."""
    grid = Table(title=f"{report.pipeline}: run {report.run_id[:8]} in {report.seconds:.1f}s")
    for column in ("table", "new files", "rows extracted", "rows loaded", "quarantined", "status"):
        grid.add_column(column, justify="left" if column in ("table", "status") else "right")
    for table in report.tables:
        loaded = ", ".join(f"{name} {rows:,}" for name, rows in table.rows_loaded.items()) or "-"
        state = "[red]failed[/red]" if table.error else ("[yellow]quarantined[/yellow]" if table.quarantined else "ok")
        extracted = f"{table.rows_extracted:,}" + (f" (+{table.rows_deleted:,} deleted)" if table.rows_deleted else "")
        files = "-" if table.kind == "database" else f"{table.files_new:,}"
        grid.add_row(table.table, files, extracted, loaded, f"{table.quarantined:,}", state)
    console.print(grid)
    for table in report.tables:
        for note in table.text_columns:
            console.print(f"[yellow]as text[/yellow] {table.table}.{note}", highlight=False)
        for change in table.schema_changes:
            console.print(f"[cyan]schema[/cyan] {change}")
        for failed in table.failed_files:
            console.print(f"[yellow]quarantined file[/yellow] {failed}", highlight=False)
        if table.error:
            console.print(f"[red]{table.table} failed:[/red] {table.error}", highlight=False)
    if report.quarantined:
        console.print(
            f"[yellow]{report.quarantined:,} records quarantined[/yellow]: "
            f"SELECT * FROM raw._quarantine in {config.warehouse.describe()}"
        )


def print_status(console: Console, tables: list[TableStatus]) -> None:
    """One row per table: lake version, rows, last run, progress marker."""
    grid = Table(title="shopflow status")
    for column in ("table", "lake version", "applied", "warehouse rows", "last commit", "files consumed", "watermark"):
        grid.add_column(column)
    for t in tables:
        grid.add_row(
            t.table,
            "-" if t.lake_version is None else str(t.lake_version),
            "-" if t.applied_version < 0 else str(t.applied_version),
            "-" if t.warehouse_rows is None else f"{t.warehouse_rows:,}",
            t.last_commit or "-",
            f"{t.files_consumed:,}",
            t.watermark or "-",
        )
    console.print(grid)


_MODEL_STATES = {"success": "ok", "error": "[red]failed[/red]", "skipped": "[yellow]skipped[/yellow]"}


def print_transform_report(console: Console, report: TransformReport) -> None:
    """The transform summary: a row per model, counts, every failing test with its rows, the log file."""
    from rich.markup import escape  # dbt's messages quote SQL, which may hold [brackets]

    grid = Table(title=f"transform in {report.seconds:.1f}s")
    for column in ("model", "status", "seconds"):
        grid.add_column(column, justify="right" if column == "seconds" else "left")
    for model in report.models:
        grid.add_row(model.name, _MODEL_STATES.get(model.status, model.status), f"{model.seconds:.2f}")
    if report.models:
        console.print(grid)
    failed_tests = report.tests_with("fail", "error")
    console.print(
        f"models: {report.count('success')} built, {report.count('error')} failed, {report.count('skipped')} skipped; "
        f"tests: {len(report.tests_with('pass'))} passed, {len(failed_tests)} failed, "
        f"{len(report.tests_with('warn'))} warned, {len(report.tests_with('skipped'))} skipped",
        highlight=False,
    )
    for model in report.models:
        if model.status == "error":
            message = escape(model.message or "")
            console.print(f"[red]model {escape(model.name)} failed:[/red] {message}", highlight=False)
        elif model.status == "skipped" and model.message:
            console.print(f"[yellow]model {escape(model.name)}[/yellow] {escape(model.message)}", highlight=False)
    for test in report.tests:
        if test.status in ("fail", "warn"):
            rows = "?" if test.failures is None else f"{test.failures:,}"
            noun = "row" if test.failures == 1 else "rows"
            colour = "red" if test.status == "fail" else "yellow"
            console.print(
                f"[{colour}]test {test.status}[/{colour}] {escape(test.name)}: {rows} failing {noun}", highlight=False
            )
        elif test.status == "error":
            console.print(f"[red]test error[/red] {escape(test.name)}: {escape(test.message or '')}", highlight=False)
    console.print(f"dbt log: {escape(str(report.log_path))}", highlight=False, soft_wrap=True)
