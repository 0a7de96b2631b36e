"""A row quarantined for a value that does not cast has its source line, the line an editor shows.

It used to have `line` NULL. The line counts blank lines, a quoted value spanning lines, the
header, and lines the reader refused; it stays right across Arrow batches, across files read
together in one query, and in a JSON-lines file read line by line.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from tests.helpers import query, run, write_pipeline

from shopflow.sources.files import chunks, extract

ROWS = 5000  # past two Arrow batches of BATCH_ROWS
BAD = {7, 2048, 2049, 4999}  # the ids whose quantity does not cast


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extract, "BATCH_ROWS", 2048)


def _pipeline(tmp_path: Path, files: dict[str, bytes], pattern: str) -> Path:
    drop = tmp_path / "drop"
    drop.mkdir()
    for name, data in files.items():
        (drop / name).write_bytes(data)
    table = {"name": "lines", "files": pattern, "primary_key": "id", "columns": {"quantity": "bigint"}}
    return write_pipeline(tmp_path, str(drop), [table])


def _quarantined(config: Path) -> list[tuple[Any, ...]]:
    sql = "SELECT file, line, key, reason FROM raw._quarantine WHERE key IS NOT NULL ORDER BY file, line"
    return query(config, sql)


def _csv() -> tuple[bytes, dict[int, int]]:
    """A CSV file with blank lines, a value spanning two lines and a refused line; the line of each id."""
    out, lines, line = ["id,note,quantity\n"], {}, 2
    for i in range(1, ROWS + 1):
        if i % 1000 == 0:
            out.append("\n")  # a blank line
            line += 1
        if i == 3000:
            out.append("x,too,many,fields\n")  # refused by the reader
            line += 1
        note = '"two\nlines"' if i % 777 == 0 else "n"
        lines[i] = line
        out.append(f"{i},{note},{'lots' if i in BAD else i}\n")
        line += 1 + note.count("\n")
    return "".join(out).encode(), lines


def test_csv_cast_errors_have_their_line(tmp_path: Path) -> None:
    data, lines = _csv()
    config = _pipeline(tmp_path, {"lines.csv": data}, "*.csv")

    assert run(config).exit_code == 3
    url = str(tmp_path / "drop" / "lines.csv")
    assert _quarantined(config) == [
        (url, lines[i], f"[{i}]", "quantity: cannot cast lots to BIGINT") for i in sorted(BAD)]
    assert query(config, "SELECT count(DISTINCT line) FROM raw._quarantine WHERE key IS NULL") == [(1,)]  # refused


def test_a_gzipped_csv_file_counts_its_unpacked_lines(tmp_path: Path) -> None:
    data, lines = _csv()
    config = _pipeline(tmp_path, {"lines.csv.gz": gzip.compress(data)}, "*.csv.gz")

    assert run(config).exit_code == 3
    assert [line for _, line, _, _ in _quarantined(config)] == [lines[i] for i in sorted(BAD)]


def _jsonl(first: int, count: int, *, broken: int | None = None) -> tuple[bytes, dict[int, int]]:
    out, lines, line = [], {}, 1
    for i in range(first, first + count):
        if i % 1000 == 0:
            out.append("   \n")  # a line of spaces: no record
            line += 1
        if i == broken:
            out.append('{"id": "not json\n')
            line += 1
        lines[i] = line
        out.append(json.dumps({"id": i, "quantity": "lots" if i in BAD else i}) + "\n")
        line += 1
    return "".join(out).encode(), lines


@pytest.mark.parametrize("broken", [None, 2500], ids=["read_whole", "read_line_by_line"])
def test_jsonl_cast_errors_have_their_line(tmp_path: Path, broken: int | None) -> None:
    data, lines = _jsonl(1, ROWS, broken=broken)
    config = _pipeline(tmp_path, {"lines.jsonl": data}, "*.jsonl")

    assert run(config).exit_code == 3
    assert [(line, key) for _, line, key, _ in _quarantined(config)] == [(lines[i], f"[{i}]") for i in sorted(BAD)]


@pytest.mark.parametrize("chunk_bytes", [1 << 30, 1], ids=["one_query", "a_query_per_file"])
def test_lines_are_counted_per_file_when_files_are_read_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_bytes: int
) -> None:
    monkeypatch.setattr(chunks, "CHUNK_BYTES", chunk_bytes)
    first, first_lines = _jsonl(1, 2500)
    second, second_lines = _jsonl(2501, 2500)
    config = _pipeline(tmp_path, {"a.jsonl": first, "b.jsonl": second}, "*.jsonl")

    assert run(config).exit_code == 3
    drop = tmp_path / "drop"
    expected = [(str(drop / ("a.jsonl" if i <= 2500 else "b.jsonl")), (first_lines | second_lines)[i], f"[{i}]")
                for i in sorted(BAD)]
    assert [row[:3] for row in _quarantined(config)] == expected
