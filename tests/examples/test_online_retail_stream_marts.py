"""Online Retail's two paths build the same marts: real invoice lines dumped in a bucket, or posted by stores.

The 2,000 real lines of tests/data/online_retail go through the batch path (the Excel dump
read by `shopflow run` with examples/online_retail/shopflow.yml) and through the stream path
(four stores post them over real HTTP to a `shopflow ingest` process, with malformed events
and resent requests among them, then `shopflow run` with stream.yml flushes the buffer and
builds the same dbt project). One dbt build per path, in the module fixture; each test then
compares what a user would query.
"""

from __future__ import annotations

import shutil
import signal
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import pytest
import yaml

from shopflow.config import load_config
from shopflow.demo.generators.stores import FAULTS, StoreTraffic, events_by_store, simulate_stores
from shopflow.demo.showcase.stream import MARTS, start_ingest
from shopflow.pipeline.run import RunReport, run_pipeline

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "online_retail"
SAMPLE = ROOT / "tests" / "data" / "online_retail" / "online_retail_2000.xlsx"
STORES = 4
# The fact's columns that say where a row came from (a dump file, the buffer) rather than what was sold.
LINEAGE = ("invoice_line_id", "source_file")


@dataclass
class Paths:
    """Both paths' warehouses after one run each, and what the stores sent."""

    lines: list[dict[str, Any]]
    batch: RunReport
    batch_warehouse: Path
    stream: RunReport
    stream_warehouse: Path
    stream_config: Path
    traffic: StoreTraffic


def sample_lines() -> list[dict[str, Any]]:
    """The sample's invoice lines as openpyxl reads them, with the batch table's column names."""
    sheet = openpyxl.load_workbook(SAMPLE, read_only=True).active
    assert sheet is not None
    names = (
        "invoice_no",
        "stock_code",
        "description",
        "quantity",
        "invoice_date",
        "unit_price",
        "customer_id",
        "country",
    )
    return [dict(zip(names, row, strict=True)) for row in list(sheet.iter_rows(values_only=True))[1:]]


def pipeline_file(example: str, home: Path, change: dict[str, Any]) -> Path:
    """The example's pipeline file `example` with its lake and warehouse in `home` and `change` applied."""
    config: dict[str, Any] = yaml.safe_load((EXAMPLE / example).read_text(encoding="utf-8"))
    config["lake"] = str(home / "lake")
    config["warehouse"] = {"type": "duckdb", "path": str(home / "warehouse.duckdb")}
    config["transform"]["project"] = str(EXAMPLE / config["transform"]["project"])
    config["sources"][0].update(change)
    path = home / example
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> Paths:
    lines = sample_lines()
    batch_home = tmp_path_factory.mktemp("retail_batch")
    (batch_home / "dumps").mkdir()
    shutil.copy(SAMPLE, batch_home / "dumps" / "2011.xlsx")
    batch_config = pipeline_file("shopflow.yml", batch_home, {"location": str(batch_home / "dumps")})
    batch = run_pipeline(load_config(batch_config))

    home = tmp_path_factory.mktemp("retail_stream")
    stream_config = pipeline_file("stream.yml", home, {"path": str(home / "stores.sqlite")})
    tokens = [f"store-{n}-token" for n in range(1, STORES + 1)]
    api, url = start_ingest(stream_config, home, tokens)
    try:
        traffic = simulate_stores(
            url,
            tokens,
            events=events_by_store(lines, STORES),
            seed=3,
            batch=25,
            pause=0,
            malformed_rate=0.2,
            resend_rate=0.2,
        )
    finally:
        api.send_signal(signal.SIGTERM)
        api.wait(60)
    stream = run_pipeline(load_config(stream_config))
    return Paths(
        lines, batch, batch_home / "warehouse.duckdb", stream, home / "warehouse.duckdb", stream_config, traffic
    )


