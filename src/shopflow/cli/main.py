"""`shopflow`: the command line. Heavy modules are imported inside the commands, so --help is fast."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.console import Console
from rich.markup import escape

from shopflow.errors import ShopflowError

if TYPE_CHECKING:
    from shopflow.sources.cdc import CdcSettings

app = typer.Typer(
    name="shopflow",
    help=(
        "Move a shop's data (database tables, JSON/CSV/Parquet/XLSX files in a folder, S3 or Azure Blob) "
        "into an immutable Delta lake and an analytics warehouse, exactly once."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",  # help paragraphs rewrap to the terminal: docstring line breaks are not kept
)
console = Console()
err_console = Console(stderr=True)

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="The pipeline file.", envvar="SHOPFLOW_CONFIG")
]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens, step by step.")]


def _version(show: bool) -> None:
    if show:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("shopflow")
        except PackageNotFoundError:  # run from a source tree that is not installed
            from shopflow import __version__ as number
        console.print(f"shopflow {number}", highlight=False)
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Move a shop's data into an immutable Delta lake and an analytics warehouse, exactly once."""


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@app.command()
def run(
    config: ConfigOption = Path("shopflow.yml"),
    verbose: VerboseOption = False,
    table: Annotated[list[str] | None, typer.Option(
        "--table", "-t", help="Only this table (source.table, table, or a whole source; repeatable).")] = None,
    no_transform: Annotated[bool, typer.Option("--no-transform", help="Load only; do not build the models.")] = False,
    trigger: Annotated[Literal["manual", "airflow"], typer.Option(
        hidden=True, help="The trigger the run history records.")] = "manual",
) -> None:
    """Extract every source table into the lake, load the lake into the warehouse, then build the models.

    The models (the pipeline's dbt project, `transform:` in shopflow.yml) run last, unless
    `transform: {after_run: false}` or --no-transform; `shopflow transform` runs them alone.

    Exit codes: 0 done, 1 a table or a model or data test failed, 2 bad usage or configuration, 3 done with
    quarantined records (see raw._quarantine).
    """
    from shopflow.cli.render import RichProgress, print_report
    from shopflow.config import load_config
    from shopflow.orchestrate.execute import run_recorded

    _setup_logging(verbose)
    pipeline = load_config(config)
    if table:
        from shopflow.pipeline.selection import select_tables

        pipeline = select_tables(pipeline, table)
    if no_transform and pipeline.transform is not None:
        pipeline = pipeline.model_copy(update={"transform": pipeline.transform.model_copy(update={"after_run": False})})
    with RichProgress(console) as progress:
        report = run_recorded(pipeline, progress, trigger)  # run_pipeline, recorded in the run history
    print_report(console, report, pipeline)
    if report.transform is not None:
        from shopflow.cli.render import print_transform_report

        print_transform_report(console, report.transform)
    elif report.transform_error:
        err_console.print(f"[red]transform failed:[/red] {escape(report.transform_error)}", highlight=False)
    raise typer.Exit(report.exit_code)


@app.command()
def transform(
    config: ConfigOption = Path("shopflow.yml"),
    select: Annotated[
        list[str] | None,
        typer.Option("--select", "-s", help="dbt selector of the models to build, e.g. orders_table+ (repeatable)."),
    ] = None,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Rebuild incremental models from scratch.")
    ] = False,
    verbose: VerboseOption = False,
) -> None:
    """Build the dbt models of the pipeline's transform project in the warehouse, and run their tests.

    Exit codes: 0 every model built and every test passed, 1 a model or test failed,
    2 bad usage or configuration.
    """
    from shopflow.cli.render import print_transform_report
    from shopflow.config import load_config
    from shopflow.pipeline.run_lock import run_lock
    from shopflow.transform import run_transform

    _setup_logging(verbose)
    pipeline = load_config(config)
    with run_lock(pipeline.warehouse), console.status("dbt build ..."):  # not while a run loads
        report = run_transform(pipeline, select=select, full_refresh=full_refresh)
    print_transform_report(console, report)
    raise typer.Exit(report.exit_code)


@app.command()
def status(config: ConfigOption = Path("shopflow.yml")) -> None:
    """Show each table's lake version, warehouse rows, last run, and files consumed or watermark."""
    from shopflow.cli.render import print_status
    from shopflow.config import load_config
    from shopflow.pipeline.status import pipeline_status

    pipeline = load_config(config)
    print_status(console, pipeline_status(pipeline))
    serve_cmd.print_schedule_status(console, pipeline)


