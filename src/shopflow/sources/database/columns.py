"""Which lake type each source column gets, and the SQL that reads it so.

Delta stores booleans, signed integers, floats, decimals up to 38 digits, dates, timestamps,
text, binary, lists, structs and maps. Other types are widened (unsigned integers), or read as
text: losslessly (time, interval, uuid, enum) or, for a type neither the scanner nor shopflow
knows, with a warning. PostgreSQL numerics without a precision (or above 38 digits) are read as
text by PostgreSQL itself, because the scanner would turn them into doubles and lose digits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shopflow.naming import source_name
from shopflow.sql import quote_identifier

if TYPE_CHECKING:
    import duckdb

_KEEP = {
    "boolean", "tinyint", "smallint", "integer", "bigint", "float", "double", "decimal", "date", "timestamp",
    "timestamp with time zone", "varchar", "blob",
}
_WIDEN = {
    "utinyint": "SMALLINT", "usmallint": "INTEGER", "uinteger": "BIGINT", "ubigint": "DECIMAL(20,0)",
    "hugeint": "DECIMAL(38,0)", "timestamp_ns": "TIMESTAMP", "timestamp_ms": "TIMESTAMP", "timestamp_s": "TIMESTAMP",
}
# Read as text without loss; Delta has no such type.
_TEXT = {"time", "time with time zone", "time_ns", "interval", "uuid", "enum", "bit", "uhugeint", "bignum", "varint"}
# PostgreSQL types the scanner reads as text by design: no warning for these.
PG_TEXT_TYPES = {
    "text", "character varying", "character", "name", '"char"', "json", "jsonb", "uuid", "citext", "bpchar",
    "USER-DEFINED",
}


@dataclass(frozen=True)
class NativeType:
    """A column's type as the source database itself reports it (PostgreSQL, MySQL)."""

    data_type: str
    precision: int | None = None


@dataclass(frozen=True)
class Column:
    """One source column and how it is read.

    Attributes:
        source: Its name in the source.
        name: Its name in the lake and warehouse (snake_case).
        duck_type: The type DuckDB's scanner reads it as.
        target: The type it is stored as (the cast the select applies), or None to keep `duck_type`.
        as_text: Why it is read as text although the source type is not text, if it is.
        source_cast: Read as text by the source itself (PostgreSQL `::text`).
    """

    source: str
    name: str
    duck_type: str
    target: str | None = None
    as_text: str | None = None
    source_cast: bool = False

    @property
    def sql_type(self) -> str:
        """The type the column has once read."""
        if self.source_cast:
            return "VARCHAR"
        return self.target or self.duck_type

    def value(self) -> str:
        """The SQL expression of the column's value as stored: `CAST("col" AS T)`, or `"col"`."""
        ref = quote_identifier(self.source)
        return f"CAST({ref} AS {self.target})" if self.target and not self.source_cast else ref

    def select(self) -> str:
        """`CAST("col" AS T) AS "name"`, or just `"col" AS "name"`."""
        return f"{self.value()} AS {quote_identifier(self.name)}"


def plan_column(con: duckdb.DuckDBPyConnection, source: str, duck_type: str, native: NativeType | None,
                database: str, table: str = "") -> Column:
    """How to read column `source` of table `table`, of DuckDB type `duck_type` (`native`: what the source says it is).

    A column named like shopflow's own (`_sf_batch`) is read as `src_sf_batch` (see `naming`).
    """
    name = source_name(source, table)
    if database == "postgres" and native is not None and native.data_type == "numeric" and (
        native.precision is None or native.precision > 38
    ):
        return Column(source, name, duck_type, "VARCHAR", source_cast=True, as_text=(
            "numeric without a precision (or over 38 digits): read as text to keep every digit; "
            "declare it numeric(p,s) with p <= 38 in the source to get a decimal"
        ))
    target, unknown = _target(con.sqltype(duck_type))
    as_text = None
    if unknown:
        as_text = f"DuckDB type {duck_type} has no lake type: read as text"
    elif duck_type == "VARCHAR" and database == "postgres" and native is not None and (
        native.data_type not in PG_TEXT_TYPES
    ):
        as_text = f"the scanner has no mapping for PostgreSQL type {native.data_type}: read as text"
    same = str(con.sqltype(target)) == str(con.sqltype(duck_type))
    return Column(source, name, duck_type, None if same else target, as_text)


def _target(t: Any) -> tuple[str, bool]:
    """The lake-compatible DuckDB type for DuckDB type `t`, and whether a part of it was unknown."""
    kind = str(t.id)
    if kind in _KEEP:
        return str(t), False
    if kind in _WIDEN:
        return _WIDEN[kind], False
    if kind in _TEXT:
        return "VARCHAR", False
    if kind in ("list", "array"):
        child, unknown = _target(t.children[0][1])
        return f"{child}[]", unknown
    if kind == "struct":
        fields = [(name, *_target(child)) for name, child in t.children]
        return "STRUCT(" + ", ".join(f"{quote_identifier(n)} {c}" for n, c, _ in fields) + ")", any(
            u for _, _, u in fields
        )
    if kind == "map":
        (key, key_unknown), (value, value_unknown) = _target(t.children[0][1]), _target(t.children[1][1])
        return f"MAP({key}, {value})", key_unknown or value_unknown
    return "VARCHAR", True


def source_query(schema: str, table: str, columns: list[Column]) -> str:
    """A PostgreSQL query over `table` that casts the `source_cast` columns to text (for postgres_query)."""
    parts = []
    for column in columns:
        name = quote_identifier(column.source)
        parts.append(f"{name}::text AS {name}" if column.source_cast else name)
    return f"SELECT {', '.join(parts)} FROM {quote_identifier(schema)}.{quote_identifier(table)}"
