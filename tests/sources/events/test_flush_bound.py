"""A micro-batch under a steady stream of events ends and loads what waited when it began, so latency stays bounded."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from tests.serve.ingest.conftest import events_pipeline, line, warehouse_rows

from shopflow.config import load_config
from shopflow.pipeline.run import run_pipeline
from shopflow.sources.events import flush
from shopflow.sources.events.buffer import Appended, BufferWriter


def test_a_run_does_not_chase_events_that_arrive_while_it_flushes(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # Small ranges, so one run needs several lake commits and new events arrive between them.
    monkeypatch.setattr(flush, "RANGE_EVENTS", 10)
    config = events_pipeline(tmp_path)
    source = load_config(config).sources[0]
    writer = BufferWriter(source.path, ["lines"], 1_000_000)  # type: ignore[union-attr, arg-type]
    acked: list[Appended] = []
    stop = threading.Event()

    def submit(events: list[dict[str, object]]) -> None:
        done = threading.Event()

        def finished(appended: Appended | None, _error: BaseException | None) -> None:
            assert appended is not None
            acked.append(appended)
            done.set()

        writer.submit("lines", [(json.dumps(e), None, time.time()) for e in events], finished)
        assert done.wait(10)

    submit([line(1, "W", n) for n in range(30)])  # waiting when the run starts

    def keep_posting() -> None:
        number = 0
        until = time.monotonic() + 120  # a run that chased arrivals would end only after this (slow machines too)
        while not stop.is_set() and time.monotonic() < until:
            submit([line(2, f"K{number}", n) for n in range(10)])
            number += 1
            time.sleep(0.01)

    poster = threading.Thread(target=keep_posting)
    poster.start()
    try:
        started = time.monotonic()
        report = run_pipeline(load_config(config))
        took = time.monotonic() - started
        assert poster.is_alive()  # events kept arriving the whole time
    finally:
        stop.set()
        poster.join(30)
        writer.close()
    assert report.exit_code == 0, [t.error for t in report.tables]
    waiting = warehouse_rows(tmp_path, "SELECT count(*) FROM raw.lines WHERE store = 1")
    later = warehouse_rows(tmp_path, "SELECT count(*) FROM raw.lines WHERE store = 2")[0][0]
    assert waiting == [(30,)]
    # The run stopped at what was logged when it began (plus what came in before its first read), far short of
    # everything posted during it; those wait for the next micro-batch, which loads them exactly once.
    posted_later = sum(a.last - a.first + 1 for a in acked) - 30
    assert later < posted_later, (took, later, posted_later)
    assert run_pipeline(load_config(config)).exit_code == 0
    assert warehouse_rows(tmp_path, "SELECT count(*), count(DISTINCT (store, invoice, line)) FROM raw.lines") == [
        (30 + posted_later, 30 + posted_later)]