def query(warehouse: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def columns(warehouse: Path, table: str) -> list[str]:
    rows = query(
        warehouse,
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'analytics' "
        f"AND table_name = '{table}' ORDER BY ordinal_position",
    )
    return [str(name) for (name,) in rows]


def test_both_paths_build_every_mart_and_pass_every_dbt_test(paths: Paths) -> None:
    assert paths.batch.exit_code == 0
    assert paths.stream.exit_code == 3  # done, with the malformed events in quarantine
    for report in (paths.batch, paths.stream):
        assert report.transform is not None and not report.transform_error
        assert {m.name for m in report.transform.models} == {"stg_invoice_lines", *MARTS}
        assert all(m.status == "success" for m in report.transform.models)
        assert report.transform.tests and all(t.status == "pass" for t in report.transform.tests), [
            (t.name, t.message) for t in report.transform.tests if t.status != "pass"
        ]
    stream, batch = paths.stream.transform, paths.batch.transform
    assert stream is not None and batch is not None
    assert {t.name for t in stream.tests} == {t.name for t in batch.tests}  # the same 41 tests on both
    assert len(batch.tests) == 41


@pytest.mark.parametrize("mart", [m for m in MARTS if m != "fact_invoice_lines"])
def test_each_summary_mart_holds_the_same_rows_and_values_from_both_paths(paths: Paths, mart: str) -> None:
    assert columns(paths.stream_warehouse, mart) == columns(paths.batch_warehouse, mart)
    batch = query(paths.batch_warehouse, f"SELECT * FROM analytics.{mart} ORDER BY ALL")
    assert batch and query(paths.stream_warehouse, f"SELECT * FROM analytics.{mart} ORDER BY ALL") == batch


def test_the_fact_holds_the_same_lines_from_both_paths(paths: Paths) -> None:
    names = columns(paths.batch_warehouse, "fact_invoice_lines")
    assert columns(paths.stream_warehouse, "fact_invoice_lines") == names
    sold = ", ".join(n for n in names if n not in LINEAGE)
    batch = Counter(query(paths.batch_warehouse, f"SELECT {sold} FROM analytics.fact_invoice_lines"))
    stream = Counter(query(paths.stream_warehouse, f"SELECT {sold} FROM analytics.fact_invoice_lines"))
    assert sum(batch.values()) == len(paths.lines) == 2000
    assert stream == batch
    # Invoices of several lines arrive as several events, told apart by their line number.
    assert query(paths.stream_warehouse, "SELECT max(line) FROM raw.invoice_lines")[0][0] > 1
    ids = query(paths.stream_warehouse, "SELECT count(DISTINCT invoice_line_id) FROM analytics.fact_invoice_lines")
    assert ids == [(2000,)]
    # Spot check against the workbook itself: the first line's price and time, exactly.
    first = paths.lines[0]
    assert isinstance(first["invoice_date"], datetime)
    row = query(
        paths.stream_warehouse,
        "SELECT unit_price, invoice_at FROM analytics.fact_invoice_lines "
        f"WHERE invoice_no = '{first['invoice_no']}' AND stock_code = '{first['stock_code']}'",
    )
    assert (float(row[0][0]), row[0][1]) == (first["unit_price"], first["invoice_date"])


def test_the_stream_drops_resent_lines_and_quarantines_malformed_ones_with_reasons(paths: Paths) -> None:
    traffic = paths.traffic
    assert not traffic.refused and traffic.resent > 0 and set(traffic.faults) == set(FAULTS)
    assert traffic.posted == traffic.accepted + traffic.quarantined
    assert traffic.quarantined == traffic.malformed == sum(traffic.faults.values()) == paths.stream.quarantined
    # Every valid line was acknowledged at least once; the resends are exactly what is dropped.
    assert len(traffic.keys) == len(paths.lines)
    assert query(
        paths.stream_warehouse, "SELECT count(*), count(DISTINCT (store, invoice_no, line)) FROM raw.invoice_lines"
    ) == [(2000, 2000)]
    from deltalake import DeltaTable

    from shopflow.lake.ledger import PREFIX
    from shopflow.pipeline.layout import LakeLayout

    lake = DeltaTable(LakeLayout(load_config(paths.stream_config), "stores", "invoice_lines").main.uri)
    assert sum(int(entry.get(PREFIX + "duplicates", 0)) for entry in lake.history()) == traffic.resent
    assert traffic.accepted - traffic.resent == 2000

    reasons = query(paths.stream_warehouse, "SELECT reason, raw FROM raw._quarantine WHERE \"table\" = 'invoice_lines'")
    by_fault = Counter(
        "quantity in words"
        if "'quantity'" in reason and "a dozen" in reason
        else "undeclared column"
        if "unknown column 'discount_code'" in reason
        else "missing key"
        if "'invoice_no' is missing" in reason
        else reason
        for reason, _ in reasons
    )
    assert by_fault == traffic.faults
    assert all(raw.startswith("{") for _, raw in reasons)  # the event as posted, to fix and resend
    # Nothing malformed reached the marts: the batch path, which never saw those events, has the same totals.
    assert query(paths.stream_warehouse, "SELECT sum(net_revenue) FROM analytics.daily_revenue") == query(
        paths.batch_warehouse, "SELECT sum(net_revenue) FROM analytics.daily_revenue"
    )
