"""The ingest API over real HTTP: status codes, acknowledgements after durability, kill -9, exactly once."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import yaml

from shopflow.config import load_config
from shopflow.pipeline.run import EXIT_QUARANTINED, run_pipeline
from tests.serve.ingest.conftest import Ingest, auth, events_pipeline, line, warehouse_rows


def test_each_bad_request_gets_its_status_code(ingest: Ingest) -> None:
    ingest.start()
    with httpx.Client(base_url=ingest.url, timeout=10) as client:
        one = client.post("/v1/events/lines", json=line(1, "A", 1), headers=auth())
        assert one.status_code == 200 and one.json()["accepted"] == 1
        assert client.post("/v1/events/lines", json=line(1, "A", 2)).status_code == 401
        assert client.post("/v1/events/lines", json=line(1, "A", 2), headers=auth("wrong")).status_code == 401
        assert client.post("/v1/events/orders", json=line(1, "A", 2), headers=auth()).status_code == 404
        assert client.post("/v1/events/lines", content=b" " * (2 << 20), headers=auth()).status_code == 413
        body = json.dumps(line(1, "A", 3)) + "\n" + '{"store": 1,'
        malformed = client.post("/v1/events/lines", content=body, headers=auth())
        assert malformed.status_code == 400 and "line 2" in malformed.json()["detail"]
        mixed = client.post("/v1/events/lines", json=[line(1, "A", 4), {**line(1, "A", 5), "qty": "many"}],
                            headers=auth())
        assert mixed.status_code == 200
        assert (mixed.json()["accepted"], mixed.json()["quarantined"]) == (1, 1)
        assert "column 'qty'" in mixed.json()["problems"][0]
        metrics = client.get("/metrics").text
        health = client.get("/v1/health").json()
    assert 'shopflow_events_accepted_total{stream="lines"} 2' in metrics
    assert 'shopflow_events_quarantined_total{stream="lines"} 1' in metrics
    assert 'shopflow_requests_rejected_total{stream="lines",code="401"} 2' in metrics
    assert 'shopflow_events_buffered{stream="lines"} 3' in metrics
    assert health["status"] == "ok" and health["streams"]["lines"]["last_offset"] == 3


def test_a_full_buffer_answers_429_with_retry_after(tmp_path: Path) -> None:
    server = Ingest(events_pipeline(tmp_path, max_buffered=10), tmp_path).start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            assert client.post("/v1/events/lines", json=[line(1, "A", n) for n in range(10)],
                               headers=auth()).status_code == 200
            full = client.post("/v1/events/lines", json=line(1, "A", 10), headers=auth())
    finally:
        server.kill()
    assert full.status_code == 429 and full.headers["Retry-After"] == "1"
    assert run_pipeline(load_config(server.config)).exit_code == 0
    assert warehouse_rows(tmp_path, "SELECT count(*) FROM raw.lines") == [(10,)]


def test_kill_9_mid_stream_keeps_every_acknowledged_event_exactly_once(ingest: Ingest, tmp_path: Path) -> None:
    acked: set[tuple[int, str, int]] = set()
    sent: set[tuple[int, str, int]] = set()
    stop = threading.Event()

    def post_batches(start: int) -> None:
        with httpx.Client(base_url=ingest.url, timeout=5) as client:
            for batch in range(start, start + 10_000):
                if stop.is_set():
                    return
                keys = [(1, f"INV{batch}", n) for n in range(20)]
                sent.update(keys)
                body = "\n".join(json.dumps(line(*k)) for k in keys)
                try:
                    answer = client.post("/v1/events/lines", content=body, headers=auth())
                except httpx.HTTPError:
                    return  # the server died mid-request: these events were never acknowledged
                if answer.status_code == 200:
                    acked.update(keys)

    for start in (0, 100_000):
        ingest.start()
        stop.clear()
        poster = threading.Thread(target=post_batches, args=(start,))
        poster.start()
        while len(acked) < 2_000 * (1 + start // 100_000) and poster.is_alive():
            threading.Event().wait(0.02)
        ingest.kill()  # while the poster is sending
        stop.set()
        poster.join(10)
    # Clients resend some acknowledged events (a retry after a lost answer): dropped by the idempotency key.
    ingest.start()
    with httpx.Client(base_url=ingest.url, timeout=10) as client:
        resent = sorted(acked)[:50]
        answer = client.post("/v1/events/lines", json=[line(*k) for k in resent] + [{"store": 1}], headers=auth())
        assert answer.status_code == 200 and answer.json()["quarantined"] == 1
    ingest.kill()

    report = run_pipeline(load_config(ingest.config))
    assert report.exit_code == EXIT_QUARANTINED
    rows = warehouse_rows(tmp_path, "SELECT store, invoice, line, count(*) FROM raw.lines GROUP BY ALL")
    loaded = {(s, i, n) for s, i, n, _ in rows}
    assert all(count == 1 for *_, count in rows)
    assert acked <= loaded <= sent
    quarantined = warehouse_rows(tmp_path, "SELECT reason FROM raw._quarantine")
    assert quarantined == [("key column 'invoice' is missing or null",)]
    assert run_pipeline(load_config(ingest.config)).tables[0].rows_extracted == 0


def test_standalone_ingest_flushes_to_thewarehouse_rows(tmp_path: Path) -> None:
    server = Ingest(events_pipeline(tmp_path), tmp_path).start(flush=True)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for n in range(30):
            assert client.post("/v1/events/lines", json=line(2, "B", n), headers=auth()).status_code == 200
    assert server.terminate() == 0  # a graceful stop flushes what was acknowledged last
    assert warehouse_rows(tmp_path, "SELECT count(*), sum(qty) FROM raw.lines") == [(30, 30)]


def test_lookup_answers_the_latest_row_per_key_once_in_the_lake(tmp_path: Path) -> None:
    config = events_pipeline(tmp_path)
    document = yaml.safe_load(config.read_text())
    document["sources"][0]["streams"][0].update(lookup=True, idempotency_key=[])
    config.write_text(yaml.safe_dump(document))
    server = Ingest(config, tmp_path).start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            client.post("/v1/events/lines", json=[line(1, "A", 1, qty=1), line(1, "A", 1, qty=5)], headers=auth())
            assert client.get("/v1/lookup/lines/1,A,1", headers=auth()).status_code == 404  # not in the lake yet
            assert run_pipeline(load_config(config)).exit_code == 0
            found = client.get("/v1/lookup/lines/1,A,1", headers=auth())
            assert client.get("/v1/lookup/lines/1,A,1").status_code == 401
            assert client.get("/v1/lookup/lines/9,Z,9", headers=auth()).status_code == 404
    finally:
        server.kill()
    assert found.status_code == 200
    assert (found.json()["qty"], found.json()["_sf_offset"]) == (5, 2)
