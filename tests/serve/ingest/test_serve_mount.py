"""The ingest API inside `shopflow serve`: events posted there are flushed by serve's runs like any table."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from tests.orchestrate.conftest import Serve
from tests.serve.ingest.conftest import TOKEN, auth, events_pipeline, line, warehouse_rows


def test_serve_takes_events_and_its_run_loads_them(tmp_path: Path) -> None:
    server = Serve([events_pipeline(tmp_path)], tmp_path, env={"INGEST_TOKEN": TOKEN})
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            body = "\n".join(json.dumps(line(3, "C", n)) for n in range(25))
            answer = client.post("/v1/events/lines", content=body, headers=auth())
            assert answer.status_code == 200 and answer.json()["accepted"] == 25
            assert client.post("/v1/events/lines", json=line(3, "C", 99)).status_code == 401
            # The stream's flush cadence (every second) may have started a run for these events already.
            triggered = client.post("/v1/pipelines/stream/runs")
            assert triggered.status_code == 202 or (triggered.status_code == 409 and "is going" in triggered.text)
            deadline = time.monotonic() + 60
            while not any(r["status"] != "running" for r in client.get("/v1/runs").json()):
                assert time.monotonic() < deadline, server.logs()
                time.sleep(0.1)
            assert 'shopflow_events_buffered{stream="lines"}' in client.get("/metrics").text
        assert server.terminate() == 0
    finally:
        server.stop_if_running()
    assert warehouse_rows(tmp_path, "SELECT count(*), count(DISTINCT line) FROM raw.lines") == [(25, 25)]
