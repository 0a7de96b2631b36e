"""Warehouses behind one interface: DuckDB (embedded default); PostgreSQL plugs in the same way."""

from shopflow.warehouse.base import LoadJob, LoadResult, Warehouse
from shopflow.warehouse.factory import open_warehouse

__all__ = ["LoadJob", "LoadResult", "Warehouse", "open_warehouse"]
