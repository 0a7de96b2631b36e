"""Apply a load job with portable SQL: append, replace or merge, children, quarantine, ledger.

Runs inside the transaction the warehouse opened, so the data and the ledger row that
records the applied lake version commit together or not at all. The SQL is the subset
DuckDB and PostgreSQL share; what differs (staging, catalog look-ups, DDL) is behind
`LoadSession`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from shopflow import quarantine
from shopflow.config.model import TableConfig
from shopflow.errors import SchemaDriftError
from shopflow.faults import checkpoint
from shopflow.lake.ledger import Commit
from shopflow.naming import normalize_name
from shopflow.sql import qualified, quote_identifier, quote_literal
from shopflow.warehouse.base import RAW_SCHEMA, STATE_SCHEMA, LoadJob, LoadResult
from shopflow.warehouse.direct import load_direct
from shopflow.warehouse.drift import plan_drift
from shopflow.warehouse.merge import WINNERS, Counts, child_keys, existing_children, insert_children, merge
from shopflow.warehouse.session import TEMP, LoadSession

log = logging.getLogger(__name__)

STAGE = "_sf_stage"
QUARANTINE_STAGE = "_sf_quarantine_stage"
ORDINAL = "_sf_ord"
LOADS_TABLE = "loads"


def ensure_state(session: LoadSession) -> None:
    """Create the ledger table and the raw schema if missing."""
    session.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(STATE_SCHEMA)}")
    session.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(RAW_SCHEMA)}")
    session.execute(quarantine.create_table_sql(qualified(RAW_SCHEMA, quarantine.TABLE)))  # empty from the start
    session.execute(
        f"CREATE TABLE IF NOT EXISTS {qualified(STATE_SCHEMA, LOADS_TABLE)} ("
        "lake_key VARCHAR NOT NULL, lake_version BIGINT NOT NULL, batch VARCHAR NOT NULL, run VARCHAR, "
        "loaded_at TIMESTAMP WITH TIME ZONE NOT NULL, PRIMARY KEY (lake_key, lake_version))"
    )


def apply_job(session: LoadSession, job: LoadJob) -> LoadResult:
    """Apply every pending commit of `job`, and record them in the ledger; all in the caller's transaction.

    The commits are applied in `segments`, oldest first, so a commit that replaces a file's
    rows also removes those an earlier pending commit of the same job brought.

    Raises:
        SchemaDriftError: The new data changes a column in a way that cannot be applied in place.
    """
    result = LoadResult(job.table.name, job.commits[-1].version)
    counts = Counts()
    groups = segments(job.commits, job.table)
    for commits in groups:
        _apply_rows(session, replace(job, commits=commits), result, counts)
    for name, rows in counts.inserted.items():
        result.rows[name] = result.rows.get(name, 0) + rows
    inserted = dict(result.rows)  # by every segment, the direct loads' rows included
    if len(groups) > 1:  # a later segment may have removed rows an earlier one inserted: count what stayed
        batches = ", ".join(quote_literal(c.batch) for c in job.commits)
        for name in result.rows:
            result.rows[name] = int(session.scalar(
                f"SELECT count(*) FROM {qualified(RAW_SCHEMA, name)} WHERE _sf_batch IN ({batches})") or 0)
    # Rows the table had before this load that left it: deleted, less the deleted rows this load had inserted.
    result.inserted = dict(result.rows)
    result.removed = {name: rows - (inserted.get(name, 0) - result.rows.get(name, 0))
                      for name, rows in counts.deleted.items()}
    result.quarantined = _load_quarantine(session, job)
    # Temporary tables live as long as the connection: drop them with the transaction's other work.
    for name in [STAGE, WINNERS, QUARANTINE_STAGE, *(_child_stage(i) for i in range(len(job.children)))]:
        session.unstage(name)
    checkpoint("load_applied")
    now = datetime.now(UTC).isoformat()
    for commit in job.commits:
        session.execute(
            f"INSERT INTO {qualified(STATE_SCHEMA, LOADS_TABLE)} VALUES ({quote_literal(job.lake_key)}, "
            f"{commit.version}, {quote_literal(commit.batch)}, {quote_literal(commit.run)}, {quote_literal(now)})"
        )
    return result


def segments(commits: list[Commit], table: TableConfig) -> list[list[Commit]]:
    """`commits` in the groups applied one after the other: a commit replacing files starts a new one.

    A group's file deletes run before its inserts, so the rows an earlier commit brought for a
    replaced file must be in the table before the replacing commit is applied.
    """
    if table.write_disposition == "replace":
        return [commits]  # the latest run's commits replace the table
    groups: list[list[Commit]] = [[]]
    for commit in commits:
        if commit.replaces and groups[-1]:
            groups.append([])
        groups[-1].append(commit)
    return groups


def _child_stage(i: int) -> str:
    return f"_sf_child_{i}"


def _apply_rows(session: LoadSession, job: LoadJob, result: LoadResult, counts: Counts) -> None:
    """Apply the rows of `job`'s commits (one segment): schema changes go to `result`, row counts to `counts`."""
    table = job.table
    data_commits = job.commits
    if table.write_disposition == "replace":
        data_commits = [c for c in job.commits if c.run == job.commits[-1].run]
    batches = [c.batch for c in data_commits]
    order = _batch_order(job)
    keys = [normalize_name(k) for k in table.primary_key]
    replaced = sorted({url for c in data_commits for url in c.replaces})
    if load_direct(session, job, batches, result):  # an append or replace of unchanged types: no stage
        return

    staged = _stage(session, job, table.name, batches, STAGE)
    target = qualified(RAW_SCHEMA, table.name)
    # A commit whose files were all quarantined has no rows and no data columns; an empty
    # source table has no rows but its columns, and still becomes an (empty) warehouse table.
    has_rows = bool(staged) or (
        staged is not None and (table.write_disposition == "replace" or _has_data_columns(session, keys))
    )
    columns = _prepare_table(session, table.name, STAGE, result) if has_rows else None
    children = [(child, _child_stage(i)) for i, child in enumerate(job.children)]
    child_columns: dict[str, list[str]] = {}
    for child, stage_name in children:
        if _stage(session, job, child, batches, stage_name) is not None:
            child_columns[child] = _prepare_table(session, child, stage_name, result)

    # Child tables already in the warehouse count too: a parent row replaced or deleted by a
    # batch that brought no rows for one of its child tables must lose its old children.
    all_children = sorted(set(child_columns) | set(existing_children(session, table.name, keys)))

    if replaced:
        files = ", ".join(quote_literal(u) for u in replaced)
        for name in [table.name, *all_children]:
            if session.columns(RAW_SCHEMA, name) is not None:
                counts.delete(session, name, f"DELETE FROM {qualified(RAW_SCHEMA, name)} WHERE _sf_file IN ({files})")

    if columns is not None:
        col_list = ", ".join(quote_identifier(c) for c in columns)
        if table.write_disposition == "replace":
            counts.delete(session, table.name, f"DELETE FROM {target}")
            for child in all_children:
                counts.delete(session, child, f"DELETE FROM {qualified(RAW_SCHEMA, child)}")
        merged = table.write_disposition == "merge"
        source = quote_identifier(STAGE)
        if merged:
            source = merge(session, job, STAGE, columns, keys, order, ORDINAL, all_children, counts)
        counts.insert(session, table.name, f"INSERT INTO {target} ({col_list}) SELECT {col_list} FROM {source} AS s")
        for child, stage_name in children:
            if child not in child_columns:
                continue
            if merged:  # only the children of parent rows that won the merge
                insert_children(session, child, stage_name, child_columns[child], keys, table.name, source, counts)
            else:
                child_list = ", ".join(quote_identifier(c) for c in child_columns[child])
                counts.insert(session, child, f"INSERT INTO {qualified(RAW_SCHEMA, child)} ({child_list}) "
                              f"SELECT {child_list} FROM {quote_identifier(stage_name)}")
        if merged:
            # Built once, after the first load's rows are in: later merges then touch only the changed keys.
            session.index_keys(RAW_SCHEMA, table.name, keys)
            for child in child_columns:
                session.index_keys(RAW_SCHEMA, child, [c for _, c in child_keys(table.name, keys)])


