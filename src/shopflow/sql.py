"""Quoting of identifiers and literals: names that come from data are always quoted."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import cast


def quote_identifier(name: str) -> str:
    """`name` as a double-quoted SQL identifier, with embedded quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """`value` as a single-quoted SQL string literal, with embedded quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def qualified(schema: str, table: str) -> str:
    """`"schema"."table"`."""
    return f"{quote_identifier(schema)}.{quote_identifier(table)}"


def inline(sql: str, params: Sequence[object] | None) -> tuple[str, list[object]]:
    """`sql` with its `?` parameters written in as SQL literals, where each value allows it.

    DuckDB's Python client imports pandas (about 0.4 s) the first time it binds any Python value,
    even an int, to check for pandas' missing values; shopflow's own small queries (catalog
    lookups, run records) inline their values instead, so a run that moves no data never pays
    for it. Values inlined: None, bool, int, str (without NUL), date and datetime. If a value is
    of another type or the statement has anything but plain `?` placeholders (numbered or named
    ones, dollar quotes), `sql` and `params` come back unchanged, to be bound as before.

    Returns:
        The statement and the parameters left to bind (empty when all were inlined).
    """
    values = list(params or [])
    if not values:
        return sql, values
    literals = [_literal(v) for v in values]
    if any(text is None for text in literals) or "$" in sql:
        return sql, values
    parts: list[str] = []
    used = 0
    start = 0
    i = 0
    while i < len(sql):
        char = sql[i]
        if char in "'\"":  # a string literal or quoted identifier: skip to its closing quote (doubled = escaped)
            end = sql.find(char, i + 1)
            while end != -1 and sql.startswith(char, end + 1):
                end = sql.find(char, end + 2)
            if end == -1:
                return sql, values
            i = end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = len(sql) if end == -1 else end + 1
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            if end == -1:
                return sql, values
            i = end + 2
        elif char == "?":
            if used == len(literals) or (i + 1 < len(sql) and sql[i + 1].isalnum()):
                return sql, values  # more placeholders than values, or a numbered one (?1)
            parts.append(sql[start:i])
            parts.append(cast(str, literals[used]))
            used += 1
            i += 1
            start = i
        else:
            i += 1
    if used != len(literals):
        return sql, values
    parts.append(sql[start:])
    return "".join(parts), []


def _literal(value: object) -> str | None:
    """`value` as a DuckDB literal of the type binding it would give, or None if it is not inlined."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value) if -(2**63) <= value < 2**63 else None
    if isinstance(value, str):
        return None if "\x00" in value else quote_literal(value)
    if isinstance(value, datetime):
        kind = "TIMESTAMP" if value.tzinfo is None else "TIMESTAMPTZ"
        return f"{kind} '{value.isoformat(sep=' ')}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    return None
