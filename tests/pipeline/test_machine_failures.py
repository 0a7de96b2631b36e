"""A read that fails for the machine (no memory, no room to spill) fails the table and consumes no file.

Quarantining such a file would count it as read and lose its rows. Instead the table fails
with a StorageError naming the cause and the fix, nothing is committed to the lake, and the
next run, with room again, loads every row once.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from shopflow.config import load_config
from shopflow.config.model import FileSource
from shopflow.engine import MEMORY_LIMIT_ENV, connect
from shopflow.errors import StorageError
from shopflow.pipeline.extract_files import extract_file_table
from shopflow.pipeline.layout import LakeLayout
from tests.helpers import query, run, write_pipeline
from tests.pipeline.test_temp_folders import run_with_small_tmp

ROWS = 100_000  # about 5 MB of CSV: more than DuckDB may hold in 36MB once it stages the file


def _drop(folder: Path, fmt: str) -> Path:
    """Two files of `ROWS` rows in all: a small one and a big one, in `fmt`."""
    folder.mkdir()
    parts = {"small": range(0, 10), "big": range(10, ROWS)}
    for name, ids in parts.items():
        if fmt == "csv":
            text = "id,note\n" + "".join(f"{i},{'x' * 40}{i}\n" for i in ids)
        else:
            text = json.dumps({"orders": [{"id": i, "note": f"{'x' * 40}{i}"} for i in ids]})
        (folder / f"{name}.{fmt}").write_text(text, encoding="utf-8")
    return folder


def _pipeline(tmp_path: Path, fmt: str) -> Path:
    table = {"name": "orders", "files": f"*.{fmt}", **({"records": "orders"} if fmt == "json" else {})}
    return write_pipeline(tmp_path, str(_drop(tmp_path / "data", fmt)), [table])


def _commits(config_path: Path) -> int:
    return len(LakeLayout(load_config(config_path), "shop", "orders").main.commits())


def _assert_next_run_loads_every_row_once(config: Path) -> None:
    report = run(config)
    assert report.exit_code == 0, report
    assert query(config, "SELECT count(*), count(DISTINCT id) FROM raw.orders") == [(ROWS, ROWS)]
    assert query(config, "SELECT count(*) FROM raw._quarantine") == [(0,)]
    assert run(config).tables[0].files_new == 0


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_out_of_memory_fails_the_table_and_the_next_run_reads_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    config = _pipeline(tmp_path, fmt)
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "1MB")

    report = run(config)

    assert report.exit_code == 1, report
    [table] = report.tables
    assert table.error is not None and "DuckDB ran out of memory while reading" in table.error, table.error
    assert f"raise {MEMORY_LIMIT_ENV} (set to 1MB" in table.error
    assert table.quarantined == 0 and table.failed_files == []
    assert _commits(config) == 0
    monkeypatch.delenv(MEMORY_LIMIT_ENV)
    _assert_next_run_loads_every_row_once(config)


def test_no_room_to_spill_commits_nothing_and_the_next_run_reads_its_files(tmp_path: Path) -> None:
    config_path = _pipeline(tmp_path, "csv")  # DuckDB stages a CSV file in a table, which spills
    config = load_config(config_path)
    source = config.sources[0]
    assert isinstance(source, FileSource)
    con = connect()
    try:
        # What DuckDB does on a nearly full disk: it caps its spill files at the free space.
        con.execute("SET memory_limit = '36MB'; SET max_temp_directory_size = '1KB'")
        with pytest.raises(StorageError) as failed:
            extract_file_table(con, config, source, source.tables[0], uuid.uuid4().hex)
    finally:
        con.close()

    assert "DuckDB ran out of disk space for its temporary files" in str(failed.value)
    assert "point TMPDIR at a folder with room" in str(failed.value)
    assert _commits(config_path) == 0
    _assert_next_run_loads_every_row_once(config_path)


def test_a_full_temp_disk_under_duckdb_exits_1_and_the_next_run_reads_the_file(tmp_path: Path) -> None:
    config = _pipeline(tmp_path, "csv")

    small, output, returncode = run_with_small_tmp(tmp_path, config, f"{MEMORY_LIMIT_ENV}=36MB")

    assert returncode == 1, output
    assert "Traceback" not in output
    assert f"DuckDB ran out of disk space for its temporary files below {small}" in output
    assert _commits(config) == 0
    _assert_next_run_loads_every_row_once(config)
