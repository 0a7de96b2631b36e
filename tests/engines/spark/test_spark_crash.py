"""Exactly once with `engine: spark`: kill -9 a real `shopflow run` (and its Spark JVM) mid-job, rerun.

The run is paused at a checkpoint (shopflow.faults) after Spark wrote the batch's Parquet files
(`file_extracted`) or after the quarantine rows were committed (`outputs_committed`), then its
whole process group is killed with SIGKILL. The rerun must leave the warehouse exactly as a
clean run does, with one ledger commit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pyspark.sql import SparkSession

from shopflow.config import load_config
from shopflow.pipeline.layout import LakeLayout
from tests.engines.spark.conftest import retail_dumps, retail_pipeline
from tests.engines.spark.test_spark_extract import quarantine_rows, warehouse_rows
from tests.helpers import run

PAUSE_WAIT = 180.0


def _cli(config: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "shopflow.cli.main", "run", "-c", str(config)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def _kill_at(config: Path, point: str, marker: Path, env: dict[str, str]) -> None:
    """Run `config` until it pauses at `point`, then SIGKILL it and the Spark JVM it started."""
    proc = _cli(config, {**env, "SHOPFLOW_PAUSE_AT": point, "SHOPFLOW_PAUSE_FILE": str(marker)})
    try:
        deadline = time.monotonic() + PAUSE_WAIT
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, f"the run did not reach {point}"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    marker.unlink()


def test_kill_9_mid_job_then_rerun_gives_the_clean_end_state(spark: SparkSession, tmp_path: Path) -> None:
    dumps = retail_dumps(tmp_path / "dumps")
    clean = retail_pipeline(tmp_path / "clean", dumps, "spark")
    assert run(clean).exit_code == 3
    crashed = retail_pipeline(tmp_path / "crashed", dumps, "spark")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPFLOW_")}
    layout = LakeLayout(load_config(crashed), "online_retail", "invoice_lines")
    # Killed once with Spark's files written, once more with the quarantine committed too.
    for point in ("file_extracted", "outputs_committed"):
        _kill_at(crashed, point, tmp_path / "paused", env)
        assert layout.main.commits() == []  # nothing consumed
    # The rerun goes in-process on the session's JVM: one JVM start fewer, the same code path.
    assert run(crashed).exit_code == 3
    assert warehouse_rows(crashed) == warehouse_rows(clean)
    assert quarantine_rows(crashed) == quarantine_rows(clean)
    assert len(layout.main.commits()) == 1
