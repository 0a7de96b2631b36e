"""The hot path of the ingest API: `POST /v1/events/{stream}` answered by a bare ASGI handler.

FastAPI's routing, dependency solving and middleware cost more CPU per request than the
whole of taking a single event (profiled: about 60% of the server's time for one-event
POSTs), so `EventsFastPath` sits in front of the app and answers these POSTs itself, with
the same checks, codes and answers as the FastAPI route (`accept.py` holds both's logic);
every other request goes on to the app untouched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from shopflow.serve.ingest.accept import RefusedError, accept, authorize, endpoint_of, too_big

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from shopflow.serve.ingest.service import IngestService

PREFIX = "/v1/events/"
_JSON = (b"content-type", b"application/json")


class _GoneError(Exception):
    """The client disconnected before its whole body arrived: there is nobody to answer."""


class EventsFastPath:
    """ASGI middleware: answers `POST /v1/events/{stream}` from `service`; passes everything else to `app`.

    Args:
        app: The app behind it (the FastAPI app of `shopflow ingest` or `shopflow serve`).
        service: The streams, their logs and counters.
    """

    def __init__(self, app: ASGIApp, service: IngestService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection scope."""
        if scope["type"] == "http" and scope["method"] == "POST":
            path: str = scope["path"]
            if path.startswith(PREFIX) and "/" not in path[len(PREFIX) :] and len(path) > len(PREFIX):
                await self._post(path[len(PREFIX) :], scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _post(self, name: str, scope: Scope, receive: Receive, send: Send) -> None:
        service = self.service
        headers: list[tuple[bytes, bytes]] | None = None
        try:
            endpoint = endpoint_of(service, name)
            authorization = b""
            declared = b""
            for key, value in scope["headers"]:
                if key == b"authorization":
                    authorization = value
                elif key == b"content-length":
                    declared = value
            authorize(endpoint, authorization.decode("latin-1"))
            limit = endpoint.source.max_body_bytes
            if declared.isdigit() and int(declared) > limit:
                raise too_big(limit)
            body = await _read(receive, limit)
            status, payload = 200, await accept(service, endpoint, body)
        except RefusedError as exc:
            service.counters.reject(name, exc.status)
            status, payload = exc.status, {"detail": exc.detail}
            if exc.headers:
                headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in exc.headers.items()]
        except _GoneError:
            return
        await _answer(send, status, payload, headers)


async def _read(receive: Receive, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _GoneError
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_big(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _answer(send: Send, status: int, payload: dict[str, Any], headers: list[tuple[bytes, bytes]] | None) -> None:
    content = orjson.dumps(payload)
    head = [_JSON, (b"content-length", str(len(content)).encode("ascii")), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": content})
