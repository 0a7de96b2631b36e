"""Text values holding a NUL byte (0x00): PostgreSQL cannot store them, so they never reach the lake.

DuckDB, Parquet, SQLite and MySQL keep a NUL inside a string; PostgreSQL refuses it
(`invalid byte sequence for encoding "UTF8": 0x00`), and one such value failed every later
load of its table into a PostgreSQL warehouse. So the row is quarantined at extract, with the
column in the reason; the lake stays loadable into any warehouse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shopflow.sql import quote_identifier

if TYPE_CHECKING:
    from duckdb.sqltypes import DuckDBPyType

REASON = "text value contains a NUL byte (0x00), which PostgreSQL cannot store"


def reason(column: str) -> str:
    """The quarantine reason of a row whose `column` holds a NUL byte."""
    return f"{column}: {REASON}"


def contains_nul(expr: str, dtype: DuckDBPyType, depth: int = 0) -> str | None:
    """SQL true when the value `expr` of type `dtype` holds a NUL byte in a string, nested or not.

    None when the type holds no strings (maps are left out: they reach the lake as JSON text,
    where a NUL is escaped).
    """
    kind = dtype.id
    if kind == "varchar":
        return f"contains({expr}, chr(0))"
    if kind == "struct":
        checks = [
            check for name, child in dtype.children
            if (check := contains_nul(f"{expr}.{quote_identifier(str(name))}", child, depth)) is not None  # type: ignore[arg-type]
        ]
        return " OR ".join(f"coalesce({c}, false)" for c in checks) if checks else None
    if kind == "list":
        var = f"_n{depth}"
        inner = contains_nul(var, dtype.child, depth + 1)
        return None if inner is None else f"list_bool_or(list_transform({expr}, {var} -> {inner}))"
    return None
