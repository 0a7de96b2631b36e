"""How the dashboard reads the warehouse: a query function, injected by whoever owns the connection.

`shopflow serve` owns the warehouse connection and hands the dashboard a query function over
it; the standalone `shopflow dashboard` opens its own (`dashboard.access`). Either way a query
is SQL with `?` placeholders and a list of values, and the answer has column names and rows.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

from shopflow.config.dashboard import bind_sql, sql_parameters


@dataclass(frozen=True)
class QueryResult:
    """The answer to one query."""

    columns: list[str]
    rows: list[tuple[Any, ...]]

    def column(self, name: str) -> list[Any]:
        """The values of column `name`."""
        index = self.columns.index(name)
        return [row[index] for row in self.rows]

    def scalar(self) -> Any:
        """The first column of the first row, or None."""
        return self.rows[0][0] if self.rows and self.rows[0] else None


QueryFn = Callable[[str, Sequence[object]], QueryResult]
"""Runs SQL with `?` placeholders and returns its columns and rows."""

Connector = Callable[[], AbstractContextManager[QueryFn]]
"""Opens the warehouse for one page: a query function valid until the context closes."""


@dataclass(frozen=True)
class FilterValues:
    """The filters chosen for one page view: an inclusive date range and the dimension value (None: all)."""

    date_from: date | None = None
    date_to: date | None = None
    dimension: str | None = None

    def value(self, name: str) -> object:
        """The value bound to parameter `name`."""
        return {"date_from": self.date_from, "date_to": self.date_to, "dimension": self.dimension}[name]


def run_query(query: QueryFn, sql: str, filters: FilterValues | None = None) -> QueryResult:
    """Run a dashboard query, its `:name` parameters bound to the chosen filters."""
    values = filters or FilterValues()
    return query(bind_sql(sql), [values.value(name) for name in sql_parameters(sql)])


def shared(query: QueryFn) -> Connector:
    """A connector that hands out one long-lived query function (a server that owns its connection)."""
    @contextmanager
    def connect() -> Iterator[QueryFn]:
        yield query

    return connect


def duckdb_query(con: Any) -> QueryFn:
    """A query function over an open DuckDB connection, safe to call from several threads.

    Each call runs on its own cursor (a DuckDB connection is not for concurrent use), so a
    server can share the connection that its runs also load through.
    """
    def query(sql: str, params: Sequence[object]) -> QueryResult:
        cursor = con.cursor()
        try:
            cursor.execute(sql, list(params))
            columns = [d[0] for d in cursor.description or []]
            return QueryResult(columns, cursor.fetchall() if columns else [])
        finally:
            cursor.close()

    return query


def psycopg_query(con: Any) -> QueryFn:
    """A query function over an open psycopg connection; `?` placeholders become psycopg's.

    Calls are serialised: one psycopg connection runs one statement at a time.
    """
    from shopflow.warehouse.postgres_connect import to_pyformat

    lock = threading.Lock()

    def query(sql: str, params: Sequence[object]) -> QueryResult:
        with lock:
            cursor = con.execute(to_pyformat(sql), list(params)) if params else con.execute(sql)
            columns = [d.name for d in cursor.description or []]
            return QueryResult(columns, [tuple(r) for r in cursor.fetchall()] if columns else [])

    return query
