"""When a scheduled job is due: pure functions of the schedule, the last slot handled and the time.

A slot is a moment the schedule names (a cron time, or the last slot plus `every`). The
scheduler handles each slot once: it runs it, or records it skipped. After downtime every
missed slot collapses into one: with `catch_up` the job runs once at once, for the latest
missed slot; without, the missed slots are recorded as missed and the job waits for the next.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shopflow.config.schedule import ScheduleConfig, TableSchedule

# A slot found due within this long after its time is on time, not missed (the loop ticks far more often).
GRACE = timedelta(seconds=60)


def next_slot(schedule: ScheduleConfig | TableSchedule, after: datetime) -> datetime | None:
    """The first slot strictly after `after`; None for continuous and manual schedules."""
    if schedule.cron is not None:
        from croniter import croniter

        found = croniter(schedule.cron, after).get_next(datetime)
        assert isinstance(found, datetime)
        return found
    if schedule.every is not None:
        return after + schedule.every
    return None


def _latest_due(schedule: ScheduleConfig | TableSchedule, last: datetime, at: datetime) -> tuple[datetime, int]:
    """The latest slot after `last` that is at or before `at`, and how many slots are due in all (>= 1)."""
    if schedule.every is not None:
        count = int((at - last) / schedule.every)
        return last + schedule.every * count, count
    from croniter import croniter

    assert schedule.cron is not None
    walker = croniter(schedule.cron, last)
    latest, count = walker.get_next(datetime), 1
    while count < 100_000:
        candidate = walker.get_next(datetime)
        if candidate > at:
            break
        latest, count = candidate, count + 1
    assert isinstance(latest, datetime)
    return latest, count


@dataclass(frozen=True)
class Plan:
    """What to do with a job at one moment.

    Attributes:
        slot: The slot that is due now (run it, or skip it if a run is still going); None if none is.
        run: True to run `slot`; False when its slots were missed and `catch_up` is off.
        missed: Slots folded into `slot` (missed during downtime), not counting `slot` itself.
        wake: The next moment this job needs looking at.
    """

    slot: datetime | None
    run: bool
    missed: int
    wake: datetime | None


def plan(
    schedule: ScheduleConfig | TableSchedule, last_slot: datetime | None, at: datetime, *, catch_up: bool = True,
) -> Plan:
    """Decide for a cron or every schedule at time `at`, given the last slot the job handled.

    A job never run before runs at once on an `every` schedule, and waits for the next slot on
    a cron schedule.
    """
    if last_slot is None:
        if schedule.every is not None:
            return Plan(at, True, 0, at + schedule.every)
        return Plan(None, False, 0, next_slot(schedule, at))
    upcoming = next_slot(schedule, last_slot)
    if upcoming is None or upcoming > at:
        return Plan(None, False, 0, upcoming)
    latest, count = _latest_due(schedule, last_slot, at)
    run = catch_up or at - latest <= GRACE
    return Plan(latest, run, count - 1 if run else count, next_slot(schedule, latest))
