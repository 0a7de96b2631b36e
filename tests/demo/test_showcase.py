"""`shopflow demo`: the five example pipelines built from generated data, then refreshed incrementally.

The demo runs twice into one folder (in-process, small scale). Each warehouse's model tables are
checked against figures the generators and simulators report independently of the pipeline:
orders and money of the Glossier files, users and amounts of the shop database, sales order
versions of totesys, invoice lines and revenue of the retail dumps, transactions and missing
ids of the CRM and payment exports.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from shopflow.demo.generators.core import Summary
from shopflow.demo.showcase import run_demo
from shopflow.demo.showcase.results import DemoReport, PipelineResult
from shopflow.errors import ConfigError

SHOPFLOW = str(Path(sys.executable).with_name("shopflow"))
SEED, SCALE = 7, 0.25


# What each run left in the warehouses: pipeline -> name -> the value of the query.
QUERIES = {
    "glossier": {
        "orders": "SELECT count(*) FROM analytics.orders_table",
        "total_price": "SELECT sum(total_price) FROM analytics.orders_table",
        "details": "SELECT count(*) FROM analytics.order_details",
    },
    "shop_db": {
        "users": "SELECT count(*) FROM analytics.users",
        "transactions": "SELECT count(*) FROM analytics.transactions",
        "amount": "SELECT sum(amount) FROM analytics.transactions",
    },
    "totesys": {
        "sales_order": "SELECT count(*) FROM analytics.fact_sales_order",
        "purchase_order": "SELECT count(*) FROM analytics.fact_purchase_order",
        "payment": "SELECT count(*) FROM analytics.fact_payment",
    },
    "online_retail": {
        "lines": "SELECT count(*) FROM analytics.fact_invoice_lines",
        "revenue": "SELECT sum(line_total) FROM analytics.fact_invoice_lines",
        "days": "SELECT count(*) FROM analytics.daily_revenue",
    },
    "customers": {
        "raw_customers": "SELECT count(*) FROM raw.customers",
        "raw_transactions": "SELECT count(*) FROM raw.transactions",
        "quarantine": "SELECT count(*) FROM raw._quarantine",
        "accounted": "SELECT (SELECT count(*) FROM analytics.customer_transactions) "
                     "+ (SELECT count(*) FROM analytics.transactions_quarantine)",
        "dim_customers": "SELECT count(*) FROM analytics.dim_customers",
        "moved": "SELECT count(*) FROM analytics.dim_customer_addresses WHERE version = 2",
    },
}


@dataclass
class Run:
    report: DemoReport
    found: dict[str, dict[str, Any]]  # QUERIES' answers right after the run

    def pipeline(self, name: str) -> PipelineResult:
        return self.report.pipeline(name)

    def made(self, name: str) -> Summary:
        prepared = self.pipeline(name).prepared
        assert prepared is not None
        return prepared.summary


def measured(report: DemoReport) -> Run:
    found: dict[str, dict[str, Any]] = {}
    for result in report.pipelines:
        assert result.error is None, f"{result.name}: {result.error}"
        con = duckdb.connect(str(result.warehouse), read_only=True)
        try:
            found[result.name] = {}
            for name, sql in QUERIES[result.name].items():
                row = con.execute(sql).fetchone()
                assert row is not None
                found[result.name][name] = row[0]
            # Each line of the demo's table counts what the warehouse holds.
            for line in result.tables:
                assert con.execute(f"SELECT count(*) FROM {line.name}").fetchone() == (line.rows,), line.name
        finally:
            con.close()
    return Run(report, found)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Run]:
    """The demo's first run and its second (a round of changes), in one folder."""
    folder = tmp_path_factory.mktemp("demo") / "demo"
    first = measured(run_demo(folder, seed=SEED, scale=SCALE))
    second = measured(run_demo(folder, seed=SEED, scale=SCALE))
    return first, second


def test_every_pipeline_builds_its_raw_tables_and_models(demo: tuple[Run, Run]) -> None:
    for run, round_no in zip(demo, (0, 1), strict=True):
        assert [p.name for p in run.report.pipelines] == list(QUERIES)
        assert run.report.skipped == {}
        for result in run.report.pipelines:
            assert result.error is None, result.error
            assert result.round_no == round_no and result.prepared is not None
            assert result.run is not None and [t.error for t in result.run.tables if t.error] == []
            assert result.transform is not None
            assert [m.name for m in result.transform.models if m.status != "success"] == []
            assert [t.name for t in result.transform.tests_with("fail", "error")] == []
            assert {"raw", "model"} <= {line.kind for line in result.tables}
            assert result.config.is_file()


def test_glossier_orders_and_money_match_the_files(demo: tuple[Run, Run]) -> None:
    first, second = demo
    made, more = first.made("glossier"), second.made("glossier")
    before, after = first.found["glossier"], second.found["glossier"]

    assert before["orders"] == made.rows["orders"] - made.totals["test_orders"]
    assert before["total_price"] == round(made.totals["total_price"], 2)
    assert before["details"] == made.rows["line_items"] - made.totals["test_orders"]

    assert len(more.files) == 1
    result = second.pipeline("glossier")
    new_orders = more.rows["orders"] - more.totals["test_orders"]
    assert result.table("raw.orders").read == more.rows["orders"]
    assert result.table("analytics.orders_table").added == new_orders
    assert after["orders"] == before["orders"] + new_orders
    assert after["total_price"] == round(made.totals["total_price"] + more.totals["total_price"], 2)


