"""Quoting of identifiers and literals: names that come from data are always quoted."""

from __future__ import annotations


def quote_identifier(name: str) -> str:
    """`name` as a double-quoted SQL identifier, with embedded quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """`value` as a single-quoted SQL string literal, with embedded quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def qualified(schema: str, table: str) -> str:
    """`"schema"."table"`."""
    return f"{quote_identifier(schema)}.{quote_identifier(table)}"