@app.command()
def demo(
    folder: Annotated[Path, typer.Option("--folder", help="Where the demo keeps its data, lakes and warehouses.")] = (
        Path(".shopflow-demo")
    ),
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed of the generated data (same seed, same data).  [default: 42]")
    ] = None,
    scale: Annotated[
        float | None,
        typer.Option("--scale", help="Size factor of the generated data (1: thousands of rows per pipeline, about "
                     "a minute).  [default: 1]"),
    ] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Delete the demo folder's contents and start over.")] = False,
    pipeline: Annotated[
        list[str] | None,
        typer.Option("--pipeline", "-p", help="Only this pipeline (repeatable): glossier, shop_db, totesys, "
                     "online_retail, customers."),
    ] = None,
    verbose: VerboseOption = False,
    serve: Annotated[bool, typer.Option("--serve", help="Then keep them running: `shopflow serve` on the demo's "
                                        "pipelines (and its embedded PostgreSQL) until Ctrl-C.")] = False,
    port: Annotated[int, typer.Option("--port", help="With --serve: the port to listen on.")] = 8765,
    stream: Annotated[bool, typer.Option("--stream", help="Instead: Online Retail's stream path, simulated stores "
                                         "posting to the ingest API, then the micro-batch and dbt.")] = False,
) -> None:
    """Build the five example pipelines end to end on this machine, with nothing to install or start.

    The first run writes each example's data with the demo generators into FOLDER: Glossier
    order files, the shop and totesys databases (in an embedded PostgreSQL that runs only while
    the demo does), Online Retail dumps, CRM and payment exports. It runs each pipeline:
    extract into a Delta lake, load into the pipeline's own DuckDB warehouse, build the dbt
    models; then prints each warehouse's tables with rows, seconds and quarantined records,
    and how to query it.

    Run it again in the same folder: it delivers a round of changes (new day files, inserts and
    updates in the databases, the next dump and export) and shows the incremental run, rows
    new and changed per table. --seed and --scale apply to the first run of a folder.

    Exit codes: 0 every pipeline ran clean, 1 a table, model or data test failed, 2 bad usage.
    """
    from shopflow.cli.render import DemoRichProgress, print_demo_summary
    from shopflow.demo.showcase import run_demo

    _setup_logging(verbose)
    if stream:
        from shopflow.cli.demo_stream import run_stream

        raise typer.Exit(run_stream(console, folder, seed))
    with DemoRichProgress(console) as progress:
        then = serve_cmd.serve_demo(console, progress, port) if serve else None
        report = run_demo(folder, seed=seed, scale=scale, reset=reset, only=pipeline, progress=progress, then=then)
    if not serve:
        print_demo_summary(console, report)
    raise typer.Exit(0 if report.ok else 1)


cdc_app = typer.Typer(help="Change data capture sources: the replication slot's state, and dropping it.",
                      no_args_is_help=True)
app.add_typer(cdc_app, name="cdc")

# Each command family lives in its own module (imports there stay lazy); wired after the app exists.
from shopflow.cli import (  # noqa: E402
    airflow_cmd,
    dashboard_cmd,
    ingest_cmd,
    init_cmd,
    query_cmd,
    recovery,
    serve_cmd,
    spark_cmd,
    validate,
)

for _commands in (init_cmd, query_cmd, serve_cmd, airflow_cmd, ingest_cmd, dashboard_cmd, spark_cmd, recovery,
                  validate):
    _commands.register(app)


def _cdc_sources(config: Path, source: str | None) -> list[tuple[str, CdcSettings]]:
    from shopflow.config import load_config
    from shopflow.config.database import DatabaseSource
    from shopflow.errors import ConfigError
    from shopflow.sources.cdc.from_config import cdc_settings

    pipeline = load_config(config)
    found = [s for s in pipeline.sources if isinstance(s, DatabaseSource) and s.cdc is not None
             and (source is None or s.name == source)]
    if not found:
        raise ConfigError(f"{config} has no change data capture source{f' named {source!r}' if source else ''}",
                          fix="add cdc: {} to a postgres source, or pass --source with its name")
    return [(s.name, cdc_settings(pipeline, s)) for s in found]


SourceOption = Annotated[str | None, typer.Option("--source", help="Only this source (default: every cdc source).")]


@cdc_app.command("status")
def cdc_status(config: ConfigOption = Path("shopflow.yml"), source: SourceOption = None) -> None:
    """Show each capture slot's retained WAL (warns above cdc.max_lag_bytes)."""
    from shopflow.sources.cdc.slot import retained_wal

    for name, settings in _cdc_sources(config, source):
        held = retained_wal(settings)
        state = "no slot yet (the next run creates it)" if held is None else f"{held:,} bytes of WAL retained"
        console.print(f"{name}: slot {settings.slot}: {state}", highlight=False)


@cdc_app.command("drop")
def cdc_drop(config: ConfigOption = Path("shopflow.yml"), source: SourceOption = None) -> None:
    """Drop the replication slot and publication shopflow created, so the database stops keeping WAL for it.

    The next run starts over with a fresh snapshot of every captured table.
    """
    from shopflow.sources.cdc.slot import drop

    for name, settings in _cdc_sources(config, source):
        dropped = drop(settings)
        console.print(f"{name}: " + (", ".join(dropped) if dropped else "nothing to drop"), highlight=False)


def main() -> None:
    """Entry point: run the app and turn shopflow errors into messages and exit codes."""
    try:
        app()
    except ShopflowError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}", highlight=False, markup=True)
        if exc.context:
            err_console.print("  " + ", ".join(f"{k}={v}" for k, v in exc.context.items()), highlight=False)
        if exc.fix:
            err_console.print(f"  [bold]fix:[/bold] {exc.fix}", highlight=False)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
