"""Read one local file into a DuckDB query of records, one reader per format.

Declared columns are read as text, so that `typing` can cast them exactly (a money string
never passes through a float) and send what does not cast to quarantine.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from shopflow.config.model import FileFormat, FileTable
from shopflow.naming import normalize_name
from shopflow.sources.files import json_read
from shopflow.sources.files.ahead import DocumentsAhead
from shopflow.sources.files.csv_read import read_csv
from shopflow.sources.files.file_read import FileRead, RejectedLine
from shopflow.sources.files.shapes import DetectedTypes, covering
from shopflow.sources.files.xlsx import read_sheet
from shopflow.sql import quote_literal

if TYPE_CHECKING:
    import duckdb

__all__ = ["FileRead", "RejectedLine", "read_file", "read_files"]


def read_file(
    con: duckdb.DuckDBPyConnection, path: Path, table: FileTable, fmt: FileFormat, text: frozenset[str] = frozenset()
) -> FileRead:
    """Read `path` as `fmt`; raises duckdb.Error when the file as a whole cannot be parsed.

    `text` holds the leaf paths of JSON dates and timestamps to keep as text (see `json_read`).
    """
    text_columns = {normalize_name(c) for c in table.columns}
    if fmt in ("json", "jsonl"):
        return _read_json(con, path, table, fmt, text)
    if fmt == "csv":
        return read_csv(con, path, table.csv, text_columns)
    cleanup = []
    if path.suffix.lower() in (".gz", ".gzip"):  # DuckDB reads parquet and xlsx files only unpacked
        path = _gunzip(path)
        cleanup.append(path)
    try:
        if fmt == "parquet":
            return FileRead(f"SELECT * FROM read_parquet({quote_literal(str(path))})", cleanup=cleanup)
        sheet = read_sheet(con, path, table)
        return FileRead(sheet.sql, cleanup=cleanup, temp_tables=[sheet.staged])
    except BaseException:
        for temporary in cleanup:
            temporary.unlink(missing_ok=True)
        raise


def read_files(
    con: duckdb.DuckDBPyConnection, paths: list[Path], table: FileTable, fmt: FileFormat, text: frozenset[str],
    known: DetectedTypes | None = None, ahead: DocumentsAhead | None = None,
) -> FileRead:
    """Read many JSON documents (the fast way) or JSON-lines files in one query; see `json_read`.

    Documents whose records fit the shape of those `known` was detected over reuse its types;
    otherwise their own are detected and `known` keeps them for the next files. `ahead` may
    have found the documents' shapes already.

    Raises:
        duckdb.Error, KeyError: A file cannot be read.
        FastPathError: The documents cannot be read the fast way.
    """
    if fmt != "json":
        types = json_read.record_types(json_read.detect(con, paths, fmt), table)
        read = json_read.exact_read(paths, table, fmt, types, text)
        return FileRead(read.sql, columns=read.columns, source=True)
    known = known if known is not None else DetectedTypes()
    docs = ahead.documents(con, paths) if ahead is not None else json_read.documents(con, paths, table.records)
    columns = known.columns_for(docs.shapes)
    reused = columns is not None
    if columns is None:
        over = _detected_over(paths, docs) if known.covers else paths
        columns = json_read.detect(con, over, fmt)
        known.remember(columns, docs.shapes)
        reused = len(over) < len(paths)  # if they do not fit after all, the caller detects over every file
    read = json_read.fast_read(docs, table, json_read.record_types(columns, table), text)
    return FileRead(read.sql, columns=read.columns, source=True, reused=reused)


def _detected_over(paths: list[Path], docs: json_read.Documents) -> list[Path]:
    """The files whose documents types are detected over: those of a `covering` of the shapes, else all.

    Detection walks every record, at about 40 MB/s; over the few files whose shapes cover the
    others it gives the same types (see `shapes`).
    """
    chosen = covering(docs.shapes)
    if chosen is None or len(docs.files) != len(docs.shapes):
        return paths
    positions = {docs.files[i] for i in chosen}
    return [p for i, p in enumerate(paths) if i in positions]


def _gunzip(path: Path) -> Path:
    """An unpacked copy of `path` in the temporary folder, with its inner extension."""
    handle, name = tempfile.mkstemp(prefix="shopflow-gunzip-", suffix=Path(path.stem).suffix)
    try:
        with gzip.open(path, "rb") as src, os.fdopen(handle, "wb") as dst:
            shutil.copyfileobj(src, dst, length=8 << 20)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def _read_json(
    con: duckdb.DuckDBPyConnection, path: Path, table: FileTable, fmt: FileFormat, text: frozenset[str]
) -> FileRead:
    """`read_json` with the types it detects in the file (declared columns as text)."""
    types = json_read.record_types(json_read.detect(con, [path], fmt), table)
    read = json_read.exact_read([path], table, fmt, types, text)
    return FileRead(read.sql, columns=read.columns, source=True)
