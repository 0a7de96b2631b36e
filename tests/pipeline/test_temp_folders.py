"""Temporary folders: a full one is one clear error; those a killed run left are swept, those in use are not."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from shopflow.temp import FETCH_PREFIX, LOCK_NAME, sweep
from tests.helpers import query, write_pipeline

SHOPFLOW = str(Path(sys.executable).with_name("shopflow"))


def _mount_command() -> list[str] | None:
    """A prefix that runs a command in its own mount namespace, where it may mount a tmpfs; None if impossible."""
    if shutil.which("unshare") is None:
        return None
    for prefix in (["unshare", "-m"], ["unshare", "-r", "-m"]):
        probe = subprocess.run([*prefix, "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt 2>/dev/null"],
                               capture_output=True)
        if probe.returncode == 0:
            return prefix
    return None


def run_with_small_tmp(tmp_path: Path, config: Path, env: str = "") -> tuple[Path, str, int]:
    """`shopflow run` with TMPDIR on a 256 KiB tmpfs (and `env`, as `NAME=value ...`): the folder, output, exit code.

    Skips the test where no tmpfs can be mounted.
    """
    prefix = _mount_command()
    if prefix is None:
        pytest.skip("no way to mount a small tmpfs here (needs root or user namespaces)")
    small = tmp_path / "small_tmp"
    small.mkdir()
    script = f'mount -t tmpfs -o size=256k tmpfs "{small}" && TMPDIR="{small}" {env} "{SHOPFLOW}" run -c "{config}"'
    done = subprocess.run([*prefix, "sh", "-c", script], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"})
    return small, done.stdout + done.stderr, done.returncode


def test_a_full_temp_folder_is_one_error_naming_it_and_the_next_run_reads_the_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("id,note\n" + "".join(f"{i},{'x' * 40}\n" for i in range(20_000)))
    config = write_pipeline(tmp_path, str(data), [{"name": "orders", "files": "*.csv"}])

    small, output, returncode = run_with_small_tmp(tmp_path, config)

    assert returncode == 1, output
    assert "Traceback" not in output
    assert f"the temporary folder {small} is full" in output
    assert "point TMPDIR at a folder with room" in output
    done = subprocess.run([SHOPFLOW, "run", "-c", str(config)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert query(config, "SELECT count(*) FROM raw.orders") == [(20_000,)]


HOLDER = """
import sys, time
from shopflow.temp import locked_folder
with locked_folder() as folder:
    print(folder, flush=True)
    time.sleep(60)
"""


def _hold(env: dict[str, str]) -> tuple[subprocess.Popen[str], Path]:
    """A real process holding a fetch folder, as a run does while it extracts."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER], stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    return process, Path(process.stdout.readline().strip())


def test_folders_of_killed_runs_are_swept_and_folders_in_use_are_kept(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    env = {**os.environ, "TMPDIR": str(root)}
    killed, left = _hold(env)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    alive, in_use = _hold(env)
    old = root / f"{FETCH_PREFIX}legacy"  # an older shopflow's folder: no lock file, an hour old
    old.mkdir()
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    try:
        assert (left / LOCK_NAME).exists() and in_use.exists()

        removed = sweep(before=time.time() + 1)

        assert sorted(removed) == sorted([left, old])
        assert in_use.exists() and not left.exists()
    finally:
        alive.kill()
        alive.wait()


def test_a_run_sweeps_the_folders_of_a_killed_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.helpers import run

    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    killed, left = _hold({**os.environ, "TMPDIR": str(root)})
    killed.kill()
    killed.wait()
    os.utime(left, (time.time() - 5, time.time() - 5))
    config = write_pipeline(tmp_path, str(tmp_path), [{"name": "orders", "files": "*.csv"}])

    run(config)

    assert not left.exists()
