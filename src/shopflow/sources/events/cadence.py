"""When buffered events go to the lake: every `flush.every_seconds`, or sooner once a stream holds `flush.max_events`.

One rule for both flushers: `shopflow ingest`'s own thread (`Flusher`) and `shopflow serve`'s
scheduler, which runs a job of kind events per events source through its run path (run lock,
run history, one run per pipeline at a time). A micro-batch that cannot run now (the pipeline
is busy, the warehouse locked) is simply tried again at the next look: nothing acknowledged
waits anywhere but in the durable buffer.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable

from shopflow.config.events import EventsSource
from shopflow.config.model import PipelineConfig
from shopflow.errors import ConfigError, ShopflowError
from shopflow.sources.events import buffer

log = logging.getLogger(__name__)

LOOK_EVERY = 0.1  # seconds between looks at the buffer in `Flusher`


def events_only(config: PipelineConfig) -> PipelineConfig:
    """`config` with its events sources alone (what a micro-batch runs).

    Raises:
        ConfigError: The pipeline has no events source.
    """
    sources = [s for s in config.sources if isinstance(s, EventsSource)]
    if not sources:
        raise ConfigError(f"pipeline {config.pipeline!r} has no events source",
                          fix="add a source with type: events and its streams to shopflow.yml")
    return config.model_copy(update={"sources": sources})


class BufferGauge:
    """Events waiting (logged, not yet in the lake) in the fullest stream of `source`, read from its buffer file.

    A NATS JetStream log, which other ingest processes feed, counts as always waiting: a
    micro-batch is tried every `every_seconds` (in serve, one that finds nothing leaves no run on record).
    """

    def __init__(self, source: EventsSource) -> None:
        self.source = source
        self._con: sqlite3.Connection | None = None

    def __call__(self) -> int:
        """The count (0 while the buffer has no log yet)."""
        if self.source.buffer is not None:  # a JetStream log: other processes feed it, so look every time
            return 1
        try:
            if self._con is None:
                self._con = buffer.connect(self.source.buffer_path)
            return max((buffer.last_offset(self._con, s.name) - buffer.flushed_upto(self._con, s.name)
                        for s in self.source.streams), default=0)
        except (sqlite3.Error, ShopflowError) as exc:  # no log yet (nothing posted), or a file being replaced
            log.debug("buffer of %s not readable yet: %s", self.source.name, exc)
            return 0


class FlushCadence:
    """Says when a micro-batch of `sources` is due.

    Args:
        sources: The events sources flushed together; the shortest `every_seconds` and the
            smallest `max_events` among them apply.
        waiting: Events waiting in the fullest stream (default: read from the buffer files).
        clock: Monotonic seconds (tests pass their own).
    """

    def __init__(
        self, sources: list[EventsSource], waiting: Callable[[], int] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.every = min(s.flush.every_seconds for s in sources)
        self.max_events = min(s.flush.max_events for s in sources)
        gauges = [BufferGauge(s) for s in sources]
        self.waiting = waiting or (lambda: max(g() for g in gauges))
        self.clock = clock
        self.last = clock()

    def due(self) -> bool:
        """True when events wait and either `max_events` of them do or `every` seconds passed since the last flush."""
        waiting = self.waiting()
        return bool(waiting) and (waiting >= self.max_events or self.clock() - self.last >= self.every)

    def flushed(self) -> None:
        """A micro-batch just ended: the next one is due `every` seconds from now (or at `max_events`)."""
        self.last = self.clock()

    def describe(self) -> str:
        """The cadence in a few words."""
        return f"events: every {self.every:g}s or {self.max_events:,} waiting"


class Flusher:
    """Runs the events sources of `config` in a thread whenever `cadence` says a micro-batch is due.

    Args:
        config: The pipeline; only its events sources run.
        waiting: Events waiting in the fullest stream (the ingest service's writers know it best).
    """

    def __init__(self, config: PipelineConfig, waiting: Callable[[], int] | None = None) -> None:
        self.config = events_only(config)
        self.cadence = FlushCadence([s for s in self.config.sources if isinstance(s, EventsSource)], waiting)
        self.stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="shopflow-flush", daemon=True)

    def start(self) -> None:
        """Start flushing in a thread."""
        self._thread.start()

    def close(self) -> None:
        """Stop after the micro-batch in progress."""
        self.stop.set()
        self._thread.join(60)

    def _loop(self) -> None:
        while not self.stop.wait(LOOK_EVERY):
            if self.cadence.due():
                self.flush_once()
                self.cadence.flushed()

    def flush_once(self) -> None:
        """One micro-batch of every stream; a failure is logged and retried next time."""
        from shopflow.pipeline.run import run_pipeline

        try:
            report = run_pipeline(self.config)
        except ShopflowError as exc:
            log.warning("micro-batch not run: %s", exc)
            return
        for table in report.tables:
            if table.error:
                log.error("micro-batch of %s failed: %s", table.table, table.error)
