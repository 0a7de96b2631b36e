"""Extract files: read, shape, split good from bad rows and nested from flat, as Arrow batches.

`extract_files` reads many JSON or JSON-lines files in one query (the fast way); when it fails
the caller extracts them one by one with `extract_file`, which reads one file exactly and
quarantines what it cannot read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from shopflow import quarantine
from shopflow.config.model import FileTable
from shopflow.errors import SourceError
from shopflow.naming import normalize_name
from shopflow.sources.files.ahead import DocumentsAhead
from shopflow.sources.files.casting import shape_records
from shopflow.sources.files.failures import raise_environmental
from shopflow.sources.files.json_read import FastPathError, not_iso_leaf
from shopflow.sources.files.line_numbers import line_source
from shopflow.sources.files.lines import read_lines
from shopflow.sources.files.nested import parent_key, split_nested
from shopflow.sources.files.newlines import open_bytes
from shopflow.sources.files.readers import FileRead, read_file, read_files
from shopflow.sources.files.rows import FileRows, bad_rows, split_errors, untyped_nulls, with_metadata
from shopflow.sources.files.shapes import DetectedTypes
from shopflow.storage import FileInfo

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

BATCH_ROWS = 100_000
# A file quarantined whole keeps this much of its text as `raw`: the file itself stays where it is.
WHOLE_FILE_RAW = 64 << 10
# Formats `extract_files` reads many files of in one query.
MANY_FORMATS = ("json", "jsonl")


@dataclass
class FileExtract:
    """Counts for one extracted file."""

    file: FileInfo
    rows: int = 0
    quarantined: int = 0
    failed: str | None = None


class PartialFileError(SourceError):
    """The file failed after some of its batches were yielded: the caller drops them all.

    `by_line` says that reading the file again line by line may load its good lines; `leaf`
    names dates or timestamps that are not plain ISO 8601, to read as text.
    """

    def __init__(
        self, message: str, *, by_line: bool = False, leaf: str | None = None, file: str | None = None
    ) -> None:
        super().__init__(message, file=file)
        self.by_line = by_line
        self.leaf = leaf


class ManyFilesError(Exception):
    """Reading many files in one query failed.

    Attributes:
        file: The position of the file to blame, if known.
        leaf: The leaf path of dates or timestamps that are not plain ISO 8601, to read as text.
        reused: The records were typed with types detected in earlier files: detecting the
            files' own may read them.
    """

    def __init__(self, message: str, file: int | None, leaf: str | None = None, *, reused: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.leaf = leaf
        self.reused = reused


def extract_files(
    con: duckdb.DuckDBPyConnection,
    local_paths: list[Path],
    table: FileTable,
    origin: quarantine.Origin,
    results: list[FileExtract],
    text: frozenset[str] = frozenset(),
    known: DetectedTypes | None = None,
    ahead: DocumentsAhead | None = None,
) -> Iterator[tuple[str, pa.RecordBatch]]:
    """Yield `(output table, batch)` pairs of many non-empty JSON or JSON-lines files, read in one query.

    `results[i]` (the file at `local_paths[i]`) is filled with its counts as batches are yielded.
    `text` holds the leaf paths of dates and timestamps to keep as text (see `json_read`);
    `known`, the types detected in earlier documents of the table (see `shapes`); `ahead` may
    have found the documents' shapes already.

    Raises:
        ManyFilesError: Anything went wrong; the caller drops what was yielded and extracts the
            files one by one.
    """
    import duckdb

    fmt = table.format_of(results[0].file.url)
    reused = False
    try:
        read = read_files(con, local_paths, table, fmt, text, known, ahead)
        reused = read.reused
        try:
            stream = con.sql(shape_records(con, read, table)).to_arrow_reader(BATCH_ROWS)
            files = FileRows([str(p) for p in local_paths], [r.file.url for r in results], line_source(table, fmt))
            yield from _batches(stream, table, origin, files, results)
        finally:
            read.close(con)
    except (duckdb.Error, KeyError, UnicodeDecodeError, SourceError, FastPathError, ValueError, OSError) as exc:
        raise_environmental(exc)  # not the files' fault: reading them one by one would quarantine them all
        message = _first_line(exc)
        named = [i for i, p in enumerate(local_paths) if str(p) in str(exc)]
        raise ManyFilesError(message, named[0] if len(named) == 1 else None, not_iso_leaf(exc), reused=reused) from exc


def extract_file(
    con: duckdb.DuckDBPyConnection,
    local_path: Path,
    file: FileInfo,
    table: FileTable,
    origin: quarantine.Origin,
    result: FileExtract,
    *,
    by_line: bool = False,
    text: frozenset[str] = frozenset(),
) -> Iterator[tuple[str, pa.RecordBatch]]:
    """Yield `(output table, batch)` pairs for one file; quarantine rows go to `_quarantine`.

    A file that cannot be parsed at all yields one quarantine row with the reason and the
    file's raw text. A JSON-lines file is then read line by line (`by_line`): its bad lines
    are quarantined and its good ones load. `result` is filled with the counts as batches are
    yielded. `text` holds the leaf paths of JSON dates and timestamps to keep as text.

    Raises:
        PartialFileError: The file failed after some of its batches were yielded, or has
            dates or timestamps that are not plain ISO 8601 (read it again with them as text).
    """
    if file.size == 0:
        yield from quarantine_whole_file(origin, file, local_path, "file is empty (0 bytes)", result)
        return
    fmt = table.format_of(file.url)
    import duckdb

    try:
        read = read_lines(con, local_path, table, text) if by_line else read_file(con, local_path, table, fmt, text)
    except (duckdb.Error, KeyError, UnicodeDecodeError) as exc:
        raise_environmental(exc)
        if fmt == "jsonl" and not by_line:
            yield from extract_file(con, local_path, file, table, origin, result, by_line=True, text=text)
            return
        yield from quarantine_whole_file(origin, file, local_path, f"cannot read as {fmt}: {_first_line(exc)}", result)
        return
    except SourceError as exc:
        raise_environmental(exc)
        yield from quarantine_whole_file(origin, file, local_path, _reason(exc), result)
        return
    try:
        stream = con.sql(shape_records(con, read, table)).to_arrow_reader(BATCH_ROWS)
    except (duckdb.Error, SourceError) as exc:
        read.close(con)
        raise_environmental(exc)
        if not_iso_leaf(exc):
            raise PartialFileError(_first_line(exc), leaf=not_iso_leaf(exc), file=file.url) from exc
        reason = _reason(exc) if isinstance(exc, SourceError) else f"cannot read as {fmt}: {_first_line(exc)}"
        yield from quarantine_whole_file(origin, file, local_path, reason, result)
        return
    try:
        yield from rejected_lines(origin, file, read, result)
        lines = line_source(table, fmt, [r.line for r in read.rejected])
        yield from _batches(stream, table, origin, FileRows([str(local_path)], [file.url], lines), [result])
    except (duckdb.Error, OSError, pa.ArrowException) as exc:  # DuckDB's errors reach the Arrow stream as these
        raise_environmental(exc)
        # A parse error past the sampled rows: nothing of this file may be committed.
        raise PartialFileError(
            f"cannot read as {fmt}: {_first_line(exc)}", by_line=fmt == "jsonl" and not by_line,
            leaf=not_iso_leaf(exc), file=file.url,
        ) from exc
    finally:
        read.close(con)


def rejected_lines(
    origin: quarantine.Origin, file: FileInfo, read: FileRead, result: FileExtract
) -> Iterator[tuple[str, pa.RecordBatch]]:
    """The quarantine rows of the lines a reader refused."""
    if read.rejected:
        result.quarantined += len(read.rejected)
        yield quarantine.TABLE, quarantine.records(
            origin, file.url, [r.reason for r in read.rejected], [r.raw for r in read.rejected],
            lines=[r.line for r in read.rejected],
        )


def _batches(
    stream: pa.RecordBatchReader, table: FileTable, origin: quarantine.Origin, files: FileRows,
    results: list[FileExtract],
) -> Iterator[tuple[str, pa.RecordBatch]]:
    key = parent_key(table.name, table.primary_key)
    pk_columns = [normalize_name(k) for k in table.primary_key]
    for batch in stream:
        good, bad = split_errors(batch, files)
        if bad.num_rows:
            for position, rows in bad_rows(origin, bad, files, pk_columns):
                results[position].quarantined += rows.num_rows
                yield quarantine.TABLE, rows
        before = files.rows.copy()
        good = with_metadata(good, origin, files, row_ids=not pk_columns)
        for position, added in enumerate(files.rows - before):
            results[position].rows += int(added)
        for output, rows in split_nested(good, table.name, key).items():
            yield output, untyped_nulls(rows)


def quarantine_whole_file(
    origin: quarantine.Origin, file: FileInfo, local_path: Path, reason: str, result: FileExtract
) -> Iterator[tuple[str, pa.RecordBatch]]:
    """The one quarantine row of a file that cannot be read, with its raw text; counted in `result`.

    The raw text is the file's beginning (unpacked, if gzipped), at most `WHOLE_FILE_RAW`
    bytes; the reason of a bigger file says where the file is and how big.
    """
    try:
        with open_bytes(local_path) as handle:
            head = handle.read(WHOLE_FILE_RAW)
    except (OSError, EOFError):  # not gzip after all, or cut short: its bytes as they are
        with open(local_path, "rb") as handle:
            head = handle.read(WHOLE_FILE_RAW)
    raw = quarantine.raw_text(head)
    if file.size > WHOLE_FILE_RAW:
        kept = WHOLE_FILE_RAW >> 10
        reason += f" [the file, {file.size:,} bytes, stays at {file.url}; raw holds its first {kept} KiB]"
    result.quarantined = 1
    result.failed = reason
    log.warning("quarantined %s: %s", file.url, reason)
    yield quarantine.TABLE, quarantine.records(origin, file.url, [reason], [raw])


def _reason(exc: SourceError) -> str:
    """A quarantine reason: what failed, and the fix when there is one."""
    return f"{exc.message}; fix: {exc.fix}" if exc.fix else exc.message


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
