"""The durable buffer of an events source: an append-only log per stream in one SQLite file (WAL).

A writer thread commits what the API hands it in groups: it takes every request that arrives
within `WINDOW` seconds of the first and commits them in one transaction with
`synchronous=FULL`, so one fsync of the WAL makes all of them durable; only then is each
request told its offsets, and only then does the API acknowledge. An event's offset is its
rowid in its stream's log (AUTOINCREMENT: never reused, even after the log is trimmed).

The micro-batch reads the log past the lake's watermark (the last offset a lake commit
recorded) and trims what the lake holds; the log is bounded by `max_buffered` events not yet
in the lake, past which the API answers 429.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

from shopflow.errors import SourceError
from shopflow.naming import normalize_name

log = logging.getLogger(__name__)

WINDOW = 0.005  # seconds a group commit waits for more requests after the first
BUSY_MS = 10_000


def log_table(stream: str) -> str:
    """The SQLite table holding `stream`'s log."""
    return f"log_{normalize_name(stream)}"


@dataclass(frozen=True)
class Appended:
    """The offsets a request's events got: `first` to `last`, both included."""

    first: int
    last: int


@dataclass(frozen=True)
class Entry:
    """One logged event: its offset, its JSON text, why it is bad (None: good) and when it arrived."""

    offset: int
    body: str
    reason: str | None
    received_at: float


def connect(path: str | Path) -> sqlite3.Connection:
    """A connection to the buffer at `path` (created with its folder if missing), in WAL mode, synchronous=FULL."""
    file = Path(path)
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(file, timeout=BUSY_MS / 1000, isolation_level=None, check_same_thread=False)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
        con.execute(f"PRAGMA busy_timeout={BUSY_MS}")
        con.execute("CREATE TABLE IF NOT EXISTS flushed (stream TEXT PRIMARY KEY, upto INTEGER NOT NULL)")
    except (OSError, sqlite3.Error) as exc:
        raise SourceError(f"cannot open the events buffer {file}: {exc}",
                          fix="check that the folder is writable and the disk has room; set path: on the source "
                              "to put the buffer elsewhere", file=str(file)) from exc
    return con


def ensure_stream(con: sqlite3.Connection, stream: str) -> None:
    """Create `stream`'s log table if it is missing."""
    con.execute(f"CREATE TABLE IF NOT EXISTS {log_table(stream)} (offset INTEGER PRIMARY KEY AUTOINCREMENT, "
                "body TEXT NOT NULL, reason TEXT, received_at REAL NOT NULL)")


def flushed_upto(con: sqlite3.Connection, stream: str) -> int:
    """The last offset of `stream` the lake holds, as the micro-batch last recorded it (0: none)."""
    row = con.execute("SELECT upto FROM flushed WHERE stream = ?", [stream]).fetchone()
    return int(row[0]) if row else 0


def last_offset(con: sqlite3.Connection, stream: str) -> int:
    """The highest offset `stream` ever got (0: none)."""
    row = con.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", [log_table(stream)]).fetchone()
    return int(row[0]) if row else 0


def read_after(con: sqlite3.Connection, stream: str, after: int, limit: int) -> list[Entry]:
    """Up to `limit` entries of `stream` with an offset above `after`, in order."""
    rows = con.execute(f"SELECT offset, body, reason, received_at FROM {log_table(stream)} WHERE offset > ? "
                       "ORDER BY offset LIMIT ?", [after, limit]).fetchall()
    return [Entry(int(o), b, r, float(t)) for o, b, r, t in rows]


def oldest_waiting(con: sqlite3.Connection, stream: str, after: int) -> float | None:
    """When the oldest event of `stream` above offset `after` arrived (epoch seconds), or None if none waits."""
    row = con.execute(f"SELECT received_at FROM {log_table(stream)} WHERE offset > ? ORDER BY offset LIMIT 1",
                      [after]).fetchone()
    return float(row[0]) if row else None


def mark_flushed(con: sqlite3.Connection, stream: str, upto: int) -> None:
    """Record that the lake holds `stream` up to offset `upto`, and trim the log up to it."""
    con.execute("BEGIN IMMEDIATE")
    try:
        con.execute("INSERT INTO flushed (stream, upto) VALUES (?, ?) ON CONFLICT (stream) DO UPDATE SET "
                    "upto = max(upto, excluded.upto)", [stream, upto])
        con.execute(f"DELETE FROM {log_table(stream)} WHERE offset <= ?", [upto])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


Done = Callable[[Appended | None, BaseException | None], None]
BULK = 8  # events of one request past which its clean events go in by one INSERT ... SELECT FROM json_each


@dataclass
class _Request:
    stream: str
    rows: list[tuple[str, str | None, float]]
    done: Done


class BufferFullError(Exception):
    """The stream holds `max_buffered` events the lake does not have yet."""


