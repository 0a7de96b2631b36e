"""Start-up: how long `shopflow run` takes when there is nothing to do (issue 17, target 5: < 1 s).

For each example (glossier: files; shop_db: a PostgreSQL source; totesys: 11 PostgreSQL tables)
the script copies it into a temporary folder with `shopflow init --example`, runs it once to
load its data and build its models (not timed), then times N more runs of the unchanged
pipeline: each is a fresh `shopflow run` process, as a user or a scheduler starts it. It also
times `python -c "import shopflow.cli.main"` (the CLI's import) against a bare interpreter.

    python bench/startup.py --no-record            # 5 timed runs per example, printed only
    python bench/startup.py --repeat 10 --examples glossier

The databases are created as `sfstartup_<pid>_<example>` on the PostgreSQL at
127.0.0.1:5432 (user postgres) and dropped at the end; without `--no-record` the table is
appended to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
SERVER = "postgresql://postgres@127.0.0.1:5432"
EXAMPLES = ("glossier", "shop_db", "totesys")
TARGET_S = 1.0


@dataclass
class Timing:
    """The timed runs of one command: wall seconds and CPU seconds (user + system) of each."""

    label: str
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    note: str = ""

    def row(self) -> str:
        median, best = statistics.median(self.wall), min(self.wall)
        met = "yes" if median < TARGET_S else "no"
        return (
            f"| {self.label} | {len(self.wall)} | {median:.3f} | {best:.3f} | {statistics.median(self.cpu):.3f} "
            f"| {met} | {self.note} |"
        )


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Run `command` to its end; (wall seconds, CPU seconds of the child). Raises if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} in {cwd} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def shopflow() -> str:
    """The `shopflow` command of this interpreter's environment."""
    found = Path(sys.executable).with_name("shopflow")
    return str(found) if found.exists() else "shopflow"


def admin(sql: str, database: str = "postgres") -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/{database}", autocommit=True) as con:
        con.execute(sql)


def prepare(example: str, root: Path, env: dict[str, str], created: list[str]) -> tuple[Path, dict[str, str]]:
    """Copy `example` into `root`, give it a source database if it reads one; (its folder, its environment)."""
    folder = root / example
    subprocess.run([shopflow(), "init", "--example", example, str(folder)], check=True, capture_output=True, env=env)
    env = dict(env)
    if example in ("shop_db", "totesys"):
        database = f"sfstartup_{os.getpid()}_{example}"
        admin(f'DROP DATABASE IF EXISTS "{database}"')
        admin(f'CREATE DATABASE "{database}"')
        created.append(database)
        url = f"{SERVER}/{database}"
        if example == "shop_db":
            import psycopg

            with psycopg.connect(url, autocommit=True) as con:
                for script in ("schema.sql", "seed.sql"):
                    con.execute((folder / script).read_text(encoding="utf-8"))
            env["SHOP_DATABASE_URL"] = url
        else:
            from shopflow.demo.generators.totesys_snapshot import load_snapshot

            load_snapshot(url)
            env["TOTESYS_DATABASE"] = database
    return folder, env


def import_time(repeat: int, env: dict[str, str]) -> list[Timing]:
    """`import shopflow.cli.main` and a bare interpreter, `repeat` fresh processes each."""
    results = []
    for label, code in (
        ("python -c pass (interpreter alone)", "pass"),
        ("python -c 'import shopflow.cli.main'", "import shopflow.cli.main"),
    ):
        timing = Timing(label)
        for _ in range(repeat):
            wall, cpu = timed([sys.executable, "-c", code], Path.cwd(), env)
            timing.wall.append(wall)
            timing.cpu.append(cpu)
        results.append(timing)
    extra = statistics.median(results[1].wall) - statistics.median(results[0].wall)
    results[1].note = f"{extra:.3f} s over the interpreter"
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="timed no-change runs per example (default 5)")
    parser.add_argument("--examples", default=",".join(EXAMPLES), help="comma-separated, of: " + ", ".join(EXAMPLES))
    parser.add_argument("--note", action="append", default=[], help="a line to add to RESULTS.md (e.g. the load)")
    parser.add_argument("--no-record", action="store_true", help="do not append to bench/RESULTS.md")
    args = parser.parse_args()
    wanted = [e.strip() for e in args.examples.split(",") if e.strip()]
    unknown = set(wanted) - set(EXAMPLES)
    if unknown:
        parser.error(f"unknown examples: {', '.join(sorted(unknown))}")
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    for name in ("SHOPFLOW_LAKE", "SHOPFLOW_WAREHOUSE", "SHOPFLOW_CONFIG"):  # each example keeps its own
        env.pop(name, None)
    root = Path(tempfile.mkdtemp(prefix="shopflow-startup-"))
    created: list[str] = []
    results = import_time(args.repeat, env)
    loads = [os.getloadavg()[0]]
    try:
        for example in wanted:
            folder, run_env = prepare(example, root, env, created)
            first, _ = timed([shopflow(), "run"], folder, run_env)  # loads the data and builds the models
            timing = Timing(f"`shopflow run` {example}, nothing new", note=f"first run {first:.1f} s")
            for _ in range(args.repeat):
                loads.append(os.getloadavg()[0])
                wall, cpu = timed([shopflow(), "run"], folder, run_env)
                timing.wall.append(wall)
                timing.cpu.append(cpu)
            results.append(timing)
            print(timing.row(), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        for database in created:
            admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    lines = [
        f"| what | runs | median s | min s | median CPU s | < {TARGET_S:.0f} s | note |",
        "|---|---:|---:|---:|---:|---|---|",
        *(t.row() for t in results),
    ]
    text = "\n".join(lines)
    print()
    print(text)
    print(f"\n1-minute load average while timing: {min(loads):.1f} to {max(loads):.1f} on {os.cpu_count()} cores")
    if not args.no_record:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        notes = [
            f"command: `python bench/startup.py {' '.join(sys.argv[1:])}`",
            f"1-minute load average while timing: {min(loads):.1f} to {max(loads):.1f} on {os.cpu_count()} cores",
            *args.note,
        ]
        listed = "".join(f"- {n}\n" for n in notes)
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as out:
            out.write(f"\n## {stamp}: start-up, `shopflow run` with nothing new\n\n{listed}\n{text}\n")


if __name__ == "__main__":
    main()
