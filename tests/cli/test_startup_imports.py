"""Start-up stays lean: `shopflow --help` and a run with nothing new import none of the heavy packages.

Each check starts a fresh interpreter, as a user or a scheduler does, and lists which of the
heavy packages it imported by the end: dbt only when models are built, the HTTP stack only for
`serve`/`ingest`/`dashboard`, Spark only for `engine: spark`, pandas never (DuckDB's Python
client imports it when it binds a parameter, which shopflow's own small queries avoid).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.transform.test_raw_source import shop

HEAVY = ("dbt", "fastapi", "uvicorn", "starlette", "pyspark", "pandas", "plotly", "jinja2", "httpx")
# Runs the CLI as the `shopflow` script does, then prints the heavy packages the process imported.
PROBE = """
import atexit, json, sys
atexit.register(lambda: print("IMPORTED " + json.dumps(sorted(
    m for m in {heavy} if m in sys.modules)), file=sys.stderr))
sys.argv = ["shopflow", *{argv}]
from shopflow.cli.main import main
main()
"""


def imported(argv: list[str], cwd: Path) -> tuple[int, str, list[str]]:
    """(exit code, stdout, heavy packages imported) of `shopflow ARGV` in a fresh interpreter."""
    code = PROBE.format(heavy=repr(HEAVY), argv=repr(argv))
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    line = next(x for x in done.stderr.splitlines() if x.startswith("IMPORTED "))
    return done.returncode, done.stdout, json.loads(line.removeprefix("IMPORTED "))


def test_help_imports_no_heavy_package(tmp_path: Path) -> None:
    code, out, heavy = imported(["--help"], tmp_path)
    assert code == 0 and "run" in out
    assert heavy == []
    _, _, light = imported(["--version"], tmp_path)
    assert light == []


def test_a_run_with_nothing_new_imports_neither_dbt_nor_pandas_nor_the_http_stack(tmp_path: Path) -> None:
    config = shop(tmp_path, {"type": "duckdb", "path": str(tmp_path / "warehouse.duckdb")})
    code, out, heavy = imported(["run", "-c", str(config)], tmp_path)
    assert code == 0 and "3 built" in out  # the first run loads the files and builds the models
    assert "dbt" in heavy

    code, out, heavy = imported(["run", "-c", str(config)], tmp_path)

    assert code == 0 and "nothing built" in out
    assert heavy == []


def test_inlined_parameters_give_what_binding_gives_without_importing_pandas(tmp_path: Path) -> None:
    # The values shopflow's small queries bind, through `shopflow.sql.inline`, against DuckDB's own binding.
    code = """
import sys, json, duckdb
from datetime import date, datetime, timedelta, timezone
from shopflow.sql import inline
values = [None, True, 0, -7, 2**62, "it's a ?", "", datetime(2024, 1, 2, 3, 4, 5, 6),
          datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5))), date(2020, 2, 29)]
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
sql = "SELECT ?, typeof(?) /* ? */, '?' AS \\"?\\" -- ?\\n"
inlined = [con.execute(*inline(sql, [v, v])).fetchall()[0] for v in values]
leftover = [inline(sql, [v, v])[1] for v in values]
clean = "pandas" not in sys.modules
bound = [con.execute(sql, [v, v]).fetchall()[0] for v in values]
print(json.dumps([clean, leftover, [str(r) for r in inlined], [str(r) for r in bound]]))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    clean, leftover, inlined, bound = json.loads(done.stdout)
    assert clean and all(rest == [] for rest in leftover)
    assert inlined == bound
