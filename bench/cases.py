"""The cases: B1 full load of a PostgreSQL table, B2 incremental merge, B3 order files, B4 totesys star schema.

B6 reads the 60 real Glossier order files of shared/data (beside the clone), when they are there.

B1 and B2 run twice per size: into a DuckDB warehouse and into a PostgreSQL warehouse.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model import Case, Tool, tool_env

import sources

SOURCE_DB = sources.database_name("source")
CHANGED_DB = sources.database_name("source_changed")
TOTESYS_DB = sources.database_name("totesys")
REPO = Path(__file__).resolve().parent.parent
TOTESYS_DBT = REPO / "examples" / "totesys" / "dbt"
TOTESYS_TABLES = ("address", "counterparty", "currency", "department", "design", "payment_type", "staff",
                  "transaction", "sales_order", "purchase_order", "payment")
ORDERS = {"orders": "raw.orders"}
# B1's reference rows: each warehouse engine loading the source table by itself (tools/reference_tool.py).
REFERENCES = {"duckdb": "duckdb CTAS postgres_scan (reference)",
              "postgres": "postgres COPY TO STDOUT -> COPY FROM STDIN (reference)"}


@dataclass(frozen=True)
class Sizes:
    """How big each case's data is."""

    rows: list[int]  # B1, B2: rows of the orders table, one round per size
    orders: int  # B3: orders in the files
    days: int  # B3: files (one per day)
    totesys_scale: float  # B4: multiple of the real totesys snapshot (31,672 fact rows at 1.0)
    invoice_lines: int = 20_000_000  # B5: lines of the CSV dump, through DuckDB and Spark


def shopflow_warehouse(destination: dict[str, Any]) -> dict[str, Any]:
    """The `warehouse:` section for the case's destination."""
    if destination["kind"] == "duckdb":
        return {"type": "duckdb", "path": destination["path"]}
    return {"type": "postgres", "host": "127.0.0.1", "port": 5432, "user": "postgres",
            "database": destination["database"]}


def _shopflow_db_config(workdir: Path, destination: dict[str, Any], url: str, incremental: bool) -> dict[str, Any]:
    """shopflow.yml for the orders table: a full extract replacing raw.orders, or incremental and merged by id."""
    source: dict[str, Any] = {"name": "shop", "type": "postgres", "url": url, "tables": [{"name": "orders"}]}
    if incremental:
        source["defaults"] = {"mode": "incremental", "cursor": "updated_at", "write_disposition": "merge"}
    return {
        "pipeline": "bench",
        "lake": str(workdir / "lake"),
        "warehouse": shopflow_warehouse(destination),
        "sources": [source],
    }


def shopflow_tool(label: str, spec_config: Any, tables: dict[str, str], prepare: Any = None) -> Tool:
    """shopflow run in-process by tools/shopflow_tool.py, on the pipeline file `spec_config(workdir, destination)`."""
    return Tool(label, Path(sys.executable), "shopflow_tool.py",
                lambda w, d: {"workdir": str(w), "config": spec_config(w, d), "tables": tables}, prepare)


def _dlt_spec(backend: str, url: str, incremental: bool) -> Any:
    def spec(workdir: Path, destination: dict[str, Any]) -> dict[str, Any]:
        return {"case": "db", "backend": backend, "source_url": url, "table": "orders", "incremental": incremental,
                "destination": destination["kind"], "destination_path": destination.get("path"),
                "destination_url": destination.get("url"), "workdir": str(workdir)}
    return spec


def _prepare_with(python: Path, script: str, spec: Any) -> Any:
    """An untimed first run of the same tool (the full load an incremental run starts from)."""
    def prepare(workdir: Path, destination: dict[str, Any]) -> None:
        import json
        import subprocess

        argv = [str(python), str(Path(__file__).parent / "tools" / script), json.dumps(spec(workdir, destination))]
        done = subprocess.run(argv, env=tool_env(), cwd=workdir, capture_output=True, text=True)
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
            raise RuntimeError(f"the untimed first load failed: {tail}")
    return prepare


