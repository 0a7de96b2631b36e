"""The SQL that reads a resolved table: its rows past the watermark, or just its keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shopflow.sources.database import nul_rows
from shopflow.sources.database.catalog import DELETED, ResolvedTable
from shopflow.sources.database.watermark import Watermark, cursor_filter
from shopflow.sql import quote_literal

_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "U")


@dataclass(frozen=True)
class Stamp:
    """The lake metadata every row of one extract carries."""

    batch: str
    file: str
    loaded_at: datetime

    @property
    def load_date(self) -> str:
        """The lake partition the rows go to, `YYYY-MM-DD`."""
        return self.loaded_at.strftime("%Y-%m-%d")

    def columns(self) -> list[str]:
        """`_sf_batch, _sf_file, _sf_load_date, _sf_loaded_at` as SQL constants."""
        return [
            f"{quote_literal(self.batch)} AS _sf_batch",
            f"{quote_literal(self.file)} AS _sf_file",
            f"{quote_literal(self.load_date)} AS _sf_load_date",
            f"CAST({quote_literal(self.loaded_at.isoformat())} AS TIMESTAMP WITH TIME ZONE) AS _sf_loaded_at",
        ]


def deleted_flag(table: ResolvedTable) -> str:
    """True for a row the source marks deleted: a true flag, a non-zero number, or any value set (deleted_at)."""
    column = table.soft_delete
    if column is None:
        return "false"
    value = column.value()
    if column.sql_type == "BOOLEAN":
        return f"coalesce({value}, false)"
    if column.sql_type.startswith(_NUMERIC):
        return f"coalesce({value} <> 0, false)"
    return f"{value} IS NOT NULL"


def rows_sql(
    database: str, table: ResolvedTable, watermark: Watermark | None, stamp: Stamp, *, free_of_nul: bool = False
) -> str:
    """The rows to extract: every column read, the deleted flag if kept, the lake metadata.

    A text value holding a NUL byte fails the query (see `nul_rows`); with `free_of_nul`, its
    row is left out instead (`nul_rows_sql` reads those).
    """
    guard = nul_rows.checked(database) and not free_of_nul
    select = [nul_rows.guarded(c) if guard else c.select() for c in table.columns]
    if table.marks_deletes:
        select.append(f"{deleted_flag(table)} AS {DELETED}")
    select += stamp.columns()
    where = _where(table, watermark)
    if free_of_nul:
        where.append(f"NOT {nul_rows.has_nul(table.columns)}")
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return f"SELECT {', '.join(select)} FROM {table.relation}{clause}"


def nul_rows_sql(table: ResolvedTable, watermark: Watermark | None) -> str:
    """The rows `rows_sql` leaves out `free_of_nul`, as `nul_rows.bad_rows_select` gives them."""
    where = " AND ".join([*_where(table, watermark), nul_rows.has_nul(table.columns)])
    select = nul_rows.bad_rows_select(table.columns, table.key, table.cursor)
    return f"SELECT {select} FROM {table.relation} WHERE {where}"


def _where(table: ResolvedTable, watermark: Watermark | None) -> list[str]:
    """The predicates of the rows to extract: past the watermark, and the table's filter."""
    where = _filters(table)
    if watermark is not None and table.cursor is not None:
        predicate = cursor_filter(table.cursor.value(), table.cursor.sql_type, watermark, table.settings.lookback)
        if predicate:
            where.insert(0, predicate)
    return where


def keys_sql(database: str, table: ResolvedTable) -> str:
    """The primary keys of every row the table's selection holds now (for reconcile)."""
    where = _filters(table)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return f"SELECT {', '.join(c.select() for c in table.key)} FROM {table.relation}{clause}"


def _filters(table: ResolvedTable) -> list[str]:
    return [f"({table.settings.filter})"] if table.settings.filter else []
