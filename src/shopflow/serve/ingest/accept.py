"""Taking one POST of events: find the stream, check the token, parse, check each event, make it durable.

Both ways into the ingest API use it: the raw ASGI path (`fast.py`, what serves
`POST /v1/events/{stream}` on the hot path) and the FastAPI route of `routes.py` (same
answers; what the OpenAPI page describes). Every refusal is a `RefusedError` carrying the
status code, the message and any header (Retry-After on 429).
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from shopflow.config.events import token_valid
from shopflow.serve.ingest.parse import MalformedError, parse_events
from shopflow.serve.ingest.service import IngestService, StreamEndpoint
from shopflow.sources.events.buffer import Appended, BufferFullError

PROBLEMS_SHOWN = 20  # reasons quoted in an answer at most


class RefusedError(Exception):
    """A request refused with `status` and `detail` (and `headers`, e.g. Retry-After)."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.detail = detail
        self.headers = headers
        super().__init__(detail)


def endpoint_of(service: IngestService, name: str) -> StreamEndpoint:
    """The stream `name` serves.

    Raises:
        RefusedError: 404, no such stream.
    """
    endpoint = service.streams.get(name)
    if endpoint is None:
        known = ", ".join(sorted(service.streams)) or "none"
        raise RefusedError(404, f"no stream {name!r}; this server takes {known}")
    return endpoint


def authorize(endpoint: StreamEndpoint, authorization: str) -> None:
    """Check the `Authorization` header's bearer token against the stream's token digests.

    Raises:
        RefusedError: 401, no valid token.
    """
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token_valid(token.strip(), endpoint.digests):
        raise RefusedError(401, "a valid token is needed: send the header Authorization: Bearer <token>")


def too_big(limit: int) -> RefusedError:
    """The 413 refusal of a body over `limit` bytes."""
    return RefusedError(413, f"the body is over {limit} bytes; send fewer events per request")


async def accept(service: IngestService, endpoint: StreamEndpoint, body: bytes) -> dict[str, Any]:
    """Log the events of `body` durably and return the answer: counts, offsets, the first problems.

    Raises:
        RefusedError: 400 malformed JSON (with the line), 422 invalid events on a `reject`
            stream, 429 buffer full (with Retry-After), 503 the buffer could not commit.
    """
    try:
        events = parse_events(body)
    except MalformedError as exc:
        raise RefusedError(400, f"malformed JSON at line {exc.line}: {exc.detail}") from None
    received = time.time()
    problem = endpoint.schema.problem
    rows: list[tuple[str, str | None, float]] = []
    problems: list[str] = []
    for number, (event, text) in enumerate(events, start=1):
        reason = problem(event)
        if reason is not None:
            problems.append(f"event {number}: {reason}")
        rows.append((text.decode("utf-8"), reason, received))
    bad = len(problems)
    if bad and endpoint.stream.on_invalid == "reject":
        shown = "; ".join(problems[:PROBLEMS_SHOWN])
        raise RefusedError(422, shown + ("; ..." if bad > PROBLEMS_SHOWN else ""))
    appended = await durable(endpoint, rows)
    counters = service.counters
    with counters.lock:
        counters.accepted[endpoint.stream.name] += len(rows) - bad
        counters.quarantined[endpoint.stream.name] += bad
    answer: dict[str, Any] = {
        "accepted": len(rows) - bad,
        "quarantined": bad,
        "offsets": [appended.first, appended.last] if rows else [],
    }
    if problems:
        answer["problems"] = problems[:PROBLEMS_SHOWN]
    return answer


async def durable(endpoint: StreamEndpoint, rows: list[tuple[str, str | None, float]]) -> Appended:
    """Hand `rows` to the stream's log; return once they are durable (committed and fsync'd, or acked).

    Raises:
        RefusedError: 429 the stream's buffer is full, 503 the log could not make them durable.
    """
    if not rows:
        return Appended(0, -1)
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Appended] = loop.create_future()

    def done(appended: Appended | None, error: BaseException | None) -> None:
        loop.call_soon_threadsafe(_settle, future, appended, error)

    try:
        endpoint.writer.submit(endpoint.stream.name, rows, done)
    except BufferFullError:
        wait = max(1, math.ceil(endpoint.source.flush.every_seconds))
        raise RefusedError(
            429,
            f"stream {endpoint.stream.name!r} holds {endpoint.source.max_buffered} events not "
            "yet in the lake; retry later",
            {"Retry-After": str(wait)},
        ) from None
    try:
        return await future
    except Exception as exc:
        raise RefusedError(503, f"the events could not be made durable: {exc}") from exc


def _settle(future: asyncio.Future[Appended], appended: Appended | None, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert appended is not None
        future.set_result(appended)
