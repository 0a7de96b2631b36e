"""The change data capture settings of a database source in shopflow.yml."""

from __future__ import annotations

from urllib.parse import quote

from shopflow.config.database import DatabaseSource
from shopflow.config.model import PipelineConfig, TableConfig
from shopflow.errors import ConfigError
from shopflow.sources.cdc.settings import CdcSettings, CdcTable

CURSOR = "_sf_change_seq"
DELETED = "_sf_deleted"


def cdc_settings(config: PipelineConfig, source: DatabaseSource) -> CdcSettings:
    """The CdcSettings of `source` (which has `cdc:`); slot and publication default to shopflow_<pipeline>_<source>."""
    from shopflow.sources.database.connection import Endpoint

    if source.cdc is None:
        raise ConfigError(f"source {source.name!r} does not capture changes", fix="add cdc: {} to the source")
    endpoint = Endpoint.of(source)
    password = f":{quote(endpoint.password, safe='')}" if endpoint.password else ""
    url = (f"postgresql://{quote(endpoint.user, safe='')}{password}@{endpoint.host}:{endpoint.port}/"
           f"{quote(endpoint.database, safe='')}")
    slot = source.cdc.slot or f"shopflow_{config.pipeline}_{source.name}".lower()[:63]
    tables = tuple(
        CdcTable(source.source_schema, table.name, source.table_name(table.name)) for table in source.tables
    )
    return CdcSettings(
        url=url, slot=slot, publication=source.cdc.publication or slot, tables=tables,
        max_changes_per_batch=source.cdc.max_changes_per_batch, max_lag_bytes=source.cdc.max_lag_bytes,
        batch_rows=source.cdc.batch_rows,
    )


def cdc_table_config(source: DatabaseSource, table: CdcTable, found_key: list[str]) -> TableConfig:
    """How a captured table loads: merged by key, latest change wins, deletes applied."""
    entry = source.entry_for(table.table)
    key = list(entry.primary_key) if entry is not None and entry.primary_key else found_key
    return TableConfig(name=table.name, primary_key=key, write_disposition="merge", cursor=CURSOR,
                       delete_column=DELETED)
