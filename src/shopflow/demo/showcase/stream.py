"""`shopflow demo --stream`: Online Retail's stream path, with simulated stores posting to a real ingest API.

It writes the example's `stream.yml` into `<demo folder>/online_retail_stream/` (starting over
each time), starts `shopflow ingest` on it as a subprocess on a free loopback port, lets
several stores post a day of invoice lines (some malformed, some requests sent twice), stops
the API (everything acknowledged is durable in its buffer), then runs the pipeline once: the
micro-batch moves the buffer to the lake and the warehouse, dropping repeated idempotency
keys and quarantining the malformed events, and dbt builds the batch path's star (`MARTS`)
from the example's one dbt project.
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
# The batch path's marts (examples/online_retail/dbt), built from the stream by the same models.
MARTS = ("fact_invoice_lines", "dim_product", "dim_customer", "daily_revenue")


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
        marts: Rows of each mart in schema analytics (`MARTS`), by name.
        revenue: (day, lines, net revenue) rows of analytics.daily_revenue.
        seconds: Wall time of the whole demo.
    """

    config: Path
    warehouse: Path
    traffic: StoreTraffic
    run: RunReport
    duplicates: int
    rows: int
    marts: dict[str, int]
    revenue: list[tuple[object, ...]]
    seconds: float

    @property
    def ok(self) -> bool:
        """Every table and model built, and the warehouse holds each distinct valid event once."""
        transform_ok = self.run.transform is None or self.run.transform.ok
        return (
            self.run.exit_code in (0, 3)
            and transform_ok
            and not self.run.transform_error
            and self.rows == len(self.traffic.keys)
            and set(self.marts) == set(MARTS)
        )


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
    path = write_demo_config(
        "online_retail",
        home,
        {"ONLINE_RETAIL_BUFFER": str(home / "stores.sqlite")},
        "Its stores' tokens come from STORE_TOKENS (comma-separated).",
        file="stream.yml",
    )
    tokens = [f"store-{n}-{secrets.token_hex(8)}" for n in range(1, stores + 1)]
    api, url = start_ingest(path, home, tokens)
    try:
        traffic = simulate_stores(url, tokens, lines=lines, seed=seed)
    finally:
        api.send_signal(signal.SIGTERM)
        api.wait(60)
    config = load_config(path)
    report = run_pipeline(config)  # the micro-batch, the warehouse load, then dbt on what changed
    warehouse = Path(config.warehouse.path)
    rows, marts, revenue = _warehouse_counts(warehouse)
    return StreamDemo(
        path, warehouse, traffic, report, _duplicates(config), rows, marts, revenue, time.perf_counter() - clock
    )


def start_ingest(path: Path, home: Path, tokens: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    """Start `shopflow ingest -c path --port 0 --no-flush` in `home` with the stores' tokens.

    Its output goes to `home/ingest.out` and `home/ingest.err`. Stop it with SIGTERM: what it
    acknowledged stays durable in the buffer for the next run.

    Returns:
        The process and the API's base URL (a free loopback port).

    Raises:
        ShopflowError: The API did not start within a minute (with its error output).
    """
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
            raise ShopflowError(
                f"the ingest API did not start: {(home / 'ingest.err').read_text()[-2000:]}",
                fix=f"run shopflow ingest -c {path} yourself to see why",
            )
        time.sleep(0.05)
    return proc, out.read_text().split(" on ", 1)[1].split()[0]


def _duplicates(config: PipelineConfig) -> int:
    """Repeated events dropped, as the lake's micro-batch commits recorded them."""
    from deltalake import DeltaTable

    from shopflow.lake.ledger import PREFIX
    from shopflow.pipeline.layout import LakeLayout

    uri = LakeLayout(config, SOURCE, STREAM).main.uri
    return sum(int(entry.get(PREFIX + "duplicates", 0)) for entry in DeltaTable(uri).history())


def _warehouse_counts(warehouse: Path) -> tuple[int, dict[str, int], list[tuple[object, ...]]]:
    """Rows of the raw table, of each mart that was built, and daily_revenue's days."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        row = con.execute(f"SELECT count(*) FROM raw.{STREAM}").fetchone()
        built = {
            str(name)
            for (name,) in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'analytics'"
            ).fetchall()
        }
        marts: dict[str, int] = {}
        for mart in MARTS:
            if mart in built:
                counted = con.execute(f"SELECT count(*) FROM analytics.{mart}").fetchone()
                marts[mart] = int(counted[0]) if counted else 0
        revenue = (
            con.execute(
                "SELECT invoice_date, invoice_lines, net_revenue FROM analytics.daily_revenue ORDER BY invoice_date"
            ).fetchall()
            if "daily_revenue" in built
            else []
        )
    finally:
        con.close()
    return int(row[0]) if row else 0, marts, revenue
