"""Text files assembled with Arrow string kernels: CSV with minimal quoting, JSON from templates.

Rows become strings in one vectorized pass (`Template.render`), and a file's bytes are the
concatenated data buffer of those strings: no Python object per row, and no JSON or CSV
library in the loop.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

RENDER_ROWS = 50_000
"""Rows rendered per pass, keeping each intermediate string array small."""


class Template:
    """A row template: constant text and per-row string arrays (null = leave the piece out)."""

    def __init__(self) -> None:
        self.parts: list[str | pa.Array] = []

    def add(self, *parts: str | pa.Array) -> None:
        """Append constant text or per-row string arrays."""
        for part in parts:
            if isinstance(part, str) and self.parts and isinstance(self.parts[-1], str):
                self.parts[-1] += part
            else:
                self.parts.append(part)

    def render(self, lo: int = 0, hi: int | None = None) -> pa.Array:
        """Rows `lo` to `hi` as strings; a null part is skipped (used for a missing JSON key)."""
        pieces = [p if isinstance(p, str) else p.slice(lo, None if hi is None else hi - lo) for p in self.parts]
        return pc.binary_join_element_wise(*pieces, "", null_handling="skip")

    def pieces(self, rows: int) -> list[bytes]:
        """All rows, rendered a slice at a time, as byte pieces to write one after another."""
        return [concat(self.render(lo, min(rows, lo + RENDER_ROWS))) for lo in range(0, rows, RENDER_ROWS)]


def concat(values: pa.Array) -> bytes:
    """The characters of a string array, concatenated (its data buffer between the first and last offset)."""
    if len(values) == 0:
        return b""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if values.null_count:
        values = pc.fill_null(values, "")
    width = np.int64 if pa.types.is_large_string(values.type) else np.int32
    offsets = np.frombuffer(values.buffers()[1], dtype=width)[values.offset: values.offset + len(values) + 1]
    data: bytes = values.buffers()[2][int(offsets[0]): int(offsets[-1])].to_pybytes()
    return data


def csv_field(values: pa.Array) -> pa.Array:
    """Values as CSV fields the way Python's csv module writes them (QUOTE_MINIMAL); null is empty."""
    if not pa.types.is_string(values.type):
        values = values.cast(pa.string())
    special = pc.match_substring_regex(values, '[",\r\n]')
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(values, '"', '""'), '"', "")
    return pc.fill_null(pc.if_else(special, quoted, values), "")


def csv_pieces(table: pa.Table) -> list[bytes]:
    """`table` as a CSV file with a header line, in byte pieces; a line feed ends each line."""
    template = Template()
    for i, name in enumerate(table.column_names):
        template.add("," if i else "", csv_field(table.column(name).combine_chunks()))
    template.add("\n")
    header = ",".join(table.column_names) + "\n"
    return [header.encode(), *template.pieces(table.num_rows)]


def json_string(values: pa.Array) -> pa.Array:
    """Strings as JSON string literals (quotes, backslashes and control characters escaped); null stays null."""
    escaped = pc.replace_substring(pc.replace_substring(values, "\\", "\\\\"), '"', '\\"')
    if pc.any(pc.match_substring_regex(escaped, "[\x00-\x1f]")).as_py():
        for char, code in (("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
            escaped = pc.replace_substring(escaped, char, code)
    return pc.binary_join_element_wise('"', escaped, '"', "")
