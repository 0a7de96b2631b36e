"""`shopflow airflow export`: a static Airflow 3 DAG file per pipeline, whose tasks shell out to `shopflow`.

One task per unit of the pipeline (a table, or a whole source where its tables are known only
at run time or are captured together) runs `shopflow run --table ... --no-transform`, then one
task builds the models (`shopflow transform`). The tasks run in a chain, because every run of a
pipeline holds its warehouse's run lock; each runs whatever the one before did (a table that
fails does not stop the others, as in `shopflow run`), and a last task fails the DAG run when
any step failed, since Airflow judges a run by its last tasks only. The schedule, retries and
alert callbacks come from the pipeline file; an alert goes through `shopflow airflow alert`,
which opens (once) and closes the same incidents `shopflow serve` keeps, in the pipeline's ledger.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from importlib.resources import files
from pathlib import Path
from string import Template

from shopflow.config.model import PipelineConfig
from shopflow.errors import ConfigError
from shopflow.orchestrate.incidents import Observation, deliver_pending, observe
from shopflow.orchestrate.ledger import Ledger
from shopflow.pipeline.run import EXIT_QUARANTINED
from shopflow.pipeline.selection import units

log = logging.getLogger(__name__)

EXTRACT_LOAD = "extract_load."  # + the unit's key: the task id of a table's extract and load
TRANSFORM_TASK = "transform"
WATCH_TASK = "fail_if_a_step_failed"
AIRFLOW_EVENTS = ("failure", "recovery")
FAILURE_CALLBACK, RECOVERY_CALLBACK = '_alert("failure")', '_alert("recovery")'


@dataclass(frozen=True)
class Task:
    """One task of the DAG: its id and the shell command it runs."""

    task_id: str
    command: str


@dataclass(frozen=True)
class ExportedDag:
    """A written DAG file."""

    path: Path
    dag_id: str
    schedule: str
    tasks: list[Task]


def dag_id(config: PipelineConfig) -> str:
    """`shopflow_<pipeline>`: the DAG's id."""
    return "shopflow_" + re.sub(r"[^A-Za-z0-9_.-]", "_", config.pipeline)


def plan_tasks(config: PipelineConfig, config_path: Path, shopflow: str = "shopflow") -> list[Task]:
    """The DAG's tasks in run order: one per unit of the pipeline, then the models (if it has any)."""
    run = f"{shlex.quote(shopflow)} run -c {shlex.quote(str(config_path))}"
    tasks = [
        # Exit 3 is "done, some records quarantined": a success; they are in raw._quarantine.
        Task(EXTRACT_LOAD + unit.key,
             f"{run} --table {shlex.quote(unit.key)} --no-transform --trigger airflow || [ $? -eq {EXIT_QUARANTINED} ]")
        for unit in units(config)
    ]
    if config.transform is not None:
        tasks.append(Task(TRANSFORM_TASK, f"{shlex.quote(shopflow)} transform -c {shlex.quote(str(config_path))}"))
    return tasks


def schedule_source(config: PipelineConfig, continuous_every: timedelta | None = None) -> str:
    """The DAG's `schedule=` as Python source: a cron string, a timedelta, or None (manual).

    Raises:
        ConfigError: A continuous schedule without `continuous_every`, or tables with schedules of their own.
    """
    schedule = config.schedule
    if schedule is None or schedule.kind == "manual":
        return "None"
    if schedule.tables:
        raise ConfigError(
            f"pipeline {config.pipeline}: schedule.tables ({', '.join(schedule.tables)}) cannot be exported: a DAG "
            "has one schedule, and two DAGs of one pipeline would collide on its warehouse's run lock",
            fix="export a pipeline file without schedule.tables (one per schedule, each with its own warehouse), "
                "or run this one with `shopflow serve`")
    if schedule.kind == "cron":
        return repr(schedule.cron)
    if schedule.kind == "every":
        return _delta(schedule.every or timedelta(0))
    if continuous_every is None:
        raise ConfigError(
            f"pipeline {config.pipeline} has a continuous schedule: Airflow starts a DAG run in seconds, not in the "
            "milliseconds a poll of `shopflow serve` takes",
            fix="run it with `shopflow serve`, or export it polling at an interval: --continuous-every '1 minute'")
    return _delta(continuous_every)


