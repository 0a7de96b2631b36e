"""Copy a text file with every CRLF line break made LF, block by block.

DuckDB's CSV reader wants one kind of line break per file: a CRLF export with a few LF lines
appended (or an LF file with one CRLF line) fails as a whole ("Error when sniffing file",
"Single-Line File"), where Python's csv reads every row. The copy reads the same rows, with
the same line numbers. A CRLF inside a quoted value becomes LF as well: telling it from a
line break needs the quoting state, which a stray quote (`5" nails`) would throw off.
"""

from __future__ import annotations

import gzip
from io import BufferedIOBase
from pathlib import Path

BLOCK_BYTES = 8 << 20


def open_bytes(path: Path) -> BufferedIOBase:
    """`path` opened for reading its bytes, unpacked if it is gzipped."""
    if path.suffix.lower() in (".gz", ".gzip"):
        return gzip.GzipFile(path, "rb")
    return open(path, "rb")


def lf_copy(source: Path, target: Path) -> int:
    """Write `source` (gzipped or not) to `target` with CRLF line breaks made LF; return the CRLFs made LF."""
    changed = 0
    carry = b""
    with open_bytes(source) as src, open(target, "wb") as dst:
        while block := src.read(BLOCK_BYTES):
            data = carry + block
            # A CR that ends the block may start a CRLF the next block ends.
            carry = b"\r" if data.endswith(b"\r") else b""
            if carry:
                data = data[:-1]
            changed += data.count(b"\r\n")
            dst.write(data.replace(b"\r\n", b"\n"))
        dst.write(carry)
    return changed
