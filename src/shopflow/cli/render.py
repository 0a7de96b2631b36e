"""How the CLI shows progress, run reports and status."""

from __future__ import annotations

from pathlib import Path
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

from shopflow.config.model import PipelineConfig
from shopflow.demo.showcase import DemoProgress
from shopflow.demo.showcase.results import DemoReport, PipelineResult
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
    from rich.markup import escape

    from shopflow.cli.fit import fitted_table
    from shopflow.cli.report_tables import RUN_COLUMNS, run_rows

    console.print(f"[bold]{escape(report.pipeline)}[/bold]: run {report.run_id[:8]} in {report.seconds:.1f}s",
                  highlight=False)
    console.print(fitted_table(console, RUN_COLUMNS, run_rows(report)), highlight=False)
    for table in report.tables:
        for note in table.text_columns:
            console.print(f"[yellow]as text[/yellow] {table.table}.{note}", highlight=False)
        for change in table.schema_changes:
            console.print(f"[cyan]schema[/cyan] {change}")
        for failed in table.failed_files:
            console.print(f"[yellow]quarantined file[/yellow] {failed}", highlight=False)
        if table.error:
            console.print(f"[red]{table.table} failed:[/red] {table.error}", highlight=False)
        if table.warning:
            console.print(f"[yellow]warning[/yellow] {table.table}: {escape(table.warning)}", highlight=False)
    if report.quarantined:
        console.print(
            f"[yellow]{report.quarantined:,} records quarantined[/yellow]: "
            f"SELECT * FROM raw._quarantine in {config.warehouse.describe()}"
        )


def print_status(console: Console, tables: list[TableStatus]) -> None:
    """One row per table: lake version, rows, last run, progress marker."""
    from rich.markup import escape

    from shopflow.cli.fit import fitted_table
    from shopflow.cli.report_tables import STATUS_COLUMNS, status_rows

    console.print(fitted_table(console, STATUS_COLUMNS, status_rows(tables)), highlight=False)
    for t in tables:
        if t.warning:
            console.print(f"[yellow]warning[/yellow] {t.table}: {escape(t.warning)}", highlight=False)


_MODEL_STATES = {"success": "ok", "error": "[red]failed[/red]", "skipped": "[yellow]skipped[/yellow]"}


def print_transform_report(console: Console, report: TransformReport) -> None:
    """The transform summary: a row per model, counts, every failing test with its rows, the log file."""
    from rich.markup import escape  # dbt's messages quote SQL, which may hold [brackets]

    from shopflow.cli.fit import Column, fitted_table

    if report.skipped:
        console.print(f"models: up to date, nothing built ({escape(report.skipped)})", highlight=False)
        return
    scope = "" if not report.selected else f": downstream of {escape(', '.join(_selected(report.selected)))}"
    console.print(f"[bold]transform[/bold] in {report.seconds:.1f}s{scope}", highlight=False)
    if report.models:
        columns = [Column("model"), Column("status"), Column("seconds", right=True)]
        cells = [[escape(m.name), _MODEL_STATES.get(m.status, m.status), f"{m.seconds:.2f}"] for m in report.models]
        console.print(fitted_table(console, columns, cells), highlight=False)
    failed_tests = report.tests_with("fail", "error")
    others = "".join(f", {len(report.tests_with(status))} {word}" for status, word in
                     (("warn", "warned"), ("skipped", "skipped")) if report.tests_with(status))
    console.print(
        f"models: {report.count('success')} built, {report.count('error')} failed, {report.count('skipped')} skipped; "
        f"tests: {len(report.tests_with('pass'))} passed, {len(failed_tests)} failed{others}",
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


def _selected(selectors: list[str]) -> list[str]:
    """`source:raw.orders+` as `raw.orders`; other selectors as they are."""
    return [s.removeprefix("source:").removesuffix("+") for s in selectors]


class DemoRichProgress(DemoProgress):
    """`shopflow demo`'s live display: the current pipeline and step, a bar per table being extracted.

    Each pipeline's tables are printed (above the live display) as soon as it finishes.
    """

    def __init__(self, console: Console) -> None:
        self.console = console
        self._progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=console, transient=True,
        )
        self._step = self._progress.add_task("shopflow demo", total=None)
        self._tables: dict[str, TaskID] = {}

    def __enter__(self) -> DemoRichProgress:
        self._progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._progress.stop()

    def step(self, pipeline: str, text: str) -> None:
        """Show what the demo does now; the previous step's table bars go."""
        self._clear_tables()
        self._progress.update(self._step, description=f"[bold]{pipeline}[/bold]: {text}")

    def table_started(self, table: str) -> None:
        """Add a bar for a table being extracted and loaded."""
        self._tables[table] = self._progress.add_task(f"  {table}", total=None)

    def files_found(self, table: str, count: int) -> None:
        """Set the table's bar to its pending files."""
        self._progress.update(self._tables[table], total=count)

    def file_done(self, table: str, file: FileInfo) -> None:
        """Advance the table's bar by one file."""
        self._progress.advance(self._tables[table])

    def rows_done(self, table: str, count: int) -> None:
        """Advance a database table's bar by the rows just extracted."""
        self._progress.advance(self._tables[table], count)

    def pipeline_done(self, result: PipelineResult) -> None:
        """Print the pipeline's tables."""
        self._clear_tables()
        print_demo_pipeline(self.console, result)

    def _clear_tables(self) -> None:
        for task in self._tables.values():
            self._progress.remove_task(task)
        self._tables.clear()


