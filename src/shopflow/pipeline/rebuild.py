"""Rebuild a warehouse table from the lake, without reading its source's rows.

In one warehouse transaction: the table's rows, its child tables' rows and its quarantine
records are deleted, its entries in the load ledger too, and every lake commit of the table
is applied again, oldest first. Readers see the old table until the new one is complete;
views built on it (dbt models) stay valid, since the table itself is kept. A commit that
replaces a changed file's rows is applied after the commits before it, as a run applied it,
so the rows of a file's earlier versions do not come back.

A database table's key and disposition come from the source's catalog, as a run resolves
them, unless the pipeline file names them (only the catalog is read, never the rows).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from shopflow import quarantine
from shopflow.config.database import DatabaseSource
from shopflow.config.model import PipelineConfig, TableConfig
from shopflow.errors import ConfigError, LakeError, SourceError, WarehouseError
from shopflow.lake.files import LakeFiles
from shopflow.pipeline.layout import LakeLayout
from shopflow.pipeline.status import table_names
from shopflow.sql import qualified, quote_identifier, quote_literal
from shopflow.warehouse.base import RAW_SCHEMA, STATE_SCHEMA, LoadJob
from shopflow.warehouse.session import LoadSession


@dataclass
class RebuildResult:
    """What a rebuild did."""

    table: str
    commits: int
    rows: dict[str, int] = field(default_factory=dict)
    quarantined: int = 0


def rebuild_table(config: PipelineConfig, name: str) -> RebuildResult:
    """Replace `raw.<name>` (and its child tables and quarantine records) with what the lake holds.

    Raises:
        ConfigError: The pipeline has no table `name` (a child table names its parent in the fix).
        LakeError: The lake holds no commit of the table yet.
        WarehouseError: A run holds the warehouse, or it refused the rebuild; nothing changed.
    """
    from shopflow.pipeline.run_lock import run_lock
    from shopflow.warehouse.apply import LOADS_TABLE, apply_job
    from shopflow.warehouse.factory import open_warehouse

    source, table = _table_config(config, name)
    layout = LakeLayout(config, source, name)
    commits = layout.main.commits()
    if not commits:
        raise LakeError(f"the lake holds nothing of table {name} yet", fix="run `shopflow run` first", table=name)
    children = sorted({o for c in commits for o in c.outputs if o != name and not o.startswith("_")})

    def read(output: str, batches: list[str]) -> pa.RecordBatchReader | None:
        return layout.output(output).read_batches(batches)

    def files(output: str, batches: list[str]) -> LakeFiles | None:
        return layout.output(output).files(batches)

    def work(session: LoadSession) -> int:
        for target in [name, *children]:
            if session.columns(RAW_SCHEMA, target) is not None:
                session.execute(f"DELETE FROM {qualified(RAW_SCHEMA, target)}")
        key = quote_literal(layout.key)
        session.execute(f"DELETE FROM {qualified(STATE_SCHEMA, LOADS_TABLE)} WHERE lake_key = {key}")
        session.execute(f"DELETE FROM {qualified(RAW_SCHEMA, quarantine.TABLE)} WHERE source = {quote_literal(source)} "
                        f"AND {quote_identifier('table')} = {quote_literal(name)}")
        # apply_job applies a commit replacing files after the commits before it, as the runs did.
        return apply_job(session, LoadJob(table, layout.key, commits, read, files)).quarantined

    with run_lock(config.warehouse), open_warehouse(config.warehouse) as warehouse:
        try:
            quarantined = warehouse._transaction(work)  # the load's own transaction, with the reset inside it
        except Exception as exc:
            if warehouse._is_driver_error(exc):
                raise WarehouseError(f"rebuilding raw.{name} failed, nothing changed: "
                                     f"{warehouse._driver_error_text(exc)}", table=name) from exc
            raise
        rows = {t: warehouse.row_count(t) or 0 for t in [name, *children]}
    return RebuildResult(name, len(commits), rows, quarantined)


def _table_config(config: PipelineConfig, name: str) -> tuple[str, TableConfig]:
    """The source of table `name` and how it loads."""
    known: list[str] = []
    for source in config.sources:
        names = table_names(config, source)
        if name in names:
            if isinstance(source, DatabaseSource):
                return source.name, _database_table_config(source, name)
            return source.name, next(t for t in source.tables if t.name == name)  # a file table or an event stream
        known.extend(names)
    parent = next((n for n in known if name.startswith(f"{n}__")), None)
    fix = (f"{name} is a child table of {parent}: rebuild {parent}" if parent
           else f"name one of the pipeline's tables: {', '.join(sorted(known)) or 'none yet'}")
    raise ConfigError(f"the pipeline has no table {name!r}", fix=fix)


def _database_table_config(source: DatabaseSource, name: str) -> TableConfig:
    """How database table `name` loads, resolved against the source's catalog as a run resolves it."""
    import duckdb

    from shopflow.sources.cdc.from_config import cdc_table_config
    from shopflow.sources.cdc.settings import CdcTable
    from shopflow.sources.database.catalog import resolve_tables
    from shopflow.sources.database.session import SourceSession

    session = SourceSession(source)
    try:
        try:
            tables, _errors = resolve_tables(session)
        except duckdb.Error as exc:
            raise session.conn.error(exc, "read the catalog of") from None
    finally:
        session.close()
    found = next((t for t in tables if t.name == name), None)
    if found is None:
        raise SourceError(
            f"table {name} is in the lake, but source {source.name!r} no longer selects it, so its key is unknown",
            fix="list it under tables: of the source again (with primary_key: if the source lost it)",
            source=source.name, table=name,
        )
    if source.cdc is not None:
        return cdc_table_config(source, CdcTable(found.schema, found.source_table, found.name),
                                [k.name for k in found.key])
    return found.config
