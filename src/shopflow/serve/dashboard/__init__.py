"""The dashboard: each pipeline's pages of charts (from its dashboard.yml) and its health page.

`shopflow dashboard` serves it alone, reading each warehouse on its own (`access`);
`shopflow serve` mounts the same app over the warehouse connection it owns:

    from shopflow.serve.dashboard import DashboardPipeline, create_app, duckdb_query, load_pipeline_dashboard

    pipeline = DashboardPipeline.over(config, load_pipeline_dashboard(config_path, config), duckdb_query(con))
    app.mount("/dashboard", create_app([pipeline]))

A query function takes SQL with `?` placeholders and the values, and returns a `QueryResult`
(column names and rows); `duckdb_query` and `psycopg_query` make one from an open connection.
"""

from shopflow.serve.dashboard.app import create_app
from shopflow.serve.dashboard.export import export
from shopflow.serve.dashboard.query import QueryFn, QueryResult, duckdb_query, psycopg_query
from shopflow.serve.dashboard.site import DashboardPipeline, load_pipeline_dashboard, standalone

__all__ = [
    "DashboardPipeline",
    "QueryFn",
    "QueryResult",
    "create_app",
    "duckdb_query",
    "export",
    "load_pipeline_dashboard",
    "psycopg_query",
    "standalone",
]
