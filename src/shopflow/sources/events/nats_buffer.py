"""The buffer of an events source on NATS JetStream (`buffer: nats://host:4222`): many ingest processes, one consumer.

One JetStream stream per events source, `SHOPFLOW_<pipeline>_<source>` (file storage, created
if missing), holds every shopflow stream of it on its own subject
`shopflow.<pipeline>.<source>.<stream>`. An event is one message: the JSON text as payload,
the arrival time and the reason of a bad event in headers. Its offset is its JetStream
stream sequence: increasing per subject but shared by all subjects, so each shopflow stream's
lake watermark is the sequence of the last message of its own subject consumed, and a range
is read with a subject filter (a flush of stream A never moves, or skips, stream B).

Durability: a request's messages are published at once and the API answers only when
JetStream acknowledged (PubAck) every one of them. Reading: an ordered consumer from the
watermark + 1, filtered on the subject, up to the subject's last sequence when the read
began. Trimming: after the lake commit, the subject is purged below watermark + 1; the
JetStream stream has no limits of its own, so nothing leaves it before the lake holds it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import sqlite3
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

from shopflow.config.events import EventsSource
from shopflow.errors import SourceError
from shopflow.naming import normalize_name
from shopflow.sources.events import buffer
from shopflow.sources.events.buffer import Appended, BufferFullError, Done, Entry

log = logging.getLogger(__name__)

T = TypeVar("T")
RECEIVED = "Shopflow-Received"
REASON = "Shopflow-Reason"
TIMEOUT = 30.0  # seconds a JetStream call may take before the caller gives up
REFRESH = 1.0  # seconds between looks at how many events each subject holds


def stream_name(pipeline: str, source: str) -> str:
    """The JetStream stream holding `source`'s events."""
    return f"SHOPFLOW_{normalize_name(pipeline)}_{normalize_name(source)}"


def subject(pipeline: str, source: str, stream: str) -> str:
    """The subject of one shopflow stream's events."""
    return f"shopflow.{normalize_name(pipeline)}.{normalize_name(source)}.{normalize_name(stream)}"


class _Client:
    """A NATS connection driven by an event loop in a thread of its own, callable from any thread."""

    def __init__(self, url: str, stream: str, subjects: str) -> None:
        self.url = url
        self.stream = stream
        import uvloop

        # uvloop: the transport and callbacks of one publish per event cost about half what asyncio's own loop does.
        self.loop = uvloop.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=f"shopflow-nats-{stream}", daemon=True)
        self._thread.start()
        try:
            self.call(self._connect(subjects), timeout=15)
        except BaseException:
            self.loop.call_soon_threadsafe(self.loop.stop)
            raise

    async def _connect(self, subjects: str) -> None:
        import nats
        from nats.js.api import StorageType
        from nats.js.errors import NotFoundError

        try:
            # Reconnects never give up once connected; a server that is not there at start is an error at once.
            await _probe(self.url)
            self.nc = await asyncio.wait_for(nats.connect(self.url, connect_timeout=5, max_reconnect_attempts=-1,
                                                          name="shopflow", reconnect_time_wait=0.5), 3)
        except Exception as exc:
            raise SourceError(f"cannot reach NATS at {self.url}: {exc or 'no answer within 3 s'}",
                              fix="start the server with JetStream (nats-server -js) or fix buffer: on the source",
                              buffer=self.url) from exc
        self.js = self.nc.jetstream(publish_async_max_pending=20_000)
        try:
            await self.js.stream_info(self.stream)
        except NotFoundError:
            await self.js.add_stream(name=self.stream, subjects=[subjects], storage=StorageType.FILE,
                                     allow_direct=True)
            log.info("created JetStream stream %s on %s", self.stream, self.url)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = TIMEOUT) -> T:
        """Run `coro` on the client's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def spawn(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run `coro` on the client's loop; its future completes when it does."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    async def held(self, subj: str) -> int:
        """How many messages of `subj` the JetStream stream holds."""
        info = await self.js.stream_info(self.stream, subjects_filter=subj)
        return int((info.state.subjects or {}).get(subj, 0))

    async def last_seq(self, subj: str) -> int:
        """The sequence of the last message of `subj` (0: none held)."""
        from nats.js.errors import NotFoundError

        try:
            return int((await self.js.get_last_msg(self.stream, subj)).seq or 0)
        except NotFoundError:
            return 0

    async def first(self, subj: str) -> Any:
        """The first message of `subj` held, or None."""
        from nats.js.errors import NotFoundError

        try:
            return await self.js.get_msg(self.stream, seq=1, subject=subj, next=True)
        except NotFoundError:
            return None

    def close(self) -> None:
        """Flush what is published and close the connection, then stop the loop."""
        try:
            self.call(self.nc.drain(), timeout=10)
        except Exception as exc:  # the connection may already be gone; nothing unacknowledged is lost by it
            log.debug("closing NATS connection: %s", exc)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


async def _probe(url: str) -> None:
    """Open and close a TCP connection to the server, so that a refused one fails now, not after retries."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    _, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname or "127.0.0.1", parts.port or 4222), 3)
    writer.close()


