"""One orchestrated run: `run_pipeline` with its trigger, timings per step, a stop between tables, and its record.

The run goes through `pipeline.run.run_pipeline` like `shopflow run`, so it holds the same
locks and keeps the same exactly-once guarantees. The ledger row is written `running` before
the run starts and finished after, so a run killed with `kill -9` is still on record (the next
`shopflow serve` marks it interrupted).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shopflow.config.model import PipelineConfig
from shopflow.errors import ShopflowError
from shopflow.orchestrate.ledger import INTERRUPTED, RUNNING, Ledger, RunRecord, now
from shopflow.pipeline.run import EXIT_FAILED, EXIT_OK, ForwardingProgress, RunProgress, RunReport

log = logging.getLogger(__name__)

# airflow: a DAG task; events: a micro-batch of an events source in `shopflow serve`
TRIGGERS = ("schedule", "continuous", "manual", "retry", "backfill", "airflow", "events")
STATUS = {EXIT_OK: "ok", EXIT_FAILED: "failed"}


class StopRequested(Exception):  # noqa: N818 (a request, not an error)
    """Raised by the run's hooks before the next table when `shopflow serve` is stopping."""


class _Hooks(ForwardingProgress):
    """Times each table from its start to the next's, passes the hooks on, and stops between tables."""

    def __init__(self, stop: threading.Event | None, inner: RunProgress | None) -> None:
        super().__init__(inner)
        self.stop = stop
        self.marks: list[tuple[str, float]] = []

    def table_started(self, table: str) -> None:
        if self.stop is not None and self.stop.is_set():
            raise StopRequested(f"stopped before table {table}")
        self.marks.append((table, time.perf_counter()))
        self.inner.table_started(table)

    def seconds(self, end: float) -> dict[str, float]:
        """Each table's seconds, the last one ending at `end`."""
        spans: dict[str, float] = {}
        for (table, start), following in zip(self.marks, [*self.marks[1:], ("", end)], strict=False):
            spans[table] = spans.get(table, 0.0) + max(following[1] - start, 0.0)
        return spans


@dataclass
class Outcome:
    """A finished run: its record, and the pipeline's report when the run got that far."""

    record: RunRecord
    report: RunReport | None


def new_record(
    config: PipelineConfig, trigger: str, *, job: str = "pipeline", attempt: int = 1,
    scheduled_for: datetime | None = None, status: str = RUNNING, note: str | None = None,
) -> RunRecord:
    """A ledger record of a run about to start (or of one skipped)."""
    assert trigger in TRIGGERS, trigger
    return RunRecord(id=uuid.uuid4().hex, pipeline=config.pipeline, job=job, trigger=trigger, status=status,
                     started_at=now(), attempt=attempt, scheduled_for=scheduled_for, note=note, pid=os.getpid())


def execute(
    config: PipelineConfig, ledger: Ledger, record: RunRecord, *,
    stop: threading.Event | None = None, progress: RunProgress | None = None, reraise: bool = False,
) -> Outcome:
    """Run the pipeline once for `record` and finish the record in the ledger.

    Args:
        config: The pipeline (or the part of it a job of its own runs).
        ledger: Where the run is recorded.
        record: From `new_record`; saved `running` first, then finished.
        stop: When set, the run stops before its next table (the tables done stay done).
        progress: Hooks for a progress display.
        reraise: Record an error that stopped the whole run, then raise it (the CLI shows it).

    Returns:
        The finished record and the pipeline's report (None if the run stopped or crashed).
    """
    from shopflow.pipeline.run import run_pipeline

    ledger.save_run(record)
    hooks = _Hooks(stop, progress)
    clock = time.perf_counter()
    report: RunReport | None = None
    try:
        report = run_pipeline(config, hooks)  # its transform builds only what the run changed (none: no dbt)
    except StopRequested as exc:
        record.status, record.note = INTERRUPTED, f"{exc}: shopflow serve was asked to stop"
    except ShopflowError as exc:
        record.status = "failed"
        record.errors = [str(exc)]
        if reraise:
            _finish(ledger, record, clock)
            raise
    except Exception as exc:  # a bug must not kill the scheduler; the run is recorded as failed
        log.exception("run of %s crashed", config.pipeline)
        record.status = "failed"
        record.errors = [f"{type(exc).__name__}: {exc}"]
    if report is not None:
        _describe(record, report, hooks, clock)
    elif hooks.marks:
        spans = hooks.seconds(time.perf_counter())
        record.steps = [{"step": "extract_load", "table": t, "seconds": round(s, 3)} for t, s in spans.items()]
    _finish(ledger, record, clock)
    log.info("run %s of %s (%s): %s in %.1fs", record.id, config.pipeline, record.trigger, record.status,
             record.seconds)
    return Outcome(record, report)


def _finish(ledger: Ledger, record: RunRecord, clock: float) -> None:
    record.finished_at = now()
    record.seconds = time.perf_counter() - clock
    ledger.save_run(record)


def run_recorded(config: PipelineConfig, progress: RunProgress | None = None, trigger: str = "manual") -> RunReport:
    """`run_pipeline` for the CLI: the run goes into the ledger (and its freshness); errors propagate.

    Raises:
        ShopflowError: What stopped every table, after it is recorded.
    """
    from shopflow.orchestrate import freshness

    ledger = Ledger.of(config)
    outcome = execute(config, ledger, new_record(config, trigger), progress=progress, reraise=True)
    if outcome.report is None:  # only a crash (a bug) gets here: execute re-raises shopflow's own errors
        raise ShopflowError(f"the run crashed: {'; '.join(outcome.record.errors)}", fix="see the log above")
    try:
        freshness.record(ledger, config, None, outcome.report.transform)
    except ShopflowError as exc:
        log.warning("freshness not measured: %s", exc)
    return outcome.report


def _describe(record: RunRecord, report: RunReport, hooks: _Hooks, clock: float) -> None:
    """Fill `record` from the pipeline's report: status, rows, quarantine, errors, steps."""
    record.run_id = report.run_id
    record.status = STATUS.get(report.exit_code, "quarantined")
    record.rows_loaded = sum(sum(t.rows_loaded.values()) for t in report.tables)
    record.quarantined = report.quarantined
    record.errors = [f"{t.table}: {t.error}" for t in report.tables if t.error]
    spans = hooks.seconds(clock + report.seconds)
    steps: list[dict[str, Any]] = [
        {"step": "extract_load", "table": t.table, "seconds": round(spans.get(t.table, 0.0), 3),
         "rows_extracted": t.rows_extracted, "rows_loaded": sum(t.rows_loaded.values()),
         "quarantined": t.quarantined, **({"error": t.error} if t.error else {})}
        for t in report.tables
    ]
    if report.transform is not None:
        failed = [m.name for m in report.transform.models if m.status != "success"]
        failed += [t.name for t in report.transform.tests if t.status in ("fail", "error")]
        steps.append({"step": "transform", "seconds": round(report.transform.seconds, 3),
                      "models": sum(m.status == "success" for m in report.transform.models), "failed": failed})
        if not report.transform.ok:
            record.errors.append(f"transform: {', '.join(failed) or 'failed'}")
    elif report.transform_error:
        steps.append({"step": "transform", "error": report.transform_error})
        record.errors.append(f"transform: {report.transform_error}")
    record.steps = steps


def changed_tables(report: RunReport) -> set[str]:
    """The raw tables (children included, the quarantine not) whose rows the run changed."""
    from shopflow.transform.changes import QUARANTINE
    from shopflow.transform.changes import changed_tables as changed_by_loads

    return changed_by_loads(report) - {QUARANTINE}
