# mypy: disable-error-code="import-untyped"
# (psutil ships no types; shopflow's venv has it, not its stubs)
"""Run a command and measure its wall time, CPU time and the peak RSS of its whole process tree."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

SAMPLE_SECONDS = 0.05


@dataclass
class Measured:
    """What one measured command did."""

    seconds: float
    cpu_seconds: float  # user + system time of the process and the children it waited for
    peak_rss_mb: float
    returncode: int
    timed_out: bool
    stdout: str
    stderr: str


def _tree_rss(root: psutil.Process) -> int:
    total = 0
    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            continue
    return total


def _kill(process: subprocess.Popen[bytes]) -> None:
    """Kill the tool and everything it started (it leads its own process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def run_measured(argv: list[str], *, env: dict[str, str], cwd: Path, timeout: float) -> Measured:
    """Run `argv` to completion, sampling the RSS of it and its children every 50 ms.

    The CPU time is the difference in this process's RUSAGE_CHILDREN across the wait: the harness
    runs one tool at a time, so it is the tool's process tree alone (servers it talks to, such as
    PostgreSQL, are not counted).
    """
    out_path, err_path = cwd / "stdout.log", cwd / "stderr.log"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=err, start_new_session=True)
        root = psutil.Process(process.pid)
        peak = 0
        timed_out = False
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _tree_rss(root))
                done.wait(SAMPLE_SECONDS)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            returncode = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill(process)
            returncode = process.wait()
        except BaseException:  # Ctrl-C of the harness: the tool is in its own session and would live on
            _kill(process)
            raise
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        done.set()
        sampler.join()
    return Measured(
        seconds=seconds,
        cpu_seconds=(after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        peak_rss_mb=peak / (1 << 20),
        returncode=returncode,
        timed_out=timed_out,
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
    )
