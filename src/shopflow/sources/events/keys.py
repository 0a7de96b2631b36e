"""The key stores of a stream, kept in its buffer file beside the log and updated in the micro-batch step.

- `seen_<stream>`: the idempotency keys of consumed events, so that a repeat is dropped.
- `lookup_<stream>`: the latest event per primary key (streams with `lookup:`), which
  `GET /v1/lookup/{table}/{key}` answers from; with `lookup: {store: redis}` it is also
  mirrored to Redis (`redis_keys`), which then answers.

Both are written, with the offset they reach (`keys_upto`), after the lake commit of a range;
a process killed in between leaves them behind the lake, and the next micro-batch replays the
missing range into them before it reads a new one (see `flush`), so they always end up
consistent with the lake. Redis is written from `lookup_<stream>` after it (`mirror`).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from typing import Any

from shopflow.config.events import EventsSource, EventStream
from shopflow.errors import SourceError
from shopflow.naming import normalize_name
from shopflow.sources.events import buffer
from shopflow.sources.events.buffer import Entry
from shopflow.sources.events.records import StreamSchema
from shopflow.sources.events.redis_keys import RedisLookup, redis_lookup

log = logging.getLogger(__name__)


def _seen(stream: str) -> str:
    return f"seen_{normalize_name(stream)}"


def _lookup(stream: str) -> str:
    return f"lookup_{normalize_name(stream)}"


def kept(stream: EventStream) -> bool:
    """True if `stream` has a key store to keep."""
    return bool(stream.idempotency_key) or stream.lookup is not None


def ensure(con: sqlite3.Connection, stream: str) -> None:
    """Create `stream`'s key stores if they are missing."""
    con.execute(f"CREATE TABLE IF NOT EXISTS {_seen(stream)} (key TEXT PRIMARY KEY) WITHOUT ROWID")
    con.execute(f"CREATE TABLE IF NOT EXISTS {_lookup(stream)} (key TEXT PRIMARY KEY, offset INTEGER NOT NULL, "
                "body TEXT NOT NULL)")
    # `mirror` reads the rows above an offset.
    con.execute(f"CREATE INDEX IF NOT EXISTS {_lookup(stream)}_offset ON {_lookup(stream)} (offset)")
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


def mirror(con: sqlite3.Connection, stream: EventStream, store: RedisLookup | None) -> int:
    """Bring `stream`'s Redis lookup store up to its SQLite one: the rows Redis lacks, by offset; return how many.

    Raises:
        SourceError: Redis cannot be reached, or it holds offsets past the SQLite store's (another log fed it).
    """
    if store is None:
        return 0
    have, upto = store.upto(), known_upto(con, stream.name)
    if have > upto:
        raise SourceError(
            f"Redis holds the lookups of stream {stream.name!r} up to offset {have} under the prefix {store.prefix!r}, "
            f"but this stream's key store reaches only offset {upto}: another log fed that prefix (the buffer "
            "was replaced, or another pipeline uses the same prefix), and its rows would hide newer ones",
            fix=f"set lookup: prefix: to a prefix of its own, or delete the old keys: redis-cli --scan --pattern "
                f"'{store.prefix}:*' | xargs redis-cli del",
            table=stream.name,
        )
    if have == upto:
        return 0
    rows = con.execute(f"SELECT key, offset, body FROM {_lookup(stream.name)} WHERE offset > ? ORDER BY offset",
                       [have])
    sent = store.apply(((str(k), int(o), str(b)) for k, o, b in rows), upto)
    log.debug("stream %s: %d lookup rows to Redis (offsets %d..%d)", stream.name, sent, have + 1, upto)
    return sent


def lookup_row(pipeline: str, source: EventsSource, stream: EventStream, key: str) -> dict[str, Any] | None:
    """The latest event of `stream` with primary key `key`, from the store its `lookup:` names.

    Args:
        pipeline: The pipeline's name (part of the default Redis prefix).
        source: The stream's source.
        stream: The stream.
        key: The primary key's values joined by commas (`lookup_key`).

    Raises:
        SourceError: Redis cannot be reached.
        ConfigError: The redis package is missing.
    """
    store = redis_lookup(pipeline, source, stream)
    if store is not None:
        return store.get(key)
    con = buffer.connect(source.buffer_path)
    try:
        return lookup(con, stream.name, key)
    finally:
        con.close()
