"""Benchmarks: shopflow side by side with dlt and a pandas pipeline, on the same data and machine.

    python bench/run.py [--quick] [--rows 2000000,10000000] [--cases B1,B2,B3,B4,B5] [--repeat 2]
                        [--orders 1000000] [--days 100] [--totesys-scale 316] [--tools shopflow,dlt]
                        [--note TEXT] [--no-record]

Each case builds its data once with shopflow's demo generators, then runs every tool on it in
a fresh destination, alternating the tools' order between repeats. A tool's time counts only
if what it loaded matches the source (row counts and money sum). The table is printed and
appended to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from competitors import competitor_python, versions  # noqa: E402
from measure import run_measured  # noqa: E402
from model import Case, Tool, tool_env  # noqa: E402
from report import Result, append_results, table  # noqa: E402
from verify import check  # noqa: E402

import sources  # noqa: E402


@dataclass(frozen=True)
class Preset:
    """The defaults of a full run and of --quick."""

    rows: str
    orders: int
    days: int
    totesys_scale: float
    repeat: int
    timeout: float
    invoice_lines: int = 20_000_000


QUICK = Preset(rows="20000", orders=2_000, days=4, totesys_scale=1.0, repeat=1, timeout=300.0,
               invoice_lines=20_000)
FULL = Preset(rows="2000000,10000000", orders=1_000_000, days=100, totesys_scale=316.0,  # x316: ~10M fact rows
              repeat=2, timeout=1200.0)


def destination_for(case: Case, tool: Tool, workdir: Path) -> dict[str, Any]:
    if case.destination == "duckdb":
        return {"kind": "duckdb", "path": str(workdir / "warehouse.duckdb")}
    # Letters, digits and `_` only, and short: PostgreSQL cuts names at 63 bytes, and the name goes in a URL.
    label = re.sub(r"[^A-Za-z0-9]+", "_", tool.label).strip("_")[:30]
    name = sources.database_name(f"dest_{label}")
    return {"kind": "postgres", "url": sources.recreate_database(name), "database": name}


def _tail(text: str, lines: int) -> str:
    return "\n".join("      " + line for line in text.strip().splitlines()[-lines:])


def run_tool(case: Case, tool: Tool, root: Path, loads: list[float], timeout: float) -> Result:
    workdir = Path(tempfile.mkdtemp(prefix=f"{case.name.split(':')[0].replace(' ', '_')}-", dir=root))
    result = Result(case.name, tool.label, case.rows, 0.0, 0.0, input_bytes=case.input_bytes)
    destination = destination_for(case, tool, workdir)
    if tool.prepare:
        try:
            tool.prepare(workdir, destination)
        except Exception as exc:  # reported as this tool's failure in the table
            result.error = str(exc)
            return result
    spec = tool.spec(workdir, destination)
    loads.append(os.getloadavg()[0])
    measured = run_measured([str(tool.python), str(HERE / "tools" / tool.script), json.dumps(spec)],
                            env=tool_env(), cwd=workdir, timeout=timeout)
    result.seconds, result.cpu_seconds = measured.seconds, measured.cpu_seconds
    result.peak_rss_mb = measured.peak_rss_mb
    if measured.timed_out:
        result.timed_out, result.error = True, f"stopped at the time limit, {timeout:.0f} s"
        return result
    lines = [line for line in measured.stdout.splitlines() if line.startswith("RESULT ")]
    if measured.returncode != 0 or not lines:
        result.error = (measured.stderr.strip().splitlines() or ["exit " + str(measured.returncode)])[-1]
        print(_tail(measured.stderr, 15), flush=True)
        return result
    tables = json.loads(lines[-1][len("RESULT "):])["tables"]
    result.error = check(destination, tables, case.truth, case.money, case.main)
    if destination["kind"] == "postgres":
        sources.drop_database(destination["database"])
    shutil.rmtree(workdir, ignore_errors=True)
    return result


def run_case(case: Case, repeat: int, root: Path, loads: list[float], timeout: float) -> list[Result]:
    best: dict[str, Result] = {}
    stopped: set[str] = set()
    for attempt in range(repeat):
        order = case.tools[attempt % len(case.tools):] + case.tools[: attempt % len(case.tools)]
        for tool in order:
            print(f"  {case.name} {tool.label} (run {attempt + 1}/{repeat}) ...", flush=True)
            if tool.label in stopped:  # it hit the time limit once: a second try would too
                continue
            result = run_tool(case, tool, root, loads, timeout)
            if result.timed_out:
                stopped.add(tool.label)
            failed = f"  FAILED: {result.error}" if result.error else ""
            mb = f", {result.mb_per_second:.1f} MB/s of JSON" if case.input_bytes and not failed else ""
            print(f"    {result.seconds:.2f} s, {result.cpu_seconds:.1f} CPU s, {result.peak_rss_mb:.0f} MB"
                  f"{mb}{failed}", flush=True)
            known = best.get(tool.label)
            if known is None or (known.error and not known.timed_out) or (
                    not result.error and result.seconds < known.seconds):
                best[tool.label] = result
    return [best[t.label] for t in case.tools]


def _without_notes(argv: list[str]) -> list[str]:
    """The command line without `--note TEXT` (the notes are listed on their own)."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--note":
            skip = True
        elif not arg.startswith("--note="):
            kept.append(arg)
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small data, one run each: a smoke test of the harness")
    parser.add_argument("--rows", default=None, help="rows of the orders table for B1/B2, comma-separated sizes")
    parser.add_argument("--orders", type=int, default=None, help="B3: orders in the files (default 1,000,000)")
    parser.add_argument("--days", type=int, default=None, help="B3: daily files the orders are spread over (100)")
    parser.add_argument("--totesys-scale", type=float, default=None,
                        help="B4: size of totesys as a multiple of the real snapshot (316: ~10M fact rows)")
    parser.add_argument("--cases", default="B1,B2,B3,B4,B5,B6", help="which cases to run")
    parser.add_argument("--invoice-lines", type=int, default=None,
                        help="B5: lines of the CSV dump read by DuckDB and by Spark (20,000,000)")
    parser.add_argument("--tools", default=None,
                        help="only the tools whose label starts with one of these (comma-separated)")
    parser.add_argument("--repeat", type=int, default=None, help="runs per tool; the best counts (default 2, quick 1)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds a tool may take on one case before it is stopped and shown as '> N s' "
                             "(1200, quick 300)")
    parser.add_argument("--note", action="append", default=[], help="a line to add to RESULTS.md (e.g. the load)")
    parser.add_argument("--no-record", action="store_true", help="do not append to bench/RESULTS.md")
    args = parser.parse_args()
    preset = QUICK if args.quick else FULL
    from cases import Sizes, build_cases

    sizes = Sizes(
        rows=[int(s) for s in (args.rows or preset.rows).split(",")],
        orders=args.orders or preset.orders,
        days=args.days or preset.days,
        totesys_scale=args.totesys_scale or preset.totesys_scale,
        invoice_lines=args.invoice_lines or preset.invoice_lines,
    )
    repeat = args.repeat or preset.repeat
    timeout = args.timeout or preset.timeout
    wanted = {c.strip().upper() for c in args.cases.split(",")}

    sources.check_server()
    competitors = competitor_python(HERE / ".venv-competitors")
    root = Path(tempfile.mkdtemp(prefix="shopflow-bench-"))
    results: list[Result] = []
    loads: list[float] = []
    clock = time.perf_counter()
    try:
        for case in build_cases(wanted, sizes, competitors=competitors, root=root):
            if args.tools:
                case.tools = [t for t in case.tools if t.label.startswith(tuple(args.tools.split(",")))]
            size = f", {case.input_bytes / 1e6:,.1f} MB of JSON" if case.input_bytes else ""
            print(f"{case.name}: {case.rows:,} rows{size}", flush=True)
            results.extend(run_case(case, repeat, root, loads, timeout))
    finally:
        shutil.rmtree(root, ignore_errors=True)
        sources.drop_databases()
    minutes = (time.perf_counter() - clock) / 60
    print()
    print(table(results))
    print(f"\n{minutes:.1f} min in all")
    if not args.no_record:
        import importlib.metadata as meta

        found = versions(competitors)
        found["shopflow"] = meta.version("shopflow")
        for package in ("duckdb", "deltalake", "pyarrow", "dbt-core", "dbt-duckdb"):
            found[f"{package} (shopflow)"] = meta.version(package)
        title = "quick smoke run" if args.quick else "full run" if len(sys.argv) == 1 else "run"
        notes = [
            f"command: `{shlex.join(['python', 'bench/run.py', *_without_notes(sys.argv[1:])])}`",
            f"repeats per tool: {repeat} (best shown); took {minutes:.0f} min",
            f"1-minute load average when each tool started: {min(loads, default=0):.1f} to {max(loads, default=0):.1f}"
            f" on {os.cpu_count()} cores (the machine is shared: a load above the core count slows every tool)",
            *args.note,
        ]
        append_results(HERE / "RESULTS.md", title, results, found, notes)
    # A tool stopped at the time limit is a result in a full run (it is shown as `> N s`); on the
    # small data of --quick (CI's smoke test) every tool must finish and load the truth.
    failed = [r for r in results if r.error and (args.quick or not r.timed_out)]
    if failed:
        print("\nFAILED: " + "; ".join(f"{r.case} {r.tool}: {r.error}" for r in failed), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
