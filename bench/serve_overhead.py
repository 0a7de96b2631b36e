"""What `shopflow serve` adds to each run it triggers: the scheduler's overhead per triggered run.

A small file pipeline (one JSON lines file, nothing new after the first run) is run N times
bare (`run_pipeline`) and N times through the scheduler (`Scheduler.trigger`: the thread, the
ledger rows before and after, freshness, incidents and alerts). The difference of the means is
the overhead per run; the decision-to-start latency is the time from the trigger to the start
of the pipeline run.

    python bench/serve_overhead.py [--runs 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

import yaml

from shopflow.config import load_config
from shopflow.orchestrate.scheduler import Scheduler
from shopflow.pipeline.run import run_pipeline
from shopflow.serve.server import load_pipelines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "in").mkdir()
        (folder / "in" / "a.jsonl").write_text("".join(json.dumps({"id": i}) + "\n" for i in range(1000)))
        path = folder / "shopflow.yml"
        path.write_text(yaml.safe_dump({
            "pipeline": "bench", "lake": str(folder / "lake"), "warehouse": {"path": str(folder / "w.duckdb")},
            "schedule": "manual", "freshness": {"error_after": "1 hour"},
            "sources": [{"name": "s", "type": "files", "location": str(folder / "in"),
                         "tables": [{"name": "t", "files": "*.jsonl", "primary_key": "id",
                                     "write_disposition": "merge"}]}],
        }))
        config = load_config(path)
        run_pipeline(config)  # the first run loads the file; every later one finds nothing new
        bare = []
        for _ in range(runs):
            clock = time.perf_counter()
            run_pipeline(config)
            bare.append(time.perf_counter() - clock)
        [handle] = load_pipelines([path])
        scheduler = Scheduler([handle], threading.Event(), check_every=3600)
        served = []
        for _ in range(runs):
            clock = time.perf_counter()
            scheduler.trigger("bench")
            while handle.running is not None:
                time.sleep(0.0005)
            served.append(time.perf_counter() - clock)
        scheduler.join()
    bare_ms, served_ms = statistics.mean(bare) * 1000, statistics.mean(served) * 1000
    start_ms = statistics.mean(scheduler.overhead) * 1000
    print(f"runs: {runs}; bare run_pipeline {bare_ms:.1f} ms (median {statistics.median(bare) * 1000:.1f}), "
          f"through the scheduler {served_ms:.1f} ms (median {statistics.median(served) * 1000:.1f})")
    print(f"scheduler overhead per triggered run: {served_ms - bare_ms:.1f} ms "
          f"(trigger to pipeline start {start_ms:.2f} ms)")


if __name__ == "__main__":
    main()
