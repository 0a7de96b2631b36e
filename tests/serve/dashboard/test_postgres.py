"""The same dashboards over a PostgreSQL warehouse: every chart's SQL runs there and gives the same numbers.

Each demo warehouse's marts (schema analytics), run history and quarantine are copied into a
PostgreSQL database of their own, as a pipeline with `warehouse: {type: postgres}` would hold
them; the pipeline file is pointed there and every page is rendered from both warehouses.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import duckdb
import yaml

from shopflow.serve.dashboard.render import render_page
from shopflow.serve.dashboard.site import standalone
from tests.serve.dashboard.conftest import PIPELINES, Demo
from tests.serve.dashboard.pages import chart_errors, page_names
from tests.services import PostgresServer

COPIED = ("analytics", "_shopflow")


def copy_to_postgres(warehouse: Path, server: PostgresServer, database: str) -> None:
    """The marts, the load ledger, the run history and raw._quarantine of `warehouse`, into `database`."""
    from shopflow.engine import load_extension

    con = duckdb.connect()
    try:
        load_extension(con, "postgres_scanner")
        # As `warehouse`, the catalog the views name (the file's stem).
        con.execute(f"ATTACH '{warehouse}' AS warehouse (READ_ONLY)")
        con.execute(f"ATTACH 'host={server.host} port={server.port} user={server.user} dbname={database}' "
                    "AS pg (TYPE postgres)")
        tables = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'warehouse' AND "
            "(schema_name IN ? OR (schema_name = 'raw' AND table_name = '_quarantine')) UNION "
            "SELECT schema_name, view_name FROM duckdb_views() WHERE database_name = 'warehouse' AND schema_name IN ?",
            [list(COPIED), list(COPIED)]).fetchall()
        for schema in {s for s, _ in tables}:
            con.execute(f'CREATE SCHEMA IF NOT EXISTS pg."{schema}"')
        for schema, table in tables:
            con.execute(f'CREATE TABLE pg."{schema}"."{table}" AS SELECT * FROM warehouse."{schema}"."{table}"')
    finally:
        con.close()


def shown(page: str) -> dict[str, Any]:
    """What a page shows: KPI texts, table cells, and each plot's points (numbers to 6 significant digits)."""
    kpis = re.findall(r'<h2>([^<]*)</h2>\s*<p class="value">([^<]*)</p>', page)
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", page)
    plots = []
    for text in re.findall(r'<script type="application/json" id="fig-[^"]*">(.*?)</script>', page, re.S):
        for trace in json.loads(text)["data"]:
            plots.append({k: [float(f"{v:.6g}") if isinstance(v, float | int) else v for v in trace.get(k, [])]
                          for k in ("x", "y")} | {"name": trace.get("name")})
    return {"kpis": kpis, "cells": cells, "plots": plots}


def test_every_dashboard_gives_the_same_numbers_on_postgresql(
    demo: Demo, postgres_server: PostgresServer, tmp_path: Path,
) -> None:
    for name in PIPELINES:
        database = postgres_server.create_database()
        try:
            copy_to_postgres(demo.warehouse(name), postgres_server, database)
            config = yaml.safe_load(demo.config(name).read_text(encoding="utf-8"))
            config["warehouse"] = {"type": "postgres", "host": postgres_server.host, "port": postgres_server.port,
                                   "user": postgres_server.user, "database": database}
            path = tmp_path / name / "shopflow.yml"
            path.parent.mkdir()
            path.write_text(yaml.safe_dump(config), encoding="utf-8")
            on_postgres, on_duckdb = standalone(path), standalone(demo.config(name))
            try:
                for page in page_names(name):
                    there = render_page([on_postgres], name, page)
                    here = render_page([on_duckdb], name, page)
                    assert chart_errors(there) == [], (name, page)
                    if page == "health":  # ages move with the clock; the counts must not
                        assert shown(there)["kpis"] == shown(here)["kpis"], name
                    else:
                        assert shown(there) == shown(here), (name, page)
                        assert shown(there)["kpis"], (name, page)
            finally:
                on_postgres.close()
                on_duckdb.close()
        finally:
            postgres_server.drop_database(database)
