"""`shopflow serve`: one long-running process that runs every pipeline on its schedule and serves HTTP.

The process owns each pipeline's warehouse: DuckDB lets one process write a file, so the
scheduler's runs, and later the ingest API and the dashboard, all live here. Runs go in
threads (one per pipeline at a time; pipelines sharing a warehouse take turns; dbt runs one
at a time). The HTTP app (FastAPI on uvicorn, bound to 127.0.0.1 by default) carries the
orchestrator's `/v1` routes and whatever `MOUNTS` and `register` add.

SIGTERM or Ctrl-C stops gracefully: no new run starts, a run in progress stops before its
next table (a table being extracted and loaded finishes; dbt, once started, finishes), and
the process exits. A second signal exits at once; either way the next start resumes exactly
once, from the lake's commits.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from shopflow.errors import ConfigError, ShopflowError
from shopflow.orchestrate.jobs import PipelineHandle, build_jobs, warehouse_identity
from shopflow.orchestrate.ledger import Ledger
from shopflow.orchestrate.scheduler import Scheduler
from shopflow.serve.api import Mounter, ServeContext, router

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger(__name__)

# Parts of the server other modules provide, as "module:function" with function(app, context);
# a module not installed (yet) is skipped.
MOUNTS: list[str] = ["shopflow.serve.ingest:mount", "shopflow.serve.dashboard.serve_mount:mount"]
_REGISTERED: list[Mounter] = []


def register(mounter: Mounter) -> Mounter:
    """Add a part to every app `build_app` makes (usable as a decorator)."""
    _REGISTERED.append(mounter)
    return mounter


def find_pipelines(configs: list[Path], project: Path | None) -> list[Path]:
    """The pipeline files to serve: each `-c` file, or `shopflow.yml` in `project` and in each folder below it.

    Raises:
        ConfigError: None found.
    """
    paths = list(configs)
    if project is not None:
        paths += sorted(p for p in [project / "shopflow.yml", *project.glob("*/shopflow.yml")] if p.is_file())
    if not paths:
        where = f"in {project} or its folders" if project is not None else "(no -c given)"
        raise ConfigError(f"no pipeline file to serve {where}",
                          fix="pass -c path/to/shopflow.yml (repeatable) or --project with a folder of pipelines")
    return paths


def load_pipelines(paths: list[Path]) -> list[PipelineHandle]:
    """Read each pipeline file and build its jobs; pipelines that write one warehouse share its lock.

    Raises:
        ConfigError: A file is invalid, or two files name the same pipeline.
    """
    from shopflow.config import load_config

    handles: list[PipelineHandle] = []
    locks: dict[str, threading.Lock] = {}
    for path in paths:
        config = load_config(path)
        if any(h.name == config.pipeline for h in handles):
            raise ConfigError(f"two pipeline files are named {config.pipeline!r}",
                              fix="give each served pipeline its own `pipeline:` name", file=str(path))
        lock = locks.setdefault(warehouse_identity(config), threading.Lock())
        handles.append(PipelineHandle(config, path, Ledger.of(config), build_jobs(config), lock))
    return handles


def build_app(context: ServeContext, mounts: list[str] | None = None) -> FastAPI:
    """The HTTP app: the `/v1` routes, then every mounted part."""
    from fastapi import FastAPI

    app = FastAPI(title="shopflow serve", docs_url="/v1/docs", openapi_url="/v1/openapi.json")
    app.include_router(router(context))
    for mounter in [*_imported(MOUNTS if mounts is None else mounts), *_REGISTERED]:
        mounter(app, context)
    return app


def _imported(names: list[str]) -> list[Mounter]:
    found: list[Mounter] = []
    for name in names:
        module, _, function = name.partition(":")
        try:
            found.append(getattr(importlib.import_module(module), function))
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            log.info("%s is not installed; serve runs without it", module)
    return found


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on `host:port` (port 0: any free port).

    Raises:
        ShopflowError: The port is taken or the address is not this machine's.
    """
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ShopflowError(f"cannot listen on {host}:{port}: {exc.strerror}",
                            fix="pass another --port (or --port 0 for any free one), or stop what holds it") from exc
    sock.listen(128)
    return sock


def serve(
    paths: list[Path], *, host: str = "127.0.0.1", port: int = 8765, check_every: float = 30.0,
    on_ready: Callable[[str], None] | None = None,
) -> int:
    """Run every pipeline of `paths` on its schedule and serve HTTP until SIGTERM or SIGINT.

    Args:
        paths: Pipeline files.
        host: Address to listen on; 127.0.0.1 unless told otherwise.
        port: Port to listen on; 0 for any free port.
        check_every: Seconds between freshness checks between runs.
        on_ready: Called with the server's URL once it listens.

    Returns:
        The exit code: 0 after a graceful stop.
    """
    import uvicorn

    handles = load_pipelines(paths)
    stop = threading.Event()
    scheduler = Scheduler(handles, stop, check_every=check_every)
    context = ServeContext({h.name: h for h in handles}, scheduler, stop=stop)
    sock = bind(host, port)
    server = uvicorn.Server(uvicorn.Config(build_app(context), log_level="warning", lifespan="off",
                                           timeout_graceful_shutdown=5))
    http = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="shopflow-http", daemon=True)
    _on_signals(stop)
    http.start()
    bound_host, bound_port = sock.getsockname()[:2]
    url = f"http://{bound_host if ':' not in bound_host else f'[{bound_host}]'}:{bound_port}"
    log.info("serving %d pipeline(s) on %s", len(handles), url)
    if on_ready is not None:
        on_ready(url)
    try:
        scheduler.run()
    finally:
        server.should_exit = True
        http.join(10)
        sock.close()
    return 0


def _on_signals(stop: threading.Event) -> None:
    """SIGTERM and SIGINT stop gracefully; a second one exits at once (the lake keeps exactly-once)."""

    def handle(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            print("shopflow serve: stopping now", file=sys.stderr, flush=True)
            os._exit(128 + signum)
        print("shopflow serve: stopping after the tables in progress (signal again to stop now)",
              file=sys.stderr, flush=True)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
