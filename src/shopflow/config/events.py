"""Event sources in `shopflow.yml`: streams of JSON events posted to the ingest API (`type: events`).

Each stream is a table: declared columns and types (as file tables have), a primary key, an
optional idempotency key and a write disposition. Clients authenticate with a bearer token
read from the environment variable `token_env` names (several tokens, one per client, are
separated by commas); only SHA-256 digests of the tokens are kept in memory.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from shopflow.config.base import StrictModel, check_identifier
from shopflow.config.model import TableConfig
from shopflow.errors import ConfigError

OnInvalid = Literal["quarantine", "reject"]
LookupStore = Literal["sqlite", "redis"]
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


class FlushConfig(StrictModel):
    """When buffered events go to the lake and the warehouse: every `every_seconds` or `max_events` events."""

    every_seconds: float = Field(5.0, gt=0, description="seconds between micro-batches")
    max_events: int = Field(10_000, gt=0, description="a micro-batch starts early once this many events wait")


class LookupConfig(StrictModel):
    """Where a stream's latest event per primary key is kept for `GET /v1/lookup/<stream>/<key>`.

    `lookup: true` keeps it in the buffer's SQLite file (one machine); `lookup: {store: redis,
    url: redis://host:6379/0}` in Redis too, where other processes read it: the hash
    `<prefix>:row:<key>` holds `body` (the event's JSON) and `offset`, `<prefix>:upto` the last
    log offset applied. The prefix defaults to `shopflow:<pipeline>:<source>:<stream>`.
    """

    store: LookupStore = "sqlite"
    url: str | None = Field(None, description="the Redis URL (store: redis); default redis://127.0.0.1:6379/0")
    url_env: str | None = Field(None, description="environment variable holding the Redis URL (with a password)")
    prefix: str | None = Field(None, description="the Redis key prefix; default shopflow:<pipeline>:<source>:<stream>")

    @model_validator(mode="after")
    def _redis_only(self) -> LookupConfig:
        given = [k for k in ("url", "url_env", "prefix") if getattr(self, k) is not None]
        if self.store == "sqlite" and given:
            raise ValueError(f"lookup: {', '.join(given)} applies to store: redis only; write lookup: {{store: redis, "
                             f"url: redis://127.0.0.1:6379/0}}, or drop {given[0]} to keep lookups in SQLite")
        if self.url is not None and self.url_env is not None:
            raise ValueError("lookup: give url or url_env, not both")
        if self.url is not None and not self.url.startswith(REDIS_SCHEMES):
            raise ValueError(f"lookup: url {self.url!r} is not a Redis URL; write url: redis://host:6379/0 "
                             "(rediss:// for TLS, unix:///path/redis.sock)")
        return self

    def redis_url(self) -> str:
        """The Redis URL, read from `url_env` if set.

        Raises:
            ConfigError: `url_env` names an unset or empty variable, or holds no Redis URL.
        """
        if self.url_env is None:
            return self.url or "redis://127.0.0.1:6379/0"
        url = os.environ.get(self.url_env, "").strip()
        if not url.startswith(REDIS_SCHEMES):
            raise ConfigError(f"environment variable {self.url_env} (lookup: url_env) holds no Redis URL",
                              fix=f"export {self.url_env}=redis://[:password@]host:6379/0 before starting shopflow")
        return url


class CompactConfig(StrictModel):
    """When a stream's lake table gets its small files compacted and a checkpoint written.

    Each micro-batch adds a few small Delta commits; every `every_commits` table versions (or
    `every_minutes` after the last compaction, if any commit came since) the micro-batch
    rewrites the small files into large ones (delta-rs `optimize.compact`, a commit that adds
    no data) and writes a checkpoint, so reading the table stays fast. The files it replaced are
    deleted `vacuum_after_hours` later (a week by default: a warehouse load that listed them
    before the compaction still reads them). `compact: false` turns it off.
    """

    every_commits: int = Field(100, ge=2, description="table versions between compactions")
    every_minutes: float | None = Field(None, gt=0, description="also compact this long after the last one")
    vacuum_after_hours: int | None = Field(
        168, ge=1, description="delete the files a compaction replaced once they are this old; null: keep them")


class EventStream(TableConfig):
    """One stream of events: a table the ingest API appends to.

    `columns` must declare every column an event may carry; an event with another key, a value
    that does not fit its column's type, or a missing key column is quarantined with the reason
    (`on_invalid: quarantine`, the default) or refused with 422 (`on_invalid: reject`).
    """

    idempotency_key: list[str] = Field(default_factory=list,
                                       description="columns whose values name one event; repeats are dropped")
    token_env: str | None = Field(None, description="environment variable holding the stream's tokens")
    on_invalid: OnInvalid = "quarantine"
    lookup: LookupConfig | None = Field(
        None, description="serve the latest event per primary key at /v1/lookup/<stream>/<key>: true, or "
                          "{store: redis, url: ...}")

    @field_validator("idempotency_key", mode="before")
    @classmethod
    def _idempotency_list(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("lookup", mode="before")
    @classmethod
    def _lookup_shorthand(cls, value: object) -> object:
        if value is True:
            return {"store": "sqlite"}
        if value is False:
            return None
        if isinstance(value, str):
            if value not in ("sqlite", "redis"):
                raise ValueError(f"lookup: {value!r} is not a store; write lookup: true (SQLite) or lookup: {{store: "
                                 "redis, url: redis://127.0.0.1:6379/0}")
            return {"store": value}
        return value

    @model_validator(mode="after")
    def _declared_columns(self) -> EventStream:
        if not self.columns:
            raise ValueError(f"stream {self.name!r} declares no columns; list each column and its type under columns:")
        for key, names in (("primary_key", self.primary_key), ("idempotency_key", self.idempotency_key)):
            unknown = [n for n in names if n not in self.columns]
            if unknown:
                raise ValueError(f"stream {self.name!r}: {key} names {', '.join(unknown)}, which columns: does not "
                                 "declare")
        if self.cursor is not None or self.delete_column is not None:
            raise ValueError(f"stream {self.name!r}: cursor and delete_column do not apply to event streams")
        if self.lookup and not self.primary_key:
            raise ValueError(f"stream {self.name!r}: lookup needs primary_key (the key rows are looked up by)")
        if self.write_disposition == "replace":
            raise ValueError(f"stream {self.name!r}: write_disposition replace does not apply to event streams; "
                             "use append or merge")
        return self


class EventsSource(StrictModel):
    """Events posted over HTTP, buffered in a local append-only log (a SQLite file), micro-batched to the lake.

    The streams are `tables` in code (so selections treat them like a file source's tables), `streams:` in the file.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str
    type: Literal["events"]
    path: str | None = Field(None, description="the buffer's SQLite file; default .shopflow/events/<source>.sqlite")
    buffer: str | None = Field(None, description="nats://host:4222 puts the log on NATS JetStream (several ingest "
                                                 "processes, one consumer); the SQLite file then keeps the key stores")
    tables: list[EventStream] = Field(alias="streams", description="the streams; each is one table")
    token_env: str | None = Field(None, description="tokens for streams that name no token_env of their own")
    max_body_bytes: int = Field(10 * 1024 * 1024, gt=0, description="a larger request body gets 413")
    max_buffered: int = Field(1_000_000, gt=0, description="events waiting per stream before posts get 429")
    flush: FlushConfig = Field(default_factory=FlushConfig)
    compact: CompactConfig | None = Field(default_factory=CompactConfig,
                                          description="compact the streams' lake tables on a schedule; false: never")

    @field_validator("compact", mode="before")
    @classmethod
    def _compact_switch(cls, value: object) -> object:
        if value is True:
            return {}
        return None if value is False else value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_identifier(value, "source name")

    @model_validator(mode="after")
    def _defaults(self) -> EventsSource:
        if self.path is None:
            object.__setattr__(self, "path", f".shopflow/events/{self.name}.sqlite")
        if not self.tables:
            raise ValueError(f"events source {self.name!r} lists no streams")
        if self.buffer is not None and not self.buffer.startswith(("nats://", "tls://")):
            raise ValueError(f"events source {self.name!r}: buffer: {self.buffer!r} is not a NATS address; write "
                             "buffer: nats://host:4222, or leave buffer: out to keep the log in the local SQLite file")
        return self

    @property
    def streams(self) -> list[EventStream]:
        """The streams: each is one table of the lake and the warehouse."""
        return self.tables

    @property
    def buffer_path(self) -> str:
        """The buffer's SQLite file."""
        assert self.path is not None
        return self.path

    def stream(self, name: str) -> EventStream | None:
        """The stream called `name`, or None."""
        return next((s for s in self.tables if s.name == name), None)


def token_digests(source: EventsSource, stream: EventStream) -> list[bytes]:
    """SHA-256 digests of the tokens that may post to `stream`, read from the environment.

    Raises:
        ConfigError: No token_env is set for the stream, or the variable is unset or empty.
    """
    env = stream.token_env or source.token_env
    if env is None:
        raise ConfigError(f"stream {stream.name!r} of source {source.name!r} names no token_env",
                          fix="set token_env: SOME_VARIABLE on the stream or the source, and export the tokens "
                              "(comma-separated, one per client) in that variable")
    tokens = [t.strip() for t in os.environ.get(env, "").split(",") if t.strip()]
    if not tokens:
        raise ConfigError(f"environment variable {env} holds no token for stream {stream.name!r}",
                          fix=f"export {env}=<token>[,<token of another client>] before starting the ingest API")
    return [digest(t) for t in tokens]


def digest(token: str) -> bytes:
    """The SHA-256 digest tokens are stored and compared as."""
    return hashlib.sha256(token.encode("utf-8")).digest()


def token_valid(presented: str | None, digests: list[bytes]) -> bool:
    """True if `presented` is one of the tokens `digests` were made from (constant time per digest)."""
    if not presented:
        return False
    given = digest(presented)
    return any([hmac.compare_digest(given, d) for d in digests])  # a list: every digest is compared
