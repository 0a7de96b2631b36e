"""Resolve a database source's table selection against its catalog, at run time.

Each selected table gets its columns (minus `exclude_columns`), each column's lake type, its
primary key (configured, else the source's own), its cursor and soft-delete columns, and the
settings the warehouse load needs. A mistake in one table's settings fails that table only.
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass

from shopflow.config.database import TableSettings
from shopflow.config.model import TableConfig
from shopflow.errors import SourceError
from shopflow.naming import normalize_name
from shopflow.sources.database.columns import Column, NativeType, plan_column, source_query
from shopflow.sources.database.connection import ALIAS
from shopflow.sources.database.session import SourceSession
from shopflow.sources.database.watermark import cursor_kind
from shopflow.sql import quote_identifier, quote_literal

log = logging.getLogger(__name__)

# The lake column that marks a row deleted: a soft delete in the source, or a reconcile tombstone.
DELETED = "_sf_deleted"


@dataclass
class ResolvedTable:
    """One source table as this run reads it.

    Attributes:
        source_table: Its name in the source.
        schema: Its schema in the source.
        name: Its name in the lake and the warehouse.
        settings: Mode, cursor, deletes, filter.
        columns: The columns read (excluded ones are never read).
        key: The primary key columns.
        cursor: The cursor column (incremental mode).
        soft_delete: The column that marks a row deleted in the source.
        config: What the warehouse load needs: disposition, key, cursor, delete column.
        relation: What DuckDB selects from: the scanned table, or a PostgreSQL query that casts
            some columns to text itself.
    """

    source_table: str
    schema: str
    name: str
    settings: TableSettings
    columns: list[Column]
    key: list[Column]
    cursor: Column | None
    soft_delete: Column | None
    config: TableConfig
    relation: str

    @property
    def marks_deletes(self) -> bool:
        """True if the lake rows carry `_sf_deleted`."""
        return self.soft_delete is not None or self.settings.reconcile != "off"

    @property
    def text_columns(self) -> list[str]:
        """`column: why` for each column read as text although the source type is not text."""
        return [f"{c.name}: {c.as_text}" for c in self.columns if c.as_text]


def resolve_tables(session: SourceSession) -> tuple[list[ResolvedTable], dict[str, SourceError]]:
    """The tables `session`'s source selects, and an error per table that cannot be read as configured."""
    import duckdb

    source = session.source
    schema = source.source_schema
    names = _table_names(session, schema)
    errors: dict[str, SourceError] = {}
    for entry in source.tables:
        if not entry.is_pattern and entry.name not in names:
            close = difflib.get_close_matches(entry.name, names, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            errors[entry.name] = SourceError(
                f"table {entry.name!r} does not exist in schema {schema!r} of {session.conn.endpoint.describe()}",
                fix=f"{hint}correct the name under tables: of source {source.name!r}, or remove it",
                source=source.name, host=session.conn.endpoint.host or None, table=entry.name,
            )
    natives = _native_types(session, schema)
    keys = _primary_keys(session, schema)
    resolved: list[ResolvedTable] = []
    taken: dict[str, str] = {}
    for table in sorted(n for n in names if source.selects(n)):
        try:
            try:
                found = _resolve(session, schema, table, natives.get(table, {}), keys.get(table, []))
            except duckdb.Error as exc:
                session.restart()  # a failed query aborts the transaction
                raise session.conn.error(exc, "read the columns of", table) from None
            if found.name in taken:
                raise _error(session, table, f"its warehouse name {found.name!r} is also that of {taken[found.name]!r}",
                             "exclude one of the two tables")
            taken[found.name] = table
            resolved.append(found)
        except SourceError as exc:
            errors[table] = exc
    return resolved, errors


def _error(session: SourceSession, table: str, problem: str, fix: str) -> SourceError:
    return SourceError(f"table {table!r}: {problem}", fix=fix, source=session.source.name,
                       host=session.conn.endpoint.host or None, table=table)


def _table_names(session: SourceSession, schema: str) -> list[str]:
    rows = session.conn.query(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = ? "
        "UNION SELECT view_name FROM duckdb_views() WHERE database_name = ? AND schema_name = ?",
        [ALIAS, schema, ALIAS, schema],
    )
    names = sorted(str(r[0]) for r in rows)
    if not names:
        schemas = [str(r[0]) for r in session.conn.query(
            "SELECT schema_name FROM duckdb_schemas() WHERE database_name = ?", [ALIAS])]
        if schema not in schemas:
            raise SourceError(
                f"schema {schema!r} does not exist in {session.conn.endpoint.describe()}",
                fix=f"set schema: of source {session.source.name!r} to one of: {', '.join(sorted(schemas))}",
                source=session.source.name, host=session.conn.endpoint.host or None,
            )
    return names


def _native_types(session: SourceSession, schema: str) -> dict[str, dict[str, NativeType]]:
    """Column types as PostgreSQL reports them (domains as their base type); empty elsewhere."""
    if session.type != "postgres":
        return {}
    rows = session.conn.native(
        "SELECT table_name::text, column_name::text, data_type::text, numeric_precision::int "
        f"FROM information_schema.columns WHERE table_schema = {quote_literal(schema)}"
    )
    found: dict[str, dict[str, NativeType]] = {}
    for table, column, data_type, precision in rows:
        found.setdefault(table, {})[column] = NativeType(data_type, precision)
    return found


def _primary_keys(session: SourceSession, schema: str) -> dict[str, list[str]]:
    if session.type == "mysql":
        rows = session.conn.native(
            "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE "
            f"WHERE TABLE_SCHEMA = {quote_literal(schema)} AND CONSTRAINT_NAME = 'PRIMARY' "
            "ORDER BY TABLE_NAME, ORDINAL_POSITION"
        )
        keys: dict[str, list[str]] = {}
        for table, column in rows:
            keys.setdefault(str(table), []).append(str(column))
        return keys
    rows = session.conn.query(
        "SELECT table_name, constraint_column_names FROM duckdb_constraints() "
        "WHERE database_name = ? AND schema_name = ? AND constraint_type = 'PRIMARY KEY'",
        [ALIAS, schema],
    )
    return {str(table): [str(c) for c in columns] for table, columns in rows}


def _resolve(session: SourceSession, schema: str, table: str, natives: dict[str, NativeType],
             catalog_key: list[str]) -> ResolvedTable:
    source = session.source
    settings = source.settings_for(table)
    described = session.conn.query(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = ? AND schema_name = ? "
        "AND table_name = ? ORDER BY column_index",
        [ALIAS, schema, table],
    )
    every = [plan_column(session.conn.con, str(n), str(t), natives.get(str(n)), session.type, table)
             for n, t in described]
    relation = f"{ALIAS}.{quote_identifier(schema)}.{quote_identifier(table)}"
    if any(c.source_cast for c in every):
        # PostgreSQL casts these columns itself; DuckDB then types every column from the query's result.
        relation = f"postgres_query({quote_literal(ALIAS)}, {quote_literal(source_query(schema, table, every))})"
        described = session.conn.query(f"DESCRIBE SELECT * FROM {relation}")
        every = [plan_column(session.conn.con, str(r[0]), str(r[1]), natives.get(str(r[0])), session.type, table)
                 for r in described]
    by_name = {c.source: c for c in every}

    def find(name: str, key: str) -> Column:
        column = by_name.get(name) or next((c for c in every if c.name == normalize_name(name)), None)
        if column is None:
            close = difflib.get_close_matches(name, list(by_name), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise _error(session, table, f"{key} names column {name!r}, which it does not have",
                         f"{hint}columns are: {', '.join(by_name)}")
        return column

    excluded = {find(name, "exclude_columns").source for name in settings.exclude_columns}
    columns = [c for c in every if c.source not in excluded]
    names = [c.name for c in columns]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise _error(session, table, f"several columns become {clash[0]!r} in snake_case",
                     "exclude all but one of them with exclude_columns:")
    key = [find(k, "primary_key") for k in (settings.primary_key or catalog_key)]
    cursor = find(settings.cursor, "cursor") if settings.cursor else None
    soft_delete = find(settings.soft_delete, "soft_delete") if settings.soft_delete else None
    for column, what in [*((k, "a primary key column") for k in key), (cursor, "the cursor")]:
        if column is not None and column.source in excluded:
            raise _error(session, table, f"{what} {column.source!r} is in exclude_columns",
                         "remove it from exclude_columns: (it identifies rows or their changes)")
    if settings.mode == "incremental" and cursor is not None and cursor_kind(cursor.sql_type) is None:
        raise _error(session, table, f"cursor {cursor.source!r} is {cursor.duck_type}, which cannot order changes",
                     "use a timestamp, date or integer column that grows on every insert and update")
    disposition = _disposition(session, table, settings, bool(key))
    delete = settings.soft_delete is not None or settings.reconcile == "delete"
    config = TableConfig(
        name=source.table_name(table), primary_key=[k.name for k in key],
        cursor=cursor.name if cursor is not None else None, write_disposition=disposition,
        delete_column=DELETED if delete and settings.reconcile != "flag" else None,
    )
    return ResolvedTable(table, schema, config.name, settings, columns, key, cursor, soft_delete, config, relation)


def _disposition(session: SourceSession, table: str, settings: TableSettings, has_key: bool) -> str:
    deletes = settings.soft_delete is not None or settings.reconcile != "off"
    disposition = settings.write_disposition
    if disposition is None:
        if settings.mode == "full" and not deletes:
            disposition = "replace"
        elif has_key:
            disposition = "merge"
        elif deletes:
            disposition = "merge"  # refused just below, with the fix
        else:
            log.warning("table %s has no primary key: its incremental rows are appended (set primary_key: to "
                        "merge updates)", table)
            disposition = "append"
    if disposition == "append" and settings.lookback is not None:  # an explicit append is refused by the config
        raise _error(session, table, "it has no primary key, so each row lookback reads again would be appended twice",
                     "set primary_key: on the table (merge then replaces the rows read again), or remove lookback")
    if disposition == "merge" and not has_key:
        raise _error(session, table, "it has no primary key, which merge (and deletes) need",
                     "set primary_key: on the table, or write_disposition: append")
    return disposition
