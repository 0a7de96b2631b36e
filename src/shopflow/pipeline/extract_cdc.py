"""Extract PostgreSQL tables into the lake by change data capture (logical replication), exactly once.

First run: the publication and the slot are created; the slot exports a snapshot that sees
exactly the transactions before its consistent point, each table is copied inside it and
committed to the lake with that point as its watermark. Later runs read the slot's changes
(inserts, updates, deletes, in commit order), commit them per table with the batch's end as
watermark, and only then advance the slot to that end.

Exactly once: a table's lake commit and its watermark land together (one Delta commit), and
the slot moves only after every table's commit landed. A run killed between the two finds
the slot behind: it reads those transactions again and each table skips those that committed
before its own watermark, which are exactly those its lake already holds. A table added
later (or whose first copy a crash interrupted) is copied in the snapshot of a temporary slot
and skips the changes before that snapshot the same way.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from shopflow.config.model import PipelineConfig
from shopflow.errors import SchemaDriftError, SourceError
from shopflow.faults import checkpoint
from shopflow.lake.ledger import Commit
from shopflow.lake.schema import conformed_reader, target_schema
from shopflow.lake.table import LakeTable
from shopflow.pipeline.layout import LakeLayout
from shopflow.pipeline.spool import Spool
from shopflow.sources.cdc import slot
from shopflow.sources.cdc.changes import UNCHANGED_COLUMN, ChangeCollector, TableState, lake_names
from shopflow.sources.cdc.peek import peek_changes
from shopflow.sources.cdc.settings import CdcSettings, CdcTable, format_lsn, parse_lsn
from shopflow.sources.cdc.snapshot import snapshot_copy
from shopflow.sources.cdc.toast import filled

if TYPE_CHECKING:
    import duckdb
    import psycopg

log = logging.getLogger(__name__)


@dataclass
class CdcTableResult:
    """What one run did to one captured table."""

    table: str
    snapshot_rows: int = 0
    changes: int = 0
    commits: int = 0
    watermark: str | None = None
    primary_key: list[str] = field(default_factory=list)


@dataclass
class CdcRun:
    """What one run did: per table, and the slot's position and retained WAL afterwards."""

    tables: dict[str, CdcTableResult]
    position: str | None = None
    lag_bytes: int | None = None


def table_watermark(layout: LakeLayout) -> int | None:
    """The LSN up to which `layout`'s lake table holds the source's changes, or None before its first copy."""
    marks = [parse_lsn(c.watermark) for c in layout.main.commits() if c.watermark]
    return max(marks) if marks else None


def extract_cdc(
    con: duckdb.DuckDBPyConnection, config: PipelineConfig, source_name: str, settings: CdcSettings, run_id: str
) -> CdcRun:
    """Bring every captured table's lake table up to date with the database; see the module doc."""
    extraction = _Extraction(con, config, source_name, settings, run_id)
    with slot.connect(settings) as pg:
        slot.check_server(pg)
        extraction.prepare(pg)
        extraction.copy_missing(pg)
        extraction.stream(pg)
        state = slot.slot_state(pg, settings.slot)
        extraction.run.position = format_lsn(state.confirmed_flush) if state else None
        extraction.run.lag_bytes = slot.check_lag(pg, settings)
    return extraction.run


