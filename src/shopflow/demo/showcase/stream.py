"""`shopflow demo --stream`: Online Retail's stream path, with simulated stores posting to a real ingest API.

It writes the example's `stream.yml` into `<demo folder>/online_retail_stream/` (starting over
each time), starts `shopflow ingest` on it as a subprocess on a free loopback port, lets
several stores post a day of invoice lines (some malformed, some requests sent twice), stops
the API (everything acknowledged is durable in its buffer), then runs the pipeline once: the
micro-batch moves the buffer to the lake and the warehouse, dropping repeated idempotency
keys and quarantining the malformed events, and dbt builds `revenue_by_day`.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from shopflow.config.model import PipelineConfig
from shopflow.demo.generators.stores import STREAM, StoreTraffic, simulate_stores
from shopflow.errors import ShopflowError
from shopflow.pipeline.run import RunReport

log = logging.getLogger(__name__)

HOME = "online_retail_stream"
SOURCE = "stores"


@dataclass
class StreamDemo:
    """What the stream demo did.

    Attributes:
        config: The pipeline file it wrote (run it again with `shopflow run -c`).
        warehouse: The DuckDB warehouse.
        traffic: What the stores sent and the API answered.
        run: The micro-batch run's report.
        duplicates: Repeated events the micro-batch dropped (by idempotency key).
        rows: Rows of raw.invoice_lines in the warehouse.
        revenue: (day, lines, net revenue) rows of analytics.revenue_by_day.
        seconds: Wall time of the whole demo.
    """

    config: Path
    warehouse: Path
    traffic: StoreTraffic
    run: RunReport
    duplicates: int
    rows: int
    revenue: list[tuple[object, ...]]
    seconds: float

    @property
    def ok(self) -> bool:
        """Every table and model built, and the warehouse holds each distinct valid event once."""
        transform_ok = self.run.transform is None or self.run.transform.ok
        return (self.run.exit_code in (0, 3) and transform_ok and not self.run.transform_error
                and self.rows == len(self.traffic.keys))


def run_stream_demo(folder: Path, *, seed: int = 42, stores: int = 4, lines: int = 600) -> StreamDemo:
    """Run Online Retail's stream path end to end in `folder/online_retail_stream` (starting over).

    Raises:
        ShopflowError: The ingest API did not start, or the run could not read its buffer.
    """
    from shopflow.config import load_config
    from shopflow.demo.showcase.config_file import write_demo_config
    from shopflow.pipeline.run import run_pipeline

    clock = time.perf_counter()
    home = folder.resolve() / HOME
    if home.exists():
        shutil.rmtree(home)
    path = write_demo_config("online_retail", home, {"ONLINE_RETAIL_BUFFER": str(home / "stores.sqlite")},
                             "Its stores' tokens come from STORE_TOKENS (comma-separated).", file="stream.yml")
    tokens = [f"store-{n}-{secrets.token_hex(8)}" for n in range(1, stores + 1)]
    api, url = _start_ingest(path, home, tokens)
    try:
        traffic = simulate_stores(url, tokens, lines=lines, seed=seed)
    finally:
        api.send_signal(signal.SIGTERM)
        api.wait(60)
    config = load_config(path)
    report = run_pipeline(config)  # the micro-batch, the warehouse load, then dbt on what changed
    warehouse = Path(config.warehouse.path)
    rows, revenue = _warehouse_counts(warehouse)
    return StreamDemo(path, warehouse, traffic, report, _duplicates(config), rows, revenue,
                      time.perf_counter() - clock)


def _start_ingest(path: Path, home: Path, tokens: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    """`shopflow ingest -c path --port 0 --no-flush` with the stores' tokens; the process and its URL."""
    out = home / "ingest.out"
    env = {**os.environ, "STORE_TOKENS": ",".join(tokens)}
    args = [sys.executable, "-m", "shopflow.cli.main", "ingest", "-c", str(path), "--port", "0", "--no-flush"]
    with out.open("wb") as stdout, (home / "ingest.err").open("wb") as stderr:
        proc = subprocess.Popen(args, env=env, stdout=stdout, stderr=stderr, cwd=home)
    deadline = time.monotonic() + 60
    while " on http://" not in out.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                proc.kill()
            raise ShopflowError(f"the ingest API did not start: {(home / 'ingest.err').read_text()[-2000:]}",
                                fix=f"run shopflow ingest -c {path} yourself to see why")
        time.sleep(0.05)
    return proc, out.read_text().split(" on ", 1)[1].split()[0]


def _duplicates(config: PipelineConfig) -> int:
    """Repeated events dropped, as the lake's micro-batch commits recorded them."""
    from deltalake import DeltaTable

    from shopflow.lake.ledger import PREFIX
    from shopflow.pipeline.layout import LakeLayout

    uri = LakeLayout(config, SOURCE, STREAM).main.uri
    return sum(int(entry.get(PREFIX + "duplicates", 0)) for entry in DeltaTable(uri).history())


def _warehouse_counts(warehouse: Path) -> tuple[int, list[tuple[object, ...]]]:
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        row = con.execute(f"SELECT count(*) FROM raw.{STREAM}").fetchone()
        revenue = con.execute("SELECT invoice_date, invoice_lines, net_revenue FROM analytics.revenue_by_day "
                              "ORDER BY invoice_date").fetchall()
    finally:
        con.close()
    return int(row[0]) if row else 0, revenue
