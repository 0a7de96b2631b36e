"""Extract one file: read, shape, split good from bad rows and nested from flat, as Arrow batches."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from shopflow import quarantine
from shopflow.config.model import FileTable
from shopflow.errors import SourceError
from shopflow.naming import normalize_name
from shopflow.sources.files.casting import ERROR, RAW, shape_records
from shopflow.sources.files.nested import ROW_ID, parent_key, split_nested
from shopflow.sources.files.readers import read_file
from shopflow.storage import FileInfo

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

BATCH_ROWS = 100_000


@dataclass
class FileExtract:
    """Counts for one extracted file."""

    file: FileInfo
    rows: int = 0
    quarantined: int = 0
    failed: str | None = None


def extract_file(
    con: duckdb.DuckDBPyConnection,
    local_path: Path,
    file: FileInfo,
    table: FileTable,
    origin: quarantine.Origin,
    result: FileExtract,
) -> Iterator[tuple[str, pa.RecordBatch]]:
    """Yield `(output table, batch)` pairs for one file; quarantine rows go to `_quarantine`.

    A file that cannot be parsed at all yields one quarantine row with the reason and the
    file's raw text. `result` is filled with the counts as batches are yielded.
    """
    if file.size == 0:
        yield from quarantine_whole_file(origin, file, local_path, "file is empty (0 bytes)", result)
        return
    fmt = table.format_of(file.url)
    import duckdb

    try:
        read = read_file(con, local_path, table, fmt)
        shaped = shape_records(con, read.sql, table)
        stream = con.sql(shaped).to_arrow_reader(BATCH_ROWS)
    except (duckdb.Error, KeyError, UnicodeDecodeError) as exc:
        yield from quarantine_whole_file(origin, file, local_path, f"cannot read as {fmt}: {_first_line(exc)}", result)
        return
    except SourceError as exc:
        yield from quarantine_whole_file(origin, file, local_path, exc.message, result)
        return
    if read.rejected:
        result.quarantined += len(read.rejected)
        yield quarantine.TABLE, quarantine.records(
            origin, file.url, [r.reason for r in read.rejected], [r.raw for r in read.rejected],
            lines=[r.line for r in read.rejected],
        )
    key = parent_key(table.name, table.primary_key)
    pk_columns = [normalize_name(k) for k in table.primary_key]
    try:
        for batch in stream:
            good, bad = _split_errors(batch)
            if bad.num_rows:
                result.quarantined += bad.num_rows
                yield quarantine.TABLE, _bad_rows(origin, file.url, bad, pk_columns)
            good = _with_metadata(good, origin, file.url, result.rows, row_ids=not pk_columns)
            result.rows += good.num_rows
            yield from split_nested(good, table.name, key).items()
    except duckdb.Error as exc:
        # A parse error past the sampled rows: nothing of this file may be committed.
        raise PartialFileError(f"cannot read as {fmt}: {_first_line(exc)}", file=file.url) from exc


class PartialFileError(SourceError):
    """The file failed after some of its batches were yielded: the caller drops them all."""


def _split_errors(batch: pa.RecordBatch) -> tuple[pa.RecordBatch, pa.RecordBatch]:
    errors = batch.column(ERROR)
    is_bad = pc.is_valid(errors)
    data = batch.drop_columns([ERROR, RAW])
    if errors.null_count == len(errors):
        return data, batch.slice(0, 0)
    return data.filter(pc.invert(is_bad)), batch.filter(is_bad)


def _bad_rows(origin: quarantine.Origin, file: str, bad: pa.RecordBatch, pk_columns: list[str]) -> pa.RecordBatch:
    keys: list[str | None] = [None] * bad.num_rows
    if pk_columns:
        values = [bad.column(c).to_pylist() for c in pk_columns]
        keys = [
            json.dumps(list(v), default=str) if any(x is not None for x in v) else None
            for v in zip(*values, strict=True)
        ]
    return quarantine.records(
        origin, file, bad.column(ERROR).to_pylist(), bad.column(RAW).to_pylist(), keys=keys
    )


def _with_metadata(
    batch: pa.RecordBatch, origin: quarantine.Origin, file: str, offset: int, *, row_ids: bool
) -> pa.RecordBatch:
    n = batch.num_rows
    extra = {
        "_sf_batch": pa.array([origin.batch] * n, pa.string()),
        "_sf_file": pa.array([file] * n, pa.string()),
        "_sf_load_date": pa.array([origin.load_date] * n, pa.string()),
        "_sf_loaded_at": pa.array([origin.loaded_at] * n, pa.timestamp("us", tz="UTC")),
    }
    for name, column in extra.items():
        batch = batch.append_column(name, column)
    if row_ids:  # a table without a primary key links child rows through a row id
        row_ids = pa.array([f"{origin.batch}:{file}:{offset + i}" for i in range(n)], pa.string())
        batch = batch.append_column(ROW_ID, row_ids)
    return batch


def quarantine_whole_file(
    origin: quarantine.Origin, file: FileInfo, local_path: Path, reason: str, result: FileExtract
) -> Iterator[tuple[str, pa.RecordBatch]]:
    """The one quarantine row of a file that cannot be read, with its raw text; counted in `result`."""
    with open(local_path, "rb") as handle:
        raw = quarantine.raw_text(handle.read(quarantine.RAW_LIMIT))
    result.quarantined = 1
    result.failed = reason
    log.warning("quarantined %s: %s", file.url, reason)
    yield quarantine.TABLE, quarantine.records(origin, file.url, [reason], [raw])


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__


