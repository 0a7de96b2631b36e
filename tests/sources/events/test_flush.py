"""Micro-batches from the buffer to the lake and warehouse: a kill -9 anywhere replays, never duplicates or skips."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from tests.helpers import kill_run_at
from tests.serve.ingest.conftest import append_events, events_pipeline, line, warehouse_rows

from shopflow.config import load_config
from shopflow.pipeline.run import run_pipeline


@pytest.mark.parametrize("stop_at", ["outputs_committed", "lake_committed", "load_applied"])
def test_a_run_killed_mid_batch_replays_exactly_once(tmp_path: Path, stop_at: str) -> None:
    config = events_pipeline(tmp_path)
    append_events(config, [line(1, "A", n) for n in range(100)])
    kill_run_at(config, tmp_path, stop_at)
    # Events keep arriving (and one repeat) while nothing flushes.
    append_events(config, [line(1, "A", n) for n in range(100, 150)] + [line(1, "A", 5)])
    report = run_pipeline(load_config(config))
    assert report.exit_code == 0, [t.error for t in report.tables]
    assert warehouse_rows(tmp_path, "SELECT count(*), count(DISTINCT line), min(line), max(line) FROM raw.lines") == [
        (150, 150, 0, 149)]


def test_merge_keeps_the_latest_event_per_key(tmp_path: Path) -> None:
    config = events_pipeline(tmp_path)
    document = yaml.safe_load(config.read_text())
    stream = document["sources"][0]["streams"][0]
    stream.update(write_disposition="merge", primary_key=["store", "invoice"], idempotency_key=[])
    config.write_text(yaml.safe_dump(document))
    append_events(config, [line(1, "A", 1, qty=1), line(1, "B", 1, qty=1), line(1, "A", 1, qty=2)])
    assert run_pipeline(load_config(config)).exit_code == 0
    append_events(config, [line(1, "B", 1, qty=7)])
    assert run_pipeline(load_config(config)).exit_code == 0
    assert warehouse_rows(tmp_path, "SELECT invoice, qty FROM raw.lines ORDER BY invoice") == [("A", 2), ("B", 7)]


def test_a_replaced_buffer_is_an_error_not_a_silent_skip(tmp_path: Path) -> None:
    config = events_pipeline(tmp_path)
    append_events(config, [line(1, "A", n) for n in range(5)])
    assert run_pipeline(load_config(config)).exit_code == 0
    (tmp_path / "buffer.sqlite").unlink()
    for extra in ("-wal", "-shm"):
        (tmp_path / f"buffer.sqlite{extra}").unlink(missing_ok=True)
    append_events(config, [line(1, "A", n) for n in range(5, 7)])
    report = run_pipeline(load_config(config))
    assert report.exit_code == 1
    assert "the buffer file was replaced" in (report.tables[0].error or "")
