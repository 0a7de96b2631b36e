"""Many small micro-batches into an events stream's lake table, with and without compaction.

Each of N micro-batches logs a few events in the buffer and moves them to the lake
(`flush_stream`: one data commit and one ledger commit, as `shopflow ingest` does every few
seconds); the warehouse then loads them all once. Measured afterwards, per variant, in the
same process: a steady-state micro-batch (a few new events through `run_pipeline`: flush to
the lake, then load into DuckDB), a full read of the lake table, its data files and Delta
log size, and CPU seconds for the whole variant. With compaction on (`compact: {every_commits:
100}`, the default) the table is compacted and checkpointed on schedule along the way.

    python bench/events_compaction.py [--batches 1000] [--events 5]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from shopflow.config import load_config
from shopflow.config.events import EventsSource
from shopflow.pipeline.layout import LakeLayout
from shopflow.pipeline.run import run_pipeline
from shopflow.sources.events.buffer import Appended, BufferWriter
from shopflow.sources.events.flush import flush_stream


def _config(folder: Path, compact: bool) -> Path:
    path = folder / "shopflow.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "pipeline": "bench",
                "lake": str(folder / "lake"),
                "warehouse": {"path": str(folder / "w.duckdb")},
                "sources": [
                    {
                        "name": "shop",
                        "type": "events",
                        "path": str(folder / "buffer.sqlite"),
                        "token_env": "BENCH_TOKEN",
                        "compact": {"every_commits": 100} if compact else False,
                        "streams": [
                            {
                                "name": "lines",
                                "columns": {"store": "integer", "invoice": "text", "line": "integer", "qty": "integer"},
                                "primary_key": ["store", "invoice", "line"],
                                "idempotency_key": ["store", "invoice", "line"],
                            }
                        ],
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    return path


def _append(writer: BufferWriter, start: int, count: int) -> None:
    done = threading.Event()
    got: list[Appended | None] = []

    def finished(appended: Appended | None, error: BaseException | None) -> None:
        got.append(appended)
        done.set()

    rows: list[tuple[str, str | None, float]] = [
        (json.dumps({"store": 1, "invoice": f"I{n}", "line": 1, "qty": n}), None, time.time())
        for n in range(start, start + count)
    ]
    writer.submit("lines", rows, finished)
    assert done.wait(30) and got[0] is not None


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def variant(batches: int, events: int, compact: bool) -> dict[str, Any]:
    """Run one variant in a fresh folder; return its measurements."""
    from deltalake import DeltaTable

    with tempfile.TemporaryDirectory(prefix="sf-bench-compaction-") as tmp:
        folder = Path(tmp)
        config = load_config(_config(folder, compact))
        source = config.sources[0]
        assert isinstance(source, EventsSource)
        stream = source.streams[0]
        writer = BufferWriter(source.buffer_path, ["lines"], 10_000_000)
        cpu, wall = _cpu(), time.perf_counter()
        last_flushes = []
        for b in range(batches):
            _append(writer, b * events, events)
            started = time.perf_counter()
            flush_stream(config, source, stream, f"bench-{b}")
            if b >= batches - 20:
                last_flushes.append(time.perf_counter() - started)
        assert run_pipeline(config).exit_code == 0  # the warehouse catches up once
        steady = []
        for r in range(5):
            _append(writer, (batches + r) * events, events)
            started = time.perf_counter()
            assert run_pipeline(config).exit_code == 0
            steady.append(time.perf_counter() - started)
        writer.close()
        table_uri = LakeLayout(config, source.name, stream.name).main.uri
        started = time.perf_counter()
        table = DeltaTable(table_uri)
        rows = table.to_pyarrow_table().num_rows
        read = time.perf_counter() - started
        log_dir = Path(table_uri.removeprefix("file://")) / "_delta_log"
        return {
            "compaction": compact,
            "rows": rows,
            "version": table.version(),
            "files": len(table.file_uris()),
            "flush_ms_last20_median": round(statistics.median(last_flushes) * 1000, 1),
            "micro_batch_ms_median": round(statistics.median(steady) * 1000, 1),
            "full_read_ms": round(read * 1000, 1),
            "checkpoints": len(list(log_dir.glob("*.checkpoint.parquet"))),
            "cpu_s": round(_cpu() - cpu, 1),
            "wall_s": round(time.perf_counter() - wall, 1),
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=1000)
    parser.add_argument("--events", type=int, default=5)
    args = parser.parse_args()
    for compact in (False, True):
        print(json.dumps(variant(args.batches, args.events, compact)), flush=True)


if __name__ == "__main__":
    main()
