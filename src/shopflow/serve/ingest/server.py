"""`shopflow ingest`: the ingest API on its own, with a flusher that micro-batches the buffer to the warehouse.

The flusher runs the pipeline's events sources (`run_pipeline` on them alone) every
`flush.every_seconds`, or sooner once a stream holds `flush.max_events` events. A run that
finds the warehouse locked by another run tries again next time: nothing acknowledged waits
anywhere but in the durable buffer, and a kill -9 anywhere loses and duplicates nothing.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from shopflow.serve.ingest.service import IngestService
from shopflow.sources.events.cadence import Flusher, events_only

if TYPE_CHECKING:
    from starlette.types import ASGIApp

log = logging.getLogger(__name__)

GC_YOUNG = 20_000  # allocations between young-generation collections (CPython's default: 700)


def build_app(service: IngestService) -> ASGIApp:
    """The standalone app: the ingest routes, `/metrics` and a `/v1/health` shaped like serve's.

    POSTs of events are answered by the bare ASGI fast path in front of the FastAPI app.
    """
    from fastapi import FastAPI

    from shopflow.serve.ingest.fast import EventsFastPath
    from shopflow.serve.ingest.routes import ingest_router

    app = FastAPI(title="shopflow ingest", docs_url="/v1/docs", openapi_url="/v1/openapi.json")
    app.include_router(ingest_router(service))

    @app.get("/v1/health")
    def health() -> dict[str, Any]:
        streams = {name: {"buffered": e.writer.buffered(name), "last_offset": e.writer.last(name)}
                   for name, e in service.streams.items()}
        return {"status": "ok", "streams": streams}

    return EventsFastPath(app, service)


def _server_class() -> type:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server without its signal handling: it re-raises SIGTERM after stopping, before the last flush."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return Server


def _Server(config: Any) -> Any:  # noqa: N802 - a class made lazily, so the CLI does not import uvicorn
    return _server_class()(config)


def _on_signals(server: Any) -> None:
    """SIGTERM and SIGINT stop taking requests; a second one exits at once (the buffer is durable)."""

    def handle(signum: int, _frame: FrameType | None) -> None:
        if server.should_exit:
            os._exit(128 + signum)
        server.should_exit = True

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def _quiet_gc() -> None:
    """Keep the cyclic garbage collector off the start-up's objects, and run it less often.

    Each POST allocates a few containers per event; with the defaults, the collector walked
    the ~10^5 objects of the imports (pyarrow, deltalake, FastAPI, pydantic) often enough to
    take ~8% of the server's CPU under load (py-spy). Frozen objects are never collected,
    which is right for modules and config that live as long as the process.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG, 20, 20)


def run_ingest(
    path: Path, *, host: str = "127.0.0.1", port: int = 8780, flush: bool = True,
    on_ready: Callable[[str], None] | None = None,
) -> int:
    """Serve the ingest API of the pipeline file `path` until SIGTERM or SIGINT; return the exit code."""
    import uvicorn

    from shopflow.config import load_config
    from shopflow.serve.server import bind

    config = load_config(path)
    events_only(config)
    service = IngestService([config])
    flusher = Flusher(config, lambda: max((e.writer.buffered(n) for n, e in service.streams.items()), default=0)) \
        if flush else None
    sock = bind(host, port)
    server = _Server(uvicorn.Config(build_app(service), log_level="warning", lifespan="off", loop="uvloop",
                                    http="httptools", timeout_graceful_shutdown=5))
    _on_signals(server)
    bound_host, bound_port = sock.getsockname()[:2]
    url = f"http://{bound_host if ':' not in bound_host else f'[{bound_host}]'}:{bound_port}"
    if flusher is not None:
        flusher.start()
    if on_ready is not None:
        on_ready(url)
    _quiet_gc()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        service.close()
        if flusher is not None:
            flusher.close()
            flusher.flush_once()  # what was acknowledged last goes to the warehouse before exit
    return 0
