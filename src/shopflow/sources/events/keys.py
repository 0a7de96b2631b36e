"""The key stores of a stream, kept in its buffer file beside the log and updated in the micro-batch step.

- `seen_<stream>`: the idempotency keys of consumed events, so that a repeat is dropped.
- `lookup_<stream>`: the latest event per primary key (streams with `lookup: true`), which
  `GET /v1/lookup/{table}/{key}` answers from.

Both are written, with the offset they reach (`keys_upto`), after the lake commit of a range;
a process killed in between leaves them behind the lake, and the next micro-batch replays the
missing range into them before it reads a new one (see `flush`), so they always end up
consistent with the lake.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from shopflow.config.events import EventStream
from shopflow.naming import normalize_name
from shopflow.sources.events.buffer import Entry
from shopflow.sources.events.records import StreamSchema


def _seen(stream: str) -> str:
    return f"seen_{normalize_name(stream)}"


def _lookup(stream: str) -> str:
    return f"lookup_{normalize_name(stream)}"


def kept(stream: EventStream) -> bool:
    """True if `stream` has a key store to keep."""
    return bool(stream.idempotency_key) or stream.lookup


def ensure(con: sqlite3.Connection, stream: str) -> None:
    """Create `stream`'s key stores if they are missing."""
    con.execute(f"CREATE TABLE IF NOT EXISTS {_seen(stream)} (key TEXT PRIMARY KEY) WITHOUT ROWID")
    con.execute(f"CREATE TABLE IF NOT EXISTS {_lookup(stream)} (key TEXT PRIMARY KEY, offset INTEGER NOT NULL, "
                "body TEXT NOT NULL)")
    con.execute("CREATE TABLE IF NOT EXISTS keys_upto (stream TEXT PRIMARY KEY, upto INTEGER NOT NULL)")


def known_upto(con: sqlite3.Connection, stream: str) -> int:
    """The last offset whose events the key stores hold (0: none)."""
    row = con.execute("SELECT upto FROM keys_upto WHERE stream = ?", [stream]).fetchone()
    return int(row[0]) if row else 0


def seen_among(con: sqlite3.Connection, stream: str, keys: list[str]) -> set[str]:
    """The keys of `keys` a consumed event already had."""
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        marks = ",".join("?" * len(chunk))
        found.update(r[0] for r in con.execute(f"SELECT key FROM {_seen(stream)} WHERE key IN ({marks})", chunk))
    return found


def lookup_key(values: list[Any]) -> str:
    """The text a primary key is looked up by: its values joined by commas (`1,INV7,3`)."""
    return ",".join(str(v) for v in values)


def remember(
    con: sqlite3.Connection, stream: EventStream, schema: StreamSchema, events: list[tuple[Entry, dict[str, Any]]],
    upto: int,
) -> None:
    """Add the consumed `events` to the key stores and record that they hold everything up to `upto`."""
    con.execute("BEGIN IMMEDIATE")
    try:
        if stream.idempotency_key:
            con.executemany(f"INSERT OR IGNORE INTO {_seen(stream.name)} (key) VALUES (?)",
                            [(schema.key(e, stream.idempotency_key),) for _, e in events])
        if stream.lookup:
            con.executemany(
                f"INSERT INTO {_lookup(stream.name)} (key, offset, body) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE "
                "SET offset = excluded.offset, body = excluded.body WHERE excluded.offset > offset",
                [(lookup_key([e.get(k) for k in stream.primary_key]), entry.offset, entry.body)
                 for entry, e in events])
        con.execute("INSERT INTO keys_upto (stream, upto) VALUES (?, ?) ON CONFLICT (stream) DO UPDATE SET "
                    "upto = excluded.upto", [stream.name, upto])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def lookup(con: sqlite3.Connection, stream: str, key: str) -> dict[str, Any] | None:
    """The latest consumed event of `stream` with primary key `key` (see `lookup_key`), with its `_sf_offset`."""
    try:
        row = con.execute(f"SELECT offset, body FROM {_lookup(stream)} WHERE key = ?", [key]).fetchone()
    except sqlite3.OperationalError:  # no micro-batch made the store yet
        return None
    if row is None:
        return None
    event: dict[str, Any] = json.loads(row[1])
    return {**event, "_sf_offset": int(row[0])}
