"""Extract a database table into the lake: all of it (full), or its rows past the watermark.

Per table and run, the rows (and any reconcile tombstones) are appended to the main lake table
in a commit that is not a ledger commit; then an empty commit carrying the ledger `Commit`
(the batch, its row count, the new watermark) follows. Only that second commit makes the rows
count: a run killed before it leaves rows of a batch no ledger commit names, which are never
loaded, and the next run reads from the old watermark again. Into a local lake DuckDB writes the
rows' Parquet files itself (`extract_copy`); otherwise rows stream from DuckDB's scanner to
delta-rs as Arrow record batches. Either way memory stays flat whatever the table's size.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from shopflow import quarantine
from shopflow.config.model import PipelineConfig
from shopflow.errors import LakeError
from shopflow.faults import checkpoint
from shopflow.lake.ledger import Commit, replanned
from shopflow.lake.schema import conformed_reader, target_schema
from shopflow.lake.table import PARTITION
from shopflow.lake.written import commit_written
from shopflow.pipeline.extract_copy import copy_rows, copy_schema
from shopflow.pipeline.layout import LakeLayout
from shopflow.sources.database import nul_rows
from shopflow.sources.database.catalog import ResolvedTable
from shopflow.sources.database.query import Stamp, nul_rows_sql, rows_sql
from shopflow.sources.database.reconcile import TOMBSTONES, stage_tombstones
from shopflow.sources.database.session import SourceSession
from shopflow.sources.database.sqlite import retry_as_text, typed_again
from shopflow.sources.database.watermark import Watermark, advance, cursor_kind

log = logging.getLogger(__name__)

BATCH_ROWS = 122_880  # a multiple of DuckDB's vector size


@dataclass
class DatabaseExtract:
    """What extracting one database table did."""

    table: str
    rows: int = 0
    deleted: int = 0
    committed: bool = False
    watermark: str | None = None
    text_columns: list[str] = field(default_factory=list)
    quarantined: int = 0


@dataclass
class _Stream:
    """Counts and the highest cursor value of the rows streamed so far, and the error that stopped them."""

    rows: int = 0
    deleted: int = 0
    highest: Any = None
    error: Exception | None = None
    nul: nul_rows.Quarantined = field(default_factory=nul_rows.Quarantined)  # rows with NUL bytes, quarantined


def extract_database_table(
    session: SourceSession,
    config: PipelineConfig,
    table: ResolvedTable,
    run_id: str,
    on_rows: Callable[[int], None] | None = None,
) -> DatabaseExtract:
    """Extract `table` into the lake in `session`'s snapshot; returns the counts.

    If another run sharing the lake commits the table's ledger first, the table is read again
    from the watermark that run reached, so no row is consumed twice.
    """
    return replanned(table.name, lambda: _extract_from_ledger(session, config, table, run_id, on_rows))


def _extract_from_ledger(
    session: SourceSession, config: PipelineConfig, table: ResolvedTable, run_id: str,
    on_rows: Callable[[int], None] | None,
) -> DatabaseExtract:
    """Read the watermark from the ledger, extract past it; LedgerConflictError if another run commits first."""
    layout = LakeLayout(config, session.source.name, table.name)
    ledger = layout.main.ledger()
    commits = ledger.commits
    previous, kind = _previous_watermark(table, commits)
    stamp = Stamp(uuid.uuid4().hex, f"{session.conn.endpoint.describe()}/{table.schema}.{table.source_table}",
                  datetime.now(UTC))
    tombstones = 0
    if table.settings.reconcile != "off":
        tombstones = stage_tombstones(session, table, layout.main, commits, stamp)
    try:
        stream, target, table = _write_rows(session, layout, table, previous, stamp, tombstones, on_rows)
    finally:
        if session.type == "sqlite":
            typed_again(session)
    watermark = None
    if kind is not None and table.cursor is not None:
        highest = nul_rows.highest(stream.highest, stream.nul.highest)  # quarantined rows are not read again
        watermark = advance(previous, table.cursor.name, kind, highest, session.snapshot)
    result = DatabaseExtract(table.name, stream.rows, stream.deleted, text_columns=table.text_columns,
                             watermark=watermark.describe() if watermark is not None else None,
                             quarantined=stream.nul.rows)
    if result.text_columns:
        log.warning("table %s: %d columns read as text: %s", table.name, len(result.text_columns),
                    "; ".join(result.text_columns))
    # An incremental run that read nothing and moved no watermark commits nothing, unless the
    # table has no lake commit yet: an empty source table still becomes a (typed, empty) table.
    unchanged = watermark is not None and watermark.to_text() == (
        previous or Watermark(watermark.cursor, watermark.kind)).to_text()
    if stream.rows or stream.deleted or stream.nul.rows or not unchanged or not commits:
        outputs = {table.name: stream.rows + stream.deleted}
        if stream.nul.rows:
            outputs[quarantine.TABLE] = stream.nul.rows
        commit = Commit(version=-1, batch=stamp.batch, run=run_id, outputs=outputs, quarantined=stream.nul.rows,
                        watermark=watermark.to_text() if watermark is not None else None)
        layout.main.append(pa.RecordBatchReader.from_batches(target, iter([])), commit.to_metadata(),
                           planned_on=ledger.version)
        result.committed = True
        checkpoint("lake_committed")
    return result


def _previous_watermark(table: ResolvedTable, commits: list[Commit]) -> tuple[Watermark | None, str | None]:
    """The watermark to read from (None: read everything) and the cursor's kind (None: a full extract)."""
    if table.settings.mode != "incremental" or table.cursor is None:
        return None, None
    kind = cursor_kind(table.cursor.sql_type)
    stored = Watermark.from_text(next((c.watermark for c in reversed(commits) if c.watermark), None))
    if stored is not None and (stored.cursor, stored.kind) != (table.cursor.name, kind):
        log.info("table %s: the cursor is now %s; reading the whole table once", table.name, table.cursor.name)
        stored = None
    return stored, kind


