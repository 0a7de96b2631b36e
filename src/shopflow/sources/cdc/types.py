"""PostgreSQL column types (OID and typmod) as lake types, one mapping for the snapshot and the changes.

pgoutput sends every value in PostgreSQL's text output; the snapshot reads the same columns
either natively (types DuckDB's scanner reads to exactly this type) or as `::text`. Both
end in the same DuckDB cast, so a column has one type in the lake whichever way a row came.
Types without an exact lake equivalent (json, uuid, arrays, enums, intervals, times, domains)
stay text, in PostgreSQL's own spelling.
"""

from __future__ import annotations

from dataclasses import dataclass

from shopflow.sql import quote_identifier

# OIDs of the built-in types; stable across PostgreSQL versions (pg_type.dat).
_BOOL, _BYTEA, _INT8, _INT2, _INT4, _OID = 16, 17, 20, 21, 23, 26
_FLOAT4, _FLOAT8, _DATE, _TIMESTAMP, _TIMESTAMPTZ, _NUMERIC = 700, 701, 1082, 1114, 1184, 1700
_TEXT, _VARCHAR, _BPCHAR = 25, 1043, 1042

# (DuckDB type, whether the scanner reads the column to that type natively)
_SIMPLE: dict[int, tuple[str, bool]] = {
    _BOOL: ("BOOLEAN", True),
    _INT2: ("SMALLINT", True),
    _INT4: ("INTEGER", True),
    _INT8: ("BIGINT", True),
    _OID: ("BIGINT", False),
    _FLOAT4: ("FLOAT", True),
    _FLOAT8: ("DOUBLE", True),
    _DATE: ("DATE", True),
    _TIMESTAMP: ("TIMESTAMP", True),
    _TIMESTAMPTZ: ("TIMESTAMPTZ", True),
    _TEXT: ("VARCHAR", True),
    _VARCHAR: ("VARCHAR", True),
}

# The session settings that make text output match what the casts expect.
SESSION_SETTINGS = {
    "TimeZone": "UTC",
    "DateStyle": "ISO, MDY",
    "IntervalStyle": "postgres",
    "extra_float_digits": "3",
    "bytea_output": "hex",
}


@dataclass(frozen=True)
class PgColumn:
    """A source column: name as in PostgreSQL, type OID and modifier, whether it is part of the key."""

    name: str
    type_oid: int
    typmod: int = -1
    key: bool = False


@dataclass(frozen=True)
class LakeType:
    """How a column lands in the lake.

    Attributes:
        duckdb: The DuckDB type of the lake column.
        native: The snapshot reads the column natively (else as `::text`).
    """

    duckdb: str
    native: bool
    padded: bool = False

    def from_text(self, expr: str) -> str:
        """SQL turning the text value `expr` into the lake type."""
        if self.padded:  # char(n) prints its padding; the scanner (and PostgreSQL's own casts) drop it
            return f"rtrim({expr}, ' ')"
        if self.duckdb == "VARCHAR":
            return expr
        if self.duckdb == "BLOB":
            return f"from_hex(substr({expr}, 3))"  # bytea's hex output is \x0a1b...
        return f"CAST({expr} AS {self.duckdb})"

    def from_snapshot(self, expr: str) -> str:
        """SQL turning the snapshot's value `expr` (native or text) into the lake type."""
        if self.padded:
            return f"rtrim({expr}, ' ')"
        return f"CAST({expr} AS {self.duckdb})" if self.native else self.from_text(expr)


def lake_type(type_oid: int, typmod: int) -> LakeType:
    """The lake type of a PostgreSQL column."""
    if type_oid in _SIMPLE:
        duck, native = _SIMPLE[type_oid]
        return LakeType(duck, native)
    if type_oid == _BYTEA:
        return LakeType("BLOB", True)
    if type_oid == _BPCHAR:
        return LakeType("VARCHAR", True, padded=True)
    if type_oid == _NUMERIC:
        if typmod < 4:  # numeric without precision: any size, DuckDB's scanner reads it as DOUBLE too
            return LakeType("DOUBLE", False)
        precision, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
        if precision <= 38 and scale <= precision:
            return LakeType(f"DECIMAL({precision},{scale})", True)
        return LakeType("VARCHAR", False)  # too wide for a decimal: exact text rather than a rounded double
    return LakeType("VARCHAR", False)


def snapshot_select(columns: list[PgColumn]) -> str:
    """The PostgreSQL select list of a snapshot copy: native columns as they are, the rest as text."""
    parts = []
    for column in columns:
        name = quote_identifier(column.name)
        parts.append(name if lake_type(column.type_oid, column.typmod).native else f"{name}::text AS {name}")
    return ", ".join(parts)
