"""SQLite's dynamic typing: a column declared INTEGER may hold text, which stops the scanner.

When that happens shopflow reads the table again with every column as text, checks each
declared column's values, casts back the columns whose values all fit their declared type, and
keeps the others as text, with a warning, instead of failing the table.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from shopflow.errors import SourceError
from shopflow.sources.database.catalog import ResolvedTable
from shopflow.sources.database.columns import Column
from shopflow.sources.database.connection import ALIAS
from shopflow.sources.database.session import SourceSession
from shopflow.sql import quote_identifier

log = logging.getLogger(__name__)


def retry_as_text(session: SourceSession, table: ResolvedTable) -> ResolvedTable:
    """`table` read with all columns as text (the session stays in that mode until `typed_again`)."""
    session.conn.query("SET sqlite_all_varchar = true")
    typed = [c for c in table.columns if c.sql_type != "VARCHAR"]
    source = f"{ALIAS}.{quote_identifier(table.schema)}.{quote_identifier(table.source_table)}"
    counts: list[int] = []
    if typed:
        checks = ", ".join(
            f"count(*) FILTER (WHERE {quote_identifier(c.source)} IS NOT NULL AND "
            f"TRY_CAST({quote_identifier(c.source)} AS {c.sql_type}) IS NULL)"
            for c in typed
        )
        counts = [int(n) for n in session.conn.query(f"SELECT {checks} FROM {source}")[0]]
    bad = {c.source: (c.sql_type, n) for c, n in zip(typed, counts, strict=True) if n}
    must_fit = [c for c in [*table.key, table.cursor, table.soft_delete] if c is not None and c.source in bad]
    if must_fit:
        column = must_fit[0]
        raise SourceError(
            f"column {column.source!r} of SQLite table {table.source_table!r} holds {bad[column.source][1]} values "
            f"that are not {bad[column.source][0]}",
            fix="fix those rows in the source; a key, cursor or soft-delete column must hold values of its type",
            table=table.source_table,
        )

    def retype(column: Column) -> Column:
        if column.source in bad:
            sql_type, count = bad[column.source]
            note = f"declared {sql_type} but holds {count} other values: read as text"
            return replace(column, duck_type="VARCHAR", target=None, as_text=note)
        return replace(column, duck_type="VARCHAR", target=None if column.sql_type == "VARCHAR" else column.sql_type)

    return replace(
        table, columns=[retype(c) for c in table.columns], key=[retype(c) for c in table.key],
        cursor=retype(table.cursor) if table.cursor is not None else None,
        soft_delete=retype(table.soft_delete) if table.soft_delete is not None else None,
    )


def typed_again(session: SourceSession) -> None:
    """Leave the all-text mode `retry_as_text` set (restarting the transaction if a failed read aborted it)."""
    import duckdb

    try:
        session.conn.query("SET sqlite_all_varchar = false")
    except duckdb.TransactionException:
        session.restart()
        session.conn.query("SET sqlite_all_varchar = false")