def _client(url: str, pipeline: str, source: str) -> _Client:
    everything = f"shopflow.{normalize_name(pipeline)}.{normalize_name(source)}.>"
    return _Client(url, stream_name(pipeline, source), everything)


class JetStreamLog:
    """The append side (`EventLog`) on JetStream: a request is durable when every message of it has a PubAck.

    Args:
        url: The NATS server, `nats://host:4222`.
        pipeline: The pipeline, part of the stream name and subjects.
        source: The events source.
        streams: Its shopflow streams.
        max_buffered: Events held per subject (not yet trimmed by the micro-batch) past which `submit` raises.
    """

    def __init__(self, url: str, pipeline: str, source: str, streams: list[str], max_buffered: int) -> None:
        self.max_buffered = max_buffered
        self.subjects = {s: subject(pipeline, source, s) for s in streams}
        self._client = _client(url, pipeline, source)
        self._lock = threading.Lock()
        self._held = {s: self._client.call(self._client.held(subj)) for s, subj in self.subjects.items()}
        self._last = {s: self._client.call(self._client.last_seq(subj)) for s, subj in self.subjects.items()}
        self._checked_at = time.monotonic()
        self._watch = self._client.spawn(self._refresher())

    def buffered(self, stream: str) -> int:
        """Events of `stream` held in JetStream by every ingest process (refreshed every second)."""
        return self._held[stream]

    def last(self, stream: str) -> int:
        """The highest sequence a message of `stream` got, as this process saw it."""
        return self._last[stream]

    def oldest(self, stream: str) -> float | None:
        """When the first message of `stream` still held arrived (the log is trimmed up to the lake's watermark)."""
        msg = self._client.call(self._client.first(self.subjects[stream]))
        return None if msg is None else float((msg.headers or {}).get(RECEIVED, time.time()))

    def submit(self, stream: str, rows: list[tuple[str, str | None, float]], done: Done) -> None:
        """Publish `rows` to `stream`'s subject; `done` gets the lowest and highest sequence once all are acked.

        Raises:
            BufferFullError: The subject holds `max_buffered` events the lake does not have yet.
        """
        if self._held[stream] + len(rows) > self.max_buffered:
            self._refresh(stream)
            if self._held[stream] + len(rows) > self.max_buffered:
                raise BufferFullError(stream)
        with self._lock:
            self._held[stream] += len(rows)
        future = self._client.spawn(self._publish(self.subjects[stream], rows))

        def finished(result: concurrent.futures.Future[Appended]) -> None:
            error = result.exception()
            if error is not None:
                log.error("events not acknowledged by JetStream on %s: %s", self._client.url, error)
                done(None, SourceError(f"JetStream did not acknowledge the events: {error}",
                                       fix="check that the NATS server runs with JetStream and has room"))
                return
            appended = result.result()
            with self._lock:
                self._last[stream] = max(self._last[stream], appended.last)
            done(appended, None)

        future.add_done_callback(finished)

    async def _publish(self, subj: str, rows: list[tuple[str, str | None, float]]) -> Appended:
        pending = []
        for body, reason, received in rows:
            headers = {RECEIVED: repr(received)}
            if reason is not None:
                headers[REASON] = reason
            pending.append(await self._client.js.publish_async(subj, body.encode("utf-8"), headers=headers,
                                                               stream=self._client.stream))
        acks = await asyncio.wait_for(asyncio.gather(*pending), TIMEOUT)
        sequences = [int(a.seq) for a in acks]
        return Appended(min(sequences), max(sequences))

    def _refresh(self, stream: str) -> None:
        self._held[stream] = self._client.call(self._client.held(self.subjects[stream]))

    async def _refresher(self) -> None:
        while True:
            await asyncio.sleep(REFRESH)
            for stream, subj in self.subjects.items():
                try:
                    self._held[stream] = await self._client.held(subj)
                except Exception as exc:  # a reconnect in progress; the next look will do
                    log.debug("JetStream stream info: %s", exc)

    def close(self) -> None:
        """Wait for the acks in flight, then close the connection."""
        self._client.loop.call_soon_threadsafe(self._watch.cancel)
        self._client.close()


