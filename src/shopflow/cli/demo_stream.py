"""`shopflow demo --stream`: the Online Retail stream path with simulated stores, and its counts."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console


def run_stream(console: Console, folder: Path, seed: int | None) -> int:
    """Run the stream demo in `folder`, print what was posted, accepted, dropped and loaded; the exit code."""
    from shopflow.demo.showcase.stream import MARTS, run_stream_demo

    with console.status("stores posting invoice lines to the ingest API, then the micro-batch and dbt"):
        result = run_stream_demo(folder, seed=42 if seed is None else seed)
    traffic = result.traffic
    console.print(
        f"[bold]online_retail_stream[/]: {traffic.requests} requests from the "
        f"simulated stores in {traffic.seconds:.1f}s",
        highlight=False,
    )
    lines = [
        ("posted", traffic.posted, "sent, resends and malformed included"),
        ("accepted", traffic.accepted, "acknowledged, durable in the buffer"),
        ("quarantined", traffic.quarantined, "malformed, in raw._quarantine with why"),
        ("duplicates dropped", result.duplicates, "resends of a seen (store, invoice, line)"),
        ("warehouse rows", result.rows, "raw.invoice_lines, one per distinct line"),
    ]
    for label, count, what in lines:
        console.print(f"  {label:<19}{count:>8,}  {what}", highlight=False)
    refused = ", ".join(f"{n} x {code}" for code, n in sorted(traffic.refused.items()))
    if refused:
        console.print(f"  refused requests: {refused}", highlight=False)
    console.print("the batch path's marts, by the same dbt models:", highlight=False)
    for mart in MARTS:
        rows = result.marts.get(mart)
        shown = "  not built" if rows is None else f"{rows:>8,}  row{'' if rows == 1 else 's'}"
        console.print(f"  {mart:<19}{shown}", highlight=False)
    transform = result.run.transform
    if transform is not None:
        passed = sum(1 for t in transform.tests if t.status == "pass")
        console.print(f"  dbt tests: {passed} of {len(transform.tests)} passed", highlight=False)
    for day, day_lines, net in result.revenue:
        console.print(f"  daily_revenue {day}: {day_lines:,} lines, net {net}", highlight=False)
    console.print(
        f"done in {result.seconds:.1f}s. Query it: shopflow query -c {result.config} "
        "'SELECT * FROM analytics.daily_revenue'",
        highlight=False,
    )
    return 0 if result.ok else 1
