"""Two real `shopflow ingest` processes feed one NATS JetStream buffer, one consumer: exactly once through kill -9."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shopflow.config import load_config
from shopflow.pipeline.run import EXIT_QUARANTINED, run_pipeline
from shopflow.sources.events.nats_buffer import stream_name
from tests.helpers import kill_run_at
from tests.serve.ingest.conftest import Ingest, auth, line, warehouse_rows
from tests.serve.ingest.nats_support import jetstream_cleanup, nats_pipeline, nats_url  # noqa: F401

Key = tuple[int, str, int]


@pytest.fixture
def pair(tmp_path: Path, nats_url: str, jetstream_cleanup: list[str]) -> Iterator[tuple[Ingest, Ingest]]:  # noqa: F811
    """Two ingest servers (not started) of one pipeline whose buffer is a fresh JetStream stream."""
    config = nats_pipeline(tmp_path, nats_url)
    loaded = load_config(config)
    jetstream_cleanup.append(stream_name(loaded.pipeline, loaded.sources[0].name))
    servers = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        servers.append(Ingest(config, tmp_path / name))
    yield servers[0], servers[1]
    for server in servers:
        server.stop_if_running()


class Poster:
    """A client posting NDJSON batches of 20 invoice lines of its own store until stopped or its server dies."""

    def __init__(self, server: Ingest, store: int, start: int = 0) -> None:
        self.server, self.store, self.start = server, store, start
        self.sent: set[Key] = set()
        self.acked: set[Key] = set()
        self.stop = threading.Event()
        self._thread = threading.Thread(target=self._run)
        self._thread.start()

    def _run(self) -> None:
        with httpx.Client(base_url=self.server.url, timeout=10) as client:
            for batch in range(self.start, self.start + 100_000):
                if self.stop.is_set():
                    return
                keys = [(self.store, f"INV{batch}", n) for n in range(20)]
                self.sent.update(keys)
                try:
                    answer = client.post("/v1/events/lines", content="\n".join(json.dumps(line(*k)) for k in keys),
                                         headers=auth())
                except httpx.HTTPError:
                    return  # the server died mid-request: these events were never acknowledged
                if answer.status_code == 200:
                    self.acked.update(keys)

    def wait_for(self, acked: int) -> None:
        deadline = time.monotonic() + 60
        while len(self.acked) < acked and self._thread.is_alive():
            assert time.monotonic() < deadline, "the poster is too slow"
            time.sleep(0.02)

    def join(self) -> None:
        self.stop.set()
        self._thread.join(20)


def test_two_ingest_processes_one_flush_every_acked_event_once_through_kills(pair: tuple[Ingest, Ingest],
                                                                            tmp_path: Path) -> None:
    first, second = pair
    first.start()
    second.start()
    a, b = Poster(first, 1), Poster(second, 2)
    a.wait_for(1_000)
    b.wait_for(1_000)
    first.kill()  # while its client is sending
    a.join()
    kill_run_at(first.config, tmp_path, "lake_committed")  # a flush killed while the other process keeps taking
    b.wait_for(len(b.acked) + 500)
    acked_before = len(a.acked | b.acked)
    first.start()
    with httpx.Client(base_url=first.url, timeout=10) as client:
        # A client resends what it may not have seen acknowledged, and one malformed event.
        resent = sorted(a.acked)[:50] + sorted(b.acked)[:50]
        answer = client.post("/v1/events/lines", json=[line(*k) for k in resent] + [{"store": 1}], headers=auth())
        health = client.get("/v1/health").json()
    assert answer.status_code == 200 and answer.json()["quarantined"] == 1
    assert health["streams"]["lines"]["last_offset"] >= acked_before  # one sequence for both processes
    b.join()
    second.kill()
    first.kill()

    report = run_pipeline(load_config(first.config))
    assert report.exit_code == EXIT_QUARANTINED, [t.error for t in report.tables]
    rows = warehouse_rows(tmp_path, "SELECT store, invoice, line, count(*) FROM raw.lines GROUP BY ALL")
    loaded = {(s, i, n) for s, i, n, _ in rows}
    assert all(count == 1 for *_, count in rows)
    assert a.acked | b.acked <= loaded <= a.sent | b.sent
    assert {s for s, _, _ in loaded} == {1, 2}
    quarantined = warehouse_rows(tmp_path, "SELECT reason FROM raw._quarantine")
    assert quarantined == [("key column 'invoice' is missing or null",)]
    assert run_pipeline(load_config(first.config)).tables[0].rows_extracted == 0


def test_the_bound_is_shared_full_jetstream_answers_429_on_every_process(
    tmp_path: Path, nats_url: str, jetstream_cleanup: list[str],  # noqa: F811
) -> None:
    config = nats_pipeline(tmp_path, nats_url, max_buffered=10)
    loaded = load_config(config)
    jetstream_cleanup.append(stream_name(loaded.pipeline, loaded.sources[0].name))
    servers = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        servers.append(Ingest(config, tmp_path / name).start())
    try:
        with httpx.Client(timeout=10) as client:
            filled = client.post(f"{servers[0].url}/v1/events/lines", json=[line(1, "A", n) for n in range(10)],
                                 headers=auth())
            time.sleep(1.5)  # each process looks at what JetStream holds every second
            full = client.post(f"{servers[1].url}/v1/events/lines", json=line(1, "A", 10), headers=auth())
            metrics = client.get(f"{servers[1].url}/metrics").text
            assert run_pipeline(loaded).exit_code == 0
            after = client.post(f"{servers[1].url}/v1/events/lines", json=line(1, "A", 10), headers=auth())
    finally:
        for server in servers:
            server.kill()
    assert filled.status_code == 200
    assert full.status_code == 429 and full.headers["Retry-After"] == "1"
    assert 'shopflow_events_buffered{stream="lines"} 10' in metrics  # what the other process put in JetStream
    lag = next(m for m in metrics.splitlines() if m.startswith("shopflow_events_lag_seconds"))
    assert 1.0 < float(lag.split()[-1]) < 30
    assert after.status_code == 200
    assert run_pipeline(loaded).exit_code == 0
    assert warehouse_rows(tmp_path, "SELECT count(*) FROM raw.lines") == [(11,)]
