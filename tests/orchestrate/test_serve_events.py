"""Events posted to `shopflow serve` reach the warehouse on the source's flush cadence, through serve's run path."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from shopflow.sources.events.buffer import BufferWriter
from tests.orchestrate.conftest import Serve, wait_until
from tests.serve.ingest.conftest import TOKEN, auth, events_pipeline, line, warehouse_rows


def _runs(config: Path) -> list[dict[str, object]]:
    """`shopflow runs --json`, newest first."""
    done = subprocess.run([sys.executable, "-m", "shopflow.cli.main", "runs", "-c", str(config), "--json"],
                          capture_output=True, text=True, timeout=60, check=True)
    return list(json.loads(done.stdout))


def test_serve_flushes_events_every_few_seconds_without_a_schedule(tmp_path: Path) -> None:
    config = events_pipeline(tmp_path)  # no schedule: the pipeline job is manual; flush every 1 s
    server = Serve([config], tmp_path, env={"INGEST_TOKEN": TOKEN}).start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            body = "\n".join(json.dumps(line(5, "E1", n)) for n in range(30))
            posted = time.monotonic()
            assert client.post("/v1/events/lines", content=body, headers=auth()).json()["accepted"] == 30
            first = wait_until(lambda: [r for r in _runs(config) if r["status"] == "ok"], 15,
                               "the events micro-batch", server)
            seconds = time.monotonic() - posted
            # A resend of five lines and five new ones: the next micro-batch drops the repeats.
            body = "\n".join(json.dumps(line(5, "E1", n)) for n in range(25, 35))
            assert client.post("/v1/events/lines", content=body, headers=auth()).json()["accepted"] == 10
            wait_until(lambda: len([r for r in _runs(config) if r["status"] == "ok"]) >= 2, 15,
                       "the second micro-batch", server)
        assert server.terminate() == 0
    finally:
        server.stop_if_running()
    assert seconds < 10, f"events took {seconds:.1f}s to reach the warehouse"
    assert first[0]["trigger"] == "events" and first[0]["job"] == "events:shop" and first[0]["rows_loaded"] == 30
    runs = [r for r in _runs(config) if r["status"] != "running"]
    assert {r["trigger"] for r in runs} == {"events"}, runs  # no schedule fired, nothing ran twice at once
    assert warehouse_rows(tmp_path, "SELECT count(*), count(DISTINCT line), max(line) FROM raw.lines") == [
        (35, 35, 34)]
    table = subprocess.run([sys.executable, "-m", "shopflow.cli.main", "runs", "-c", str(config)],
                           capture_output=True, text=True, timeout=60, check=True).stdout
    assert "events" in table


def test_a_micro_batch_is_due_at_max_events_or_after_every_seconds(tmp_path: Path) -> None:
    from shopflow.config import load_config
    from shopflow.config.events import EventsSource
    from shopflow.sources.events.cadence import FlushCadence

    raw = yaml.safe_load(events_pipeline(tmp_path).read_text(encoding="utf-8"))
    raw["sources"][0]["flush"] = {"every_seconds": 30, "max_events": 10}
    (tmp_path / "shopflow.yml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    source = load_config(tmp_path / "shopflow.yml").sources[0]
    assert isinstance(source, EventsSource)
    now = [100.0]
    cadence = FlushCadence([source], clock=lambda: now[0])
    writer = BufferWriter(source.buffer_path, ["lines"], source.max_buffered)
    try:
        assert not cadence.due()  # nothing waits
        _append(writer, 4)
        assert not cadence.due()  # 4 wait, and 30 s have not passed
        now[0] += 31
        assert cadence.due()
        cadence.flushed()
        assert not cadence.due()
        _append(writer, 6)
        assert cadence.due()  # 10 wait: max_events, before the interval
    finally:
        writer.close()


def _append(writer: BufferWriter, count: int) -> None:
    """Log `count` events through the writer and wait until they are durable."""
    import threading

    done = threading.Event()
    writer.submit("lines", [(json.dumps(line(1, "D", n)), None, 0.0) for n in range(count)],
                  lambda _appended, _error: done.set())
    assert done.wait(10)
