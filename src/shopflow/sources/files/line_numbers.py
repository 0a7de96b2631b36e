"""The source line of each record of a CSV or JSON-lines file, for the quarantine's `line` column.

DuckDB's readers give rows, not the lines they came from. A row's position in its file (its
ordinal among the rows read) is turned into its line by reading the file forward, once, as
far as the rows asked for: records are split at line breaks (in CSV, those outside quoted
values, so a value spanning lines counts from the line it starts on); blank lines, the
header and the records the reader refused (DuckDB numbers those by record) give no row.
Only files with bad rows are read so, block by block: memory stays flat.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from shopflow.config.model import FileFormat, FileTable
from shopflow.sources.files.newlines import open_bytes

BLOCK_BYTES = 8 << 20
_LF = 10


@dataclass(frozen=True)
class LineSource:
    """How to find the lines of a table's files: the dialect and the records the reader refused.

    Attributes:
        quote: The CSV quote byte, or None (JSON lines: a line break is always a record's end).
        header: The first record is a header, not a row.
        refused: The record numbers (1-based, blank lines counted) the reader refused.
    """

    quote: int | None
    header: bool
    refused: frozenset[int] = field(default_factory=frozenset)

    def cursor(self, path: Path) -> LineCursor:
        """A cursor over the lines of `path`."""
        return LineCursor(path, self)


def line_source(table: FileTable, fmt: FileFormat, refused: list[int | None] | None = None) -> LineSource | None:
    """The `LineSource` of files of `fmt`, or None for formats without lines (JSON documents, Parquet, Excel)."""
    lines = frozenset(n for n in refused or [] if n is not None)
    if fmt == "jsonl":
        return LineSource(None, header=False, refused=lines)
    if fmt == "csv" and table.csv.encoding != "utf-16" and len(table.csv.quote.encode()) == 1:
        return LineSource(table.csv.quote.encode()[0], header=table.csv.header, refused=lines)
    return None


class LineCursor:
    """The lines of one file's rows, for ordinals asked in increasing order."""

    def __init__(self, path: Path, source: LineSource) -> None:
        self._blocks = _row_lines(path, source)
        self._first = 0  # the ordinal of the first row of `_lines`
        self._lines: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)  # the lines of the rows of one block

    def lines(self, ordinals: npt.NDArray[np.int64]) -> list[int | None]:
        """The line of the row at each of `ordinals` (increasing, none before those asked earlier), or None."""
        out: list[int | None] = []
        for ordinal in ordinals.tolist():
            while ordinal >= self._first + len(self._lines):
                block = next(self._blocks, None)
                if block is None:
                    out.append(None)
                    break
                self._first += len(self._lines)
                self._lines = block
            else:
                out.append(int(self._lines[ordinal - self._first]))
        return out


def _row_lines(path: Path, source: LineSource) -> Iterator[npt.NDArray[np.int64]]:
    """Per block of the file, the first line of each record that gives a row."""
    refused = np.array(sorted(source.refused), dtype=np.int64)
    number = 0  # records before the block, blank ones included: the reader numbers records so
    for starts, blank in _records(path, source.quote):
        numbers = np.arange(number + 1, number + 1 + len(starts), dtype=np.int64)
        number += len(starts)
        keep = ~blank & ~np.isin(numbers, refused)
        if source.header:
            keep &= numbers != 1
        yield starts[keep]


def _records(path: Path, quote: int | None) -> Iterator[tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]]:
    """Per block of the file: the first line of each record, and whether it is blank."""
    with open_bytes(path) as handle:
        carry = b""
        line = 1  # the line `carry` starts on
        while True:
            block = handle.read(BLOCK_BYTES)
            data = carry + block
            array = np.frombuffer(data, dtype=np.uint8)
            breaks = np.flatnonzero(array == _LF)
            ends = _record_ends(array, breaks, quote)
            if not block:  # the last record, if the file does not end with a line break
                if len(array):
                    yield np.array([line], dtype=np.int64), _blank(array, np.array([0]), np.array([len(array)]), quote)
                return
            starts = np.r_[0, ends[:-1] + 1].astype(np.int64) if len(ends) else np.zeros(0, dtype=np.int64)
            yield (line + np.searchsorted(breaks, starts)).astype(np.int64), _blank(array, starts, ends, quote)
            if len(ends):
                line += int(np.searchsorted(breaks, ends[-1])) + 1
                carry = data[int(ends[-1]) + 1:]
            else:
                carry = data


def _record_ends(
    array: npt.NDArray[np.uint8], breaks: npt.NDArray[np.int64], quote: int | None
) -> npt.NDArray[np.int64]:
    """The line breaks that end a record: outside quoted values, for CSV."""
    if quote is None or not len(breaks):
        return breaks
    quotes = np.flatnonzero(array == quote)
    # A doubled quote inside a quoted value flips twice: an even count before a break is outside quotes.
    ends: npt.NDArray[np.int64] = breaks[np.searchsorted(quotes, breaks) % 2 == 0]
    return ends


def _blank(
    array: npt.NDArray[np.uint8], starts: npt.NDArray[np.int64], ends: npt.NDArray[np.int64], quote: int | None
) -> npt.NDArray[np.bool_]:
    """Records that give no row: empty (CSV: but for a CR), whitespace only in JSON lines."""
    if quote is not None:
        length = ends - starts
        cr = np.zeros(len(starts), dtype=bool)
        if len(array):
            cr[length == 1] = array[starts[length == 1]] == 13
        empty: npt.NDArray[np.bool_] = (length == 0) | cr
        return empty
    text = np.flatnonzero(~np.isin(array, np.frombuffer(b" \t\r\n\f\v", dtype=np.uint8)))
    spaces: npt.NDArray[np.bool_] = np.searchsorted(text, starts) == np.searchsorted(text, ends)
    return spaces
