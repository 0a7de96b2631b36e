"""`shopflow demo --stream`: the Online Retail stream path with simulated stores, and its counts."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console


def run_stream(console: Console, folder: Path, seed: int | None) -> int:
    """Run the stream demo in `folder`, print what was posted, accepted, dropped and loaded; the exit code."""
    from shopflow.demo.showcase.stream import run_stream_demo

    with console.status("stores posting invoice lines to the ingest API, then the micro-batch and dbt"):
        result = run_stream_demo(folder, seed=42 if seed is None else seed)
    traffic = result.traffic
    console.print(f"[bold]online_retail_stream[/]: {traffic.requests} requests from the "
                  f"simulated stores in {traffic.seconds:.1f}s", highlight=False)
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
    for day, day_lines, net in result.revenue:
        console.print(f"  revenue_by_day {day}: {day_lines:,} lines, net {net}", highlight=False)
    console.print(f"done in {result.seconds:.1f}s. Query it: shopflow query -c {result.config} "
                  "'SELECT * FROM analytics.revenue_by_day'", highlight=False)
    return 0 if result.ok else 1
