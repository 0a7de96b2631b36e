"""Read a JSON-lines file line by line: bad lines are refused with their number, good ones load.

Used when reading the file whole failed. The file is split into lines block by block in Arrow;
DuckDB tells each line's fault (not UTF-8, not JSON, not an object); the good lines are written
to a clean JSON-lines file, whose types are detected over every line, so no line fails later.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from io import BufferedIOBase
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopflow import quarantine
from shopflow.config.model import FileTable
from shopflow.errors import SourceError
from shopflow.sources.files import json_read
from shopflow.sources.files.file_read import FileRead, RejectedLine
from shopflow.sources.files.newlines import open_bytes

if TYPE_CHECKING:
    import duckdb

BLOCK_BYTES = 8 << 20
# Past this many bad lines the file is refused whole: it is not JSON lines with a few bad ones.
MAX_BAD_LINES = 10_000

_CLASSIFY = """
SELECT n, line, text, CASE
    WHEN text IS NULL THEN 'line is not valid UTF-8'
    WHEN NOT json_valid(text) THEN 'line is not valid JSON'
    WHEN json_type(text) <> 'OBJECT' THEN 'line is not a JSON object'
END AS reason
FROM (SELECT n, line, TRY(decode(line)) AS text FROM _sf_lines)
WHERE text IS NULL OR NOT regexp_full_match(text, '\\s*')
"""


def read_lines(
    con: duckdb.DuckDBPyConnection, path: Path, table: FileTable, text: frozenset[str] = frozenset()
) -> FileRead:
    """The good lines of `path` as a query of records; bad lines as refused lines.

    Raises:
        SourceError: No line is a JSON record, or too many are not.
    """
    handle, clean_name = tempfile.mkstemp(prefix="shopflow-lines-", suffix=".jsonl")
    clean = Path(clean_name)
    rejected: list[RejectedLine] = []
    good = 0
    try:
        with os.fdopen(handle, "wb") as out, open_bytes(path) as source:
            for first, lines in _blocks(source):
                good += _classify(con, first, lines, out, rejected)
                if len(rejected) > MAX_BAD_LINES:
                    raise SourceError(f"more than {MAX_BAD_LINES} lines are not JSON records", file=str(path))
        if not good:
            first_bad = f"line {rejected[0].line}: {rejected[0].reason}" if rejected else "the file has no lines"
            raise SourceError(f"no line is a JSON record ({first_bad})", file=str(path))
        types = json_read.record_types(json_read.detect(con, [clean], "jsonl", sample_all=True), table)
        read = json_read.exact_read([clean], table, "jsonl", types, text)
    except BaseException:
        clean.unlink(missing_ok=True)
        raise
    sql = f"SELECT * EXCLUDE ({json_read.SOURCE}) FROM ({read.sql})"
    return FileRead(sql, rejected, columns=read.columns, cleanup=[clean])


def _blocks(source: BufferedIOBase) -> Iterator[tuple[int, pa.Array]]:
    """`(number of the first line, lines)` per block of the file, without their line breaks."""
    carry = b""
    number = 1
    while True:
        block = source.read(BLOCK_BYTES)
        data = carry + block
        if not block:
            if data:
                yield number, pa.array([data], pa.binary())
            return
        cut = data.rfind(b"\n")
        if cut < 0:
            carry = data
            continue
        carry = data[cut + 1:]
        lines = pc.list_flatten(pc.split_pattern(pa.array([data[:cut]], pa.binary()), pattern=b"\n"))
        yield number, lines
        number += len(lines)


def _classify(
    con: duckdb.DuckDBPyConnection, first: int, lines: pa.Array, out: IO[bytes], rejected: list[RejectedLine]
) -> int:
    """Write the block's good lines to `out`, add its bad ones to `rejected`; return the good lines' count."""
    numbers = pa.array(np.arange(first, first + len(lines), dtype=np.int64))
    con.register("_sf_lines", pa.table({"n": numbers, "line": lines}))
    try:
        classified = con.sql(_CLASSIFY).to_arrow_table()
    finally:
        con.unregister("_sf_lines")
    is_bad = pc.is_valid(classified.column("reason"))
    bad = classified.filter(is_bad)
    for n, line, reason in zip(bad.column("n").to_pylist(), bad.column("line").to_pylist(),
                               bad.column("reason").to_pylist(), strict=True):
        rejected.append(RejectedLine(line=n, reason=reason, raw=quarantine.raw_text(line)))
    texts = classified.filter(pc.invert(is_bad)).column("text").combine_chunks()
    if len(texts):
        joined = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, len(texts)], pa.int32()), texts), "\n")
        out.write(joined[0].as_py().encode("utf-8") + b"\n")
    return len(texts)
