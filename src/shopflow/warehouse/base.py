"""The warehouse interface, and the load job the lake hands to it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar, cast

import pyarrow as pa

from shopflow.config.model import TableConfig, WarehouseConfig
from shopflow.errors import WarehouseError
from shopflow.lake.files import LakeFiles
from shopflow.lake.ledger import Commit
from shopflow.sql import qualified
from shopflow.warehouse.session import LoadSession

RAW_SCHEMA = "raw"
STATE_SCHEMA = "_shopflow"

# (output table, batch ids) -> the lake rows of those batches, streamed; None if none exist.
LakeReader = Callable[[str, list[str]], pa.RecordBatchReader | None]
# (output table, batch ids) -> the lake files holding those batches; None if the table does not exist.
LakeFileLister = Callable[[str, list[str]], LakeFiles | None]

T = TypeVar("T")


@dataclass
class LoadJob:
    """The lake commits of one source table that the warehouse has not applied yet.

    Attributes:
        table: The table's settings (disposition, primary key, cursor, delete column).
        lake_key: Identifies the main lake table, e.g. `glossier/orders`.
        commits: Pending commits, oldest first.
        read: Opens the lake rows of an output table for some batches.
        files: Lists the lake files of an output table for some batches, for a warehouse
            that scans Parquet in place; without it every warehouse reads through `read`.
    """

    table: TableConfig
    lake_key: str
    commits: list[Commit]
    read: LakeReader
    files: LakeFileLister | None = None

    @property
    def children(self) -> list[str]:
        """Child tables named by any pending commit, in a stable order."""
        names = {name for c in self.commits for name in c.outputs if name != self.table.name}
        return sorted(n for n in names if not n.startswith("_"))


@dataclass
class LoadResult:
    """What a load applied."""

    table: str
    lake_version: int
    rows: dict[str, int] = field(default_factory=dict)
    quarantined: int = 0
    widened: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)


class Warehouse(ABC):
    """A database that holds `raw.<table>`, `raw._quarantine` and shopflow's load ledger.

    A backend supplies the connection: `table_exists`, `query`, and for `load` its own
    transaction (`_transaction`) and driver error type (`_is_driver_error`).
    """

    def load(self, job: LoadJob) -> LoadResult:
        """Apply `job` in one transaction, the ledger row included; all or nothing.

        Raises:
            WarehouseError: The database refused a statement or the connection broke; names the table.
            SchemaDriftError: The new data changes a column in a way that cannot be applied in place.
        """
        from shopflow.warehouse.apply import apply_job  # apply imports this module

        try:
            return self._transaction(lambda session: apply_job(session, job))
        except Exception as exc:
            if self._is_driver_error(exc):
                raise WarehouseError(
                    f"loading raw.{job.table.name} failed: {self._driver_error_text(exc)}", table=job.table.name
                ) from exc
            raise

    def applied_version(self, lake_key: str) -> int:
        """The last lake version applied for `lake_key`, or -1."""
        if not self.table_exists(STATE_SCHEMA, "loads"):
            return -1
        rows = self.query(f"SELECT max(lake_version) FROM {qualified(STATE_SCHEMA, 'loads')} WHERE lake_key = ?",
                          [lake_key])
        return -1 if not rows or rows[0][0] is None else int(cast(int, rows[0][0]))

    def row_count(self, table: str) -> int | None:
        """Rows in `raw.<table>`, or None if it does not exist."""
        if not self.table_exists(RAW_SCHEMA, table):
            return None
        rows = self.query(f"SELECT count(*) FROM {qualified(RAW_SCHEMA, table)}")
        return int(cast(int, rows[0][0])) if rows else 0

    @abstractmethod
    def table_exists(self, schema: str, table: str) -> bool:
        """True if the table `schema.table` exists."""

    @abstractmethod
    def query(self, sql: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
        """Run a query and return its rows (for status, run history and tests)."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""

    @abstractmethod
    def _transaction(self, work: Callable[[LoadSession], T]) -> T:
        """Run `work(session)` between BEGIN and COMMIT; roll back and re-raise if it raises."""

    @abstractmethod
    def _is_driver_error(self, exc: BaseException) -> bool:
        """True if `exc` is the database driver's: the server refused a statement or the connection broke."""

    def _driver_error_text(self, exc: BaseException) -> str:
        """`exc` as a load failure quotes it."""
        return str(exc)

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
