# mypy: disable-error-code="import-not-found,import-untyped"
# (this script runs in bench/.venv-competitors: dlt, pandas and SQLAlchemy are not in shopflow's venv)
"""dlt, as its docs show it: sql_database (pyarrow or connectorx backend) and the filesystem source.

Spec keys: case (db | files | totesys), backend, source_url, table / tables, incremental (bool), files,
destination (duckdb | postgres), destination_path / destination_url, workdir; for totesys also dbt
(the dbt executable) and dbt_project.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).parent))

import dlt
from protocol import read_spec, report


def _with_password(url: str) -> str:
    """dlt's PostgreSQL credentials insist on a password; the benchmark server trusts local users, so any will do."""
    parts = urlsplit(url)
    if parts.password is not None or parts.username is None:
        return url
    return urlunsplit(parts._replace(netloc=f"{parts.username}:bench@{parts.hostname}:{parts.port or 5432}"))


def _destination(spec: dict[str, Any]) -> Any:
    if spec["destination"] == "duckdb":
        return dlt.destinations.duckdb(spec["destination_path"])
    return dlt.destinations.postgres(_with_password(spec["destination_url"]))


def _database(spec: dict[str, Any]) -> Any:
    from dlt.sources.sql_database import sql_table

    incremental = dlt.sources.incremental("updated_at") if spec.get("incremental") else None
    return sql_table(
        credentials=spec["source_url"],
        table=spec["table"],
        backend=spec["backend"],
        chunk_size=100_000,
        incremental=incremental,
        primary_key="id",
        reflection_level="full_with_precision",
    )


def _files(spec: dict[str, Any]) -> Any:
    from dlt.sources.filesystem import filesystem

    def orders_of(items: Any) -> Any:
        for item in items:
            with item.open() as handle:
                yield json.load(handle)["orders"]

    read_orders = dlt.transformer(standalone=True)(orders_of)  # a transformer, as @dlt.transformer makes it
    files = filesystem(bucket_url=spec["files"], file_glob="*.json")
    return (files | read_orders()).with_name("orders")


def _totesys(spec: dict[str, Any], pipeline: Any) -> None:
    """The 11 tables incremental by last_updated, merged by their keys, then the same dbt project as shopflow's."""
    import duckdb
    from dlt.sources.sql_database import sql_database

    source = sql_database(
        credentials=spec["source_url"], schema="public", table_names=spec["tables"], backend=spec["backend"],
        chunk_size=100_000, reflection_level="full_with_precision",
    )
    for name in spec["tables"]:
        source.resources[name].apply_hints(incremental=dlt.sources.incremental("last_updated"),
                                           write_disposition="merge")
    pipeline.run(source)
    # The project reads schema raw and orders versions by shopflow's _sf_loaded_at/_sf_batch: views give
    # it dlt's tables with those columns (null: one version per key after a merge).
    con = duckdb.connect(spec["destination_path"])
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS raw")
        for name in spec["tables"]:
            con.execute(f"CREATE OR REPLACE VIEW raw.{name} AS SELECT *, CAST(NULL AS TIMESTAMP) AS _sf_loaded_at, "
                        f"CAST(NULL AS VARCHAR) AS _sf_batch FROM bench.{name}")
    finally:
        con.close()
    workdir = Path(spec["workdir"])
    profile = {"shopflow": {"target": "shopflow", "outputs": {"shopflow": {
        "type": "duckdb", "path": spec["destination_path"], "schema": "analytics", "threads": 4,
        "settings": {"TimeZone": "UTC"},
    }}}}
    (workdir / "profiles.yml").write_text(json.dumps(profile), encoding="utf-8")  # JSON is YAML
    subprocess.run(
        [spec["dbt"], "build", "--project-dir", spec["dbt_project"], "--profiles-dir", str(workdir),
         "--target-path", str(workdir / "target"), "--log-path", str(workdir / "logs"),
         "--no-send-anonymous-usage-stats", "--no-version-check", "--quiet"],
        check=True,
    )


def main() -> None:
    spec = read_spec()
    pipeline = dlt.pipeline(
        pipeline_name=spec.get("pipeline_name", "bench"),
        destination=_destination(spec),
        dataset_name="bench",
        pipelines_dir=str(Path(spec["workdir"]) / "dlt"),
    )
    if spec["case"] == "db":
        resource = _database(spec)
        disposition = "merge" if spec.get("incremental") else "replace"
        pipeline.run(resource, write_disposition=disposition)
        report(tables={"orders": "bench.orders"})
    elif spec["case"] == "totesys":
        _totesys(spec, pipeline)
        report(tables={f: f"analytics.{f}" for f in ("fact_sales_order", "fact_purchase_order", "fact_payment")})
    else:
        pipeline.run(_files(spec), write_disposition="append")
        report(tables={"orders": "bench.orders", "line_items": "bench.orders__line_items"})


if __name__ == "__main__":
    main()