def _b1(rows: int, destination: str, competitors: Path, url: str, truth: sources.Truth) -> Case:
    tools = [
        shopflow_tool("shopflow", lambda w, d: _shopflow_db_config(w, d, url, False), ORDERS),
        Tool("dlt connectorx", competitors, "dlt_tool.py", _dlt_spec("connectorx", url, False)),
        Tool("dlt pyarrow", competitors, "dlt_tool.py", _dlt_spec("pyarrow", url, False)),
        Tool("pandas", competitors, "pandas_tool.py",
             lambda w, d: {"case": "db", "source_url": url, "table": "orders", "destination": d["kind"],
                           "destination_path": d.get("path"), "destination_url": d.get("url")}),
        # The engine's own floor, no lake: what shopflow's extract + load is measured against.
        Tool(REFERENCES[destination], Path(sys.executable), "reference_tool.py",
             lambda w, d: {"source_url": url, "table": "orders", "destination": d["kind"],
                           "destination_path": d.get("path"), "destination_url": d.get("url")}),
    ]
    return Case(f"B1 {rows:,} -> {destination}", rows, truth, destination, "amount", tools)


def _b2(rows: int, destination: str, competitors: Path, base: str, changed: str, truth: sources.Truth) -> Case:
    def shopflow_config(url: str) -> Any:
        return lambda w, d: _shopflow_db_config(w, d, url, True)

    tools = [
        shopflow_tool("shopflow", shopflow_config(changed), ORDERS,
                      _prepare_with(Path(sys.executable), "shopflow_tool.py",
                                    lambda w, d: {"workdir": str(w), "config": shopflow_config(base)(w, d),
                                                  "tables": ORDERS})),
    ]
    for backend in ("connectorx", "pyarrow"):
        tools.append(Tool(f"dlt {backend}", competitors, "dlt_tool.py", _dlt_spec(backend, changed, True),
                          _prepare_with(competitors, "dlt_tool.py", _dlt_spec(backend, base, True))))
    return Case(f"B2 {rows:,} merge -> {destination}", rows, truth, destination, "amount", tools)


def _b3(orders: int, days: int, competitors: Path, root: Path) -> Case:
    folder = root / "glossier"
    folder.mkdir()
    truth = sources.glossier_files(folder, orders, days)

    def shopflow_config(workdir: Path, destination: dict[str, Any]) -> dict[str, Any]:
        # As examples/glossier has it: money kept exact (it carries float noise), the rest inferred.
        return {
            "pipeline": "bench", "lake": str(workdir / "lake"), "warehouse": shopflow_warehouse(destination),
            "sources": [{"name": "glossier", "type": "files", "location": str(folder), "tables": [
                {"name": "orders", "files": "*.json", "records": "orders", "primary_key": "id",
                 "columns": {"total_price": "decimal(38,18)"}}]}],
        }

    tools = [
        shopflow_tool("shopflow", shopflow_config, {"orders": "raw.orders", "line_items": "raw.orders__line_items"}),
        Tool("dlt filesystem", competitors, "dlt_tool.py",
             lambda w, d: {"case": "files", "files": str(folder), "destination": "duckdb",
                           "destination_path": d["path"], "workdir": str(w)}),
        Tool("pandas", competitors, "pandas_tool.py",
             lambda w, d: {"case": "files", "files": str(folder), "destination": "duckdb",
                           "destination_path": d["path"]}),
    ]
    return Case(f"B3 {truth.rows:,} orders in {days} files", truth.rows, truth, "duckdb", "total_price", tools,
                input_bytes=sum(f.stat().st_size for f in folder.glob("*.json")))


def _b6(competitors: Path) -> Case | None:
    """The 60 real Glossier order files (shared/data, beside the clone) through examples/glossier's table."""
    import yaml

    folder = sources.GLOSSIER_FILES
    if not folder.is_dir():
        print(f"B6 skipped: no real Glossier files at {folder}", flush=True)
        return None
    truth = sources.real_glossier_truth(folder)
    example = yaml.safe_load((REPO / "examples" / "glossier" / "shopflow.yml").read_text(encoding="utf-8"))
    table = example["sources"][0]["tables"][0]  # orders: merged by id, money and timestamps declared

    def shopflow_config(workdir: Path, destination: dict[str, Any]) -> dict[str, Any]:
        return {"pipeline": "glossier", "lake": str(workdir / "lake"), "warehouse": shopflow_warehouse(destination),
                "sources": [{"name": "glossier", "type": "files", "location": str(folder), "tables": [table]}]}

    tools = [
        shopflow_tool("shopflow", shopflow_config, {"orders": "raw.orders", "line_items": "raw.orders__line_items"}),
        Tool("dlt filesystem", competitors, "dlt_tool.py",
             lambda w, d: {"case": "files", "files": str(folder), "destination": "duckdb",
                           "destination_path": d["path"], "workdir": str(w)}),
    ]
    files = sorted(folder.glob("*.json"))
    return Case(f"B6 real Glossier, {len(files)} files", truth.rows, truth, "duckdb", "total_price", tools,
                input_bytes=sum(f.stat().st_size for f in files))