def _display_path(path: Path) -> str:
    """`path` relative to the working folder when it is inside it, else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def print_demo_pipeline(console: Console, result: PipelineResult) -> None:
    """One pipeline of the demo: its tables (rows, change, seconds, quarantined), timings, and how to query it."""
    from rich.markup import escape

    first = result.round_no == 0
    console.print()
    console.rule(f"[bold]{result.name}[/bold]: {escape(result.title)}", align="left")
    label = "data" if first else f"round {result.round_no} of changes"
    if result.prepared is not None:
        console.print(f"{label}: {escape(result.prepared.what)}", highlight=False)
    elif result.resumed:
        console.print(f"{label}: delivered by an earlier demo that was interrupted", highlight=False)
    else:
        console.print(f"{label}: nothing new to deliver", highlight=False)
    if result.tables:
        from shopflow.cli.fit import Column, fitted_table

        columns = [Column("table"), Column("kind", drop=1), Column("rows", right=True)] + ([] if first else [
            Column("+rows", right=True), Column("read", right=True, drop=2)]) + [
            Column("seconds", right=True, drop=3), Column("quarantined", right=True)]
        lines: list[list[str]] = []
        styles: list[str | None] = []
        for line in result.tables:
            cells = [escape(line.name), line.kind, f"{line.rows:,}"]
            if not first:
                cells += [_signed(line.added), "" if line.read is None else f"{line.read:,}"]
            cells += ["" if line.seconds is None else f"{line.seconds:.2f}",
                      f"{line.quarantined:,}" if line.kind == "raw" else ""]
            lines.append(cells)
            styles.append("dim" if not first and not line.added and not line.read else None)
        console.print(fitted_table(console, columns, lines, styles), highlight=False)
    transform = result.transform
    if transform is not None and transform.skipped:
        console.print(f"extract and load {result.load_seconds:.1f}s; models up to date ({escape(transform.skipped)})",
                      highlight=False)
    elif transform is not None:
        failed = transform.tests_with("fail", "error")
        built = f"{transform.count('success')} models built" + (
            f", [red]{transform.count('error')} failed[/red]" if transform.count("error") else "")
        tests = f"{len(transform.tests_with('pass'))} tests passed" + (
            f", [red]{len(failed)} failed[/red]" if failed else "")
        console.print(f"extract and load {result.load_seconds:.1f}s, dbt {result.transform_seconds:.1f}s: "
                      f"{built}, {tests}", highlight=False)
        for test in failed:
            rows = "" if test.failures is None else f": {test.failures:,} failing rows"
            console.print(f"  [red]test {test.status}[/red] {escape(test.name)}{rows}", highlight=False,
                          soft_wrap=True)
    if result.quarantined:
        console.print(f"[yellow]{result.quarantined:,} records quarantined[/yellow] this run: "
                      "SELECT * FROM raw._quarantine", highlight=False)
    if result.run is not None:
        for table in result.run.tables:
            if table.error:
                console.print(f"[red]{escape(table.table)} failed:[/red] {escape(table.error)}", highlight=False)
    if result.error:
        console.print(f"[red]{result.name} failed:[/red] {escape(result.error)}", highlight=False)
    if result.warehouse.is_file():
        path = _display_path(result.warehouse)
        console.print("query it:", highlight=False)
        console.print(f'  duckdb -readonly {path} "{escape(result.query)}"', highlight=False, soft_wrap=True)
        console.print(f"  python -c \"import duckdb; print(duckdb.connect('{path}', read_only=True)"
                      f".sql('{escape(result.query)}'))\"", highlight=False, soft_wrap=True)


def _signed(value: int | None) -> str:
    if value is None:
        return ""
    return f"+{value:,}" if value > 0 else f"{value:,}"


def print_demo_summary(console: Console, report: DemoReport) -> None:
    """The closing lines: time taken, skipped pipelines, and what to do next."""
    from rich.markup import escape

    folder = _display_path(report.folder)
    console.print()
    rounds = sorted({p.round_no for p in report.pipelines})
    what = "built" if rounds == [0] else "refreshed incrementally" if 0 not in rounds else "built or refreshed"
    state = "[green]ok[/green]" if report.ok else "[red]with failures (see above)[/red]"
    count = f"{len(report.pipelines)} pipeline{'' if len(report.pipelines) == 1 else 's'}"
    console.print(f"{count} {what} in {report.seconds:.1f}s, {state}. "
                  f"Seed {report.seed}, scale {report.scale:g}, folder {folder}", highlight=False)
    for note in report.notes:
        console.print(f"[yellow]note[/yellow]: {escape(note)}", highlight=False)
    for name, reason in report.skipped.items():
        console.print(f"[yellow]skipped {name}[/yellow]: {escape(reason)}", highlight=False)
    console.print("Next: [bold]shopflow demo[/bold] again delivers a round of changes and runs every pipeline "
                  "incrementally; [bold]shopflow demo --reset[/bold] starts over.", highlight=False)
    if report.pipelines:
        example = _display_path(report.pipelines[0].config)
        console.print(f"Each pipeline's file is {folder}/<pipeline>/shopflow.yml, e.g. shopflow status -c {example}",
                      highlight=False, soft_wrap=True)
