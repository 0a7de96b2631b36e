"""The HTTP API of `shopflow serve`: `/v1/health`, `/v1/runs`, and manual runs.

Other parts of the server (the ingest API, the dashboard) are mounted beside it: each is a
function `mount(app, context)` named in `serve.server.MOUNTS` or passed to `register`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shopflow.errors import ConfigError, WarehouseError
from shopflow.orchestrate.jobs import PipelineHandle
from shopflow.orchestrate.ledger import iso, now
from shopflow.orchestrate.scheduler import Busy, Scheduler, next_run

if TYPE_CHECKING:
    from fastapi import APIRouter, FastAPI

    from shopflow.warehouse.base import Warehouse


@dataclass
class ServeContext:
    """What a mounted part of the server gets: the pipelines, their scheduler, and the warehouses they own.

    Attributes:
        pipelines: Each pipeline by name: config, ledger, jobs, locks.
        scheduler: Starts manual runs (`trigger`).
        started_at: When serve started.
        stop: Set when serve is stopping.
    """

    pipelines: dict[str, PipelineHandle]
    scheduler: Scheduler
    started_at: datetime = field(default_factory=now)
    stop: threading.Event = field(default_factory=threading.Event)

    @contextmanager
    def warehouse(self, pipeline: str, *, wait: float = 5.0) -> Iterator[Warehouse]:
        """The pipeline's warehouse, read-only, while no run writes it (this process owns a DuckDB file).

        Raises:
            ConfigError: No such pipeline.
            WarehouseError: A run held the warehouse for longer than `wait` seconds.
        """
        from shopflow.warehouse.factory import open_warehouse

        handle = self.pipelines.get(pipeline)
        if handle is None:
            raise ConfigError(f"serve runs no pipeline {pipeline!r}", fix=f"one of: {', '.join(self.pipelines)}")
        if not handle.warehouse_lock.acquire(timeout=wait):
            raise WarehouseError(f"a run of {pipeline} holds its warehouse", fix="try again when the run is done")
        try:
            with open_warehouse(handle.config.warehouse, read_only=True) as warehouse:
                yield warehouse
        finally:
            handle.warehouse_lock.release()

    def query(self, pipeline: str, sql: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
        """Rows of `sql` in the pipeline's warehouse (read-only, between runs)."""
        with self.warehouse(pipeline) as warehouse:
            return warehouse.query(sql, params)


Mounter = Callable[["FastAPI", ServeContext], None]


def health(context: ServeContext) -> dict[str, Any]:
    """What `/v1/health` answers: each pipeline's jobs, the run in progress, next runs, open incidents."""
    at = now()
    pipelines = []
    for handle in context.pipelines.values():
        pipelines.append({
            "pipeline": handle.name,
            "running": handle.running.to_json() if handle.running else None,
            "jobs": [{"job": j.name, "schedule": j.describe(), "next_run": iso(next_run(j, at))}
                     for j in handle.jobs],
            "open_incidents": [{"key": i.key, "severity": i.severity, "summary": i.summary,
                                "opened_at": iso(i.opened_at)} for i in handle.ledger.incidents(open_only=True)],
        })
    return {"status": "stopping" if context.stop.is_set() else "ok", "started_at": iso(context.started_at),
            "pipelines": pipelines}


def router(context: ServeContext) -> APIRouter:
    """The `/v1` routes of the orchestrator."""
    from fastapi import APIRouter, HTTPException

    api = APIRouter(prefix="/v1")

    @api.get("/health")
    def get_health() -> dict[str, Any]:
        return health(context)

    @api.get("/runs")
    def get_runs(pipeline: str | None = None, last: int = 50) -> list[dict[str, Any]]:
        handles = [context.pipelines[pipeline]] if pipeline in context.pipelines else (
            list(context.pipelines.values()) if pipeline is None else [])
        if not handles:
            raise HTTPException(404, f"serve runs no pipeline {pipeline!r}")
        runs = [r for h in handles for r in h.ledger.runs(last)]
        runs.sort(key=lambda r: r.started_at, reverse=True)
        return [r.to_json() for r in runs[:last]]

    @api.post("/pipelines/{pipeline}/runs", status_code=202)
    def post_run(pipeline: str, job: str = "pipeline") -> dict[str, Any]:
        try:
            return context.scheduler.trigger(pipeline, job).to_json()
        except ConfigError as exc:
            raise HTTPException(404, exc.message) from exc
        except Busy as exc:
            raise HTTPException(409, str(exc)) from exc

    return api
