# mypy: disable-error-code="import-untyped"
# (psutil ships no types; shopflow's venv has it, not its stubs)
"""Print the results table and append it to RESULTS.md with the machine and versions."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil


@dataclass
class Result:
    """One case, one tool: the best of its runs."""

    case: str
    tool: str
    rows: int
    seconds: float
    peak_rss_mb: float
    cpu_seconds: float = 0.0
    error: str | None = None
    timed_out: bool = False  # killed at the time limit: `seconds` is a lower bound
    input_bytes: int = 0  # the JSON the case reads (B3, B6): its MB/s is shown beside rows/s

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    @property
    def mb_per_second(self) -> float:
        return self.input_bytes / 1e6 / self.seconds if self.seconds else 0.0

    @property
    def throughput(self) -> str:
        """rows/s, and MB/s of JSON where the case reads JSON files."""
        mb = f" ({self.mb_per_second:,.1f} MB/s)" if self.input_bytes and self.seconds else ""
        return f"{self.rows_per_second:,.0f}{mb}"


def table(results: list[Result]) -> str:
    """A Markdown table; `vs shopflow` is how many times longer the tool took than shopflow."""
    lines = [
        "| case | tool | rows | seconds | rows/s | CPU s | peak RSS MB | vs shopflow |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    fastest = {r.case: r.seconds for r in results if r.tool == "shopflow" and not r.error}
    for r in results:
        base = fastest.get(r.case)
        if r.timed_out:
            ratio = f"> {r.seconds / base:.1f}x" if base else "-"
            lines.append(f"| {r.case} | {r.tool} | {r.rows:,} | > {r.seconds:.0f} (stopped) | "
                         f"< {r.rows_per_second:,.0f} | > {r.cpu_seconds:.1f} | {r.peak_rss_mb:.0f} | {ratio} |")
            continue
        if r.error:
            lines.append(f"| {r.case} | {r.tool} | - | - | - | - | - | failed: {_cell(r.error)[:160]} |")
            continue
        ratio = f"{r.seconds / base:.1f}x" if base else "-"
        lines.append(
            f"| {r.case} | {r.tool} | {r.rows:,} | {r.seconds:.2f} | {r.throughput} | "
            f"{r.cpu_seconds:.1f} | {r.peak_rss_mb:.0f} | {ratio} |"
        )
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ")


def machine(versions: dict[str, str]) -> str:
    memory = psutil.virtual_memory().total / (1 << 30)
    listed = ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))
    system = f"{platform.platform()}, Python {platform.python_version()}"
    return f"{os.cpu_count()} cores, {memory:.0f} GiB, {system}; {listed}"


def append_results(path: Path, title: str, results: list[Result], versions: dict[str, str], notes: list[str]) -> None:
    """Append this run to RESULTS.md: the machine, the versions, notes (command, load) and the table."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    listed = "".join(f"- {note}\n" for note in notes)
    text = f"\n## {stamp}: {title}\n\n{machine(versions)}\n\n{listed}\n{table(results)}\n"
    with open(path, "a", encoding="utf-8") as out:
        out.write(text)
