"""A stream's lookup store in Redis (`lookup: {store: redis}`): the latest event per key, for many readers.

Under the stream's prefix P (default `shopflow:<pipeline>:<source>:<stream>`):

- `P:row:<key>`: a hash with `body` (the event's JSON as posted) and `offset` (its log offset);
- `P:upto`: the last log offset whose events Redis holds.

Redis mirrors the stream's SQLite lookup store (`keys`), which the micro-batch updates with the
idempotency keys in one transaction after the lake commit. Right after, and before each range,
the rows of that store with an offset above `P:upto` are written here by one Lua script per
chunk (atomic in Redis): a row replaces another only with a higher offset, and `P:upto` only
rises, after the last chunk. A process killed anywhere in between leaves `P:upto` behind, and
the next micro-batch writes the same rows again, to the same end state.

The script computes its keys from the prefix: fine on one Redis server (or a Sentinel
group), not on Redis Cluster.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from shopflow.config.events import EventsSource, EventStream
from shopflow.errors import ConfigError, SourceError

if TYPE_CHECKING:
    import redis

log = logging.getLogger(__name__)

CHUNK = 1_000  # rows per script call: one call blocks the Redis server while it runs

# ARGV: upto (-1: leave P:upto alone), then key, offset, body for each row. Returns P:upto.
_APPLY = """
local prefix = KEYS[1]
for i = 2, #ARGV, 3 do
  local key = prefix .. ':row:' .. ARGV[i]
  local current = redis.call('HGET', key, 'offset')
  if not current or tonumber(current) < tonumber(ARGV[i + 1]) then
    redis.call('HSET', key, 'offset', ARGV[i + 1], 'body', ARGV[i + 2])
  end
end
local upto = tonumber(ARGV[1])
if upto >= 0 and tonumber(redis.call('GET', prefix .. ':upto') or '0') < upto then
  redis.call('SET', prefix .. ':upto', ARGV[1])
end
return redis.call('GET', prefix .. ':upto') or '0'
"""

_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()


def _client(url: str) -> redis.Redis:
    """One client (and connection pool) per URL in this process; redis-py clients are thread-safe."""
    try:
        import redis
    except ImportError:
        raise ConfigError(
            "lookup: {store: redis} needs the redis package, which is not installed",
            fix="pip install 'shopflow[redis]'",
        ) from None
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30)
            _clients[url] = client
        return client


def _where(url: str) -> str:
    """The URL without a password, for messages."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rsplit('@', 1)[-1]}"


class RedisLookup:
    """The Redis lookup store of one stream.

    Args:
        url: The Redis URL.
        prefix: The stream's key prefix.
        stream: The stream's name, for messages.
    """

    def __init__(self, url: str, prefix: str, stream: str) -> None:
        self.url = url
        self.prefix = prefix
        self.stream = stream
        self._redis = _client(url)

    def _failed(self, exc: Exception) -> SourceError:
        return SourceError(
            f"the lookup store of stream {self.stream!r} in Redis at {_where(self.url)} failed: {exc}",
            fix="start Redis (or fix lookup: url); the stream's micro-batches wait for it, nothing is lost: the "
            "events stay in the buffer until Redis holds them",
            table=self.stream,
        )

    def upto(self) -> int:
        """The last log offset whose events Redis holds (0: none).

        Raises:
            SourceError: Redis cannot be reached.
        """
        import redis

        try:
            value = self._redis.get(f"{self.prefix}:upto")
        except redis.RedisError as exc:
            raise self._failed(exc) from exc
        return int(value) if value is not None else 0

    def apply(self, rows: Iterable[tuple[str, int, str]], upto: int) -> int:
        """Write `rows` (key, offset, event JSON) where newer than Redis has them, then raise `upto`.

        Returns:
            How many rows were sent.

        Raises:
            SourceError: Redis cannot be reached or refused a write.
        """
        import redis

        sent = 0
        args: list[str | int] = []
        try:
            script = self._redis.register_script(_APPLY)
            for key, offset, body in rows:
                args += [key, offset, body]
                if len(args) >= 3 * CHUNK:
                    script(keys=[self.prefix], args=[-1, *args])
                    sent += len(args) // 3
                    args = []
            script(keys=[self.prefix], args=[upto, *args])
        except redis.RedisError as exc:
            raise self._failed(exc) from exc
        return sent + len(args) // 3

    def get(self, key: str) -> dict[str, Any] | None:
        """The latest event with primary key `key` Redis holds, with its `_sf_offset`; None if none.

        Raises:
            SourceError: Redis cannot be reached.
        """
        import redis

        try:
            found = self._redis.hmget(f"{self.prefix}:row:{key}", ["offset", "body"])
        except redis.RedisError as exc:
            raise self._failed(exc) from exc
        offset, body = found
        if offset is None or body is None:
            return None
        event: dict[str, Any] = json.loads(body)
        return {**event, "_sf_offset": int(offset)}


def redis_lookup(pipeline: str, source: EventsSource, stream: EventStream) -> RedisLookup | None:
    """The Redis lookup store of `stream`, or None if its lookups are kept in SQLite only (or not at all).

    Raises:
        ConfigError: The redis package is missing, or `url_env` holds no URL.
    """
    config = stream.lookup
    if config is None or config.store != "redis":
        return None
    prefix = config.prefix or f"shopflow:{pipeline}:{source.name}:{stream.name}"
    return RedisLookup(config.redis_url(), prefix, stream.name)
