"""`shopflow serve`, `shopflow runs`, `shopflow backfill`, and the schedule and freshness lines of `shopflow status`."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from collections.abc import Callable

    from shopflow.config.model import PipelineConfig
    from shopflow.demo.showcase import DemoProgress
    from shopflow.demo.showcase.results import DemoReport
    from shopflow.orchestrate.ledger import RunRecord

console = Console()
err_console = Console(stderr=True)

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The pipeline file.", envvar="SHOPFLOW_CONFIG")]


def register(app: typer.Typer) -> None:
    """Add the commands of this module to `app`."""
    app.command()(serve)
    app.command()(runs)
    app.command()(backfill)


def serve(
    config: Annotated[
        list[Path] | None, typer.Option("--config", "-c", help="A pipeline file (repeatable).")
    ] = None,
    project: Annotated[
        Path | None, typer.Option("--project", help="Serve shopflow.yml in this folder and in each folder below it.")
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on (0: any free port).")] = 8765,
    check_every: Annotated[
        float, typer.Option("--check-every", help="Seconds between freshness checks between runs.")
    ] = 30.0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each run.")] = False,
) -> None:
    """Run every pipeline on its schedule (`schedule:` in its file) and serve /v1/health and /v1/runs.

    One process owns the pipelines' warehouses: runs go in threads, one per pipeline at a time. A run still
    going when its next slot comes makes that slot skipped (recorded); slots missed while serve was down run
    once at start (`schedule: {catch_up: false}` waits for the next). Failed runs are retried as `retries:`
    says; failures, quarantined records, stale tables and recoveries are sent to `alerts:`, once per incident.
    SIGTERM or Ctrl-C stops after the tables in progress. Without -c or --project, serves shopflow.yml.
    """
    import logging

    from shopflow.serve.server import find_pipelines
    from shopflow.serve.server import serve as run_server

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    paths = find_pipelines(config or ([] if project else [Path("shopflow.yml")]), project)

    def ready(url: str) -> None:
        print(f"shopflow serve: {len(paths)} pipeline(s) on {url} (health: {url}/v1/health)", flush=True)

    raise typer.Exit(run_server(paths, host=host, port=port, check_every=check_every, on_ready=ready))


def runs(
    config: ConfigOption = Path("shopflow.yml"),
    last: Annotated[int, typer.Option("--last", "-n", help="How many runs, newest first.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the runs as JSON.")] = False,
) -> None:
    """Show the pipeline's run history: trigger, status, timing per step, rows, quarantined records, errors."""
    from shopflow.config import load_config
    from shopflow.orchestrate.ledger import Ledger

    pipeline = load_config(config)
    records = Ledger.of(pipeline).runs(last)
    if as_json:
        print(json.dumps([r.to_json() for r in records], indent=2))
        return
    if not records:
        console.print(f"{pipeline.pipeline}: no runs recorded yet")
        return
    from shopflow.cli.fit import Column, fitted_table

    columns = [Column("started (UTC)"), Column("trigger"), Column("job", drop=3), Column("status"),
               Column("seconds", right=True), Column("rows", right=True), Column("quarantined", right=True, drop=2),
               Column("steps", drop=1), Column("note / errors", drop=4)]
    console.print(f"{pipeline.pipeline}: last {len(records)} run(s), newest first", highlight=False)
    console.print(fitted_table(console, columns, [_run_row(r) for r in records]), highlight=False)