class JetStreamReader:
    """The consuming side (`LogReader`) on JetStream; the key stores stay in the source's local SQLite file."""

    kind = "JetStream stream"

    def __init__(self, url: str, pipeline: str, source: EventsSource, streams: list[str]) -> None:
        self.subjects = {s: subject(pipeline, source.name, s) for s in streams}
        self._client = _client(url, pipeline, source.name)
        self.where = f"{url}/{self._client.stream}"
        try:
            self.keys: sqlite3.Connection = buffer.connect(source.buffer_path)
        except BaseException:
            self._client.close()
            raise

    def last_offset(self, stream: str) -> int:
        """The JetStream stream's last sequence (any subject): the lake's watermark can never be above it."""
        async def last() -> int:
            return int((await self._client.js.stream_info(self._client.stream)).state.last_seq)

        return self._client.call(last())

    def read_after(self, stream: str, after: int, limit: int) -> list[Entry]:
        """Up to `limit` messages of `stream`'s subject with a sequence above `after`, in order."""
        return self._client.call(self._read(self.subjects[stream], after, limit), timeout=600)

    async def _read(self, subj: str, after: int, limit: int) -> list[Entry]:
        from nats.js.api import ConsumerConfig, DeliverPolicy

        end = await self._client.last_seq(subj)
        if end <= after:
            return []
        sub = await self._client.js.subscribe(
            subj, stream=self._client.stream, ordered_consumer=True,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=after + 1),
        )
        entries: list[Entry] = []
        try:
            while len(entries) < limit:
                msg = await sub.next_msg(timeout=TIMEOUT)
                seq = int(msg.metadata.sequence.stream)
                headers = msg.headers or {}
                entries.append(Entry(seq, msg.data.decode("utf-8"), headers.get(REASON),
                                     float(headers.get(RECEIVED, 0.0))))
                if seq >= end or msg.metadata.num_pending == 0:
                    break
        finally:
            await sub.unsubscribe()
        return entries

    def trim(self, stream: str, upto: int) -> None:
        """Purge `stream`'s subject below sequence `upto` + 1; the other subjects keep every message."""
        if upto > 0:
            self._client.call(self._client.js.purge_stream(self._client.stream, seq=upto + 1,
                                                           subject=self.subjects[stream]))

    def close(self) -> None:
        """Close the key stores and the connection."""
        self.keys.close()
        self._client.close()
