"""The columns of a file's records, found without reading its rows.

CSV, Parquet and Excel tell their columns in a header (binding DuckDB's reader reads the
header, the Parquet footer or the sheet's first row). JSON records have no header: the keys of
the records in the file's first MiB are looked at first, and only when they lack a wanted
column is the file read by DuckDB's own detection, as the extraction types it, so a key only
later records have still counts. Names are normalised to snake_case, as the lake has them.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from shopflow.config.model import FileFormat, FileTable
from shopflow.naming import normalize_name
from shopflow.sql import quote_literal

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

# How far into a file its first records (JSON) or its header (CSV the sniffer cannot read) are looked for.
_HEAD_BYTES = 1 << 20


def file_columns(
    con: duckdb.DuckDBPyConnection, path: Path, table: FileTable, fmt: FileFormat, wanted: set[str],
) -> list[str] | None:
    """The snake_case names of the columns the records of `path` have; None if the file cannot be read.

    For JSON, the names may be those of the first records only, when they hold every name in
    `wanted`. A file that cannot be read is left to the extraction, which quarantines it.
    """
    import duckdb

    try:
        if fmt == "csv":
            names = _csv_columns(con, path, table)
        elif fmt in ("json", "jsonl"):
            first = _first_keys(path, table, fmt)
            if first is not None and wanted <= {normalize_name(k) for k in first}:
                return [normalize_name(k) for k in first]
            names = _json_columns(con, path, table, fmt)
        elif path.suffix.lower() in (".gz", ".gzip"):
            return None  # Parquet and Excel are read unpacked: leave a packed one to the extraction
        elif fmt == "parquet":
            names = con.sql(f"SELECT * FROM read_parquet({quote_literal(str(path))})").columns
        else:
            names = _xlsx_columns(con, path, table)
    except (duckdb.Error, KeyError, ValueError, OSError, UnicodeDecodeError) as exc:
        log.debug("cannot read the columns of %s: %s", path, exc)
        return None
    return [normalize_name(n) for n in names]


def _csv_columns(con: duckdb.DuckDBPyConnection, path: Path, table: FileTable) -> list[str]:
    """The header as DuckDB names it; Python's csv module when DuckDB's sniffer cannot read the file."""
    import duckdb

    opts = table.csv
    source = (
        f"read_csv({quote_literal(str(path))}, delim={quote_literal(opts.delimiter)}, "
        f"header={str(opts.header).lower()}, quote={quote_literal(opts.quote)}, "
        f"encoding={quote_literal(opts.encoding)}, sample_size=2048, ignore_errors=true)"
    )
    try:
        return list(con.sql(f"SELECT * FROM {source} LIMIT 0").columns)
    except duckdb.Error:
        pass
    from shopflow.sources.files.newlines import open_bytes

    with open_bytes(path) as handle:
        head = handle.read(_HEAD_BYTES).decode(opts.encoding, errors="replace")
    first = next(csv.reader(io.StringIO(head), delimiter=opts.delimiter, quotechar=opts.quote), [])
    if not opts.header:
        width = len(str(len(first) - 1))
        return [f"column{i:0{width}d}" for i in range(len(first))]
    return [name or f"column{i}" for i, name in enumerate(first)]


def _first_keys(path: Path, table: FileTable, fmt: FileFormat) -> list[str] | None:
    """The keys of the records that start in the first MiB of `path`; None if they cannot be told."""
    from shopflow.sources.files.newlines import open_bytes

    with open_bytes(path) as handle:
        head = handle.read(_HEAD_BYTES).decode("utf-8", errors="replace")
    if fmt == "jsonl":
        records = []
        for line in head.splitlines()[:-1] or head.splitlines():  # the last line may be cut short
            with contextlib.suppress(ValueError):
                records.append(json.loads(line))
    else:
        records = _document_records(head, table.records)
    keys: dict[str, None] = {}
    for record in records:
        if isinstance(record, dict):
            keys.update(dict.fromkeys(record))
    return list(keys) or None


def _document_records(head: str, records: str | None) -> list[object]:
    """The records of a JSON document (`[...]`, or `{"<records>": [...]}`) that are whole in `head`."""
    decoder = json.JSONDecoder()
    position = _skip(head, 0)
    if records is not None:
        if not head.startswith("{", position):
            return []
        position = _skip(head, position + 1)
        try:
            while head.startswith('"', position):
                key, position = decoder.raw_decode(head, position)
                position = _skip(head, position)
                position = _skip(head, position + 1)  # the colon
                if key == records:
                    break
                _, position = decoder.raw_decode(head, position)  # another key's value
                position = _skip(head, position)
                position = _skip(head, position + 1) if head.startswith(",", position) else position
            else:
                return []
        except ValueError:  # cut short before the records
            return []
    if not head.startswith("[", position):
        return []
    found: list[object] = []
    position = _skip(head, position + 1)
    while position < len(head) and not head.startswith("]", position):
        try:
            record, position = decoder.raw_decode(head, position)
        except ValueError:  # the record the first MiB cuts
            break
        found.append(record)
        position = _skip(head, position)
        position = _skip(head, position + 1) if head.startswith(",", position) else position
    return found


def _skip(text: str, position: int) -> int:
    """The position of the first non-blank character at or after `position`."""
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _json_columns(con: duckdb.DuckDBPyConnection, path: Path, table: FileTable, fmt: FileFormat) -> list[str]:
    from shopflow.sources.files.readers import read_file

    read = read_file(con, path, table, fmt)
    try:
        if read.columns is not None:
            return [name for name, _ in read.columns]
        from shopflow.sources.files.json_read import SOURCE

        return [c for c in con.sql(read.sql).columns if c != SOURCE]
    finally:
        read.close(con)


def _xlsx_columns(con: duckdb.DuckDBPyConnection, path: Path, table: FileTable) -> list[str]:
    from shopflow.engine import load_extension

    load_extension(con, "excel")
    opts = table.xlsx
    sheet = f", sheet={quote_literal(opts.sheet)}" if opts.sheet else ""
    return list(con.sql(
        f"SELECT * FROM read_xlsx({quote_literal(str(path))}, header={str(opts.header).lower()}{sheet})"
    ).columns)
