"""Which warehouse backend a pipeline uses: the one place that knows every backend.

`warehouse.base` holds the interface only; the backends import it, and this module imports
the backends (lazily, so a DuckDB pipeline never loads the PostgreSQL driver).
"""

from __future__ import annotations

from shopflow.config.model import WarehouseConfig
from shopflow.warehouse.base import Warehouse


def open_warehouse(config: WarehouseConfig, *, read_only: bool = False) -> Warehouse:
    """Open the configured warehouse: a DuckDB file or a PostgreSQL database.

    Opened for writing, it is locked against a second run (DuckDB's file lock, a PostgreSQL
    advisory lock); `read_only` takes no lock.
    """
    if config.type == "postgres":
        from shopflow.warehouse.postgres import PostgresWarehouse

        return PostgresWarehouse(config, read_only=read_only)
    from shopflow.warehouse.duckdb import DuckDBWarehouse

    return DuckDBWarehouse(config.path, read_only=read_only)