def test_shop_db_users_and_transactions_match_the_database(demo: tuple[Run, Run]) -> None:
    first, second = demo
    made, changes = first.made("shop_db"), second.made("shop_db")
    before, after = first.found["shop_db"], second.found["shop_db"]

    assert before == {"users": made.rows["users"], "transactions": made.rows["transactions"],
                      "amount": made.totals["transactions.amount"]}

    # The incremental run reads exactly the inserted and updated rows; the models grow by the inserts.
    result = second.pipeline("shop_db")
    for table in ("users", "transactions"):
        inserted, updated = changes.rows[f"{table}.inserted"], changes.rows[f"{table}.updated"]
        assert inserted > 0 and updated > 0
        assert result.table(f"raw.{table}").read == inserted + updated
        assert result.table(f"analytics.{table}").added == inserted
        assert after[table] == before[table] + inserted
    assert after["amount"] == before["amount"] + changes.totals["transactions.amount_inserted"]


def test_totesys_facts_hold_every_version_of_the_orders(demo: tuple[Run, Run]) -> None:
    first, second = demo
    made, changes = first.made("totesys"), second.made("totesys")
    before, after = first.found["totesys"], second.found["totesys"]

    assert changes.rows["sales_order.inserted"] > 0
    result = second.pipeline("totesys")
    for table in ("sales_order", "purchase_order", "payment"):
        assert before[table] == made.rows[table]
        versions = changes.rows.get(f"{table}.inserted", 0) + changes.rows.get(f"{table}.updated", 0)
        assert result.table(f"raw.{table}").read == versions
        assert result.table(f"analytics.fact_{table}").added == versions
        assert after[table] == before[table] + versions


def test_online_retail_lines_and_revenue_match_the_dumps(demo: tuple[Run, Run]) -> None:
    first, second = demo
    made, more = first.made("online_retail"), second.made("online_retail")
    before, after = first.found["online_retail"], second.found["online_retail"]

    assert all(f.endswith(".xlsx") for f in made.files) and all(f.endswith(".csv") for f in more.files)
    assert before == {"lines": made.rows["lines"], "revenue": made.totals["revenue"], "days": len(made.files)}
    assert second.pipeline("online_retail").table("raw.invoice_lines").read == more.rows["lines"]
    assert after == {"lines": made.rows["lines"] + more.rows["lines"],
                     "revenue": made.totals["revenue"] + more.totals["revenue"], "days": len(made.files) + 1}


def test_customers_transactions_and_quarantine_match_the_exports(demo: tuple[Run, Run]) -> None:
    first, second = demo
    made, more = first.made("customers"), second.made("customers")
    before, after = first.found["customers"], second.found["customers"]
    no_customer_id = made.totals["customers.missing.customer_id"]
    no_transaction_id = made.totals["transactions.missing_transaction_id"]

    assert before["raw_customers"] == made.rows["customers"] - no_customer_id
    assert before["quarantine"] == no_customer_id + no_transaction_id
    assert before["raw_transactions"] == before["accounted"] == made.rows["transactions"] - no_transaction_id
    assert before["dim_customers"] == before["raw_customers"] + 1  # and the unknown member
    assert before["moved"] == 0

    # The next export: every record is read or quarantined; customers who moved get a second address.
    result = second.pipeline("customers")
    assert result.run is not None
    read = {t.table: t.rows_extracted for t in result.run.tables}
    quarantined = {t.table: t.quarantined for t in result.run.tables}
    assert result.table("raw.customers").read == read["customers"]
    assert read["customers"] + quarantined["customers"] == more.rows["customers"]
    assert read["transactions"] + quarantined["transactions"] == more.rows["transactions"]
    assert after["quarantine"] == before["quarantine"] + result.quarantined
    assert after["accounted"] == after["raw_transactions"] > before["raw_transactions"]
    assert after["moved"] > 0


def test_reset_refuses_a_folder_the_demo_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")

    with pytest.raises(ConfigError, match="not a demo folder"):
        run_demo(tmp_path, reset=True)
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"


def shopflow(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SHOPFLOW_")}
    environ.update({"COLUMNS": "250", "NO_COLOR": "1", "TERM": "dumb"})
    return subprocess.run([SHOPFLOW, *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=600)


def test_demo_help_explains_the_command(tmp_path: Path) -> None:
    done = shopflow("demo", "--help", cwd=tmp_path)

    assert done.returncode == 0
    for words in ("--folder", "--seed", "--scale", "--reset", "--pipeline", "embedded PostgreSQL",
                  "round of changes", "DuckDB warehouse"):
        assert words in done.stdout, words


def test_demo_command_builds_refreshes_and_resets_a_pipeline(tmp_path: Path) -> None:
    args = ("demo", "--pipeline", "glossier", "--scale", "0.1", "--seed", "3")

    first = shopflow(*args, cwd=tmp_path)
    second = shopflow(*args, cwd=tmp_path)
    again = shopflow(*args, "--reset", cwd=tmp_path)

    assert first.returncode == 0, first.stdout + first.stderr
    assert "data: 3 daily order files, 60 orders" in first.stdout
    assert "analytics.orders_table" in first.stdout and "+rows" not in first.stdout
    assert 'duckdb -readonly .shopflow-demo/glossier/warehouse.duckdb "SELECT' in first.stdout
    assert "python -c \"import duckdb; print(duckdb.connect('.shopflow-demo/glossier/warehouse.duckdb'" in first.stdout
    assert second.returncode == 0, second.stdout + second.stderr
    assert "round 1 of changes: 1 daily order file, 20 orders" in second.stdout and "+rows" in second.stdout
    assert again.returncode == 0 and "data: 3 daily order files, 60 orders" in again.stdout
    con = duckdb.connect(str(tmp_path / ".shopflow-demo" / "glossier" / "warehouse.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM raw.orders").fetchone() == (60,)
    finally:
        con.close()