def render_dag(
    config: PipelineConfig, config_path: Path, *, shopflow: str = "shopflow",
    continuous_every: timedelta | None = None,
) -> str:
    """The DAG file of `config` (read from `config_path`) as Python source.

    Raises:
        ConfigError: The schedule cannot be exported (see `schedule_source`), or the pipeline has no source.
    """
    tasks = plan_tasks(config, config_path, shopflow)
    if not tasks:
        raise ConfigError(f"pipeline {config.pipeline} has no source and no models: the DAG would have no task",
                          fix="add sources: to the pipeline file")
    schedule = schedule_source(config, continuous_every)
    retries = config.retries
    defaults = {
        "retries": str(retries.attempts),
        "retry_delay": _delta(retries.backoff),
        # Airflow waits retry_delay * factor ** (try - 1), as `retries:` does; 0 is its "no backoff".
        "retry_exponential_backoff": repr(retries.factor if retries.factor != 1 else 0),
        "max_retry_delay": _delta(retries.max_backoff),
    }
    alerts = bool(config.alerts)  # `enabled:` may come from the environment: `shopflow airflow alert` reads it then
    if alerts:
        defaults["on_failure_callback"] = FAILURE_CALLBACK
    template = Template(files("shopflow.orchestrate").joinpath("airflow_dag.py.tmpl").read_text(encoding="utf-8"))
    return template.substitute(
        pipeline=config.pipeline, config_path=config_path, shopflow=repr(shopflow), config=repr(str(config_path)),
        dag_id=repr(dag_id(config)), schedule=schedule,
        description=repr(f"shopflow pipeline {config.pipeline}: {len(tasks)} step(s); "
                         f"{config.schedule.describe() if config.schedule else 'manual'}"),
        default_args="".join(f"        {key!r}: {value},\n" for key, value in defaults.items()),
        dag_callbacks=f"    on_success_callback={RECOVERY_CALLBACK},  # closes an open failure incident\n"
        if alerts else "",
        tasks=_task_source(tasks),
    )


def _task_source(tasks: list[Task]) -> str:
    """The operators and their dependencies, indented into the `with DAG(...)` block."""
    names = _variables([t.task_id for t in tasks])
    lines = []
    for task, name in zip(tasks, names, strict=True):
        lines += [f"    {name} = BashOperator(", f"        task_id={task.task_id!r},",
                  f"        bash_command={task.command!r},"]
        if task is not tasks[0]:
            lines.append('        trigger_rule="all_done",  # runs after the step before, whether it failed or not')
        lines.append("    )")
    if len(tasks) > 1:
        lines += [
            f"    {WATCH_TASK} = BashOperator(",
            f"        task_id={WATCH_TASK!r},",
            "        bash_command=\"echo 'a step of this run failed: see its log' >&2; exit 1\",",
            '        trigger_rule="one_failed",  # skipped when every step succeeded',
            "        retries=0,",
            "        on_failure_callback=None,  # the failed step alerted already",
            "    )",
            "    " + " >> ".join(names),
            f"    [{', '.join(names)}] >> {WATCH_TASK}",
        ]
    return "\n".join(lines) + "\n"


def _variables(task_ids: list[str]) -> list[str]:
    """A distinct Python name for each task id."""
    names: list[str] = []
    for task_id in task_ids:
        base = re.sub(r"\W+", "_", task_id).strip("_") or "task"
        name, number = base, 2
        while name in names or name == WATCH_TASK:
            name, number = f"{base}_{number}", number + 1
        names.append(name)
    return names


def _delta(delta: timedelta) -> str:
    return f"timedelta(seconds={delta.total_seconds():g})"


def export(
    config: PipelineConfig, config_path: Path, folder: Path, *, shopflow: str = "shopflow",
    continuous_every: timedelta | None = None,
) -> ExportedDag:
    """Write `<folder>/shopflow_<pipeline>.py`, replacing it whole (Airflow may be reading the folder).

    Raises:
        ConfigError: As `render_dag`.
    """
    source = render_dag(config, config_path, shopflow=shopflow, continuous_every=continuous_every)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{dag_id(config)}.py"
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".shopflow-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(source)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return ExportedDag(path, dag_id(config), schedule_source(config, continuous_every),
                       plan_tasks(config, config_path, shopflow))


def airflow_alert(
    config: PipelineConfig, event: str, *, dag: str, run: str = "", task: str = "", attempt: int = 0,
    error: str = "",
) -> int:
    """Open (failure) or close (recovery) the pipeline's incident for `dag`, and send the alerts it queues.

    While the incident is open, further failures send nothing; the next successful DAG run closes
    it with a recovery alert. Returns the alerts delivered (a failed delivery stays queued, for the
    next call or `shopflow serve`).
    """
    assert event in AIRFLOW_EVENTS, event
    ledger = Ledger.of(config)
    if event == "failure" and task.startswith(EXTRACT_LOAD):
        # Airflow only knows "exit code 1"; the run the task started recorded why.
        newest = ledger.runs(1)
        if newest and newest[0].trigger == "airflow" and newest[0].status == "failed" and newest[0].errors:
            error = "\n".join(newest[0].errors)
    first = error.strip().splitlines()[0][:300] if error.strip() else "see the task's log in Airflow"
    seen = Observation(
        key=f"failure:airflow:{dag}", kind="failure", severity="error" if event == "failure" else None,
        summary=f"Airflow task {task} of {dag} failed: {first}" if event == "failure" else f"{dag} runs again",
        details={"dag_id": dag, "dag_run": run, "task_id": task, "try_number": attempt, "error": error[:2000]},
    )
    observe(ledger, config, [seen])
    return deliver_pending(ledger, config)
