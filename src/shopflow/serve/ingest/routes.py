"""The ingest routes: `POST /v1/events/{stream}`, `GET /v1/lookup/{table}/{key}` and `GET /metrics`.

A post is answered 200 with its counts only once its events are durable in the buffer (the
writer's group commit fsync'd them). Refusals: 401 without a valid token, 404 for an unknown
stream, 413 for a body over the source's `max_body_bytes`, 400 for malformed JSON (naming the
line), 422 for events failing their checks on a stream with `on_invalid: reject`, and 429 with
Retry-After while the stream's buffer holds `max_buffered` events the lake does not have yet.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response  # resolved at run time: FastAPI reads the route's annotations

from shopflow.serve.ingest.accept import RefusedError as _RefusedError
from shopflow.serve.ingest.accept import accept, authorize, endpoint_of, too_big
from shopflow.serve.ingest.service import IngestService, StreamEndpoint


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
    endpoint = endpoint_of(service, name)
    _authorized(endpoint, request)
    return await accept(service, endpoint, await _body(request, endpoint.source.max_body_bytes))


def _authorized(endpoint: StreamEndpoint, request: Request) -> None:
    authorize(endpoint, request.headers.get("authorization", ""))


def _lookup(service: IngestService, table: str, key: str, request: Request) -> dict[str, Any]:
    """The latest row of `table` with primary key `key` (values joined by commas), as the lake has it."""
    from shopflow.errors import ShopflowError
    from shopflow.sources.events import keys

    endpoint = service.streams.get(table)
    if endpoint is None or not endpoint.stream.lookup:
        served = ", ".join(sorted(n for n, e in service.streams.items() if e.stream.lookup)) or "none"
        raise _RefusedError(404, f"no lookup table {table!r}; lookups serve {served} (lookup: on a stream)")
    _authorized(endpoint, request)
    try:  # from the store the stream's lookup: names (SQLite, or Redis)
        row = keys.lookup_row(endpoint.pipeline, endpoint.source, endpoint.stream, key)
    except ShopflowError as exc:
        raise _RefusedError(503, f"the lookup store cannot answer: {exc.message}") from exc
    if row is None:
        raise _RefusedError(404, f"no row of {table} with key {key!r} in the lake yet")
    return row


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_big(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_big(limit)
        chunks.append(chunk)
    return b"".join(chunks)
