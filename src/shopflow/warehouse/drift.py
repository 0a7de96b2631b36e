"""Schema drift between a warehouse table and newly arriving data, decided on SQL type names.

A new column is added. A type that widens (INTEGER to BIGINT, BIGINT to DECIMAL(38,0),
DECIMAL(10,2) to DECIMAL(12,2), VARCHAR(10) to VARCHAR(20), FLOAT to DOUBLE, DATE to
TIMESTAMP) is altered in place. Data the existing column can already hold changes nothing.
Anything else is incompatible and stops the table's load.

Type names are DuckDB's (`information_schema.columns.data_type`) or PostgreSQL's
(`format_type()`: `numeric(12,2)`, `timestamp with time zone`, `double precision`, ...);
both spellings mean the same here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_INT_DIGITS = {"TINYINT": 3, "SMALLINT": 5, "INTEGER": 10, "BIGINT": 19, "HUGEINT": 39}
_INT_RANK = {"TINYINT": 1, "SMALLINT": 2, "INTEGER": 3, "BIGINT": 4, "HUGEINT": 5}
_DECIMAL = re.compile(r"^(?:DECIMAL|NUMERIC)\((\d+),\s*(\d+)\)$")
_VARCHAR = re.compile(r"^(?:VARCHAR|CHARACTER VARYING|TEXT)(?:\((\d+)\))?$")
_FLOATS = {"FLOAT": 1, "DOUBLE": 2}
# The widest integer a float type stores exactly: REAL has a 24-bit mantissa, DOUBLE 53 bits.
# So a DOUBLE column takes INTEGER but not BIGINT (2^53 + 1 would come back as 2^53).
_FLOAT_EXACT_INT = {"FLOAT": _INT_RANK["SMALLINT"], "DOUBLE": _INT_RANK["INTEGER"]}
_SCALARS = {"BOOLEAN", "DATE", "TIME", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "UUID"}
# PostgreSQL's bare NUMERIC has no precision limit: it holds every integer and decimal exactly.
_UNBOUNDED_NUMERIC = "NUMERIC"
_ALIASES = {
    "TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE",
    "TIMESTAMP WITHOUT TIME ZONE": "TIMESTAMP",
    "TIME WITHOUT TIME ZONE": "TIME",
    "INT": "INTEGER",
    "INT4": "INTEGER",
    "INT8": "BIGINT",
    "INT2": "SMALLINT",
    "INT1": "TINYINT",
    "FLOAT8": "DOUBLE",
    "DOUBLE PRECISION": "DOUBLE",
    "FLOAT4": "FLOAT",
    "REAL": "FLOAT",
    "BOOL": "BOOLEAN",
    "STRING": "VARCHAR",
    "BYTEA": "BLOB",
}


@dataclass
class DriftPlan:
    """What to do to an existing table before new data is inserted."""

    add: list[tuple[str, str]] = field(default_factory=list)
    widen: list[tuple[str, str, str]] = field(default_factory=list)
    incompatible: list[tuple[str, str, str]] = field(default_factory=list)


def plan_drift(existing: dict[str, str], incoming: dict[str, str]) -> DriftPlan:
    """Compare column types (name -> SQL type) and decide what changes."""
    plan = DriftPlan()
    for name, new in incoming.items():
        old = existing.get(name)
        if old is None:
            plan.add.append((name, new))
        elif not holds(old, new):
            # a text column holds numbers and dates, but turning a typed column into text is no widening
            if holds(new, old) and not _becomes_text(old, new):
                plan.widen.append((name, old, new))
            else:
                plan.incompatible.append((name, old, new))
    return plan


def holds(column: str, value: str) -> bool:
    """True when a column of type `column` stores every value of type `value` unchanged."""
    column, value = _canonical(column), _canonical(value)
    if column == value or value in ("NULL", '"NULL"'):
        return True
    if _VARCHAR.match(column):
        length = _VARCHAR.match(column).group(1)  # type: ignore[union-attr]
        value_varchar = _VARCHAR.match(value)
        if value_varchar:
            return length is None or (value_varchar.group(1) is not None and int(value_varchar.group(1)) <= int(length))
        return length is None and (value in _SCALARS or _is_number(value))
    if column in _INT_RANK:
        return value in _INT_RANK and _INT_RANK[value] <= _INT_RANK[column]
    if column == _UNBOUNDED_NUMERIC:
        return value in _INT_RANK or bool(_DECIMAL.match(value))
    decimal = _DECIMAL.match(column)
    if decimal:
        precision, scale = int(decimal.group(1)), int(decimal.group(2))
        if value in _INT_DIGITS:
            return precision - scale >= _INT_DIGITS[value]
        other = _DECIMAL.match(value)
        if other is None:
            return False
        other_precision, other_scale = int(other.group(1)), int(other.group(2))
        return scale >= other_scale and precision - scale >= other_precision - other_scale
    if column in _FLOATS:
        if value in _FLOATS:
            return _FLOATS[value] <= _FLOATS[column]
        return value in _INT_RANK and _INT_RANK[value] <= _FLOAT_EXACT_INT[column]
    if column in ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE"):
        return value == "DATE"
    return False


def _canonical(sql_type: str) -> str:
    text = re.sub(r"\s+", " ", sql_type.strip().upper())
    return _ALIASES.get(text, text)


def _becomes_text(old: str, new: str) -> bool:
    return bool(_VARCHAR.match(_canonical(new))) and not _VARCHAR.match(_canonical(old))


def _is_number(sql_type: str) -> bool:
    return (
        sql_type in _INT_RANK or sql_type in _FLOATS or sql_type == _UNBOUNDED_NUMERIC or bool(_DECIMAL.match(sql_type))
    )
