"""The scheduler's slot logic on a fake clock, and the schedule keys of the pipeline file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from shopflow.config import load_config
from shopflow.config.schedule import RetryPolicy, ScheduleConfig
from shopflow.errors import ConfigError
from shopflow.orchestrate.timing import plan

T0 = datetime(2024, 11, 15, 9, 0, tzinfo=UTC)


def schedule(value: object) -> ScheduleConfig:
    return ScheduleConfig.model_validate(value)


def test_every_runs_at_first_start_then_each_interval() -> None:
    every = schedule("every 10 minutes")
    first = plan(every, None, T0)
    assert (first.slot, first.run, first.wake) == (T0, True, T0 + timedelta(minutes=10))
    assert plan(every, T0, T0 + timedelta(minutes=9, seconds=59)).slot is None
    due = plan(every, T0, T0 + timedelta(minutes=10, seconds=1))
    assert (due.slot, due.run, due.missed) == (T0 + timedelta(minutes=10), True, 0)


def test_cron_waits_for_its_first_slot() -> None:
    cron = schedule("*/10 * * * *")
    first = plan(cron, None, T0 + timedelta(minutes=3))
    assert (first.slot, first.wake) == (None, T0 + timedelta(minutes=10))
    due = plan(cron, T0, T0 + timedelta(minutes=10, seconds=0.2))
    assert (due.slot, due.run, due.missed) == (T0 + timedelta(minutes=10), True, 0)
    assert due.wake == T0 + timedelta(minutes=20)


def test_missed_slots_after_downtime_run_once() -> None:
    cron = schedule({"cron": "*/10 * * * *"})
    # serve was down from 09:00 to 10:05: six slots missed, one run for the latest of them.
    back = plan(cron, T0, T0 + timedelta(minutes=65))
    assert (back.slot, back.run, back.missed) == (T0 + timedelta(minutes=60), True, 5)
    # ... after which nothing is due until 10:10.
    assert plan(cron, back.slot, T0 + timedelta(minutes=66)).slot is None


def test_no_catch_up_waits_for_the_next_slot() -> None:
    every = schedule({"every": "10 minutes", "catch_up": False})
    back = plan(every, T0, T0 + timedelta(minutes=65), catch_up=every.catch_up)
    assert (back.slot, back.run, back.missed) == (T0 + timedelta(minutes=60), False, 6)
    # A slot found on time still runs without catch_up.
    on_time = plan(every, T0, T0 + timedelta(minutes=10, seconds=1), catch_up=False)
    assert on_time.run


def test_retry_backoff_grows_to_its_cap() -> None:
    retries = RetryPolicy.model_validate({"attempts": 4, "backoff": "30 seconds", "max_backoff": "1 minute"})
    assert [retries.delay(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 60, 60]


@pytest.mark.parametrize(("value", "words"), [
    ("*/10 * * *", "has 4 fields"), ("61 * * * *", "not a valid cron"), ({"every": "soon"}, "every 'soon'"),
])
def test_a_bad_schedule_names_the_key_and_an_example(tmp_path: Path, value: object, words: str) -> None:
    path = tmp_path / "shopflow.yml"
    path.write_text(yaml.safe_dump({"pipeline": "p", "schedule": value, "sources": []}), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.exit_code == 2
    assert "schedule." in caught.value.message and words in caught.value.message
    assert "e.g." in caught.value.message


def test_the_examples_carry_their_seeds_schedules() -> None:
    root = Path(__file__).resolve().parents[2] / "examples"
    glossier, shop_db, totesys = (load_config(root / n / "shopflow.yml") for n in ("glossier", "shop_db", "totesys"))
    assert glossier.schedule is not None and glossier.schedule.cron == "0 6 * * *"
    assert shop_db.schedule is not None and shop_db.schedule.cron == "0 * * * *"
    assert totesys.schedule is not None and totesys.schedule.cron == "*/10 * * * *"
    assert totesys.freshness is not None and totesys.freshness.error_after == timedelta(minutes=30)
    assert [a.type for a in totesys.alerts] == ["email"] and totesys.alerts[0].password_env == "SMTP_PASSWORD"


def test_a_table_with_a_schedule_of_its_own_runs_in_its_own_job(tmp_path: Path) -> None:
    from shopflow.orchestrate.jobs import build_jobs

    path = tmp_path / "shopflow.yml"
    path.write_text(yaml.safe_dump({
        "pipeline": "p", "schedule": {"every": "1 hour", "tables": {"shop.users": "every 1 day"}},
        "sources": [{"name": "shop", "type": "postgres", "url": "postgresql://u@127.0.0.1/shop",
                     "tables": [{"name": "users"}, {"name": "orders"}]}],
    }), encoding="utf-8")
    main, users = build_jobs(load_config(path))
    assert (main.name, main.schedule.describe(), users.name, users.schedule.describe()) == (
        "pipeline", "every 1 hour", "shop.users", "every 1 day")
    catalog = ["users", "orders", "audit_log"]  # what the source database holds
    # Each job reads its own tables only: listed tables are read whatever include/exclude say.
    assert [t for t in catalog if main.config.sources[0].selects(t)] == ["orders"]
    assert [t for t in catalog if users.config.sources[0].selects(t)] == ["users"]
    path.write_text(path.read_text().replace("shop.users", "crm.users"), encoding="utf-8")
    with pytest.raises(ConfigError, match="no source 'crm'"):
        build_jobs(load_config(path))
