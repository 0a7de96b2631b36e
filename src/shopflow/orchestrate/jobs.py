"""The jobs of a pipeline: the pipeline on its schedule, and each source or table that has a schedule of its own."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from shopflow.config.database import DatabaseSource
from shopflow.config.events import EventsSource
from shopflow.config.model import FileSource, PipelineConfig
from shopflow.config.schedule import ScheduleConfig, TableSchedule
from shopflow.errors import ConfigError
from shopflow.orchestrate.ledger import Ledger, RunRecord
from shopflow.sources.events.cadence import FlushCadence

PIPELINE_JOB = "pipeline"
EVENTS_JOB = "events:"  # + the source's name: the micro-batches of one events source


@dataclass
class Job:
    """One schedule of a pipeline and the part of the pipeline it runs.

    Attributes:
        name: `pipeline`, or the `source` / `source.table` key of `schedule.tables`.
        config: The pipeline, narrowed to the sources and tables this job runs.
        schedule: When it runs.
        last_slot: The last slot handled (run or skipped).
        retry: (when, attempt) of a retry waiting to run.
        next_poll: When a continuous job polls next.
        events: For a job of kind events: when its source's next micro-batch is due.
    """

    name: str
    config: PipelineConfig
    schedule: ScheduleConfig | TableSchedule
    catch_up: bool = True
    continuous: bool = False
    manual: bool = False
    last_slot: datetime | None = None
    retry: tuple[datetime, int] | None = None
    next_poll: datetime | None = None
    events: FlushCadence | None = None

    def describe(self) -> str:
        """When the job runs, in words: its micro-batch cadence for events, else its schedule."""
        return self.events.describe() if self.events is not None else self.schedule.describe()


@dataclass
class PipelineHandle:
    """A pipeline in `shopflow serve`: its file, ledger, jobs, and the locks that keep its runs apart.

    Attributes:
        run_lock: Held by this pipeline's run: one run of a pipeline at a time, whichever job.
        warehouse_lock: Shared by the pipelines that write the same warehouse (one DuckDB writer).
        alert_lock: Held while alerts are evaluated and sent, so none is sent twice.
        running: The run in progress, if any.
    """

    config: PipelineConfig
    path: Path
    ledger: Ledger
    jobs: list[Job]
    warehouse_lock: threading.Lock
    run_lock: threading.Lock = field(default_factory=threading.Lock)
    alert_lock: threading.Lock = field(default_factory=threading.Lock)
    running: RunRecord | None = None

    @property
    def name(self) -> str:
        """The pipeline's name."""
        return self.config.pipeline


def warehouse_identity(config: PipelineConfig) -> str:
    """Names the warehouse: pipelines with the same one never load at the same time in one process."""
    warehouse = config.warehouse
    if warehouse.type == "duckdb":
        return str(Path(warehouse.path).resolve())
    return f"postgres://{warehouse.host}:{warehouse.port}/{warehouse.database}"


def build_jobs(config: PipelineConfig) -> list[Job]:
    """The pipeline's jobs; a pipeline without `schedule:` has one manual job.

    Raises:
        ConfigError: A `schedule.tables` key names no source or table of the pipeline.
    """
    schedule = config.schedule or ScheduleConfig(kind="manual")
    own = dict(schedule.tables)
    jobs = []
    for key, table_schedule in own.items():
        jobs.append(Job(key, narrow(config, {key}, keep=True), table_schedule, catch_up=schedule.catch_up))
    main = narrow(config, set(own), keep=False) if own else config
    jobs.insert(0, Job(PIPELINE_JOB, main, schedule, catch_up=schedule.catch_up,
                       continuous=schedule.kind == "continuous", manual=schedule.kind == "manual"))
    for source in config.sources:  # each flushes on its own cadence, through the same run path
        if isinstance(source, EventsSource):
            jobs.append(Job(f"{EVENTS_JOB}{source.name}", narrow(config, {source.name}, keep=True), schedule,
                            events=FlushCadence([source])))
    return jobs


def narrow(config: PipelineConfig, keys: set[str], *, keep: bool) -> PipelineConfig:
    """`config` with only (keep) or without (not keep) the sources and tables named by `keys`."""
    sources: list[FileSource | DatabaseSource | EventsSource] = []
    for key in keys:
        source_name, _, table = key.partition(".")
        found = [s for s in config.sources if s.name == source_name]
        if not found:
            raise ConfigError(f"schedule.tables.{key}: the pipeline has no source {source_name!r}",
                              fix=f"use one of: {', '.join(s.name for s in config.sources)} (or source.table)")
        if table and isinstance(found[0], DatabaseSource) and found[0].cdc is not None:
            raise ConfigError(f"schedule.tables.{key}: a change data capture source runs as a whole",
                              fix=f"give the schedule to source {source_name!r}, not one of its tables")
        if table and isinstance(found[0], FileSource | EventsSource) and table not in {t.name for t in found[0].tables}:
            raise ConfigError(f"schedule.tables.{key}: source {source_name!r} has no table {table!r}",
                              fix=f"use one of: {', '.join(t.name for t in found[0].tables)}")
    if keep:  # the same narrowing as `shopflow run --table`: a table listed by name is read whatever globs say
        from shopflow.pipeline.selection import select_tables

        return select_tables(config, sorted(keys))
    for source in config.sources:
        if source.name in keys:
            continue
        tables = {k.partition(".")[2] for k in keys if k.partition(".")[0] == source.name and "." in k}
        if not tables:
            sources.append(source)
        elif isinstance(source, FileSource | EventsSource):
            kept = [t for t in source.tables if t.name not in tables]
            if kept:
                sources.append(source.model_copy(update={"tables": kept}))
        else:
            # Listed by name, a table is read whatever exclude says: drop its entry too. A source
            # that listed its tables keeps reading only those (an empty list would mean all).
            include = source.include if source.include is not None else ([] if source.tables else None)
            sources.append(source.model_copy(update={
                "tables": [t for t in source.tables if t.name not in tables],
                "include": include, "exclude": [*source.exclude, *sorted(tables)]}))
    return config.model_copy(update={"sources": sources})