_LEDGER_ONLY = {ORDINAL, "_sf_batch", "_sf_file", "_sf_load_date"}


def _has_data_columns(session: LoadSession, keys: list[str]) -> bool:
    """True if the staged rows carry columns of their own (and the key), not just the ledger's."""
    staged = session.columns(TEMP, STAGE) or {}
    return bool(set(staged) - _LEDGER_ONLY) and all(k in staged for k in keys)


def _batch_order(job: LoadJob) -> str:
    """A SQL expression ranking a row's batch by its commit's place: later commits win ties."""
    cases = " ".join(f"WHEN {quote_literal(c.batch)} THEN {i}" for i, c in enumerate(job.commits))
    return f"CASE _sf_batch {cases} END"


def _stage(session: LoadSession, job: LoadJob, output: str, batches: list[str], name: str) -> int | None:
    session.unstage(name)
    files = job.files(output, batches) if job.files is not None else None
    if files is not None:
        staged = session.stage_files(name, files)
        if staged is not None:
            return staged
    reader = job.read(output, batches)
    if reader is None:
        return None
    return session.stage(name, reader)


def _prepare_table(session: LoadSession, table: str, staged: str, result: LoadResult) -> list[str]:
    """Create or evolve `raw.<table>` for the staged rows; return the columns to insert."""
    incoming = session.columns(TEMP, staged) or {}
    incoming.pop(ORDINAL, None)
    existing = session.columns(RAW_SCHEMA, table)
    if existing is None:
        session.create_like(RAW_SCHEMA, table, staged, list(incoming))
        return list(incoming)
    plan = plan_drift(existing, incoming)
    if plan.incompatible:
        changes = "; ".join(f"{c} was {old}, new data has {new}" for c, old, new in plan.incompatible)
        raise SchemaDriftError(
            f"raw.{table} cannot take the new data: {changes}",
            fix=(
                "declare the column's type in shopflow.yml so the source is cast to what the table holds, "
                f"or change the column yourself (ALTER TABLE raw.{table} ALTER COLUMN ... TYPE ...) and run again; "
                "nothing of this table was loaded, other tables were"
            ),
            table=table,
        )
    for column, sql_type in plan.add:
        session.add_column(RAW_SCHEMA, table, column, sql_type)
        result.added.append(f"{table}.{column} {sql_type}")
    for column, old, new in plan.widen:
        session.widen_column(RAW_SCHEMA, table, column, new)
        result.widened.append(f"{table}.{column} {old} -> {new}")
        log.info("widened raw.%s.%s from %s to %s", table, column, old, new)
    return list(incoming)


