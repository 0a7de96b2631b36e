"""The dashboard inside `shopflow serve`, at `/dashboard/`: the process that owns the warehouses reads them.

`shopflow serve` runs every pipeline in one process, which owns each DuckDB warehouse. A page
takes the pipeline's warehouse lock (the one its runs take) for as long as its queries run,
so it reads between runs and never beside one; a run that starts meanwhile waits that long.
Name `shopflow.serve.dashboard.serve_mount:mount` in `serve.server.MOUNTS` to mount it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from shopflow.errors import WarehouseError
from shopflow.serve.dashboard.query import Connector, QueryFn, duckdb_query, psycopg_query

if TYPE_CHECKING:
    from fastapi import FastAPI

    from shopflow.orchestrate.jobs import PipelineHandle
    from shopflow.serve.api import ServeContext

log = logging.getLogger(__name__)

PREFIX = "/dashboard"
WAIT_S = 5.0
TOKEN_ENV = "SHOPFLOW_DASHBOARD_TOKEN"


def mount(app: FastAPI, context: ServeContext) -> None:
    """Mount every served pipeline's dashboard and health page at `/dashboard/`.

    Pages need `$SHOPFLOW_DASHBOARD_TOKEN` when it is set, as with `shopflow dashboard`.
    """
    from shopflow.serve.dashboard.app import create_app
    from shopflow.serve.dashboard.site import DashboardPipeline, load_pipeline_dashboard

    pipelines = [
        DashboardPipeline(handle.config, load_pipeline_dashboard(handle.path, handle.config), locked_reader(handle))
        for handle in context.pipelines.values()
    ]
    app.mount(PREFIX, create_app(pipelines, token=os.environ.get(TOKEN_ENV) or None))


def locked_reader(handle: PipelineHandle, wait: float = WAIT_S) -> Connector:
    """Opens the pipeline's warehouse read-only under its warehouse lock, so no run writes meanwhile."""
    warehouse = handle.config.warehouse

    @contextmanager
    def connect() -> Iterator[QueryFn]:
        if not handle.warehouse_lock.acquire(timeout=wait):
            raise WarehouseError(f"a run of {handle.name} has held its warehouse for over {wait:g} s",
                                 fix="reload the page once the run is done")
        try:
            if warehouse.type == "postgres":
                from shopflow.warehouse.postgres_connect import connect_control

                pg = connect_control(warehouse, read_only=True)
                try:
                    yield psycopg_query(pg)
                finally:
                    pg.close()
                return
            yield from _duckdb(warehouse.path)
        finally:
            handle.warehouse_lock.release()

    return connect


def _duckdb(path: str) -> Iterator[QueryFn]:
    import duckdb

    from shopflow.engine import load_extension

    if not os.path.exists(path):
        raise WarehouseError(f"warehouse {path} does not exist yet", fix="it is built by the pipeline's first run")
    con = duckdb.connect(path, read_only=True)
    try:
        for name in ("json", "icu"):
            load_extension(con, name)
        con.execute("SET TimeZone = 'UTC'")
        yield duckdb_query(con)
    finally:
        con.close()
