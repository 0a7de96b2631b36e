"""B5: a large CSV dump of invoice lines into the lake and warehouse, through DuckDB and through Spark.

The Online Retail generator (seed 003) writes daily CSV dumps with every column declared as
in examples/online_retail; shopflow runs the same pipeline with `engine: duckdb` (the default)
and with `engine: spark` in local mode on the same machine. The truth (lines and the exact sum
of unit_price) is read from the CSV files themselves.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from model import Case

import sources

COLUMNS = {
    "invoice_no": "text", "stock_code": "text", "description": "text", "quantity": "bigint",
    "invoice_date": "text", "unit_price": "decimal(10,3)", "customer_id": "bigint", "country": "text",
}
# About this many lines per daily dump: 20M lines are 20 files of ~75 MB.
LINES_PER_FILE = 1_000_000


def csv_dumps(folder: Path, lines: int) -> sources.Truth:
    """Daily CSV dumps of about `lines` invoice lines in `folder`; the truth read back from the files."""
    import duckdb

    from shopflow.demo import generate_online_retail
    from shopflow.demo.generators.retail import FIRST_DAY

    per_day = min(lines, LINES_PER_FILE)
    trading = max(1, round(lines / per_day))
    calendar_days = 0
    while trading:  # Saturdays have no dump
        trading -= (FIRST_DAY + timedelta(days=calendar_days)).weekday() != 5
        calendar_days += 1
    generate_online_retail(str(folder), days=calendar_days, lines_per_day=per_day, every="day", file_format="csv",
                           seed=11)
    con = duckdb.connect()
    try:
        row = con.execute(
            "SELECT count(*), sum(CAST(UnitPrice AS DECIMAL(38,2)))::VARCHAR FROM read_csv(?, all_varchar=true)",
            [f"{folder}/**/*.csv"],
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    return sources.Truth(rows=int(row[0]), amount=str(row[1]))


def spark_case(lines: int, root: Path) -> Case:
    """B5 at about `lines` invoice lines."""
    from cases import shopflow_tool, shopflow_warehouse

    folder = root / "online_retail"
    folder.mkdir()
    truth = csv_dumps(folder, lines)

    def config(engine: str) -> Any:
        def spec(workdir: Path, destination: dict[str, Any]) -> dict[str, Any]:
            table = {"name": "invoice_lines", "files": "**/*.csv", "columns": COLUMNS, "engine": engine}
            return {
                "pipeline": "bench", "lake": str(workdir / "lake"), "warehouse": shopflow_warehouse(destination),
                "spark": {"master": "local[*]", "conf": {"spark.driver.memory": "2g"}},
                "sources": [{"name": "online_retail", "type": "files", "location": str(folder), "tables": [table]}],
            }
        return spec

    tables = {"invoice_lines": "raw.invoice_lines"}
    tools = [shopflow_tool("shopflow", config("duckdb"), tables),
             shopflow_tool("shopflow spark", config("spark"), tables)]
    return Case(f"B5 {truth.rows:,} CSV lines: DuckDB vs Spark local", truth.rows, truth, "duckdb", "unit_price",
                tools, main="invoice_lines")
