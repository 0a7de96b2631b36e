"""`shopflow ingest`: the HTTP ingest API of a pipeline's events sources, on its own."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The pipeline file.", envvar="SHOPFLOW_CONFIG")]


def register(app: typer.Typer) -> None:
    """Add `ingest` to `app`."""
    app.command()(ingest)


def ingest(
    config: ConfigOption = Path("shopflow.yml"),
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on (0: any free port).")] = 8780,
    flush: Annotated[bool, typer.Option("--flush/--no-flush",
                                        help="Micro-batch the buffer to the lake and warehouse here.")] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each micro-batch.")] = False,
) -> None:
    """Take events over HTTP for the pipeline's `type: events` sources, acknowledged once durable in the buffer.

    `POST /v1/events/{stream}` takes a JSON object, a JSON array or NDJSON. Every `flush.every_seconds` (or
    `flush.max_events` events) the buffered events go to the lake and the warehouse,
    exactly once; with --no-flush, `shopflow run` (or `shopflow serve`) does that. Tokens come from the environment
    variables the streams' `token_env` name. `/metrics` gives Prometheus counters; `/v1/health` the buffer.
    """
    import logging

    from shopflow.serve.ingest.server import run_ingest

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)

    def ready(url: str) -> None:
        print(f"shopflow ingest: listening on {url} (POST {url}/v1/events/<stream>)", flush=True)

    raise typer.Exit(run_ingest(config, host=host, port=port, flush=flush, on_ready=ready))
