"""The competitors' own virtual environment: dlt (sql_database, filesystem), pandas + SQLAlchemy.

It is kept apart from shopflow's so neither tool's dependencies change the other's. DuckDB is
pinned to shopflow's minor version so both write files the harness can read.
"""

from __future__ import annotations

import fcntl
import hashlib
import subprocess
import sys
import time
from pathlib import Path

REQUIREMENTS = [
    "dlt[duckdb,postgres,sql_database,parquet,filesystem]>=1.20,<2",
    "duckdb>=1.5.5,<1.6",
    "connectorx>=0.4",
    "pandas>=2.2,<3",
    "sqlalchemy>=2",
    "psycopg2-binary>=2.9",
    "psycopg[binary]>=3.2",
    "pyarrow>=18",
]


def competitor_python(folder: Path) -> Path:
    """The competitors' interpreter, installing the environment first if it is missing or stale.

    Two runs in one checkout (CI and a person) wait for each other here instead of installing
    into the same folder at once.
    """
    python = folder / "bin" / "python"
    stamp = folder / ".requirements"
    wanted = hashlib.sha256("\n".join(REQUIREMENTS).encode()).hexdigest()
    folder.resolve().mkdir(parents=True, exist_ok=True)  # the folder may be a symlink to elsewhere
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if python.exists() and stamp.exists() and stamp.read_text() == wanted:
            return python
        print(f"installing the competitors (dlt, pandas) into {folder} ...", flush=True)
        started = time.perf_counter()
        stamp.unlink(missing_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *REQUIREMENTS], check=True)
        stamp.write_text(wanted)
        print(f"installed the competitors in {time.perf_counter() - started:.0f} s", flush=True)
    return python


def versions(python: Path) -> dict[str, str]:
    """Versions of the competitor packages, for the results file."""
    script = (
        "import importlib.metadata as m, json;"
        "print(json.dumps({p: m.version(p) for p in ['dlt', 'pandas', 'sqlalchemy', 'connectorx', 'duckdb']}))"
    )
    out = subprocess.run([str(python), "-c", script], check=True, capture_output=True, text=True).stdout
    import json

    return dict(json.loads(out))
