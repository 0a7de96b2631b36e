"""The events buffer on a real NATS JetStream: sequences as offsets, per-stream watermarks, exactly-once flushes."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from tests.helpers import kill_run_at
from tests.serve.ingest.conftest import line, warehouse_rows
from tests.serve.ingest.nats_support import held, jetstream_cleanup, nats_pipeline, nats_url  # noqa: F401

from shopflow.config import load_config
from shopflow.config.events import EventsSource
from shopflow.errors import ConfigError, SourceError
from shopflow.pipeline.layout import LakeLayout
from shopflow.pipeline.run import run_pipeline
from shopflow.sources.events.buffer import Appended
from shopflow.sources.events.flush import flush_stream
from shopflow.sources.events.nats_buffer import JetStreamLog, stream_name


def _source(config: Path) -> tuple[str, EventsSource]:
    loaded = load_config(config)
    source = loaded.sources[0]
    assert isinstance(source, EventsSource)
    return loaded.pipeline, source


def _append(config: Path, stream: str, events: list[dict[str, object]], reason: str | None = None) -> Appended:
    """Publish `events` to `stream` through the JetStream writer, as the API does; wait for the acks."""
    pipeline, source = _source(config)
    assert source.buffer is not None
    writer = JetStreamLog(source.buffer, pipeline, source.name, [s.name for s in source.streams], 1_000_000)
    got: list[Appended | None] = []
    done = threading.Event()

    def finished(appended: Appended | None, error: BaseException | None) -> None:
        got.append(appended)
        done.set()

    writer.submit(stream, [(json.dumps(e), reason, time.time()) for e in events], finished)
    assert done.wait(20)
    writer.close()
    assert got[0] is not None
    return got[0]


@pytest.fixture
def config(tmp_path: Path, nats_url: str, jetstream_cleanup: list[str]) -> Path:  # noqa: F811
    """A pipeline with the streams `lines` and `returns` on one JetStream stream, deleted at teardown."""
    path = nats_pipeline(tmp_path, nats_url, streams=("lines", "returns"))
    pipeline, source = _source(path)
    jetstream_cleanup.append(stream_name(pipeline, source.name))
    return path


def test_sequences_are_per_source_and_a_flush_of_one_stream_never_skips_another(config: Path, tmp_path: Path,
                                                                                nats_url: str) -> None:  # noqa: F811
    first = _append(config, "lines", [line(1, "A", n) for n in range(3)])
    returns = _append(config, "returns", [line(1, "R", n) for n in range(2)])
    later = _append(config, "lines", [line(1, "A", n) for n in range(3, 5)])
    assert (first, returns, later) == (Appended(1, 3), Appended(4, 5), Appended(6, 7))  # one sequence, all subjects
    pipeline, source = _source(config)
    loaded = load_config(config)
    flushed = flush_stream(loaded, source, source.streams[0], "only-lines")
    assert (flushed.rows, flushed.watermark) == (5, "7")  # lines' watermark is above every returns message
    from deltalake import DeltaTable

    last_commit = DeltaTable(LakeLayout(loaded, source.name, "lines").main.uri).history(1)[0]
    assert (json.loads(last_commit["shopflow.offsets"]), last_commit["shopflow.watermark"]) == ([1, 7], "7")
    assert held(nats_url, stream_name(pipeline, source.name)) == {f"shopflow.{pipeline}.shop.returns": 2}
    _append(config, "returns", [line(1, "R", 2)])
    assert run_pipeline(loaded).exit_code == 0
    assert warehouse_rows(tmp_path, "SELECT count(*), max(_sf_offset) FROM raw.lines") == [(5, 7)]
    assert warehouse_rows(tmp_path, "SELECT line, _sf_offset FROM raw.returns ORDER BY 1") == [(0, 4), (1, 5), (2, 8)]
    assert held(nats_url, stream_name(pipeline, source.name)) == {}  # trimmed once the lake holds them
    assert run_pipeline(loaded).tables[0].rows_extracted == 0


@pytest.mark.parametrize("stop_at", ["outputs_committed", "lake_committed", "load_applied"])
def test_a_run_killed_mid_batch_replays_exactly_once(config: Path, tmp_path: Path, stop_at: str) -> None:
    _append(config, "lines", [line(1, "A", n) for n in range(100)])
    _append(config, "returns", [line(1, "R", n) for n in range(10)])
    kill_run_at(config, tmp_path, stop_at)
    _append(config, "lines", [line(1, "A", n) for n in range(100, 150)] + [line(1, "A", 5)])  # and one repeat
    _append(config, "returns", [{"store": 1}], reason="key column 'invoice' is missing or null")
    report = run_pipeline(load_config(config))
    assert report.exit_code in (0, 3), [t.error for t in report.tables]
    assert warehouse_rows(tmp_path, "SELECT count(*), count(DISTINCT line), min(line), max(line) FROM raw.lines") == [
        (150, 150, 0, 149)]
    assert warehouse_rows(tmp_path, "SELECT count(*), count(DISTINCT line) FROM raw.returns") == [(10, 10)]
    assert warehouse_rows(tmp_path, "SELECT count(*) FROM raw._quarantine") == [(1,)]


def test_a_buffer_that_is_not_nats_is_a_config_error(tmp_path: Path, nats_url: str) -> None:  # noqa: F811
    config = nats_pipeline(tmp_path, "redis://127.0.0.1:6379")
    with pytest.raises(ConfigError, match="is not a NATS address"):
        load_config(config)


def test_an_unreachable_nats_names_the_address(tmp_path: Path) -> None:
    from tests.services import free_port

    url = f"nats://127.0.0.1:{free_port()}"
    config = nats_pipeline(tmp_path, url)
    pipeline, source = _source(config)
    with pytest.raises(SourceError, match=f"cannot reach NATS at {url}"):
        JetStreamLog(url, pipeline, source.name, ["lines"], 10)
