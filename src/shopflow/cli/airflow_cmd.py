"""`shopflow airflow export` (a DAG file per pipeline) and `shopflow airflow alert` (what those DAGs call back)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

console = Console()

airflow_app = typer.Typer(help="Hand pipelines to Apache Airflow 3: DAG files whose tasks run `shopflow`.",
                          no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the `airflow` commands to `app`."""
    app.add_typer(airflow_app, name="airflow")


@airflow_app.command("export")
def export_command(
    config: Annotated[list[Path], typer.Option("--config", "-c", help="A pipeline file (repeatable).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The folder to write the DAG files into (Airflow's "
                                      "dags folder).")] = Path("dags"),
    shopflow: Annotated[str, typer.Option("--shopflow", help="The shopflow command the tasks run, as the Airflow "
                                          "workers find it.")] = "shopflow",
    continuous_every: Annotated[str | None, typer.Option(
        "--continuous-every", help="Export a continuous schedule as a run at this interval, e.g. '1 minute'.")] = None,
) -> None:
    """Write a static Airflow 3 DAG file per pipeline: `<out>/shopflow_<pipeline>.py`.

    Each table (or a source whose tables are found at run time, or captured together) gets a task
    running `shopflow run --table ... --no-transform`, then a task runs `shopflow transform`; the
    DAG has the pipeline's schedule, retries and, with `alerts:`, callbacks that alert through
    `shopflow airflow alert`. The tasks shell out to shopflow: Airflow never imports it. Export
    again after changing the schedule, retries, alerts or tables.

    Exit codes: 0 written, 2 bad usage or configuration (nothing is written for that file).
    """
    from shopflow.config import load_config
    from shopflow.config.schedule import parse_duration
    from shopflow.errors import ConfigError
    from shopflow.orchestrate.airflow_export import export

    every = None
    if continuous_every is not None:
        try:
            every = parse_duration(continuous_every, "--continuous-every")
        except ValueError as exc:
            raise ConfigError(str(exc), fix="e.g. --continuous-every '1 minute'") from None
    for path in config:
        pipeline = load_config(path)
        written = export(pipeline, path.resolve(), out, shopflow=shopflow, continuous_every=every)
        console.print(f"{written.path}: DAG {written.dag_id}, schedule {written.schedule}, "
                      f"{len(written.tasks)} task(s): {', '.join(t.task_id for t in written.tasks)}", highlight=False)


@airflow_app.command("alert")
def alert_command(
    config: Annotated[Path, typer.Option("--config", "-c", help="The pipeline file.")],
    event: Annotated[Literal["failure", "recovery"], typer.Option(
        help="failure (a task failed) or recovery (a DAG run succeeded).")],
    dag: Annotated[str, typer.Option(help="The DAG's id.")],
    run: Annotated[str, typer.Option(help="The DAG run's id.")] = "",
    task: Annotated[str, typer.Option(help="The failed task's id.")] = "",
    attempt: Annotated[int, typer.Option("--try", help="The failed task's try number.")] = 0,
    error: Annotated[str, typer.Option(help="What the task failed with.")] = "",
) -> None:
    """Send the pipeline's `alerts:` for an Airflow task that failed, or for a recovery: the exported DAGs call this.

    A failure opens an incident in the pipeline's run history and alerts once; later failures stay
    quiet until a DAG run succeeds, which closes it with a recovery alert.
    """
    from shopflow.config import load_config
    from shopflow.orchestrate.airflow_export import airflow_alert

    pipeline = load_config(config)
    sent = airflow_alert(pipeline, event, dag=dag, run=run, task=task, attempt=attempt, error=error)
    console.print(f"{pipeline.pipeline}: {event} of {dag}: {sent} alert(s) sent", highlight=False)
