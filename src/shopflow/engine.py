"""DuckDB connections with the extensions shopflow needs, loaded from their PyPI wheels.

The extension wheels (`duckdb-extension-*`) carry the binaries, so nothing is downloaded at
run time and shopflow works offline.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from shopflow.errors import ShopflowError

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

# DuckDB would use 80% of RAM before spilling to disk; shopflow keeps memory flat instead.
MEMORY_LIMIT_ENV = "SHOPFLOW_DUCKDB_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "1GB"


def connect(database: str = ":memory:", extensions: Iterable[str] = ("json", "icu")) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB connection and load `extensions`.

    Args:
        database: A file path, or `:memory:`.
        extensions: Extension names, e.g. `json`, `icu`, `excel`.

    Memory is capped at $SHOPFLOW_DUCKDB_MEMORY_LIMIT (1GB by default); past it DuckDB spills
    to its temporary directory.
    """
    import duckdb

    con = duckdb.connect(database)
    for name in extensions:
        load_extension(con, name)
    con.execute("SET TimeZone = 'UTC'")
    limit = os.environ.get(MEMORY_LIMIT_ENV, DEFAULT_MEMORY_LIMIT)
    try:
        con.execute(f"SET memory_limit = '{limit.replace(chr(39), '')}'")
    except duckdb.Error as exc:
        raise ShopflowError(
            f"{MEMORY_LIMIT_ENV}={limit!r} is not a memory size DuckDB understands",
            fix=f"set {MEMORY_LIMIT_ENV} to a size such as 512MB or 2GB",
        ) from exc
    if database == ":memory:":  # a file database spills next to its file; an in-memory one needs a folder
        spill = Path(tempfile.gettempdir()) / "shopflow-duckdb-spill"
        con.execute(f"SET temp_directory = '{str(spill).replace(chr(39), chr(39) * 2)}'")
    return con


def load_extension(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Load one extension, installing it from its wheel the first time."""
    import duckdb

    try:
        con.load_extension(name)
        return
    except duckdb.Error:
        pass
    try:
        import duckdb_extensions

        duckdb_extensions.import_extension(name, con=con)
        con.load_extension(name)
    except (ImportError, ModuleNotFoundError, duckdb.Error) as exc:
        raise ShopflowError(
            f"DuckDB extension {name!r} is not available: {exc}",
            fix=f"pip install 'duckdb-extension-{name.replace('_', '-')}>=1.5,<1.6'",
        ) from exc
    log.debug("loaded DuckDB extension %s", name)