class _Extraction:
    """One run's state: lake tables, watermarks, table definitions, results."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, config: PipelineConfig, source: str, settings: CdcSettings, run_id: str
    ) -> None:
        self.con = con
        self.settings = settings
        self.run_id = run_id
        self.layouts = {t.name: LakeLayout(config, source, t.name) for t in settings.tables}
        self.watermarks = {t.name: table_watermark(self.layouts[t.name]) for t in settings.tables}
        self.run = CdcRun({t.name: CdcTableResult(t.name) for t in settings.tables})
        self.infos: dict[str, slot.TableInfo] = {}

    def prepare(self, pg: psycopg.Connection[tuple[Any, ...]]) -> None:
        """Read the tables' definitions and make sure the publication covers them."""
        for table in self.settings.tables:
            info = slot.table_info(pg, table)
            self.infos[table.name] = info
            names = dict(zip([c.name for c in info.columns], lake_names(table, info.columns), strict=True))
            self.run.tables[table.name].primary_key = [names[k] for k in info.key]
        slot.ensure_publication(pg, self.settings, self.infos)

    def copy_missing(self, pg: psycopg.Connection[tuple[Any, ...]]) -> None:
        """Copy the tables the lake does not hold yet, in a snapshot that meets the slot's changes exactly."""
        missing = [t for t in self.settings.tables if self.watermarks[t.name] is None]
        if slot.slot_state(pg, self.settings.slot) is None:
            copied = [t.qualified for t in self.settings.tables if t not in missing]
            if copied:
                raise SourceError(
                    f"replication slot {self.settings.slot} is gone, but the lake holds changes of "
                    f"{', '.join(copied)}: the changes made since the slot was dropped cannot be read any more",
                    fix=("copy the tables afresh: delete their lake folders and raw tables and run again (or point the "
                         "source at a new slot name and new table names)"),
                )
            with slot.exported_snapshot(self.settings, self.settings.slot, temporary=False) as snapshot:
                self._copy(missing, snapshot)
        elif missing:
            name = slot.temporary_slot_name(self.settings.slot)
            with slot.exported_snapshot(self.settings, name, temporary=True) as snapshot:
                self._copy(missing, snapshot)

    def _copy(self, tables: list[CdcTable], snapshot: slot.ExportedSnapshot) -> None:
        with snapshot_copy(self.con, self.settings, snapshot) as copy:
            for table in tables:
                reader = copy.read(table, self.infos[table.name])
                rows = self._commit(table, reader, snapshot.consistent_point, separate_ledger=True)
                self.run.tables[table.name].snapshot_rows += rows
                log.info("copied %s rows of %s at %s", rows, table.qualified, format_lsn(snapshot.consistent_point))

    def stream(self, pg: psycopg.Connection[tuple[Any, ...]]) -> None:
        """Commit the changes made before this run started, batch by batch; confirm each batch after its commits."""
        upto = slot.current_flush_lsn(pg)
        states = {
            (t.schema, t.table): TableState(t, self.watermarks[t.name] or 0, self.infos[t.name].key)
            for t in self.settings.tables
        }
        while True:
            spool = Spool()  # the batch's rows wait on local disk until their commit: memory stays flat
            try:
                collector = ChangeCollector(self.con, states, spool.add)
                messages = peek_changes(pg, self.settings, collector.add, upto)
                spool.keep_segment()
                # Fewer messages than asked for: every transaction before `upto` was read.
                done = messages < self.settings.max_changes_per_batch
                end = upto if done or collector.last_end_lsn is None else collector.last_end_lsn
                for state in states.values():
                    if state.table.name in spool.outputs():
                        self._commit_changes(state, spool, end)
                    state.changes = state.unchanged = 0
            finally:
                spool.close()
            confirmed = slot.slot_state(pg, self.settings.slot)
            if confirmed is not None and end > confirmed.confirmed_flush:
                slot.advance(pg, self.settings.slot, end)
            if done:
                return

    def _commit_changes(self, state: TableState, spool: Spool, end: int) -> None:
        table = state.table
        try:  # a column added or retyped midway: one schema for the commit
            schema = pa.unify_schemas(spool.schemas(table.name), promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise SchemaDriftError(
                f"a column of {table.qualified} changed type to one its earlier values do not fit: {exc}",
                fix="keep the old type or add a new column instead; the changes were not consumed", table=table.name,
            ) from exc
        reader = conformed_reader(spool.batches(table.name), schema, table=table.name)
        result = self.run.tables[table.name]
        if state.unchanged:
            with filled(self.con, self.layouts[table.name].main, result.primary_key, reader,
                        self.settings.batch_rows) as complete:
                self._commit(table, complete, end, rows=state.changes)
        else:
            self._commit(table, reader, end, rows=state.changes)
        result.changes += state.changes
        state.watermark = end

    def _commit(
        self, table: CdcTable, data: pa.RecordBatchReader, watermark: int, *, rows: int = 0,
        separate_ledger: bool = False,
    ) -> int:
        """Append `data` to the table's lake table with the ledger commit carrying `watermark`; return its rows.

        With `separate_ledger` (a snapshot, whose size is known only once read) the rows go in a
        commit of their own and an empty ledger commit follows: until it lands, no ledger names
        their batch, so a copy cut short is never loaded.
        """
        lake = self.layouts[table.name].main
        now = datetime.now(UTC)
        batch = uuid.uuid4().hex
        constants = {
            "_sf_batch": pa.scalar(batch, pa.string()),
            "_sf_file": pa.scalar(f"postgres:{table.qualified}", pa.string()),
            "_sf_load_date": pa.scalar(now.strftime("%Y-%m-%d"), pa.string()),
            "_sf_loaded_at": pa.scalar(now, pa.timestamp("us", tz="UTC")),
        }
        if separate_ledger:
            rows = _append(lake, data, constants, {"shopflow.output_of": batch})
            data = pa.RecordBatchReader.from_batches(data.schema, iter(()))
        commit = Commit(version=-1, batch=batch, run=self.run_id, outputs={table.name: rows},
                        watermark=format_lsn(watermark))
        _append(lake, data, constants, commit.to_metadata())
        result = self.run.tables[table.name]
        result.commits += 1
        result.watermark = format_lsn(watermark)
        self.watermarks[table.name] = watermark
        checkpoint("lake_committed")
        return rows


def _append(lake: LakeTable, data: pa.RecordBatchReader, constants: dict[str, pa.Scalar], meta: dict[str, str]) -> int:
    """Append `data` plus the constant lake columns to `lake` in one Delta commit; return the rows."""
    keep = [f for f in data.schema if f.name != UNCHANGED_COLUMN]
    schema = pa.schema([*keep, *(pa.field(k, v.type) for k, v in constants.items())])
    target = target_schema(schema, lake.schema())
    rows = 0

    def batches() -> Iterator[pa.RecordBatch]:
        nonlocal rows
        for b in data:
            rows += b.num_rows
            arrays = [b.column(f.name) for f in keep] + [pa.repeat(v, b.num_rows) for v in constants.values()]
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)

    lake.append(conformed_reader(batches(), target, table=lake.name), meta)
    return rows
