"""Read one CSV file: DuckDB's sniffer first, then the repairs that let every readable row load.

1. As it is: `read_csv` with the sniffer and strict mode; lines it rejects (too many
   columns, invalid UTF-8) are refused one by one. Nearly every file is read so.
2. When DuckDB cannot read the file at all, typically because its line breaks are mixed
   (CRLF with some LF lines), a copy with every line break LF (`newlines`) is read as in 1.
3. When that fails too (a quote that never closes), the copy is read with the configured
   dialect and no sniffing, every column as text: DuckDB refuses the lines it cannot parse,
   with their numbers, and the good rows are written to a clean CSV file read as in 1, so
   their columns get the types the sniffer gives any other file.

Only a file none of whose rows can be read fails whole (SourceError, with the cause).
"""

from __future__ import annotations

import csv
import logging
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from shopflow import quarantine
from shopflow.config.model import CsvOptions
from shopflow.errors import SourceError
from shopflow.naming import normalize_name
from shopflow.sources.files import exact_numbers
from shopflow.sources.files.failures import raise_environmental
from shopflow.sources.files.file_read import FileRead, RejectedLine
from shopflow.sources.files.newlines import lf_copy, open_bytes
from shopflow.sql import quote_identifier, quote_literal

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

# A refused line keeps this much of its text as `raw`; a quote that never closes makes the
# rest of the file one "line".
RAW_LINE_LIMIT = 64 << 10
# How much of the file the header is looked for in, when the sniffer cannot read the file.
HEADER_BYTES = 1 << 20
_CLEAN = CsvOptions()  # the dialect shopflow writes a clean copy in


@dataclass(frozen=True)
class _Staged:
    """A CSV file read into a temporary table, and the lines refused."""

    table: str
    rejected: list[RejectedLine]


def read_csv(
    con: duckdb.DuckDBPyConnection, path: Path, opts: CsvOptions, text_columns: set[str],
    numbers: list[str] | None = None,
) -> FileRead:
    """The records of the CSV file `path` as a query of a temporary table, and the lines refused.

    Columns named in `text_columns` are read as text. Raises SourceError when no row of the
    file can be read, naming why. `numbers`: columns read as text to be typed exactly (see
    `exact_numbers`).
    """
    import duckdb

    try:
        staged = _sniffed(con, path, opts, text_columns)
    except duckdb.Error as exc:
        raise_environmental(exc)  # a full disk or no memory: the repairs below would fail the same way
        staged = _repaired(con, path, opts, text_columns, exc)
    sql = f"SELECT * FROM {staged.table}"
    if numbers is not None:
        sql = exact_numbers.typed_columns(con, staged.table, numbers)
    elif suspect := exact_numbers.suspect_doubles(con, staged.table):
        # Whole numbers a double may have rounded: read those columns again as text, to type them exactly.
        log.info("%s: columns %s hold whole numbers past 2**53: reading them exactly", path, suspect)
        con.execute(f"DROP TABLE {staged.table}")
        return read_csv(con, path, opts, text_columns | {normalize_name(c) for c in suspect}, suspect)
    return FileRead(sql, staged.rejected, temp_tables=[staged.table])


def _sniffed(con: duckdb.DuckDBPyConnection, path: Path, opts: CsvOptions, text_columns: set[str]) -> _Staged:
    """Read `path` with DuckDB's sniffer into a temporary table; raises duckdb.Error if it cannot."""
    base = _base(path, opts)
    types = ""
    if text_columns:
        sniffed = con.sql(f"SELECT * FROM {base}, sample_size=2048, ignore_errors=true) LIMIT 0").columns
        declared = [c for c in sniffed if normalize_name(c) in text_columns]
        if declared:
            types = ", types={" + ", ".join(f"{quote_literal(c)}: 'VARCHAR'" for c in declared) + "}"
    return _stage(con, f"{base}, strict_mode=true{types}", opts)


def _repaired(
    con: duckdb.DuckDBPyConnection, path: Path, opts: CsvOptions, text_columns: set[str], failure: duckdb.Error
) -> _Staged:
    """Steps 2 and 3 of the module docstring; raises SourceError when no row can be read."""
    import duckdb

    log.info("DuckDB cannot read %s as it is (%s); reading it with LF line breaks", path, _first_line(failure))
    if opts.encoding == "utf-16":  # its line breaks are two bytes each: read it as it is
        return _row_by_row(con, path, path, opts, text_columns, failure)
    with _temporary(".csv") as lf:
        made = lf_copy(path, lf)
        try:
            staged = _sniffed(con, lf, opts, text_columns)
        except duckdb.Error as exc:
            return _row_by_row(con, lf, path, opts, text_columns, exc)
    log.info("read %s after making %s CRLF line breaks LF", path, made)
    return staged