def _write_rows(
    session: SourceSession, layout: LakeLayout, table: ResolvedTable, previous: Watermark | None, stamp: Stamp,
    tombstones: int, on_rows: Callable[[int], None] | None,
) -> tuple[_Stream, pa.Schema, ResolvedTable]:
    """Append the rows (and tombstones) to the main lake table in one commit that is not a ledger commit.

    Returns the counts, the lake schema, and the table as finally read (a SQLite table whose values
    do not fit their declared types is read again with those columns as text).
    """
    import duckdb

    con = session.conn.con
    as_text = free_of_nul = False
    while True:
        stream = _Stream()
        if session.type == "postgres":
            # A parallel scan splits the table by pages: right for a whole table, wrong for the few rows
            # an index on the cursor finds.
            con.execute(f"SET pg_use_ctid_scan = {'false' if previous is not None else 'true'}")
        try:
            if free_of_nul:
                _quarantine_nul_rows(session, layout, table, previous, stamp, stream)
            sql = rows_sql(session.type, table, previous, stamp, free_of_nul=free_of_nul)
            copy_target = None if tombstones else copy_schema(con, sql, layout.main)
            if copy_target is not None:
                _copy_rows(con, sql, layout, table, stamp, copy_target, stream, on_rows)
                return stream, copy_target, table
            reader = con.execute(sql).to_arrow_reader(BATCH_ROWS)
            target = target_schema(reader.schema, layout.main.schema())
            batches = _batches(session, table, reader, stream, tombstones, on_rows)
            first = next(batches, None)
            if first is not None:
                rows = conformed_reader(_prepend(first, batches), target, table=table.name)
                layout.main.append(rows, {"shopflow.output_of": stamp.batch})
                checkpoint("outputs_committed")
            return stream, target, table
        except duckdb.Error as exc:
            stream.error = stream.error or exc
        except LakeError:
            if stream.error is None:
                raise
        if not as_text and session.type == "sqlite" and "Mismatch Type" in str(stream.error):
            session.restart()  # the failed read aborted the transaction
            table = retry_as_text(session, table)
            as_text = True
            continue
        if not free_of_nul and nul_rows.failed_on_nul(stream.error):
            session.restart()
            free_of_nul = True  # read again: the rows with NUL bytes to quarantine, the others to the lake
            continue
        raise session.conn.error(stream.error, "read", table.source_table) from stream.error


def _quarantine_nul_rows(
    session: SourceSession, layout: LakeLayout, table: ResolvedTable, previous: Watermark | None, stamp: Stamp,
    stream: _Stream,
) -> None:
    """Append the rows whose text holds a NUL byte to the table's quarantine (not a ledger commit)."""
    origin = quarantine.Origin(layout.config.pipeline, session.source.name, table.name, stamp.batch, stamp.loaded_at)
    batches = nul_rows.quarantine_batches(session.conn.con, nul_rows_sql(table, previous), origin, stamp.file,
                                          stream.nul)
    first = next(batches, None)
    if first is not None:
        layout.output(quarantine.TABLE).append(pa.RecordBatchReader.from_batches(quarantine.SCHEMA,
                                                                                  _prepend(first, batches)),
                                               {"shopflow.output_of": stamp.batch})
        log.warning("table %s: %d rows quarantined: a text value holds a NUL byte", table.name, stream.nul.rows)


def _copy_rows(
    con: Any, sql: str, layout: LakeLayout, table: ResolvedTable, stamp: Stamp, target: pa.Schema, stream: _Stream,
    on_rows: Callable[[int], None] | None,
) -> None:
    """The rows through DuckDB's COPY into lake files, then one commit of those files."""
    cursor = table.cursor.name if table.cursor is not None else None
    copied = copy_rows(con, sql, layout.main, batch=stamp.batch, load_date=stamp.load_date, cursor=cursor)
    stream.rows, stream.highest = copied.rows, copied.highest
    if on_rows is not None and copied.rows:
        on_rows(copied.rows)
    checkpoint("file_extracted")
    if copied.files:
        commit_written(layout.main, copied.files, target, {PARTITION: stamp.load_date},
                       {"shopflow.output_of": stamp.batch})
        checkpoint("outputs_committed")


def _prepend(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield first
    yield from rest


def _batches(
    session: SourceSession, table: ResolvedTable, reader: pa.RecordBatchReader, stream: _Stream, tombstones: int,
    on_rows: Callable[[int], None] | None,
) -> Iterator[pa.RecordBatch]:
    """The table's rows, then its tombstones; counts them and keeps the highest cursor value."""
    import duckdb

    cursor = table.cursor.name if table.cursor is not None else None
    try:
        for batch in reader:
            if not batch.num_rows:
                continue
            stream.rows += batch.num_rows
            if cursor is not None:
                highest = pc.max(batch.column(cursor)).as_py()
                if highest is not None and (stream.highest is None or highest > stream.highest):
                    stream.highest = highest
            if on_rows is not None:
                on_rows(batch.num_rows)
            yield batch
            checkpoint("file_extracted")
        if tombstones:
            for batch in session.conn.con.execute(f"SELECT * FROM {TOMBSTONES}").to_arrow_reader(BATCH_ROWS):
                stream.deleted += batch.num_rows
                yield batch
    except duckdb.Error as exc:
        stream.error = exc  # re-raised: delta-rs must abort the write, not commit the rows read so far
        raise
