"""Database rows whose text holds a NUL byte go to quarantine, not to the lake (see `shopflow.nul_bytes`).

SQLite, MySQL and DuckDB store a NUL inside text; PostgreSQL cannot (so a PostgreSQL source
never has one, and is not checked). The rows are read in one pass, whose text columns fail
the query on a NUL (`guarded`), so a table without one costs nothing more. When one fails,
the caller reads again: the rows free of NUL bytes to the lake, and the others, with the
reason and the row as JSON (its NULs escaped), to the table's quarantine; their cursor values
count towards the watermark, so they are not read again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from shopflow import nul_bytes, quarantine
from shopflow.sources.database.columns import Column
from shopflow.sql import quote_identifier, quote_literal

if TYPE_CHECKING:
    import duckdb

MARK = "shopflow: a text value holds a NUL byte, in column "
_CURSOR, _REASON, _RAW = "_sf_cursor", "_sf_reason", "_sf_raw"
BATCH_ROWS = 10_000


def checked(database: str) -> bool:
    """True if the text of `database` may hold NUL bytes."""
    return database != "postgres"


def _texts(columns: list[Column]) -> list[Column]:
    return [c for c in columns if c.sql_type == "VARCHAR"]


def guarded(column: Column) -> str:
    """`column.select()`, that fails the query (with `MARK`) on a text value holding a NUL byte."""
    if column.sql_type != "VARCHAR":
        return column.select()
    value = column.value()
    fail = quote_literal(MARK + column.name)
    return f"CASE WHEN contains({value}, chr(0)) THEN error({fail}) ELSE {value} END AS {quote_identifier(column.name)}"


def failed_on_nul(error: BaseException | None) -> bool:
    """True if `error` is the failure of a `guarded` column."""
    return error is not None and MARK in str(error)


def has_nul(columns: list[Column]) -> str:
    """SQL true for a row with a NUL byte in one of the text `columns`."""
    checks = [f"coalesce(contains({c.value()}, chr(0)), false)" for c in _texts(columns)]
    return "(" + " OR ".join(checks or ["false"]) + ")"


def bad_rows_select(columns: list[Column], key: list[Column], cursor: Column | None) -> str:
    """The select list of the rows `has_nul` finds: key, cursor value, reason and the row as JSON."""
    reasons = ", ".join(
        f"CASE WHEN contains({c.value()}, chr(0)) THEN {quote_literal(nul_bytes.reason(c.name))} END"
        for c in _texts(columns)
    )
    row = ", ".join(f"{quote_identifier(c.name)} := {c.value()}" for c in columns)
    parts = [f"{k.value()} AS {quote_identifier('_sf_key_' + k.name)}" for k in key]
    parts.append(f"{cursor.value() if cursor is not None else 'NULL'} AS {_CURSOR}")
    parts.append(f"concat_ws('; ', {reasons}) AS {_REASON}")
    parts.append(f"to_json(struct_pack({row}))::VARCHAR AS {_RAW}")
    return ", ".join(parts)


def highest(a: Any, b: Any) -> Any:
    """The higher of two cursor values, either of which may be None."""
    if a is None or b is None:
        return b if a is None else a
    return max(a, b)


@dataclass
class Quarantined:
    """The rows of one extract that held NUL bytes: how many, and the highest cursor value among them."""

    rows: int = 0
    highest: Any = None


def quarantine_batches(
    con: duckdb.DuckDBPyConnection, sql: str, origin: quarantine.Origin, file: str, found: Quarantined
) -> Iterator[pa.RecordBatch]:
    """The quarantine rows of `sql` (a query with `bad_rows_select`), counted in `found` as they go."""
    for batch in con.execute(sql).to_arrow_reader(BATCH_ROWS):
        if not batch.num_rows:
            continue
        found.rows += batch.num_rows
        highest = pc.max(batch.column(_CURSOR)).as_py()
        if highest is not None and (found.highest is None or highest > found.highest):
            found.highest = highest
        key_columns = [n for n in batch.schema.names if n.startswith("_sf_key_")]
        keys: list[str | None] = [None] * batch.num_rows
        if key_columns:
            values = zip(*(batch.column(n).to_pylist() for n in key_columns), strict=True)
            keys = [json.dumps(list(v), default=str) for v in values]
        yield quarantine.records(origin, file, batch.column(_REASON).to_pylist(), batch.column(_RAW).to_pylist(),
                                 keys=keys)
