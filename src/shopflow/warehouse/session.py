"""What the shared load logic needs from a warehouse connection, inside one transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import pyarrow as pa

from shopflow.lake.files import LakeFiles

# `columns(TEMP, name)` asks for a temporary table of the session (a staged one).
TEMP = ""


class LoadSession(Protocol):
    """A warehouse connection inside an open transaction.

    Type names (from `columns`, passed to `add_column` and `widen_column`) are the backend's
    own spelling; `warehouse.drift` understands DuckDB's and PostgreSQL's.
    """

    def execute(self, sql: str) -> None:
        """Run one statement."""

    def scalar(self, sql: str) -> Any:
        """Run a query and return the first column of its first row."""

    def changed(self, sql: str) -> int:
        """Run one INSERT or DELETE and return the rows it inserted or deleted."""

    def stage(self, name: str, reader: pa.RecordBatchReader) -> int:
        """Create temporary table `name` from `reader` (plus `_sf_ord`, the row's position); return rows."""

    def stage_files(self, name: str, files: LakeFiles) -> int | None:
        """Stage the rows of `files.batches` in `files` as `name` by scanning the files in place.

        Returns the rows staged, or None if this warehouse cannot read the files (the caller
        then stages through `stage`).
        """

    def load_into(
        self, schema: str, table: str, files: LakeFiles, read: Callable[[], pa.RecordBatchReader | None], *,
        replace: bool,
    ) -> int | None:
        """Write the lake rows of `files` (or of `read()`) straight into `schema.table`; return their count.

        Creates the table if it is missing, empties it first if `replace`. Returns None, having
        changed nothing, if the rows' column types are not exactly the table's: the caller stages them.
        """

    def unstage(self, name: str) -> None:
        """Drop staged relation `name` (a temporary table or view) if it exists."""

    def columns(self, schema: str, table: str) -> dict[str, str] | None:
        """Column name -> SQL type of `schema.table` (`schema` TEMP: a temporary table), or None if missing."""

    def tables(self, schema: str) -> list[str]:
        """Names of the tables in `schema`, sorted."""

    def create_like(self, schema: str, table: str, staged: str, columns: list[str]) -> None:
        """Create `schema.table` with `columns` typed as in temporary table `staged`."""

    def index_keys(self, schema: str, table: str, columns: list[str]) -> None:
        """Make lookups of `schema.table` by `columns` cheap, if this warehouse needs an index for that."""

    def add_column(self, schema: str, table: str, column: str, sql_type: str) -> None:
        """Add a nullable column."""

    def widen_column(self, schema: str, table: str, column: str, sql_type: str) -> None:
        """Change a column to a wider type in place."""
