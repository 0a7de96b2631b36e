"""DuckDB connections with the extensions shopflow needs, loaded from their PyPI wheels.

The extension wheels (`duckdb-extension-*`) carry the binaries, so nothing is downloaded at
run time and shopflow works offline.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from shopflow.errors import ShopflowError

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)


def connect(database: str = ":memory:", extensions: Iterable[str] = ("json", "icu")) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB connection and load `extensions`.

    Args:
        database: A file path, or `:memory:`.
        extensions: Extension names, e.g. `json`, `icu`, `excel`.
    """
    import duckdb

    con = duckdb.connect(database)
    for name in extensions:
        load_extension(con, name)
    con.execute("SET TimeZone = 'UTC'")
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
