"""Read one local file into a DuckDB query of records, one reader per format.

Declared columns are read as text, so that `typing` can cast them exactly (a money string
never passes through a float) and send what does not cast to quarantine.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from shopflow.config.model import FileFormat, FileTable
from shopflow.naming import normalize_name
from shopflow.sources.files import json_read
from shopflow.sources.files.ahead import DocumentsAhead
from shopflow.sources.files.shapes import DetectedTypes
from shopflow.sources.files.xlsx import read_sheet
from shopflow.sql import quote_literal

if TYPE_CHECKING:
    import duckdb
    from duckdb.sqltypes import DuckDBPyType


@dataclass
class RejectedLine:
    """A line a reader refused, with why."""

    line: int | None
    reason: str
    raw: str


@dataclass
class FileRead:
    """What a reader made of files: a query of their records (not yet run) and refused lines.

    Attributes:
        sql: The query.
        rejected: Lines the reader refused.
        columns: The records' columns and types, when known without binding `sql`.
        source: `sql` has a column `_sf_src`, the local path of each row's file (see `json_read`).
        cleanup: Temporary files `sql` reads, to delete once it has run.
        temp_tables: Temporary tables `sql` reads, to drop once it has run.
        reused: `sql` types the records with types detected in earlier files (see `shapes`).
    """

    sql: str
    rejected: list[RejectedLine] = field(default_factory=list)
    columns: list[tuple[str, DuckDBPyType]] | None = None
    source: bool = False
    cleanup: list[Path] = field(default_factory=list)
    temp_tables: list[str] = field(default_factory=list)
    reused: bool = False

    def close(self, con: duckdb.DuckDBPyConnection) -> None:
        """Delete the temporary files and tables the query read."""
        for path in self.cleanup:
            path.unlink(missing_ok=True)
        for name in self.temp_tables:
            con.execute(f"DROP TABLE IF EXISTS {name}")


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
        return _read_csv(con, path, table, text_columns)
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
        columns = json_read.detect(con, paths, fmt)
        known.remember(columns, docs.shapes)
    read = json_read.fast_read(docs, table, json_read.record_types(columns, table), text)
    return FileRead(read.sql, columns=read.columns, source=True, reused=reused)


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


def _read_csv(con: duckdb.DuckDBPyConnection, path: Path, table: FileTable, text_columns: set[str]) -> FileRead:
    opts = table.csv
    rejects = f"_sf_rejects_{uuid.uuid4().hex}"
    scans = f"_sf_scans_{uuid.uuid4().hex}"
    base = (
        f"read_csv({quote_literal(str(path))}, delim={quote_literal(opts.delimiter)}, "
        f"header={str(opts.header).lower()}, quote={quote_literal(opts.quote)}, "
        f"encoding={quote_literal(opts.encoding)}"
    )
    types = ""
    if text_columns:
        sniffed = con.sql(f"SELECT * FROM {base}, sample_size=2048, ignore_errors=true) LIMIT 0").columns
        declared = [c for c in sniffed if normalize_name(c) in text_columns]
        if declared:
            types = ", types={" + ", ".join(f"{quote_literal(c)}: 'VARCHAR'" for c in declared) + "}"
    relation_sql = (
        f"SELECT * FROM {base}, store_rejects=true, rejects_table={quote_literal(rejects)}, "
        f"rejects_scan={quote_literal(scans)}, strict_mode=true{types})"
    )
    # Materialise so the rejects table is filled before it is read; DuckDB spills to disk if large.
    staged = f"_sf_csv_{uuid.uuid4().hex}"
    con.execute(f"CREATE TEMP TABLE {staged} AS {relation_sql}")
    rows = con.execute(f"SELECT line, error_type, error_message, csv_line FROM {rejects} ORDER BY line").fetchall()
    rejected = [RejectedLine(line=r[0], reason=f"{r[1]}: {r[2]}", raw=r[3] or "") for r in rows]
    con.execute(f"DROP TABLE IF EXISTS {rejects}; DROP TABLE IF EXISTS {scans}")
    return FileRead(f"SELECT * FROM {staged}", rejected, temp_tables=[staged])

