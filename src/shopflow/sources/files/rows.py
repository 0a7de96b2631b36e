"""Per-batch Arrow work of an extract: bad rows from good, lineage columns, row ids, rows per file.

One query may read several files; its `_sf_src` column names each row's file by its local path.
A bad row's line in its file (see `line_numbers`) comes from its position among the file's rows.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from shopflow import quarantine
from shopflow.sources.files.casting import ERROR, RAW
from shopflow.sources.files.json_read import SOURCE
from shopflow.sources.files.line_numbers import LineCursor, LineSource
from shopflow.sources.files.nested import ROW_ID

ORDINAL = "_sf_ordinal"  # a bad row's position among all rows of its file


class FileRows:
    """The files one query reads, and how many good rows each has given so far.

    Args:
        paths: The local path of each file, as the query's `_sf_src` column spells it.
        urls: Each file's URL, the `_sf_file` of its rows.
        lines: How to find the lines of the files' rows, if they have lines (see `line_numbers`).
    """

    def __init__(self, paths: list[str], urls: list[str], lines: LineSource | None = None) -> None:
        self.paths = pa.array(paths, pa.string())
        self.urls = pa.array(urls, pa.string())
        self.rows = np.zeros(len(urls), dtype=np.int64)
        self.seen = np.zeros(len(urls), dtype=np.int64)  # every row so far, good or bad
        self._lines = lines
        self._cursors: dict[int, LineCursor] = {}

    def lines(self, position: int, ordinals: npt.NDArray[np.int64]) -> list[int | None]:
        """The lines of the rows at `ordinals` (increasing) of the file at `position`; None where unknown."""
        if self._lines is None:
            return [None] * len(ordinals)
        if position not in self._cursors:
            self._cursors[position] = self._lines.cursor(Path(self.paths[position].as_py()))
        return self._cursors[position].lines(ordinals)

    def index(self, batch: pa.RecordBatch) -> pa.Array:
        """Each row's file, as a position in `urls`."""
        if SOURCE not in batch.schema.names:
            return pa.array(np.zeros(batch.num_rows, dtype=np.int32))
        index = pc.index_in(batch.column(SOURCE), value_set=self.paths)
        if index.null_count:
            raise ValueError("a row names a file the query does not read")
        return index

    def positions(self, index: pa.Array) -> npt.NDArray[np.int64]:
        """Each row's position among its file's good rows; counts the rows."""
        return _ranks(index, self.rows)

    def ordinals(self, batch: pa.RecordBatch) -> npt.NDArray[np.int64]:
        """Each row's position among all rows of its file; counts the rows."""
        return _ranks(self.index(batch), self.seen)


def _ranks(index: pa.Array, counts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Each row's position among the rows of its file (`index`), after `counts` earlier ones; adds to `counts`."""
    files = index.to_numpy(zero_copy_only=False).astype(np.int64)
    n = len(files)
    order = np.argsort(files, kind="stable")
    ordered = files[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if n else np.array([], np.int64)
    lengths = np.diff(np.r_[starts, n])
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - np.repeat(starts, lengths)
    positions: npt.NDArray[np.int64] = rank + counts[files]
    counts += np.bincount(files, minlength=len(counts))
    return positions


def split_errors(batch: pa.RecordBatch, files: FileRows | None = None) -> tuple[pa.RecordBatch, pa.RecordBatch]:
    """The batch's good rows (without `_sf_error`, `_sf_raw`) and its bad rows.

    Given `files`, every row of every batch is counted, and the bad rows get `_sf_ordinal`,
    their position among the rows of their file, for `bad_rows` to find their lines.
    """
    errors = batch.column(ERROR)
    data = batch.drop_columns([ERROR, RAW])
    if errors.null_count == len(errors):
        if files is not None:  # no bad rows: counting them suffices
            files.seen += np.bincount(files.index(batch).to_numpy(zero_copy_only=False), minlength=len(files.seen))
        return data, batch.slice(0, 0)
    is_bad = pc.is_valid(errors)
    bad = batch.filter(is_bad)
    if files is not None:
        bad = bad.append_column(ORDINAL, pa.array(files.ordinals(batch)).filter(is_bad))
    return data.filter(pc.invert(is_bad)), bad


def bad_rows(
    origin: quarantine.Origin, bad: pa.RecordBatch, files: FileRows, pk_columns: list[str]
) -> list[tuple[int, pa.RecordBatch]]:
    """Quarantine rows for the bad rows of a batch, per file: `(file position, rows)`."""
    index = files.index(bad)
    out = []
    for position in pc.unique(index).to_pylist():
        rows = bad.filter(pc.equal(index, position))
        keys: list[str | None] = [None] * rows.num_rows
        if pk_columns:
            values = [rows.column(c).to_pylist() for c in pk_columns]
            keys = [
                json.dumps(list(v), default=str) if any(x is not None for x in v) else None
                for v in zip(*values, strict=True)
            ]
        url = files.urls[position].as_py()
        lines: list[int | None] | None = None
        if ORDINAL in rows.schema.names:
            lines = files.lines(position, rows.column(ORDINAL).to_numpy())
        out.append((position, quarantine.records(
            origin, url, rows.column(ERROR).to_pylist(), rows.column(RAW).to_pylist(), lines=lines, keys=keys
        )))
    return out


def with_metadata(
    batch: pa.RecordBatch, origin: quarantine.Origin, files: FileRows, *, row_ids: bool
) -> pa.RecordBatch:
    """The good rows with their lineage columns (and a row id when the table has no primary key)."""
    index = files.index(batch)
    urls = files.urls.take(index)
    positions = files.positions(index)
    if SOURCE in batch.schema.names:
        batch = batch.drop_columns([SOURCE])
    n = batch.num_rows
    extra = {
        "_sf_batch": pa.repeat(pa.scalar(origin.batch, pa.string()), n),
        "_sf_file": urls,
        "_sf_load_date": pa.repeat(pa.scalar(origin.load_date, pa.string()), n),
        "_sf_loaded_at": pa.repeat(pa.scalar(origin.loaded_at, pa.timestamp("us", tz="UTC")), n),
    }
    for name, column in extra.items():
        batch = batch.append_column(name, column)
    if row_ids:  # a table without a primary key links child rows through a row id
        ids = pc.binary_join_element_wise(
            extra["_sf_batch"], urls, pa.array(positions).cast(pa.string()), ":"
        )
        batch = batch.append_column(ROW_ID, ids)
    return batch


def untyped_nulls(batch: pa.RecordBatch) -> pa.RecordBatch:
    """`batch` with its text columns that hold only nulls typed null, for another file's type to win.

    JSON values that are all null are detected as text: in a commit whose other files have dates
    or numbers in the same column, text would clash with them.
    """
    if not batch.num_rows:
        return batch
    for i, column in enumerate(batch.columns):
        text = pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
        if text and column.null_count == batch.num_rows:
            batch = batch.set_column(i, batch.schema.field(i).with_type(pa.null()), pa.nulls(batch.num_rows))
    return batch
