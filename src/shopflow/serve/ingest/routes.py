"""The ingest routes: `POST /v1/events/{stream}`, `GET /v1/lookup/{table}/{key}` and `GET /metrics`.

A post is answered 200 with its counts only once its events are durable in the buffer (the
writer's group commit fsync'd them). Refusals: 401 without a valid token, 404 for an unknown
stream, 413 for a body over the source's `max_body_bytes`, 400 for malformed JSON (naming the
line), 422 for events failing their checks on a stream with `on_invalid: reject`, and 429 with
Retry-After while the stream's buffer holds `max_buffered` events the lake does not have yet.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from fastapi import APIRouter, Request, Response  # resolved at run time: FastAPI reads the route's annotations

from shopflow.config.events import token_valid
from shopflow.serve.ingest.parse import MalformedError, parse_events
from shopflow.serve.ingest.service import IngestService, StreamEndpoint
from shopflow.sources.events.buffer import Appended, BufferFullError


class _RefusedError(Exception):
    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.detail = detail
        self.headers = headers
        super().__init__(detail)


def ingest_router(service: IngestService) -> APIRouter:
    """The routes that take events into `service`'s buffers, and its `/metrics`."""
    from fastapi.encoders import jsonable_encoder
    from fastapi.responses import JSONResponse, PlainTextResponse

    api = APIRouter()

    @api.post("/v1/events/{stream}")
    async def post_events(stream: str, request: Request) -> Response:
        try:
            return JSONResponse(await _take(service, stream, request))
        except _RefusedError as exc:
            service.counters.reject(stream, exc.status)
            return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)

    @api.get("/v1/lookup/{table}/{key}")
    def get_lookup(table: str, key: str, request: Request) -> Response:
        try:
            return JSONResponse(jsonable_encoder(_lookup(service, table, key, request)))
        except _RefusedError as exc:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status)

    @api.get("/metrics")
    def get_metrics() -> Response:
        return PlainTextResponse(service.metrics(), media_type="text/plain; version=0.0.4")

    return api


async def _take(service: IngestService, name: str, request: Request) -> dict[str, Any]:
    endpoint = service.streams.get(name)
    if endpoint is None:
        known = ", ".join(sorted(service.streams)) or "none"
        raise _RefusedError(404, f"no stream {name!r}; this server takes {known}")
    _authorized(endpoint, request)
    body = await _body(request, endpoint.source.max_body_bytes)
    try:
        events = parse_events(body)
    except MalformedError as exc:
        raise _RefusedError(400, f"malformed JSON at line {exc.line}: {exc.detail}") from None
    received = time.time()
    rows: list[tuple[str, str | None, float]] = []
    bad = 0
    problems: list[str] = []
    for number, (event, text) in enumerate(events, start=1):
        reason = endpoint.schema.problem(event)
        if reason is not None:
            bad += 1
            problems.append(f"event {number}: {reason}")
        rows.append((text.decode("utf-8"), reason, received))
    if bad and endpoint.stream.on_invalid == "reject":
        raise _RefusedError(422, "; ".join(problems[:20]) + ("; ..." if len(problems) > 20 else ""))
    appended = await _durable(endpoint, rows)
    with service.counters.lock:
        service.counters.accepted[name] += len(rows) - bad
        service.counters.quarantined[name] += bad
    answer: dict[str, Any] = {"accepted": len(rows) - bad, "quarantined": bad,
                              "offsets": [appended.first, appended.last] if rows else []}
    if problems:
        answer["problems"] = problems[:20]
    return answer


def _authorized(endpoint: StreamEndpoint, request: Request) -> None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token_valid(token.strip(), endpoint.digests):
        raise _RefusedError(401, "a valid token is needed: send the header Authorization: Bearer <token>")


def _lookup(service: IngestService, table: str, key: str, request: Request) -> dict[str, Any]:
    """The latest row of `table` with primary key `key` (values joined by commas), as the lake has it."""
    from shopflow.sources.events import buffer, keys

    endpoint = service.streams.get(table)
    if endpoint is None or not endpoint.stream.lookup:
        served = ", ".join(sorted(n for n, e in service.streams.items() if e.stream.lookup)) or "none"
        raise _RefusedError(404, f"no lookup table {table!r}; lookups serve {served} (lookup: true on a stream)")
    _authorized(endpoint, request)
    con = buffer.connect(endpoint.source.buffer_path)
    try:
        row = keys.lookup(con, table, key)
    finally:
        con.close()
    if row is None:
        raise _RefusedError(404, f"no row of {table} with key {key!r} in the lake yet")
    return row


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    too_big = _RefusedError(413, f"the body is over {limit} bytes; send fewer events per request")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_big
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


async def _durable(endpoint: StreamEndpoint, rows: list[tuple[str, str | None, float]]) -> Appended:
    """Hand `rows` to the group-commit writer; return once they are committed (fsync'd)."""
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
        raise _RefusedError(429, f"stream {endpoint.stream.name!r} holds {endpoint.source.max_buffered} events not "
                                 "yet in the lake; retry later", {"Retry-After": str(wait)}) from None
    try:
        return await future
    except Exception as exc:
        raise _RefusedError(503, f"the events could not be made durable: {exc}") from exc


def _settle(future: asyncio.Future[Appended], appended: Appended | None, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert appended is not None
        future.set_result(appended)
