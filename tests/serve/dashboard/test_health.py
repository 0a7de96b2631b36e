"""The health page's table list covers every source kind, event streams included."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb

from shopflow.config import load_config
from shopflow.pipeline.run import run_pipeline
from shopflow.serve.dashboard.health import table_health
from shopflow.serve.dashboard.query import duckdb_query
from tests.serve.ingest.conftest import append_events, events_pipeline, line


def test_an_event_stream_shows_its_versions_and_freshness(tmp_path: Path) -> None:
    config_path = events_pipeline(tmp_path)
    append_events(config_path, [line(1, "A", n) for n in range(3)])
    config = load_config(config_path)
    before = datetime.now(UTC)
    assert run_pipeline(config).exit_code == 0

    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    try:
        found = table_health(config, duckdb_query(con), datetime.now(UTC))
    finally:
        con.close()
    assert [t.table for t in found] == ["lines"]
    lines = found[0]
    assert lines.lake_version is not None and lines.applied_version == lines.lake_version
    assert lines.behind == 0
    assert lines.newest_change is not None and lines.newest_change >= before.replace(microsecond=0)