class BufferWriter:
    """The group-commit writer of one buffer file.

    Args:
        path: The SQLite file.
        streams: The streams it logs.
        max_buffered: Events waiting per stream (not yet in the lake) past which `submit` raises BufferFullError.
        window: Seconds a group commit waits for more requests after the first.
    """

    def __init__(self, path: str | Path, streams: list[str], max_buffered: int, window: float = WINDOW) -> None:
        self.path = Path(path)
        self.max_buffered = max_buffered
        self.window = window
        self._con = connect(self.path)
        for stream in streams:
            ensure_stream(self._con, stream)
        self._last = {s: last_offset(self._con, s) for s in streams}
        self._flushed = {s: flushed_upto(self._con, s) for s in streams}
        self._checked_at = time.monotonic()
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=f"shopflow-buffer-{self.path.stem}", daemon=True)
        self._thread.start()

    def buffered(self, stream: str) -> int:
        """Events of `stream` logged and not yet in the lake (as last read; refreshed every second)."""
        return self._last[stream] - self._flushed[stream]

    def last(self, stream: str) -> int:
        """The highest offset `stream` got so far."""
        return self._last[stream]

    def oldest(self, stream: str) -> float | None:
        """When the oldest event of `stream` not yet in the lake arrived (epoch seconds), or None."""
        con = connect(self.path)
        try:
            return oldest_waiting(con, stream, flushed_upto(con, stream))
        finally:
            con.close()

    def submit(self, stream: str, rows: list[tuple[str, str | None, float]], done: Done) -> None:
        """Queue `rows` (JSON text, reason or None, arrival time) for the next group commit; `done` gets the offsets.

        Raises:
            BufferFullError: The stream's log holds `max_buffered` events the lake does not have yet.
        """
        if self.buffered(stream) + len(rows) > self.max_buffered:
            self._refresh()
            if self.buffered(stream) + len(rows) > self.max_buffered:
                raise BufferFullError(stream)
        self._queue.put(_Request(stream, rows, done))

    def close(self) -> None:
        """Commit what is queued, then stop the writer."""
        self._queue.put(None)
        self._thread.join(30)
        self._con.close()

    def _refresh(self) -> None:
        for stream in self._flushed:
            self._flushed[stream] = flushed_upto(self._con, stream)
        self._checked_at = time.monotonic()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            # Let the requests of the next `window` seconds join this commit, then take all that wait.
            time.sleep(self.window)
            group = [first]
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                group.append(item)
            self._commit(group)
            if time.monotonic() - self._checked_at > 1.0:
                self._refresh()

    def _commit(self, group: list[_Request]) -> None:
        con = self._con
        by_stream: dict[str, list[_Request]] = {}
        for request in group:
            by_stream.setdefault(request.stream, []).append(request)
        results: list[tuple[_Request, Appended]] = []
        try:
            con.execute("BEGIN IMMEDIATE")
            try:
                for stream, requests in by_stream.items():
                    results += _insert(con, stream, requests)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            log.error("events buffer %s: commit failed: %s", self.path, exc)
            failure = SourceError(f"cannot write the events buffer {self.path}: {exc}",
                                  fix="check free disk space and that the file is writable")
            for request in group:
                request.done(None, failure)
            return
        for request, appended in results:
            self._last[request.stream] = max(self._last[request.stream], appended.last)
            request.done(appended, None)


def _insert(con: sqlite3.Connection, stream: str, requests: list[_Request]) -> list[tuple[_Request, Appended]]:
    """Insert the requests' rows into `stream`'s log (inside the writer's transaction); return each one's offsets.

    Small requests, and any with a bad event (or events that arrived apart), share one
    `executemany`; a larger request of good events goes in as one statement over a JSON
    array of its texts (half the CPU per event: SQLite unpacks the array in C). Only this
    writer holds the write lock, so each
    statement's rows got consecutive offsets ending at the log's last one.
    """
    table = log_table(stream)
    results: list[tuple[_Request, Appended]] = []
    small: list[_Request] = []
    for request in requests:
        rows = request.rows
        received = rows[0][2]
        if len(rows) < BULK or any(reason is not None or at != received for _, reason, at in rows):
            small.append(request)
            continue
        con.execute(f"INSERT INTO {table} (body, reason, received_at) SELECT value, NULL, ? FROM json_each(?) "
                    "ORDER BY key", [received, orjson.dumps([body for body, _, _ in rows]).decode("utf-8")])
        last = last_offset(con, stream)
        results.append((request, Appended(last - len(rows) + 1, last)))
    if small:
        rows = [row for request in small for row in request.rows]
        con.executemany(f"INSERT INTO {table} (body, reason, received_at) VALUES (?, ?, ?)", rows)
        first = last_offset(con, stream) - len(rows) + 1
        for request in small:
            results.append((request, Appended(first, first + len(request.rows) - 1)))
            first += len(request.rows)
    return results
