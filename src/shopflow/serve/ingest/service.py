"""What the ingest API serves: each stream's checks, token digests and buffer writer, and the counters."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from shopflow.config.events import EventsSource, EventStream, token_digests
from shopflow.config.model import PipelineConfig
from shopflow.errors import ConfigError
from shopflow.sources.events import eventlog
from shopflow.sources.events.eventlog import EventLog
from shopflow.sources.events.records import StreamSchema

log = logging.getLogger(__name__)


@dataclass
class StreamEndpoint:
    """One stream as the API serves it."""

    pipeline: str
    source: EventsSource
    stream: EventStream
    schema: StreamSchema
    digests: list[bytes]
    writer: EventLog


@dataclass
class Counters:
    """The counters `/metrics` shows, per stream (and per status code for refusals)."""

    accepted: Counter[str] = field(default_factory=Counter)
    quarantined: Counter[str] = field(default_factory=Counter)
    rejected: Counter[tuple[str, int]] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reject(self, stream: str, status: int) -> None:
        """Count a refused request."""
        with self.lock:
            self.rejected[(stream, status)] += 1


class IngestService:
    """The streams of every events source of `configs`, their writers and counters.

    Raises:
        ConfigError: Two pipelines declare the same stream name, or a stream's token is not set.
    """

    def __init__(self, configs: list[PipelineConfig]) -> None:
        self.streams: dict[str, StreamEndpoint] = {}
        self.counters = Counters()
        self.started = time.time()
        writers: dict[str, EventLog] = {}
        for config in configs:
            for source in config.sources:
                if not isinstance(source, EventsSource):
                    continue
                log_id = eventlog.log_id(config.pipeline, source)
                if log_id not in writers:
                    writers[log_id] = eventlog.open_writer(config.pipeline, source)
                for stream in source.streams:
                    if stream.name in self.streams:
                        raise ConfigError(f"two events sources serve a stream named {stream.name!r}",
                                          fix="give each stream a name of its own across the served pipelines")
                    self.streams[stream.name] = StreamEndpoint(config.pipeline, source, stream, StreamSchema(stream),
                                                               token_digests(source, stream),
                                                               writers[log_id])
        self._writers = list(writers.values())

    def close(self) -> None:
        """Commit what is queued and stop the writers."""
        for writer in self._writers:
            writer.close()

    def metrics(self) -> str:
        """The Prometheus text exposition of the counters, the buffered events and the lag."""
        lines = [
            "# HELP shopflow_events_accepted_total Events acknowledged (durable in the buffer).",
            "# TYPE shopflow_events_accepted_total counter",
        ]
        with self.counters.lock:
            accepted = dict(self.counters.accepted)
            quarantined = dict(self.counters.quarantined)
            rejected = dict(self.counters.rejected)
        lines += [f'shopflow_events_accepted_total{{stream="{s}"}} {accepted.get(s, 0)}' for s in self.streams]
        lines += ["# HELP shopflow_events_quarantined_total Events acknowledged that failed their checks.",
                  "# TYPE shopflow_events_quarantined_total counter"]
        lines += [f'shopflow_events_quarantined_total{{stream="{s}"}} {quarantined.get(s, 0)}' for s in self.streams]
        lines += ["# HELP shopflow_requests_rejected_total Requests refused, by status code.",
                  "# TYPE shopflow_requests_rejected_total counter"]
        lines += [f'shopflow_requests_rejected_total{{stream="{s}",code="{c}"}} {n}'
                  for (s, c), n in sorted(rejected.items())]
        lines += ["# HELP shopflow_events_buffered Events in the buffer not yet in the lake.",
                  "# TYPE shopflow_events_buffered gauge"]
        lines += [f'shopflow_events_buffered{{stream="{s}"}} {e.writer.buffered(s)}' for s, e in self.streams.items()]
        lines += ["# HELP shopflow_events_lag_seconds Age of the oldest event not yet in the lake.",
                  "# TYPE shopflow_events_lag_seconds gauge"]
        now = time.time()
        for name, endpoint in self.streams.items():
            lines.append(f'shopflow_events_lag_seconds{{stream="{name}"}} {self._lag(endpoint, now):.3f}')
        return "\n".join(lines) + "\n"

    def _lag(self, endpoint: StreamEndpoint, now: float) -> float:
        oldest = endpoint.writer.oldest(endpoint.stream.name)
        return 0.0 if oldest is None else max(0.0, now - oldest)
