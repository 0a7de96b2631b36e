"""Decode pgoutput (logical replication protocol version 1) messages, a chunk at a time, without a loop per row.

The messages come from `pg_logical_slot_peek_binary_changes(..., 'proto_version', '1',
'publication_names', ...)`, in commit order: Begin, Relation, Insert/Update/Delete, Truncate,
Commit. A chunk's messages are laid end to end in one byte buffer; numpy reads every
message's header at once, and a tuple's columns one column at a time across all the
messages of a relation, so the work per row is a handful of vector operations. Values stay
in PostgreSQL's text output (`changes.py` casts them); a TOASTed value an update left alone
is not in the WAL and arrives as "unchanged". Only Relation and Truncate messages, a few per
chunk, are read one by one. See
https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html.
"""

from __future__ import annotations

from collections.abc import Callable
from struct import Struct

import numpy as np

from shopflow.errors import SourceError
from shopflow.sources.cdc.tuples import Relation, Rows, relation_rows, uint
from shopflow.sources.cdc.types import PgColumn

_B, _C, _D, _I, _R, _T, _U = (ord(c) for c in "BCDIRTU")
_COLUMN_TAIL = Struct(">Ii")  # type OID, typmod
# pgoutput's timestamps count microseconds from 2000-01-01; Arrow's from 1970-01-01.
POSTGRES_EPOCH_US = 946_684_800_000_000
_PAD = 16  # zero bytes after the last message, so fixed-width reads past a short value stay in the buffer


class Decoder:
    """Decodes chunks of pgoutput messages, carrying the open transaction and relations across chunks.

    Args:
        key_of: For a relation, the positions of its key columns, or None to ignore its changes.
        on_truncate: Called with a truncated relation `key_of` accepts and the truncating
            transaction's commit LSN.
    """

    def __init__(
        self, key_of: Callable[[Relation], list[int] | None], on_truncate: Callable[[Relation, int], None]
    ) -> None:
        self.key_of = key_of
        self.on_truncate = on_truncate
        self.relations: dict[int, Relation] = {}
        self.last_end_lsn: int | None = None
        self.transactions = 0
        # The open transaction: its commit LSN, commit time and the messages seen of it so far.
        self._final_lsn = 0
        self._committed = 0
        self._position = 0

    def decode(self, messages: list[bytes]) -> list[Rows]:
        """The changes in `messages` of the relations `key_of` accepts, one Rows per relation shape."""
        if not messages:
            return []
        count = len(messages)
        buf = np.frombuffer(b"".join(messages) + bytes(_PAD), np.uint8)
        lengths = np.fromiter(map(len, messages), np.int64, count)
        starts = np.zeros(count, np.int64)
        np.cumsum(lengths[:-1], out=starts[1:])
        kinds = buf[starts]
        index = np.arange(count)

        # The transaction of every message: the last Begin before it, or the one open at the chunk's start.
        begins = np.nonzero(kinds == _B)[0]
        last_begin = np.maximum.accumulate(np.where(kinds == _B, index, -1))
        open_txn = last_begin < 0
        begin_lsn = uint(buf, starts[begins] + 1, 8).astype(np.int64)
        begin_time = uint(buf, starts[begins] + 9, 8).view(np.int64) + POSTGRES_EPOCH_US
        slot = np.searchsorted(begins, np.maximum(last_begin, 0))
        slot = np.minimum(slot, max(len(begins) - 1, 0))
        final_lsn = np.where(open_txn, self._final_lsn, begin_lsn[slot] if len(begins) else 0)
        committed = np.where(open_txn, self._committed, begin_time[slot] if len(begins) else 0)
        position = np.where(open_txn, self._position + index + 1, index - last_begin)

        commits = np.nonzero(kinds == _C)[0]
        if len(commits):
            self.last_end_lsn = int(uint(buf, starts[commits[-1:]] + 10, 8)[0])
            self.transactions += len(commits)

        changes = (kinds == _I) | (kinds == _U) | (kinds == _D)
        relids = np.where(changes, uint(buf, starts + 1, 4), 0)
        # A relation's shape at each change: its last Relation message before it, else the one known before.
        known = dict(self.relations)
        shapes: dict[int, list[tuple[int, Relation]]] = {}
        for i in np.nonzero((kinds == _R) | (kinds == _T))[0]:
            if kinds[i] == _R:
                relation = _relation(messages[i])
                self.relations[relation.relid] = relation
                shapes.setdefault(relation.relid, []).append((int(i), relation))
            else:
                self._truncate(messages[i], int(final_lsn[i]))
        rows: list[Rows] = []
        for relid in (int(r) for r in np.unique(relids[changes])):
            mine = np.nonzero(changes & (relids == relid))[0]
            segments = shapes.get(relid, [])
            if not segments or segments[0][0] > mine[0]:
                if relid not in known:
                    raise SourceError(f"pgoutput sent a change of relation {relid} before describing it",
                                      fix="report this; shopflow cannot decode the change")
                segments = [(-1, known[relid]), *segments]
            ends = [i for i, _ in segments[1:]] + [count]
            for (begin, relation), end in zip(segments, ends, strict=True):
                at = mine[(mine > begin) & (mine < end)]
                key = self.key_of(relation)
                if len(at) and key is not None:
                    rows.append(relation_rows(buf, starts[at], kinds[at], relation, key, final_lsn[at],
                                              position[at], committed[at]))

        last = count - 1
        if last_begin[last] >= 0:
            self._final_lsn = int(final_lsn[last])
            self._committed = int(committed[last])
        self._position = int(position[last])
        return rows

    def _truncate(self, message: bytes, final_lsn: int) -> None:
        count = int.from_bytes(message[1:5], "big")
        for i in range(count):
            relid = int.from_bytes(message[6 + 4 * i:10 + 4 * i], "big")
            relation = self.relations.get(relid)
            if relation is not None and self.key_of(relation) is not None:
                self.on_truncate(relation, final_lsn)


def _relation(message: bytes) -> Relation:
    relid = int.from_bytes(message[1:5], "big")
    end = message.index(0, 5)
    schema = message[5:end].decode("utf-8")
    pos = end + 1
    end = message.index(0, pos)
    name = message[pos:end].decode("utf-8")
    pos = end + 1
    identity = chr(message[pos])
    count = int.from_bytes(message[pos + 1:pos + 3], "big")
    pos += 3
    columns = []
    for _ in range(count):
        flags = message[pos]
        end = message.index(0, pos + 1)
        column = message[pos + 1:end].decode("utf-8")
        type_oid, typmod = _COLUMN_TAIL.unpack_from(message, end + 1)
        pos = end + 9
        columns.append(PgColumn(column, type_oid, typmod, key=bool(flags & 1)))
    return Relation(relid, schema, name, identity, tuple(columns))
