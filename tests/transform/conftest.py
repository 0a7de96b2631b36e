"""A warehouse to transform in, on DuckDB and on PostgreSQL, and small dbt projects to run there."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from shopflow.config import load_config
from shopflow.config.model import PipelineConfig

POSTGRES_WAREHOUSE_BUILT = importlib.util.find_spec("shopflow.warehouse.postgres") is not None


@dataclass
class Target:
    """One warehouse: its `warehouse:` section, and plain SQL access for setting up and checking."""

    kind: str
    folder: Path
    url: str | None = None

    def warehouse(self) -> dict[str, Any]:
        if self.kind == "duckdb":
            return {"type": "duckdb", "path": str(self.folder / "warehouse.duckdb")}
        assert self.url is not None
        parts = urlparse(self.url)
        return {"type": "postgres", "host": parts.hostname, "port": parts.port, "user": parts.username,
                "database": parts.path.lstrip("/")}

    def execute(self, *statements: str) -> None:
        if self.kind == "duckdb":
            import duckdb

            con = duckdb.connect(str(self.folder / "warehouse.duckdb"))
            try:
                for sql in statements:
                    con.execute(sql)
            finally:
                con.close()
            return
        import psycopg

        assert self.url is not None
        with psycopg.connect(self.url, autocommit=True) as pg:
            for sql in statements:
                pg.execute(sql)  # type: ignore[arg-type,unused-ignore]

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        if self.kind == "duckdb":
            import duckdb

            con = duckdb.connect(str(self.folder / "warehouse.duckdb"), read_only=True)
            try:
                return con.execute(sql).fetchall()
            finally:
                con.close()
        import psycopg

        assert self.url is not None
        with psycopg.connect(self.url) as pg:
            return pg.execute(sql).fetchall()  # type: ignore[arg-type,unused-ignore]

    def tables(self, schema: str) -> set[str]:
        rows = self.query(f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{schema}'")
        return {str(r[0]) for r in rows}


@pytest.fixture(params=["duckdb", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """A fresh, empty warehouse of each kind in turn."""
    if request.param == "duckdb":
        yield Target("duckdb", tmp_path)
    else:
        yield Target("postgres", tmp_path, request.getfixturevalue("postgres_database"))


def seed_raw_orders(target: Target) -> None:
    """raw.orders as a load would leave it: five orders, two without a coupon, one without a status."""
    target.execute(
        "CREATE SCHEMA IF NOT EXISTS raw",
        "CREATE TABLE raw.orders (id BIGINT, customer VARCHAR(20), status VARCHAR(20), coupon VARCHAR(20), "
        "total DECIMAL(12, 2))",
        "INSERT INTO raw.orders VALUES (1, 'ann', 'paid', 'A', 10.00), (2, 'bob', 'paid', NULL, 20.50), "
        "(3, 'ann', 'refunded', 'B', 5.25), (4, 'cy', 'paid', NULL, 7.00), (5, 'bob', NULL, 'C', 1.00)",
    )


SOURCES_YML = """\
version: 2
sources:
  - name: raw
    schema: raw
    tables:
      - name: orders
"""


def write_project(folder: Path, models: dict[str, str], schema_yml: str | None = None) -> Path:
    """A dbt project at `folder` with `models` (name -> SQL), the `raw` source and optional tests."""
    (folder / "models").mkdir(parents=True, exist_ok=True)
    (folder / "dbt_project.yml").write_text(
        "name: shop\nversion: '1.0'\nconfig-version: 2\nprofile: shopflow\n"
        "models:\n  shop:\n    +materialized: table\n",
        encoding="utf-8",
    )
    (folder / "models" / "sources.yml").write_text(SOURCES_YML, encoding="utf-8")
    for name, sql in models.items():
        (folder / "models" / f"{name}.sql").write_text(sql, encoding="utf-8")
    if schema_yml is not None:
        (folder / "models" / "schema.yml").write_text(schema_yml, encoding="utf-8")
    return folder


def write_config(target: Target, transform: dict[str, Any] | None = None, **top: Any) -> Path:
    """`shopflow.yml` next to the project, for `target`; returns its path."""
    config: dict[str, Any] = {
        "pipeline": "shop",
        "lake": str(target.folder / "lake"),
        "warehouse": target.warehouse(),
        "transform": {"project": "dbt"} if transform is None else transform,
        "sources": [],
        **top,
    }
    path = target.folder / "shopflow.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def pipeline(target: Target, transform: dict[str, Any] | None = None, **top: Any) -> PipelineConfig:
    return load_config(write_config(target, transform, **top))