def _row_by_row(
    con: duckdb.DuckDBPyConnection, lf: Path, path: Path, opts: CsvOptions, text_columns: set[str],
    failure: duckdb.Error,
) -> _Staged:
    """Read `lf` with the configured dialect, all text; its good rows are read again from a clean copy."""
    import duckdb

    names = _header(lf, path, opts)
    columns = "{" + ", ".join(f"{quote_literal(n)}: 'VARCHAR'" for n in names) + "}"
    try:
        text = _stage(con, f"{_base(lf, opts)}, strict_mode=true, auto_detect=false, columns={columns}", opts)
    except duckdb.Error as exc:
        raise SourceError(f"no row of the CSV file can be read: {_first_line(failure)} / {_first_line(exc)}",
                          file=str(path)) from exc
    try:
        counted = con.execute(f"SELECT count(*) FROM {text.table}").fetchone()
        good = int(counted[0]) if counted else 0
        if not good:
            cause = text.rejected[0].reason if text.rejected else f"DuckDB says: {_first_line(failure)}"
            raise SourceError(f"no row of the CSV file can be read: {cause}", file=str(path))
        with _temporary(".csv") as clean:
            listed = ", ".join(quote_identifier(n) for n in names)
            con.execute(f"COPY (SELECT {listed} FROM {text.table}) TO {quote_literal(str(clean))} "
                        "(FORMAT csv, HEADER true, DELIMITER ',', QUOTE '\"')")
            staged = _sniffed(con, clean, _CLEAN, text_columns)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {text.table}")
    log.warning("%s: %s good rows read row by row, %s lines refused", path, good, len(text.rejected))
    return _Staged(staged.table, [*text.rejected, *staged.rejected])


def _header(lf: Path, path: Path, opts: CsvOptions) -> list[str]:
    """The column names of the file's first line, as DuckDB's sniffer would name them."""
    with open_bytes(lf) as handle:
        head = handle.read(HEADER_BYTES).decode(opts.encoding, errors="replace")
    line = head.split("\n", 1)[0].removesuffix("\r")
    try:
        first = next(csv.reader([line], delimiter=opts.delimiter, quotechar=opts.quote, strict=True), [])
    except csv.Error as exc:
        raise SourceError(
            f"line 1 (the header) cannot be read as CSV: it opens a value quoted with {opts.quote} that does not "
            f"close on that line ({exc})", file=str(path), fix=_QUOTE_FIX.format(q=opts.quote),
        ) from exc
    if not first:
        raise SourceError("line 1 (the header) is empty", file=str(path))
    if not opts.header:
        return [f"column{i}" for i in range(len(first))]
    names: list[str] = []
    for i, name in enumerate(first):
        name = name or f"column{i}"
        unique, n = name, 0
        while unique in names:
            n += 1
            unique = f"{name}_{n}"
        names.append(unique)
    return names


_QUOTE_FIX = (
    "close the quote, or double a quote inside a quoted value ({q}{q}), and send the file again; "
    "or set csv: {{quote: ...}} on the table to a character the file does not use"
)


def _stage(con: duckdb.DuckDBPyConnection, read: str, opts: CsvOptions) -> _Staged:
    """Materialise `read` (a `read_csv(...` left open) into a temporary table, with its rejected lines."""
    rejects = f"_sf_rejects_{uuid.uuid4().hex}"
    scans = f"_sf_scans_{uuid.uuid4().hex}"
    staged = f"_sf_csv_{uuid.uuid4().hex}"
    # Materialise so the rejects table is filled before it is read; DuckDB spills to disk if large.
    try:
        con.execute(f"CREATE TEMP TABLE {staged} AS SELECT * FROM {read}, store_rejects=true, "
                    f"rejects_table={quote_literal(rejects)}, rejects_scan={quote_literal(scans)})")
        rows = con.execute(f"SELECT line, error_type, error_message, csv_line FROM {rejects} ORDER BY line").fetchall()
    finally:
        con.execute(f"DROP TABLE IF EXISTS {rejects}; DROP TABLE IF EXISTS {scans}")
    return _Staged(staged, [_rejected(line, kind, message, raw or "", opts) for line, kind, message, raw in rows])


def _rejected(line: int, kind: str, message: str, raw: str, opts: CsvOptions) -> RejectedLine:
    """A refused line, with a reason a user can act on."""
    reason = f"{kind}: {message}"
    if kind == "UNQUOTED VALUE":
        lines = raw.rstrip("\r\n").count("\n") + 1
        if lines > 1:
            reason = (f"unbalanced quote: a value quoted with {opts.quote} opens on line {line} and never closes, "
                      f"so the {lines} lines from there on ({len(raw.encode()):,} bytes) read as one value")
        else:
            reason = f"unbalanced quote: a {opts.quote} inside the quoted value on line {line} is not doubled"
        reason += "; fix: " + _QUOTE_FIX.format(q=opts.quote)
    if len(raw) > RAW_LINE_LIMIT:
        raw = raw[:RAW_LINE_LIMIT]
        reason += f" (raw holds the first {RAW_LINE_LIMIT >> 10} KiB)"
    return RejectedLine(line=line, reason=reason, raw=quarantine.raw_text(raw.encode("utf-8", "replace")))


def _base(path: Path, opts: CsvOptions) -> str:
    """`read_csv(...` with the table's dialect, left open for more options."""
    return (
        f"read_csv({quote_literal(str(path))}, delim={quote_literal(opts.delimiter)}, "
        f"header={str(opts.header).lower()}, quote={quote_literal(opts.quote)}, "
        f"encoding={quote_literal(opts.encoding)}"
    )


@contextmanager
def _temporary(suffix: str) -> Iterator[Path]:
    """A temporary file's path, removed afterwards."""
    handle = tempfile.NamedTemporaryFile(prefix="shopflow-csv-", suffix=suffix, delete=False)  # noqa: SIM115
    handle.close()
    path = Path(handle.name)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
