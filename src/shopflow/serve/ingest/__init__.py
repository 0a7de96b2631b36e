"""The ingest API: events posted over HTTP, acknowledged once durable in the buffer.

`mount(app, context)` adds its routes to `shopflow serve`'s app, whose scheduler flushes each
events source on its `flush:` cadence (an `events:<source>` job) as well as in scheduled runs;
`server.run_ingest` serves the routes on their own with the same cadence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from shopflow.serve.api import ServeContext


def mount(app: FastAPI, context: ServeContext) -> None:
    """Serve the events streams of the served pipelines (none: nothing is added)."""
    from shopflow.config.events import EventsSource
    from shopflow.serve.ingest.fast import EventsFastPath
    from shopflow.serve.ingest.routes import ingest_router
    from shopflow.serve.ingest.service import IngestService

    configs = [h.config for h in context.pipelines.values()]
    if not any(isinstance(s, EventsSource) for c in configs for s in c.sources):
        return
    service = IngestService(configs)
    app.include_router(ingest_router(service))
    app.add_middleware(EventsFastPath, service=service)  # POSTs of events skip FastAPI's routing (fast.py)
