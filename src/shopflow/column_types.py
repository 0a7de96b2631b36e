"""Column types a user may declare in `shopflow.yml`, and their DuckDB spellings."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SIMPLE = {
    "text": "VARCHAR", "string": "VARCHAR", "varchar": "VARCHAR",
    "integer": "INTEGER", "int": "INTEGER", "bigint": "BIGINT", "smallint": "SMALLINT",
    "double": "DOUBLE", "float": "DOUBLE", "boolean": "BOOLEAN", "bool": "BOOLEAN",
    "date": "DATE", "timestamp": "TIMESTAMP", "timestamptz": "TIMESTAMPTZ", "json": "JSON",
    "time": "TIME", "uuid": "UUID",
}
_DECIMAL = re.compile(r"^(?:decimal|numeric)\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)$", re.IGNORECASE)


@dataclass(frozen=True)
class ColumnType:
    """A declared column type.

    Attributes:
        sql: The DuckDB type, e.g. `DECIMAL(12,2)`.
        precision: For decimals, the total digits; else None.
        scale: For decimals, the digits after the point; else None.
    """

    sql: str
    precision: int | None = None
    scale: int | None = None

    @property
    def is_decimal(self) -> bool:
        """True for DECIMAL(p,s)."""
        return self.scale is not None


def parse_column_type(text: str) -> ColumnType:
    """Parse a declared type such as `bigint`, `timestamptz` or `decimal(12,2)`.

    Raises:
        ValueError: The type is not one shopflow knows; the message lists those it does.
    """
    key = text.strip().lower()
    if key in _SIMPLE:
        return ColumnType(_SIMPLE[key])
    match = _DECIMAL.match(key)
    if match:
        precision, scale = int(match.group(1)), int(match.group(2))
        if not 1 <= precision <= 38 or scale > precision:
            raise ValueError(f"decimal({precision},{scale}) needs 1 <= precision <= 38 and scale <= precision")
        return ColumnType(f"DECIMAL({precision},{scale})", precision, scale)
    known = ", ".join(sorted(_SIMPLE)) + ", decimal(p,s)"
    raise ValueError(f"unknown column type {text!r}; use one of: {known}")
