"""Key lookups kept in a real Redis (127.0.0.1:6379), fed by the micro-batch, consistent with the lake after kill -9."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from tests.helpers import kill_run_at
from tests.serve.ingest.conftest import Ingest, auth, events_pipeline, line, warehouse_rows

from shopflow.config import load_config
from shopflow.errors import ConfigError
from shopflow.pipeline.run import run_pipeline
from shopflow.sources.events.redis_keys import RedisLookup

redis = pytest.importorskip("redis", reason="the redis extra is not installed (pip install 'shopflow[redis]')")

URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test's own in the real Redis, whose keys are deleted afterwards."""
    client = redis.Redis.from_url(URL)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("no Redis server answers at 127.0.0.1:6379")
    name = f"shopflow-test:{uuid.uuid4().hex}"
    yield name
    keys = list(client.scan_iter(match=f"{name}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def _redis_pipeline(folder: Path, prefix: str, url: str = URL, **lookup: Any) -> Path:
    config = events_pipeline(folder)
    document = yaml.safe_load(config.read_text())
    document["sources"][0]["streams"][0].update(
        lookup={"store": "redis", "url": url, "prefix": prefix, **lookup}, idempotency_key=[]
    )
    config.write_text(yaml.safe_dump(document))
    return config


def _redis_state(prefix: str) -> dict[str, tuple[int, int]]:
    """Every row Redis holds under `prefix` as key -> (offset, qty), and `upto` -> (offset, 0)."""
    import json

    client = redis.Redis.from_url(URL)
    state: dict[str, tuple[int, int]] = {}
    for name in client.scan_iter(match=f"{prefix}:row:*", count=1000):
        offset, body = client.hmget(name, ["offset", "body"])
        state[name.decode().removeprefix(f"{prefix}:row:")] = (int(offset), json.loads(body)["qty"])
    state["upto"] = (int(client.get(f"{prefix}:upto") or 0), 0)
    client.close()
    return state


def _post(server: Ingest, events: list[dict[str, Any]]) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        answer = client.post("/v1/events/lines", json=events, headers=auth())
    assert answer.status_code == 200, answer.text


def test_lookups_are_served_from_redis_and_readable_by_other_processes(tmp_path: Path, prefix: str) -> None:
    config = _redis_pipeline(tmp_path, prefix)
    server = Ingest(config, tmp_path).start()
    try:
        _post(server, [line(1, "A", 1, qty=1), line(1, "A", 1, qty=5), line(1, "B", 1, qty=3)])
        with httpx.Client(base_url=server.url, timeout=10) as client:
            assert client.get("/v1/lookup/lines/1,A,1", headers=auth()).status_code == 404  # not in the lake yet
            assert run_pipeline(load_config(config)).exit_code == 0
            found = client.get("/v1/lookup/lines/1,A,1", headers=auth())
            missing = client.get("/v1/lookup/lines/9,Z,9", headers=auth())
            _post(server, [line(1, "A", 1, qty=8)])
            assert run_pipeline(load_config(config)).exit_code == 0
            updated = client.get("/v1/lookup/lines/1,A,1", headers=auth())
    finally:
        server.kill()
    assert found.status_code == 200
    assert (found.json()["qty"], found.json()["price"], found.json()["_sf_offset"]) == (5, "2.50", 2)
    assert missing.status_code == 404
    assert (updated.json()["qty"], updated.json()["_sf_offset"]) == (8, 4)
    # What another reader sees with plain Redis commands.
    assert _redis_state(prefix) == {"1,A,1": (4, 8), "1,B,1": (3, 3), "upto": (4, 0)}
    assert warehouse_rows(tmp_path, "SELECT count(*) FROM raw.lines") == [(4,)]


@pytest.mark.parametrize("stop_at", ["lake_committed", "keys_remembered"])
def test_a_kill_between_the_lake_and_redis_replays_redis_to_the_same_state(
    tmp_path: Path, prefix: str, stop_at: str
) -> None:
    config = _redis_pipeline(tmp_path, prefix)
    server = Ingest(config, tmp_path).start()
    try:
        _post(server, [line(1, "A", n, qty=n) for n in range(1, 51)] + [line(1, "A", 7, qty=700)])
        kill_run_at(config, tmp_path, stop_at)  # the lake commit landed, Redis not written
        assert _redis_state(prefix) == {"upto": (0, 0)}
        replayed = run_pipeline(load_config(config))  # nothing new: the replay alone must complete Redis
        after_replay = _redis_state(prefix)
        _post(server, [line(1, "A", 3, qty=300), line(1, "C", 1, qty=9)])
        report = run_pipeline(load_config(config))
    finally:
        server.kill()
    assert replayed.exit_code == 0, [t.error for t in replayed.tables]
    expected = {f"1,A,{n}": (n, n) for n in range(1, 51)} | {"1,A,7": (51, 700), "upto": (51, 0)}
    assert after_replay == expected
    assert report.exit_code == 0, [t.error for t in report.tables]
    assert _redis_state(prefix) == expected | {"1,A,3": (52, 300), "1,C,1": (53, 9), "upto": (53, 0)}
    assert warehouse_rows(
        tmp_path, "SELECT count(*), count(DISTINCT offset_) FROM (SELECT _sf_offset AS offset_ FROM raw.lines)"
    ) == [(53, 53)]


def test_redis_unreachable_holds_the_stream_back_and_loses_nothing(tmp_path: Path, prefix: str) -> None:
    config = _redis_pipeline(tmp_path, prefix, url="redis://127.0.0.1:1/0")
    server = Ingest(config, tmp_path).start()
    try:
        _post(server, [line(2, "X", n) for n in range(1, 11)])
    finally:
        server.kill()
    failed = run_pipeline(load_config(config))
    assert failed.exit_code == 1
    assert "Redis at redis://127.0.0.1:1/0 failed" in (failed.tables[0].error or "")
    fixed = _redis_pipeline(tmp_path, prefix)
    assert run_pipeline(load_config(fixed)).exit_code == 0
    assert len(_redis_state(prefix)) == 11
    assert warehouse_rows(tmp_path, "SELECT count(*), count(DISTINCT line) FROM raw.lines") == [(10, 10)]


def test_a_prefix_fed_by_another_log_is_an_error_not_stale_rows(tmp_path: Path, prefix: str) -> None:
    client = redis.Redis.from_url(URL)
    client.set(f"{prefix}:upto", 999)  # an earlier buffer's rows, whose offsets would hide the new ones
    client.close()
    config = _redis_pipeline(tmp_path, prefix)
    server = Ingest(config, tmp_path).start()
    try:
        _post(server, [line(1, "A", 1)])
    finally:
        server.kill()
    report = run_pipeline(load_config(config))
    assert report.exit_code == 1
    assert f"under the prefix '{prefix}'" in (report.tables[0].error or "")


def test_a_row_is_never_replaced_by_an_older_one(prefix: str) -> None:
    store = RedisLookup(URL, prefix, "lines")
    store.apply([("k", 10, '{"qty": 10}')], 10)
    store.apply([("k", 5, '{"qty": 5}'), ("j", 6, '{"qty": 6}')], 6)  # a replay of an older range
    assert store.get("k") == {"qty": 10, "_sf_offset": 10}
    assert store.get("j") == {"qty": 6, "_sf_offset": 6}
    assert store.upto() == 10


@pytest.mark.parametrize(
    ("lookup", "message"),
    [
        ({"store": "sqlite", "url": URL}, "url applies to store: redis only"),
        ({"store": "redis", "url": "http://127.0.0.1:6379"}, "is not a Redis URL"),
        ({"store": "redis", "adress": URL}, "lookup.adress: unknown key"),
        ("memcached", "'memcached' is not a store"),
    ],
)
def test_a_wrong_lookup_setting_names_the_key_and_the_fix(tmp_path: Path, lookup: object, message: str) -> None:
    config = events_pipeline(tmp_path)
    document = yaml.safe_load(config.read_text())
    document["sources"][0]["streams"][0]["lookup"] = lookup
    config.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError, match="lookup") as caught:
        load_config(config)
    assert message in str(caught.value)


def test_without_the_redis_package_the_error_names_the_extra(
    tmp_path: Path, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shopflow.sources.events import redis_keys

    monkeypatch.setitem(sys.modules, "redis", None)  # as if the package were not installed
    monkeypatch.setattr(redis_keys, "_clients", {})
    with pytest.raises(ConfigError, match=r"pip install 'shopflow\[redis\]'"):
        RedisLookup(URL, prefix, "lines")
