"""The warehouse interface, and the load job the lake hands to it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar, cast

import pyarrow as pa

from shopflow.config.model import TableConfig
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


@dataclass(frozen=True)
class RowChanges:
    """What a load did to one warehouse table's rows."""

    new: int = 0
    updated: int = 0
    deleted: int = 0

    @property
    def any(self) -> bool:
        """True if the load changed a row."""
        return bool(self.new or self.updated or self.deleted)


@dataclass
class LoadResult:
    """What a load applied.

    Attributes:
        table: The source table.
        lake_version: The last lake version applied.
        rows: Rows inserted per output table (the table and its child tables): new and updated ones.
        quarantined: Records added to `raw._quarantine`.
        widened: Columns whose type was widened.
        added: Columns added.
        before: Rows of each output table before the load (counted for a replace only).
        after: Rows of each output table after it (counted for a replace only).
        inserted: Rows each output table holds from this load.
        removed: Rows each output table held before the load that it removed (replaced by a
            merge, or their file replaced), as the database counted them: a merge or append
            counts what it changed, never the whole table.
        disposition: The table's write disposition.
    """

    table: str
    lake_version: int
    rows: dict[str, int] = field(default_factory=dict)
    quarantined: int = 0
    widened: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    before: dict[str, int] = field(default_factory=dict)
    after: dict[str, int] = field(default_factory=dict)
    inserted: dict[str, int] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)
    disposition: str = "append"

    @property
    def outputs(self) -> set[str]:
        """The output tables this load inserted rows into or removed rows from."""
        return {*self.rows, *self.after, *self.removed}

    def changes(self, output: str, tombstones: int = 0) -> RowChanges:
        """New, updated and deleted rows of output table `output`.

        A row that left the table was updated if a row came in for it, else deleted. The
        counts are exact when a load brings no deletes, or only deletes; for a load that
        brings both, `tombstones` (the deletes the extract found) settles the split.
        """
        before = self.before.get(output, 0)
        inserted = self.inserted.get(output, self.rows.get(output, 0))
        after = self.after.get(output, before + inserted)
        if self.disposition == "replace":  # every row was rewritten: count what the table gained or lost
            new = max(0, after - before)
            return RowChanges(new=new, updated=max(0, inserted - new), deleted=max(0, before - after))
        removed = self.removed.get(output, 0)
        deleted = min(removed, max(tombstones, removed - inserted))
        updated = removed - deleted
        return RowChanges(new=max(0, inserted - updated), updated=updated, deleted=deleted)


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
        from shopflow.warehouse.raw_tables import record_keys

        outputs = [job.table.name, *job.children]

        def work(session: LoadSession) -> LoadResult:
            # A replace rewrites every table it fills, so counting them costs no more; its changes come
            # from the counts. A merge or an append counts only what its statements changed.
            counted = job.table.write_disposition == "replace"
            before = {name: _rows(session, name) for name in outputs} if counted else {}
            result = apply_job(session, job)
            if counted:
                result.before = before
                result.after = {name: _rows(session, name) for name in {*outputs, *result.rows}}
            result.disposition = job.table.write_disposition
            record_keys(session, job.table, job.children)
            return result

        try:
            return self._transaction(work)
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


def _rows(session: LoadSession, table: str, where: str = "") -> int:
    """Rows in `raw.<table>` (that meet `where`); 0 if it does not exist."""
    if session.columns(RAW_SCHEMA, table) is None:
        return 0
    condition = f" WHERE {where}" if where else ""
    return int(session.scalar(f"SELECT count(*) FROM {qualified(RAW_SCHEMA, table)}{condition}") or 0)
