"""`shopflow demo --stream`: simulated stores post to a real ingest API; the counts add up in the batch path's marts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb

from shopflow.demo.showcase.stream import MARTS, run_stream_demo


def test_stream_demo_counts_add_up_from_post_to_mart(tmp_path: Path) -> None:
    result = run_stream_demo(tmp_path, seed=7, stores=3, lines=300)
    traffic = result.traffic
    assert traffic.malformed > 0 and traffic.resent > 0 and not traffic.refused  # the demo shows both problems
    assert traffic.accepted == traffic.posted - traffic.malformed
    assert traffic.quarantined == traffic.malformed == result.run.quarantined
    # Every resent valid event is a repeat of a key already sent: all of them, and only them, are dropped.
    assert result.duplicates == traffic.resent == traffic.accepted - len(traffic.keys)
    assert result.rows == len(traffic.keys) and result.ok
    con = duckdb.connect(str(result.warehouse), read_only=True)
    try:
        assert con.execute("SELECT count(*), count(DISTINCT (store, invoice_no, line)) FROM raw.invoice_lines"
                           ).fetchone() == (len(traffic.keys), len(traffic.keys))
        assert con.execute("SELECT count(*) FROM raw._quarantine").fetchone() == (traffic.malformed,)
        lines, net = con.execute("SELECT sum(invoice_lines), sum(net_revenue) FROM analytics.daily_revenue"
                                 ).fetchone()
        exact = con.execute("SELECT sum(cast(quantity AS decimal(18, 0)) * unit_price) FROM raw.invoice_lines"
                            ).fetchone()
        facts = con.execute("SELECT count(*) FROM analytics.fact_invoice_lines").fetchone()
    finally:
        con.close()
    assert lines == len(traffic.keys) and net == exact[0]
    # The batch path's star is built from the stream: every mart, one fact per distinct line.
    assert set(result.marts) == set(MARTS)
    assert facts == (result.marts["fact_invoice_lines"],) == (len(traffic.keys),)
    assert result.run.transform is not None and all(t.status == "pass" for t in result.run.transform.tests)


def test_demo_stream_flag_prints_the_counts(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "shopflow.cli.main", "demo", "--stream", "--folder", str(tmp_path)],
                          capture_output=True, text=True, timeout=180, env={**os.environ, "COLUMNS": "120"})
    assert done.returncode == 0, done.stdout + done.stderr
    for label in ("posted", "accepted", "quarantined", "duplicates dropped", "warehouse rows", *MARTS, "dbt tests"):
        assert label in done.stdout
    assert "not built" not in done.stdout
    assert (tmp_path / "online_retail_stream" / "stream.yml").is_file()
