"""The totesys example (seed 002) against a real PostgreSQL: load the 2024-11-14 snapshot, run
the example pipeline, bring the source to the 2024-11-15 snapshot plus updates of existing rows,
run again. After each run every raw table in the warehouse equals its source table, row for row."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import duckdb
import pytest

from shopflow.config import load_config
from shopflow.demo.generators.totesys_snapshot import TABLES, apply_snapshot, load_snapshot
from shopflow.engine import connect
from shopflow.pipeline.run import RunReport, run_pipeline
from shopflow.pipeline.status import pipeline_status

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "totesys" / "shopflow.yml"
TOUCHED = 25  # existing rows changed per table in TOUCH between the snapshots


@pytest.fixture
def totesys(postgres_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example pipeline pointed at the test's database, lake and warehouse; returns the warehouse."""
    url = urlsplit(postgres_database)
    monkeypatch.setenv("TOTESYS_HOST", url.hostname or "127.0.0.1")
    monkeypatch.setenv("TOTESYS_PORT", str(url.port or 5432))
    monkeypatch.setenv("TOTESYS_USER", url.username or "postgres")
    monkeypatch.setenv("TOTESYS_DATABASE", url.path.lstrip("/"))
    monkeypatch.setenv("SHOPFLOW_LAKE", str(tmp_path / "lake"))
    monkeypatch.setenv("SHOPFLOW_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    return tmp_path / "warehouse.duckdb"


def run() -> RunReport:
    report = run_pipeline(load_config(EXAMPLE))
    assert [f"{t.table}: {t.error}" for t in report.tables if t.error] == []
    return report


def extracted(report: RunReport) -> dict[str, int]:
    return {t.table: t.rows_extracted for t in report.tables}


def mismatches(url: str, warehouse: Path) -> dict[str, tuple[int, int, int]]:
    """Per table: (source rows, source rows missing from raw, raw rows not in the source)."""
    con = connect(extensions=("postgres_scanner",))
    try:
        con.execute(f"ATTACH '{url}' AS src (TYPE postgres, READ_ONLY)")
        con.execute(f"ATTACH '{warehouse}' AS wh (READ_ONLY)")
        found = {}
        loaded = {r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'wh' AND schema_name = 'raw'").fetchall()}
        for table, columns in TABLES.items():
            cols = ", ".join(f'"{c}"' for c, _ in columns)
            source, raw = f'src.public."{table}"', f'wh.raw."{table}"'
            if table not in loaded:  # a table that had no row yet is not created in the warehouse
                raw = f"(SELECT * FROM {source} LIMIT 0)"
            total = con.execute(f"SELECT count(*) FROM {source}").fetchone()
            missing = con.execute(f"SELECT count(*) FROM (SELECT {cols} FROM {source} EXCEPT ALL "
                                  f"SELECT {cols} FROM {raw})").fetchone()
            extra = con.execute(f"SELECT count(*) FROM (SELECT {cols} FROM {raw} EXCEPT ALL "
                                f"SELECT {cols} FROM {source})").fetchone()
            assert total and missing and extra
            found[table] = (int(total[0]), int(missing[0]), int(extra[0]))
        return found
    finally:
        con.close()


@pytest.mark.slow
def test_two_snapshots_of_totesys_land_row_for_row(postgres_database: str, totesys: Path) -> None:
    loaded = load_snapshot(postgres_database, "2024-11-14")
    assert loaded["sales_order"] == 11_175 and "payment" not in loaded

    first = run()

    assert extracted(first) == {**loaded, "payment": 0}
    after_first = mismatches(postgres_database, totesys)
    assert {t: m[1:] for t, m in after_first.items()} == {t: (0, 0) for t in TABLES}

    changes = apply_snapshot(postgres_database, "2024-11-15", touch=TOUCHED)
    assert changes.inserted["sales_order"] == 12 and changes.inserted["payment"] == 15_836
    assert changes.updated["design"] == 3

    second = run()

    rows = extracted(second)
    assert rows["sales_order"] == 12 + TOUCHED
    assert rows["payment"] == 15_836
    assert rows["design"] == 1 + 3
    assert rows["currency"] == 0
    after_second = mismatches(postgres_database, totesys)
    assert {t: m[1:] for t, m in after_second.items()} == {t: (0, 0) for t in TABLES}
    assert after_second["sales_order"][0] == 11_187 and after_second["payment"][0] == 15_836

    assert sum(extracted(run()).values()) == 0
    status = {s.table: s for s in pipeline_status(load_config(EXAMPLE))}
    assert status["sales_order"].warehouse_rows == 11_187
    assert status["sales_order"].watermark is not None and status["sales_order"].watermark.startswith(
        "last_updated > ")
    con = duckdb.connect(str(totesys), read_only=True)
    try:
        assert con.execute("SELECT count(*) - count(DISTINCT sales_order_id) FROM raw.sales_order").fetchone() == (0,)
    finally:
        con.close()
