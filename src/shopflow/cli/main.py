"""`shopflow`: the command line. Heavy modules are imported inside the commands, so --help is fast."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from shopflow.errors import ShopflowError

app = typer.Typer(
    name="shopflow",
    help=(
        "Move a shop's data (database tables, JSON/CSV/Parquet/XLSX files in a folder, S3 or Azure Blob) "
        "into an immutable Delta lake and an analytics warehouse, exactly once."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="The pipeline file.", envvar="SHOPFLOW_CONFIG")
]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens, step by step.")]


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the starter pipeline file.")] = Path("shopflow.yml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter pipeline file to edit."""
    from shopflow.cli.starter import STARTER

    if path.exists() and not force:
        err_console.print(f"[red]{path} exists[/red]; pass --force to overwrite it.")
        raise typer.Exit(2)
    path.write_text(STARTER, encoding="utf-8")
    console.print(f"Wrote {path}. Edit its sources, then: [bold]shopflow run -c {path}[/bold]")


@app.command()
def run(config: ConfigOption = Path("shopflow.yml"), verbose: VerboseOption = False) -> None:
    """Extract every source table into the lake, then load the lake into the warehouse.

    Exit codes: 0 done, 1 a table failed, 2 bad usage or configuration, 3 done with
    quarantined records (see raw._quarantine).
    """
    from shopflow.cli.render import RichProgress, print_report
    from shopflow.config import load_config
    from shopflow.pipeline.run import run_pipeline

    _setup_logging(verbose)
    pipeline = load_config(config)
    with RichProgress(console) as progress:
        report = run_pipeline(pipeline, progress)
    print_report(console, report, pipeline)
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
    from shopflow.transform import run_transform

    _setup_logging(verbose)
    pipeline = load_config(config)
    with console.status("dbt build ..."):
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
