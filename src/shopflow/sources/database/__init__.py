"""Database sources: PostgreSQL, MySQL/MariaDB and SQLite tables, read through DuckDB's scanners."""

from shopflow.sources.database.catalog import DELETED, ResolvedTable, resolve_tables
from shopflow.sources.database.session import SourceSession
from shopflow.sources.database.watermark import Watermark

__all__ = ["DELETED", "ResolvedTable", "SourceSession", "Watermark", "resolve_tables"]
