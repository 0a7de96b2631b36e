"""Compaction of a stream's small lake files on a schedule: fewer files, same rows, each loaded exactly once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.helpers import kill_run_at
from tests.serve.ingest.conftest import append_events, events_pipeline, line, warehouse_rows

from shopflow.config import load_config
from shopflow.config.events import CompactConfig
from shopflow.pipeline.layout import LakeLayout
from shopflow.pipeline.run import run_pipeline
from shopflow.sources.events.compaction import due


def _pipeline(folder: Path, compact: object, **stream: Any) -> Path:
    config = events_pipeline(folder)
    document = yaml.safe_load(config.read_text())
    document["sources"][0]["compact"] = compact
    document["sources"][0]["streams"][0].update(stream)
    config.write_text(yaml.safe_dump(document))
    return config



def _lake(config: Path) -> Any:
    from deltalake import DeltaTable

    loaded = load_config(config)
    return DeltaTable(LakeLayout(loaded, "shop", "lines").main.uri)


def _operations(config: Path) -> list[str]:
    return [str(h.get("operation")) for h in reversed(_lake(config).history())]


def test_compaction_leaves_few_files_and_every_row_loaded_once(tmp_path: Path) -> None:
    config = _pipeline(tmp_path, {"every_commits": 4})
    for batch in range(8):
        append_events(config, [line(1, f"B{batch}", n) for n in range(3)])
        report = run_pipeline(load_config(config))
        assert report.exit_code == 0, [t.error for t in report.tables]
    assert "OPTIMIZE" in _operations(config)
    table = _lake(config)
    assert len(table.file_uris()) < 8  # one small file per micro-batch without compaction
    # The files it replaced stay a week (vacuum_after_hours): a load that listed them still reads them.
    on_disk = list(Path(table.table_uri.removeprefix("file://")).rglob("*.parquet"))
    assert all(Path(uri.removeprefix("file://")).exists() for uri in table.file_uris())
    assert len([f for f in on_disk if "_delta_log" not in f.parts]) >= 8 + len(table.file_uris())
    assert list((Path(table.table_uri.removeprefix("file://")) / "_delta_log").glob("*.checkpoint.parquet"))
    assert table.to_pyarrow_table().num_rows == 24
    assert warehouse_rows(tmp_path, "SELECT count(*), count(DISTINCT (invoice, line)) FROM raw.lines") == [(24, 24)]
    # The ledger still knows where the stream is: nothing is read twice, nothing new is lost.
    append_events(config, [line(1, "B0", 0), line(1, "NEW", 0)])  # a repeat (idempotency key) and a new event
    assert run_pipeline(load_config(config)).exit_code == 0
    assert warehouse_rows(tmp_path, "SELECT count(*), count(DISTINCT (invoice, line)) FROM raw.lines") == [(25, 25)]


def test_a_load_after_compaction_opens_only_the_new_batch_file(tmp_path: Path) -> None:
    config = _pipeline(tmp_path, {"every_commits": 2})
    for batch in range(4):
        append_events(config, [line(1, f"B{batch}", 1)])
        assert run_pipeline(load_config(config)).exit_code == 0
    compacted = set(_lake(config).file_uris())
    append_events(config, [line(1, "NEW", 1)])
    assert run_pipeline(load_config(config)).exit_code == 0
    main = LakeLayout(load_config(config), "shop", "lines").main
    newest = main.commits()[-1]
    files = main.files([newest.batch])
    assert files is not None
    assert len(files.uris) == 1 and not set(files.uris) & compacted


def test_merge_keeps_the_latest_row_across_compactions(tmp_path: Path) -> None:
    config = _pipeline(
        tmp_path, {"every_commits": 2}, write_disposition="merge", primary_key=["store", "invoice"], idempotency_key=[]
    )
    for qty in range(1, 7):
        append_events(config, [line(1, "A", 1, qty=qty), line(1, f"only{qty}", 1, qty=qty)])
        assert run_pipeline(load_config(config)).exit_code == 0
    assert "OPTIMIZE" in _operations(config)
    assert warehouse_rows(tmp_path, "SELECT qty FROM raw.lines WHERE invoice = 'A'") == [(6,)]
    assert warehouse_rows(tmp_path, "SELECT count(*) FROM raw.lines") == [(7,)]


def test_a_run_killed_before_its_load_compacts_then_loads_exactly_once(tmp_path: Path) -> None:
    config = _pipeline(tmp_path, {"every_commits": 2})
    append_events(config, [line(1, "A", n) for n in range(10)])
    assert run_pipeline(load_config(config)).exit_code == 0
    append_events(config, [line(1, "B", n) for n in range(10)])
    kill_run_at(config, tmp_path, "lake_committed")  # in the lake, not in the warehouse, compaction due
    report = run_pipeline(load_config(config))
    assert report.exit_code == 0, [t.error for t in report.tables]
    assert "OPTIMIZE" in _operations(config)
    assert warehouse_rows(
        tmp_path, "SELECT invoice, count(*), count(DISTINCT line) FROM raw.lines GROUP BY ALL ORDER BY 1"
    ) == [("A", 10, 10), ("B", 10, 10)]


def test_compact_false_never_compacts(tmp_path: Path) -> None:
    config = _pipeline(tmp_path, False)
    for batch in range(3):
        append_events(config, [line(1, f"B{batch}", 1)])
        assert run_pipeline(load_config(config)).exit_code == 0
    assert "OPTIMIZE" not in _operations(config)
    assert len(_lake(config).file_uris()) == 3


@pytest.mark.parametrize(
    ("since", "minutes_ago", "expected"),
    [
        (100, 0, True),
        (99, 0, False),
        (1, 31, True),
        (0, 31, False),
    ],
)
def test_due_every_commits_or_minutes(since: int, minutes_ago: float, expected: bool) -> None:
    settings = CompactConfig(every_commits=100, every_minutes=30)
    assert due(settings, 500 + since, 500, 1_000.0, 1_000.0 + minutes_ago * 60) is expected