def _run_row(record: RunRecord) -> list[str]:
    colour = {"ok": "green", "failed": "red", "quarantined": "yellow", "skipped": "dim", "interrupted": "yellow"}
    trigger = record.trigger + (f" #{record.attempt}" if record.attempt > 1 else "")
    steps = ", ".join(
        f"{s.get('table', s['step'])} {s['seconds']:.1f}s" for s in record.steps if s.get("seconds") is not None
    )
    text = "; ".join(record.errors) or record.note or ""
    return [
        _when(record.started_at), trigger, record.job,
        f"[{colour.get(record.status, 'white')}]{record.status}[/]",
        f"{record.seconds:.1f}" if record.seconds is not None else "", f"{record.rows_loaded:,}",
        f"{record.quarantined:,}", escape(steps), escape(text[:200]),
    ]


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def backfill(
    config: ConfigOption = Path("shopflow.yml"),
    table: Annotated[str, typer.Option("--table", "-t", help="The table to backfill.")] = "",
    first: Annotated[str, typer.Option("--from", help="First date (2024-11-01) or cursor value, inclusive.")] = "",
    last: Annotated[str, typer.Option("--to", help="Last date or cursor value, inclusive.")] = "",
    date_pattern: Annotated[
        str | None,
        typer.Option("--date-pattern", help="Where a file's date is in its path: %Y-%m-%d, orders_%Y%m%d, or a regex "
                     "with groups year, month, day (default: finds YYYY-MM-DD, YYYYMMDD, YYYY/MM/DD)."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens.")] = False,
) -> None:
    """Load one table's files dated FROM..TO (by the date in their path), or its rows with a cursor in FROM..TO.

    The rows merge into the warehouse like any run, the watermark of an incremental table does not move, and
    rerunning the same backfill changes nothing. The models are built after, as `shopflow run` does.
    """
    import logging

    from shopflow.cli.render import RichProgress, print_report
    from shopflow.config import load_config
    from shopflow.errors import ConfigError
    from shopflow.orchestrate.backfill import backfill_config
    from shopflow.orchestrate.execute import run_recorded

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr)
    if not (table and first and last):
        raise ConfigError("backfill needs --table, --from and --to",
                          fix="e.g. shopflow backfill --table orders --from 2024-11-01 --to 2024-11-14")
    pipeline = load_config(config)
    narrowed, what = backfill_config(pipeline, table, first, last, date_pattern)
    console.print(f"backfill of {what}", highlight=False)
    with RichProgress(console) as progress:
        report = run_recorded(narrowed, progress, trigger="backfill")
    print_report(console, report, narrowed)
    if report.transform is not None:
        from shopflow.cli.render import print_transform_report

        print_transform_report(console, report.transform)
    raise typer.Exit(report.exit_code)


def print_schedule_status(out: Console, config: PipelineConfig) -> None:
    """The `shopflow status` lines of the schedule (next run of each job) and of each table's freshness."""
    from shopflow.orchestrate.freshness import current
    from shopflow.orchestrate.jobs import build_jobs
    from shopflow.orchestrate.ledger import Ledger, ledger_path, now
    from shopflow.orchestrate.scheduler import next_run

    at = now()
    ledger = Ledger.of(config) if ledger_path(config).exists() else None
    for job in build_jobs(config):
        if ledger is not None:
            job.last_slot = ledger.last_slot(job.name)
        upcoming = next_run(job, at) if not job.continuous else None
        when = "-" if upcoming is None else "due now" if upcoming <= at else f"{_when(upcoming)} UTC"
        label = "schedule" if job.name == "pipeline" else f"schedule of {job.name}"
        out.print(f"{label}: {job.describe()}; next run {when}"
                  + (" (by `shopflow serve`)" if not job.manual else ""), highlight=False)
    if ledger is None:
        return
    items = current(ledger, config)
    if not items:
        return
    from shopflow.cli.fit import Column, fitted_table

    rows = []
    colour = {"ok": "green", "warn": "yellow", "error": "red"}
    for item in items:
        level = item.level(at)
        age = item.age(at)
        target = item.target
        limits = [f"{k} {_short(v)}" for k, v in (("warn", target.warn_after if target else None),
                                                  ("error", target.error_after if target else None)) if v]
        rows.append([f"{item.kind} {item.name}", _when(item.newest_change), _short(age) if age else "-",
                     ", ".join(limits) or "-", f"[{colour.get(level, 'dim')}]{level}[/]"])
    columns = [Column("freshness"), Column("newest change (UTC)", drop=1), Column("age", right=True),
               Column("target", drop=2), Column("state")]
    out.print(fitted_table(out, columns, rows), highlight=False)


def _short(delta: object) -> str:
    from datetime import timedelta

    assert isinstance(delta, timedelta)
    seconds = int(delta.total_seconds())
    if seconds >= 86400:
        return f"{seconds // 86400}d {seconds % 86400 // 3600}h"
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m"
    return f"{seconds // 60}m {seconds % 60}s" if seconds >= 60 else f"{seconds}s"


def serve_demo(out: Console, progress: DemoProgress, port: int) -> Callable[[DemoReport], None]:
    """What `shopflow demo --serve` does once the demo's pipelines ran: print them, then serve them until Ctrl-C."""

    def then(report: DemoReport) -> None:
        from shopflow.cli.render import print_demo_summary
        from shopflow.serve.server import serve as run_server

        print_demo_summary(out, report)
        paths = [p.config for p in report.pipelines if p.error is None]
        progress.step("shopflow serve", f"starting on port {port}")

        def ready(url: str) -> None:
            progress.step("shopflow serve", f"{len(paths)} pipelines on {url} (/v1/health, /v1/runs); Ctrl-C stops")

        run_server(paths, port=port, on_ready=ready)

    return then
