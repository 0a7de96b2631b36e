"""The buffer of an events source as the API and the micro-batch see it, whichever log holds it.

Two logs implement it: the local SQLite WAL file (`buffer`, the default) and NATS JetStream
(`nats_buffer`, `buffer: nats://host:4222` on the source), which several ingest processes can
feed while one micro-batch consumes. Both give each event an increasing offset per stream
(a SQLite rowid; a JetStream stream sequence) and acknowledge an append only once it is
durable; the lake's watermark of a stream is the offset of the last event it consumed.
"""

from __future__ import annotations

import sqlite3
from typing import Protocol

from shopflow.config.events import EventsSource
from shopflow.sources.events import buffer
from shopflow.sources.events.buffer import Done, Entry


class EventLog(Protocol):
    """The append side, used by the ingest API."""

    def submit(self, stream: str, rows: list[tuple[str, str | None, float]], done: Done) -> None:
        """Append `rows` (JSON text, reason or None, arrival time); `done` gets their offsets once durable.

        Raises:
            BufferFullError: The stream holds `max_buffered` events the lake does not have yet.
        """

    def buffered(self, stream: str) -> int:
        """Events of `stream` logged and not yet in the lake (as last looked at)."""

    def last(self, stream: str) -> int:
        """The highest offset `stream` got so far (0: none)."""

    def oldest(self, stream: str) -> float | None:
        """When the oldest event of `stream` not yet in the lake arrived (epoch seconds), or None."""

    def close(self) -> None:
        """Finish what was submitted, then release the log."""


class LogReader(Protocol):
    """The consuming side, used by the micro-batch; `keys` is the local SQLite file of the key stores."""

    keys: sqlite3.Connection
    where: str  # names the log in messages and in the rows' `_sf_file`
    kind: str  # "buffer file" or "JetStream stream"

    def last_offset(self, stream: str) -> int:
        """The highest offset the log ever gave (0: none); below the lake's watermark, the log was replaced."""

    def read_after(self, stream: str, after: int, limit: int) -> list[Entry]:
        """Up to `limit` entries of `stream` with an offset above `after`, in offset order."""

    def trim(self, stream: str, upto: int) -> None:
        """Drop the entries of `stream` up to offset `upto` (the lake holds them)."""

    def close(self) -> None:
        """Release the log."""


class SqliteLog:
    """`LogReader` over the buffer file: the log and the key stores are in the same SQLite file."""

    kind = "buffer file"

    def __init__(self, source: EventsSource, streams: list[str]) -> None:
        self.where = source.buffer_path
        self.keys = buffer.connect(source.buffer_path)
        for stream in streams:
            buffer.ensure_stream(self.keys, stream)

    def last_offset(self, stream: str) -> int:
        """The highest rowid `stream`'s log ever gave (0: none)."""
        return buffer.last_offset(self.keys, stream)

    def read_after(self, stream: str, after: int, limit: int) -> list[Entry]:
        """Up to `limit` entries of `stream` above offset `after`, in order."""
        return buffer.read_after(self.keys, stream, after, limit)

    def trim(self, stream: str, upto: int) -> None:
        """Record that the lake holds `stream` up to `upto` and delete those entries."""
        buffer.mark_flushed(self.keys, stream, upto)

    def close(self) -> None:
        """Close the buffer file."""
        self.keys.close()


def open_writer(pipeline: str, source: EventsSource) -> EventLog:
    """The append side of `source`'s buffer (the SQLite file, or JetStream with `buffer: nats://`).

    Raises:
        SourceError: The buffer cannot be opened (unwritable folder, NATS unreachable).
    """
    streams = [s.name for s in source.streams]
    if source.buffer is not None:
        from shopflow.sources.events.nats_buffer import JetStreamLog

        return JetStreamLog(source.buffer, pipeline, source.name, streams, source.max_buffered)
    return buffer.BufferWriter(source.buffer_path, streams, source.max_buffered)


def open_reader(pipeline: str, source: EventsSource, streams: list[str]) -> LogReader:
    """The consuming side of `source`'s buffer, for `streams`.

    Raises:
        SourceError: The buffer cannot be opened (unwritable folder, NATS unreachable).
    """
    if source.buffer is not None:
        from shopflow.sources.events.nats_buffer import JetStreamReader

        return JetStreamReader(source.buffer, pipeline, source, streams)
    return SqliteLog(source, streams)


def log_id(pipeline: str, source: EventsSource) -> str:
    """What names one log: sources sharing it share one writer."""
    return f"{source.buffer}#{pipeline}.{source.name}" if source.buffer is not None else source.buffer_path