def _b4(scale: float, competitors: Path) -> Case:
    url = sources.recreate_database(TOTESYS_DB)
    truth, fact_rows = sources.create_totesys(url, scale)

    def shopflow_config(workdir: Path, destination: dict[str, Any]) -> dict[str, Any]:
        # examples/totesys/shopflow.yml: every table incremental by last_updated, merged by its key, then dbt.
        return {
            "pipeline": "totesys", "lake": str(workdir / "lake"), "warehouse": shopflow_warehouse(destination),
            "transform": {"project": str(TOTESYS_DBT)},
            "sources": [{"name": "totesys", "type": "postgres", "url": url, "schema": "public",
                         "defaults": {"mode": "incremental", "cursor": "last_updated"},
                         "tables": [{"name": t} for t in TOTESYS_TABLES]}],
        }

    def dlt_spec(workdir: Path, destination: dict[str, Any]) -> dict[str, Any]:
        return {"case": "totesys", "backend": "connectorx", "source_url": url, "tables": list(TOTESYS_TABLES),
                "destination": "duckdb", "destination_path": destination["path"], "workdir": str(workdir),
                "dbt": str(Path(sys.executable).parent / "dbt"), "dbt_project": _plain_dbt_project(workdir)}

    facts = {fact: f"analytics.{fact}" for fact in sources.TOTESYS_FACTS.values()}
    tools = [
        shopflow_tool("shopflow", shopflow_config, facts),
        Tool("dlt connectorx + dbt", competitors, "dlt_tool.py", dlt_spec),
    ]
    return Case(f"B4 totesys x{scale:g} star schema", fact_rows, truth, "duckdb", "payment_amount",
                tools, main="fact_payment")


def _plain_dbt_project(workdir: Path) -> str:
    """The totesys dbt project as plain dbt can run it: shopflow's macro package and a `raw` source in it.

    shopflow generates the `raw` source and adds its package on every run; a competitor's dbt
    gets the same project, laid out once by the same code, with the 11 tables declared by hand.
    """
    import yaml

    from shopflow.transform.project import prepare_project

    raw = yaml.safe_dump({"version": 2, "sources": [
        {"name": "raw", "schema": "raw", "tables": [{"name": t} for t in TOTESYS_TABLES]}]})
    return str(prepare_project(TOTESYS_DBT, workdir / "dbt-project", raw).root)


def build_cases(wanted: set[str], sizes: Sizes, *, competitors: Path, root: Path) -> Iterator[Case]:
    """The selected cases, their data created as each is reached."""
    for rows in sizes.rows:
        if not wanted & {"B1", "B2"}:
            break
        url = sources.recreate_database(SOURCE_DB)
        truth = sources.create_orders(url, rows)
        if "B1" in wanted:
            yield _b1(rows, "duckdb", competitors, url, truth)
            yield _b1(rows, "postgres", competitors, url, truth)
        if "B2" in wanted:
            changed = sources.recreate_database(CHANGED_DB, template=SOURCE_DB)
            sources.change_orders(changed, update_share=0.01, insert_share=0.005)
            changed_truth = sources.orders_truth(changed)
            yield _b2(rows, "duckdb", competitors, url, changed, changed_truth)
            yield _b2(rows, "postgres", competitors, url, changed, changed_truth)
    if "B3" in wanted:
        yield _b3(sizes.orders, sizes.days, competitors, root)
    if "B6" in wanted and (real := _b6(competitors)) is not None:
        yield real
    if "B4" in wanted:
        yield _b4(sizes.totesys_scale, competitors)
    if "B5" in wanted:
        from spark_case import spark_case

        yield spark_case(sizes.invoice_lines, root)
