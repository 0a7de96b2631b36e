"""Read the slot's pending changes without consuming them: the slot moves only when told to (`slot.advance`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shopflow.errors import SourceError
from shopflow.sources.cdc.settings import CdcSettings, format_lsn

if TYPE_CHECKING:
    import psycopg


def peek_changes(
    pg: psycopg.Connection[tuple[Any, ...]], settings: CdcSettings, on_chunk: Callable[[list[bytes]], None], upto: int
) -> int:
    """Pass to `on_chunk`, in chunks, the messages of the transactions that committed before `upto`.

    Decoding stops after the first transaction that brings the message count to
    `settings.max_changes_per_batch`. Returns the number of messages read: below the limit,
    every transaction before `upto` was read.
    Messages stream through a server-side cursor in chunks of `settings.batch_rows`, so memory
    does not grow with a large transaction.
    """
    import psycopg

    count = 0
    try:
        with pg.transaction(), pg.cursor(name=f"sf_cdc_{uuid.uuid4().hex[:8]}", binary=True) as cur:
            cur.execute(
                "SELECT data FROM pg_logical_slot_peek_binary_changes(%s, %s::pg_lsn, %s, "
                "'proto_version', '1', 'publication_names', %s)",
                [settings.slot, format_lsn(upto), settings.max_changes_per_batch, settings.publication],
            )
            while rows := cur.fetchmany(settings.batch_rows):
                on_chunk([data for (data,) in rows])
                count += len(rows)
    except psycopg.Error as exc:
        raise SourceError(
            f"reading changes from replication slot {settings.slot} failed: {str(exc).strip()}",
            fix="if another process reads the slot, stop it; shopflow's runs of one pipeline must not overlap",
        ) from exc
    return count
