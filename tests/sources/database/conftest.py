"""A source database per test (PostgreSQL, MariaDB or SQLite) and a pipeline around it.

`Pipeline` writes `shopflow.yml` with one database source and a lake and DuckDB warehouse in
the test's folder, runs it in-process, and reads the warehouse back. `differences` compares a
source table with its warehouse table row for row (both ways, shopflow's `_sf_` columns left out).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
import yaml

from shopflow.config import load_config
from shopflow.engine import connect
from shopflow.pipeline.run import RunReport, TableReport, run_pipeline

MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root"}


@dataclass
class Pipeline:
    """A pipeline with one database source, its lake and warehouse below `folder`."""

    folder: Path
    source: dict[str, Any]
    extra_sources: list[dict[str, Any]] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return self.folder / "shopflow.yml"

    @property
    def warehouse(self) -> Path:
        return self.folder / "warehouse.duckdb"

    @property
    def lake(self) -> Path:
        return self.folder / "lake"

    def write(self) -> Path:
        config = {
            "pipeline": "dbtest",
            "lake": str(self.lake),
            "warehouse": {"path": str(self.warehouse)},
            "sources": [self.source, *self.extra_sources],
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        return self.path

    def run(self, *, ok: bool = True) -> RunReport:
        report = run_pipeline(load_config(self.write()))
        if ok:
            assert [t.error for t in report.tables if t.error] == [], "a table failed"
        return report

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        con = duckdb.connect(str(self.warehouse), read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def rows(self, table: str, columns: str = "*", order: str = "ALL") -> list[tuple[Any, ...]]:
        return self.query(f"SELECT {columns} FROM raw.{table} ORDER BY {order}")

    def columns(self, table: str) -> list[str]:
        return [r[0] for r in self.query(
            f"SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' AND table_name = '{table}' "
            "ORDER BY ordinal_position")]


def table_report(report: RunReport, table: str) -> TableReport:
    return next(t for t in report.tables if t.table == table)


def differences(
    pipeline: Pipeline, attach: tuple[str, str], source_table: str, table: str | None = None
) -> tuple[int, int]:
    """(source rows missing from the warehouse, warehouse rows not in the source) for one table.

    `attach` is the DuckDB ATTACH target and its options, e.g. `("postgresql://...", "TYPE postgres")`;
    `source_table` is `schema.table` in it.
    """
    con = connect(extensions=("postgres_scanner", "mysql_scanner", "sqlite_scanner"))
    try:
        con.execute(f"ATTACH '{attach[0]}' AS src ({attach[1]}, READ_ONLY)")
        con.execute(f"ATTACH '{pipeline.warehouse}' AS wh (READ_ONLY)")
        name = table or source_table.rsplit(".", 1)[-1]
        columns = [r[0] for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = 'wh' AND schema_name = 'raw' "
            "AND table_name = ? AND column_name NOT LIKE '\\_sf\\_%' ESCAPE '\\' ORDER BY column_index", [name],
        ).fetchall()]
        assert columns, f"raw.{name} is missing"
        cols = ", ".join(f'"{c}"' for c in columns)
        source = f"src.{source_table}"
        target = f'wh.raw."{name}"'
        missing = con.execute(f"SELECT count(*) FROM (SELECT {cols} FROM {source} EXCEPT ALL "
                              f"SELECT {cols} FROM {target})").fetchone()
        extra = con.execute(f"SELECT count(*) FROM (SELECT {cols} FROM {target} EXCEPT ALL "
                            f"SELECT {cols} FROM {source})").fetchone()
        assert missing is not None and extra is not None
        return int(missing[0]), int(extra[0])
    finally:
        con.close()


def pg_attach(url: str) -> tuple[str, str]:
    return url, "TYPE postgres"


@pytest.fixture
def pg(postgres_database: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection to the test's fresh PostgreSQL database."""
    with psycopg.connect(postgres_database, autocommit=True) as con:
        yield con


def postgres_source(url: str, **options: Any) -> dict[str, Any]:
    return {"name": "shop", "type": "postgres", "url": url, **options}


@pytest.fixture
def mariadb() -> Iterator[str]:
    """A fresh MariaDB database (at 127.0.0.1:3306, root without password); yields its name."""
    import pymysql

    name = f"sf_{uuid.uuid4().hex[:12]}"
    con = pymysql.connect(host=MARIADB["host"], port=MARIADB["port"], user=MARIADB["user"], autocommit=True)
    try:
        with con.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}`")
        yield name
        with con.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        con.close()


def mysql_execute(database: str, *statements: str) -> None:
    import pymysql

    con = pymysql.connect(database=database, autocommit=True, **MARIADB)  # type: ignore[arg-type]
    try:
        with con.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        con.close()


@pytest.fixture
def pipeline(tmp_path: Path) -> Pipeline:
    """A pipeline in the test's folder; set `.source` before running it."""
    return Pipeline(tmp_path / "pipeline", {})