def _load_quarantine(session: LoadSession, job: LoadJob) -> int:
    quarantined = [c.batch for c in job.commits if c.quarantined]
    if not quarantined:
        return 0
    rows = _stage(session, job, quarantine.TABLE, quarantined, QUARANTINE_STAGE)
    if not rows:
        return 0
    columns = [f.name for f in quarantine.SCHEMA]
    if session.columns(RAW_SCHEMA, quarantine.TABLE) is None:
        session.create_like(RAW_SCHEMA, quarantine.TABLE, QUARANTINE_STAGE, columns)
    col_list = ", ".join(quote_identifier(c) for c in columns)
    session.execute(
        f"INSERT INTO {qualified(RAW_SCHEMA, quarantine.TABLE)} ({col_list}) "
        f"SELECT {col_list} FROM {quote_identifier(QUARANTINE_STAGE)}"
    )
    return rows


def with_ordinal(reader: pa.RecordBatchReader) -> pa.RecordBatchReader:
    """`reader` with `_sf_ord`, each row's position in the stream, for deterministic tie-breaks."""
    schema = reader.schema.append(pa.field(ORDINAL, pa.int64()))

    def batches() -> Iterator[pa.RecordBatch]:
        offset = 0
        for batch in reader:
            yield batch.append_column(ORDINAL, pa.array(np.arange(offset, offset + batch.num_rows, dtype=np.int64)))
            offset += batch.num_rows

    return pa.RecordBatchReader.from_batches(schema, batches())
