"""The scheduler of `shopflow serve`: runs each pipeline's jobs on time, in threads, one run per pipeline at a time.

Each tick looks at every job: a due slot starts a run (or, while the pipeline still runs,
is recorded as skipped); a due retry starts its retry; a continuous job polls again once its
interval has passed since its last run ended. Each run is followed by its incidents and
alerts. A watch thread re-checks freshness every `check_every` seconds, so a table going
stale between runs is noticed too.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime

from shopflow.config.schedule import ScheduleConfig
from shopflow.errors import ConfigError
from shopflow.orchestrate import freshness
from shopflow.orchestrate.execute import Outcome, changed_tables, execute, new_record
from shopflow.orchestrate.incidents import Observation, deliver_pending, observe
from shopflow.orchestrate.jobs import Job, PipelineHandle
from shopflow.orchestrate.ledger import INTERRUPTED, SKIPPED, RunRecord, now
from shopflow.orchestrate.timing import plan

log = logging.getLogger(__name__)

TICK = 0.2  # seconds between looks at the jobs: a slot starts within this of its time


class Busy(Exception):  # noqa: N818
    """A run of the pipeline is already going."""


class Scheduler:
    """Runs the jobs of `pipelines` until `stop` is set.

    Args:
        pipelines: The pipelines and their jobs.
        stop: Set to stop: no new run starts, runs in progress stop before their next table.
        check_every: Seconds between freshness checks of idle pipelines.
        clock: The current time (tests pass their own).
    """

    def __init__(
        self, pipelines: list[PipelineHandle], stop: threading.Event, *, check_every: float = 30.0,
        clock: Callable[[], datetime] = now,
    ) -> None:
        self.pipelines = {p.name: p for p in pipelines}
        self.stop = stop
        self.check_every = check_every
        self.clock = clock
        self._state = threading.Lock()
        self._threads: list[threading.Thread] = []
        # Seconds from a run's decision to the start of its pipeline run, per triggered run (the last 1000).
        self.overhead: deque[float] = deque(maxlen=1000)
        for handle in pipelines:
            stale = handle.ledger.abandon_running(alive={os.getpid()})
            for run in stale:
                log.warning("run %s of %s was interrupted when its process stopped", run.id, handle.name)
            for job in handle.jobs:
                job.last_slot = handle.ledger.last_slot(job.name)

    def run(self) -> None:
        """Tick until `stop` is set, then wait for the runs in progress."""
        watcher = threading.Thread(target=self._watch, name="shopflow-watch", daemon=True)
        watcher.start()
        while not self.stop.is_set():
            self.tick(self.clock())
            self.stop.wait(TICK)
        self.join()

    def join(self, timeout: float | None = None) -> None:
        """Wait for every run thread to end."""
        for thread in list(self._threads):
            thread.join(timeout)

    def tick(self, at: datetime) -> None:
        """Start, skip or retry whatever is due at `at`."""
        for handle in self.pipelines.values():
            for job in handle.jobs:
                self._tick_job(handle, job, at)
        self._threads = [t for t in self._threads if t.is_alive()]

    def trigger(self, pipeline: str, job_name: str = "pipeline") -> RunRecord:
        """Start a manual run now.

        Raises:
            ConfigError: No such pipeline or job.
            Busy: A run of the pipeline is going.
        """
        handle = self.pipelines.get(pipeline)
        job = next((j for j in handle.jobs if j.name == job_name), None) if handle else None
        if handle is None or job is None:
            raise ConfigError(f"serve runs no pipeline {pipeline!r} with job {job_name!r}",
                              fix=f"one of: {', '.join(self.pipelines)}")
        record = self._launch(handle, job, "manual")
        if record is None:
            raise Busy(f"a run of {pipeline} is going ({handle.running.id if handle.running else '?'})")
        return record

    def _tick_job(self, handle: PipelineHandle, job: Job, at: datetime) -> None:
        if job.manual:
            return
        if job.events is not None:
            if job.events.due():
                self._launch(handle, job, "events")
            return
        if job.continuous:
            if job.next_poll is None or at >= job.next_poll:
                self._launch(handle, job, "continuous")
            return
        decided = plan(job.schedule, job.last_slot, at, catch_up=job.catch_up)
        if decided.slot is not None:
            job.last_slot = decided.slot
            handle.ledger.set_slot(job.name, decided.slot)
            missed = f"; {decided.missed} missed slot(s) while serve was down ran as this one" if decided.missed else ""
            if not decided.run:
                self._skipped(handle, job, decided.slot, f"{decided.missed} slot(s) missed while serve was down; "
                              "catch_up is off, so the job waits for its next slot")
            elif self._launch(handle, job, "schedule", scheduled_for=decided.slot, note=missed[2:] or None) is None:
                running = handle.running
                self._skipped(handle, job, decided.slot, "the previous run "
                              f"({running.id if running else '?'}, {running.trigger if running else '?'}) was still "
                              "going")
            job.retry = None
        elif job.retry is not None and at >= job.retry[0]:
            self._launch(handle, job, "retry", attempt=job.retry[1])

    def _skipped(self, handle: PipelineHandle, job: Job, slot: datetime, note: str) -> None:
        record = new_record(handle.config, "schedule", job=job.name, scheduled_for=slot, status=SKIPPED, note=note)
        record.finished_at = record.started_at
        handle.ledger.save_run(record)
        log.warning("%s: slot %s skipped: %s", handle.name, slot.isoformat(), note)

    def _launch(
        self, handle: PipelineHandle, job: Job, trigger: str, *, attempt: int = 1,
        scheduled_for: datetime | None = None, note: str | None = None,
    ) -> RunRecord | None:
        """Start `job` in a thread, unless the pipeline is running or serve is stopping; the record, or None."""
        decided = time.perf_counter()
        with self._state:
            if handle.running is not None or self.stop.is_set():
                return None
            record = new_record(handle.config, trigger, job=job.name, attempt=attempt, scheduled_for=scheduled_for,
                                note=note)
            handle.running = record
        if trigger == "retry":
            job.retry = None
        thread = threading.Thread(target=self._work, args=(handle, job, record, decided),
                                  name=f"shopflow-run-{handle.name}", daemon=True)
        self._threads.append(thread)
        thread.start()
        return record

    def _work(self, handle: PipelineHandle, job: Job, record: RunRecord, decided: float) -> None:
        try:
            with handle.warehouse_lock, handle.run_lock:
                record.started_at = now()
                self.overhead.append(time.perf_counter() - decided)
                outcome = execute(job.config, handle.ledger, record, stop=self.stop)
                report = outcome.report
                if report is not None:
                    # A continuous poll measures what it changed (and everything on its first poll).
                    changed = changed_tables(report) if job.continuous and job.next_poll is not None else None
                    if changed is None or changed:
                        _safely(handle, "measuring freshness",
                                lambda: freshness.record(handle.ledger, job.config, changed, report.transform))
            if (job.continuous or job.events is not None) and _quiet(outcome):
                handle.ledger.delete_run(record.id)
            self._after(handle, job, outcome)
        except Exception:  # a bug in the bookkeeping must not leave the pipeline marked running
            log.exception("%s: run %s: recording failed", handle.name, record.id)
        finally:
            with self._state:
                handle.running = None
            if isinstance(job.schedule, ScheduleConfig) and job.continuous:
                job.next_poll = self.clock() + job.schedule.interval
            if job.events is not None:
                job.events.flushed()

    def _after(self, handle: PipelineHandle, job: Job, outcome: Outcome) -> None:
        """Schedule a retry of a failed run, then open or close its incidents and send their alerts."""
        record = outcome.record
        if record.status == INTERRUPTED:
            return
        seen: list[Observation] = []
        failed = record.status == "failed"
        policy = handle.config.retries
        if failed and record.attempt <= policy.attempts and not job.continuous and job.events is None:
            delay = policy.delay(record.attempt)
            job.retry = (self.clock() + delay, record.attempt + 1)
            log.warning("%s: run %s failed; retry %d of %d in %s", handle.name, record.id, record.attempt,
                        policy.attempts, delay)
        else:
            errors = record.errors[0].splitlines()[0] if record.errors else "see shopflow runs"
            seen.append(Observation(
                key=f"failure:{job.name}", kind="failure", severity="error" if failed else None,
                summary=f"run failed: {errors}" if failed else f"{job.name} runs again",
                run_id=record.run_id, details={"errors": record.errors, "attempts": record.attempt,
                                               "trigger": record.trigger},
            ))
        if record.status in ("ok", "quarantined"):
            seen.append(Observation(
                key="quarantine", kind="quarantine", severity="warn" if record.quarantined else None,
                summary=(f"{record.quarantined} records quarantined (SELECT * FROM raw._quarantine)"
                         if record.quarantined else "no more records quarantined"),
                run_id=record.run_id, details={"quarantined": record.quarantined},
            ))
        self._alert(handle, seen)

    def _alert(self, handle: PipelineHandle, seen: list[Observation]) -> None:
        with handle.alert_lock:
            _safely(handle, "evaluating alerts", lambda: observe(
                handle.ledger, handle.config, [*seen, *freshness.observations(handle.ledger, handle.config)]))
            _safely(handle, "sending alerts", lambda: deliver_pending(handle.ledger, handle.config))

    def _watch(self) -> None:
        """Every `check_every` seconds: freshness of every pipeline, and alerts still to deliver."""
        while not self.stop.wait(self.check_every):
            for handle in self.pipelines.values():
                self._alert(handle, [])


def _quiet(outcome: Outcome) -> bool:
    """A continuous poll or events micro-batch that found nothing: not worth a row in the history."""
    record = outcome.record
    return record.status == "ok" and not record.rows_loaded and not record.quarantined and not record.errors


def _safely(handle: PipelineHandle, what: str, work: Callable[[], object]) -> None:
    """Run `work`; log, never raise: the scheduler outlives a broken alert target or an unreadable lake."""
    try:
        work()
    except Exception:
        log.exception("%s: %s failed", handle.name, what)


def next_run(job: Job, at: datetime) -> datetime | None:
    """When `job` runs next, as far as the schedule tells (for `shopflow status` and /v1/health)."""
    if job.manual:
        return None
    if job.events is not None:  # when events wait: not a time the schedule tells
        return None
    if job.retry is not None:
        return job.retry[0]
    if job.continuous:
        return job.next_poll or at
    decided = plan(job.schedule, job.last_slot, at, catch_up=job.catch_up)
    return decided.slot if decided.slot is not None else decided.wake

