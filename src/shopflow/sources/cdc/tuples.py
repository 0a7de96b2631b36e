"""Read the row tuples of many pgoutput change messages of one relation at once, column by column.

A tuple is a column count then, per column, a kind byte (`t` text, `n` null, `u` unchanged
TOAST) and for text a 4-byte length and the bytes. Every message's tuple is walked in step:
the position arrays advance one column at a time. A column's values are then cut out of the
chunk's buffer by Arrow `take` over a binary array whose elements alternate gap, value, gap,
value: no copy per byte, no Python object per value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopflow.errors import SourceError
from shopflow.sources.cdc.types import PgColumn

_D, _I, _U = ord("D"), ord("I"), ord("U")
_KEY, _OLD, _NEW = ord("K"), ord("O"), ord("N")
_TEXT, _NULL, _UNCHANGED = ord("t"), ord("n"), ord("u")

OP_INSERT, OP_UPDATE, OP_DELETE = 0, 1, 2
OPS = ("insert", "update", "delete")


@dataclass(frozen=True)
class Relation:
    """A table as the Relation message describes it; sent before its first change in each decoding call."""

    relid: int
    schema: str
    name: str
    replica_identity: str
    columns: tuple[PgColumn, ...]


@dataclass
class Rows:
    """Decoded changes of one relation shape, in commit order.

    Attributes:
        relation: The table's shape these rows follow.
        values: Per column, the text values as binary (null for SQL NULL and for unchanged values).
        unchanged: Per column, which rows did not send the value (TOAST); None if none did.
        op: OP_INSERT, OP_UPDATE or OP_DELETE per row.
        deleted: The row is a delete: its key columns hold the deleted key.
        final_lsn: The commit LSN of the row's transaction.
        seq: The row's place within its transaction (from 2; a changed key's delete comes just before).
        committed_us: The transaction's commit time, microseconds since 1970.
    """

    relation: Relation
    values: list[pa.Array]
    unchanged: list[np.ndarray | None]
    op: np.ndarray
    deleted: np.ndarray
    final_lsn: np.ndarray
    seq: np.ndarray
    committed_us: np.ndarray

    def __len__(self) -> int:
        return len(self.op)


def uint(buf: np.ndarray, positions: np.ndarray, width: int) -> np.ndarray:
    """The big-endian unsigned integers of `width` bytes at `positions`."""
    out = np.zeros(len(positions), np.uint64)
    for i in range(width):
        out = (out << np.uint64(8)) | buf[positions + i].astype(np.uint64)
    return out


@dataclass
class _Part:
    """Rows cut from one kind of message: per column kind, start and length (columns x rows)."""

    kind: np.ndarray
    start: np.ndarray
    length: np.ndarray
    rows: np.ndarray  # the rows' message indices among the relation's messages
    op: int
    deleted: bool
    sub: int  # 0 for a changed key's delete, which comes just before the update


def _tuples(buf: np.ndarray, pos: np.ndarray, ncols: int, table: str) -> tuple[np.ndarray, ...]:
    """Walk the tuples starting at `pos`: kinds, starts, lengths (columns x rows) and the end positions."""
    if np.any(uint(buf, pos, 2) != ncols):
        raise SourceError(f"a change of {table} does not have the columns its Relation message announced",
                          fix="report this; shopflow cannot decode the change")
    pos = pos + 2
    n = len(pos)
    kind = np.empty((ncols, n), np.uint8)
    start = np.empty((ncols, n), np.int64)
    length = np.zeros((ncols, n), np.int64)
    for c in range(ncols):
        k = buf[pos]
        text = k == _TEXT
        if not np.all(text | (k == _NULL) | (k == _UNCHANGED)):
            raise SourceError(f"pgoutput sent a value of {table} in a form shopflow does not read",
                              fix="report this; shopflow asks for text values")
        kind[c] = k
        start[c] = pos + 5
        length[c] = np.where(text, uint(buf, pos + 1, 4).astype(np.int64), 0)
        pos = pos + 1 + np.where(text, 4 + length[c], 0)
    return kind, start, length, pos


def relation_rows(
    buf: np.ndarray, starts: np.ndarray, kinds: np.ndarray, relation: Relation, key: list[int],
    final_lsn: np.ndarray, position: np.ndarray, committed: np.ndarray,
) -> Rows:
    """The rows of the change messages at `starts` (all of `relation`), in message order."""
    ncols = len(relation.columns)
    table = f"{relation.schema}.{relation.name}"
    markers = buf[starts + 5]
    rows = np.arange(len(starts))
    parts: list[_Part] = []
    plain = (kinds == _I) | ((kinds == _U) & (markers == _NEW))
    if plain.any():
        kind, start, length, _ = _tuples(buf, starts[plain] + 6, ncols, table)
        op = np.where(kinds[plain] == _I, OP_INSERT, OP_UPDATE)
        for code in (OP_INSERT, OP_UPDATE):
            sel = op == code
            if sel.any():
                parts.append(_Part(kind[:, sel], start[:, sel], length[:, sel], rows[plain][sel], code, False, 1))
    deletes = kinds == _D
    if deletes.any():
        kind, start, length, _ = _tuples(buf, starts[deletes] + 6, ncols, table)
        parts.append(_Part(kind, start, length, rows[deletes], OP_DELETE, True, 1))
    with_old = (kinds == _U) & ((markers == _KEY) | (markers == _OLD))
    if with_old.any():
        parts += _updates_with_old(buf, starts[with_old], markers[with_old] == _OLD, rows[with_old], ncols, key, table)

    kind = np.concatenate([p.kind for p in parts], axis=1)
    start = np.concatenate([p.start for p in parts], axis=1)
    length = np.concatenate([p.length for p in parts], axis=1)
    message = np.concatenate([p.rows for p in parts])
    sub = np.concatenate([np.full(len(p.rows), p.sub, np.int64) for p in parts])
    order = np.argsort(message * 2 + sub, kind="stable")
    kind, start, length, message, sub = kind[:, order], start[:, order], length[:, order], message[order], sub[order]
    return Rows(
        relation=relation,
        values=[_column(buf, kind[c], start[c], length[c]) for c in range(ncols)],
        unchanged=[(kind[c] == _UNCHANGED) if (kind[c] == _UNCHANGED).any() else None for c in range(ncols)],
        op=np.concatenate([np.full(len(p.rows), p.op, np.int8) for p in parts])[order],
        deleted=np.concatenate([np.full(len(p.rows), p.deleted) for p in parts])[order],
        final_lsn=final_lsn[message].astype(np.int64),
        seq=(position[message] * 2 + sub).astype(np.int64),
        committed_us=committed[message].astype(np.int64),
    )


def _updates_with_old(
    buf: np.ndarray, starts: np.ndarray, full: np.ndarray, rows: np.ndarray, ncols: int, key: list[int], table: str
) -> list[_Part]:
    """Updates that sent the old key (`K`, the key changed) or old row (`O`, REPLICA IDENTITY FULL)."""
    old_kind, old_start, old_length, end = _tuples(buf, starts + 6, ncols, table)
    if np.any(buf[end] != _NEW):
        raise SourceError(f"an update of {table} is malformed", fix="report this; shopflow cannot decode the change")
    kind, start, length, _ = _tuples(buf, end + 1, ncols, table)
    # The old row of REPLICA IDENTITY FULL holds the values an update left in TOAST.
    fill = (kind == _UNCHANGED) & (old_kind != _UNCHANGED) & full[np.newaxis, :]
    kind = np.where(fill, old_kind, kind)
    start = np.where(fill, old_start, start)
    length = np.where(fill, old_length, length)
    parts = [_Part(kind, start, length, rows, OP_UPDATE, False, 1)]
    changed = np.zeros(len(rows), bool)
    for c in key:
        old = _column(buf, old_kind[c], old_start[c], old_length[c])
        new = _column(buf, kind[c], start[c], length[c])
        same = (old_kind[c] == kind[c]) & pc.fill_null(pc.equal(old, new), True).to_numpy(zero_copy_only=False)
        changed |= ~same
    if changed.any():  # the old key is gone: a delete for it, just before the update
        gone = np.full((ncols, int(changed.sum())), _NULL, np.uint8)
        gone[key] = old_kind[key][:, changed]
        parts.append(_Part(gone, old_start[:, changed], old_length[:, changed], rows[changed], OP_DELETE, True, 0))
    return parts


def _column(buf: np.ndarray, kind: np.ndarray, start: np.ndarray, length: np.ndarray) -> pa.Array:
    """The text values of one column as a binary array; rows whose kind is not text are null."""
    n = len(kind)
    valid = kind == _TEXT
    count = int(valid.sum())
    if count == 0:
        return pa.nulls(n, pa.binary())
    begin, end = start[valid], start[valid] + length[valid]
    if np.any(begin[1:] < end[:-1]):  # values out of order: never for one column in message order
        raise SourceError("decoded values overlap", fix="report this; shopflow cannot decode the change")
    # Elements alternate gap and value over the whole buffer; element 2k+1 is the k-th value.
    offsets = np.empty(2 * count + 1, np.int64)
    offsets[0] = 0
    offsets[1::2] = begin
    offsets[2::2] = end
    large = int(offsets[-1]) >= (1 << 31) - 1
    spans = pa.Array.from_buffers(
        pa.large_binary() if large else pa.binary(), 2 * count,
        [None, pa.py_buffer(offsets if large else offsets.astype(np.int32)), pa.py_buffer(buf)],
    )
    index = np.full(n, -1, np.int64)
    index[valid] = np.arange(count) * 2 + 1
    taken = spans.take(pa.array(index, mask=~valid))
    return taken.cast(pa.binary()) if large else taken
