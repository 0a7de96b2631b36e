"""Arrow columns as PostgreSQL stores them, and the batches ADBC copies into such a table.

ADBC's COPY writes PostgreSQL's binary format from each Arrow type, so every batch column is
cast to the Arrow type whose binary form is exactly the column's: int64 -> bigint,
decimal128(12,2) -> numeric(12,2), timestamp[us, tz] -> timestamptz. Lists, structs and maps
become jsonb: DuckDB renders them as JSON text batch by batch, and ADBC sends the Arrow JSON
type in jsonb's binary form.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from shopflow.errors import WarehouseError


@dataclass(frozen=True)
class StagedColumn:
    """One column of a staged table.

    Attributes:
        name: The column's name.
        sql_type: Its PostgreSQL type, as `format_type()` spells it.
        arrow_type: The Arrow type batches are cast to before the COPY.
        as_json: Nested values, rendered as JSON text.
    """

    name: str
    sql_type: str
    arrow_type: pa.DataType
    as_json: bool = False


def staged_columns(schema: pa.Schema) -> list[StagedColumn]:
    """The PostgreSQL columns that hold `schema` without losing anything."""
    return [_column(field.name, field.type) for field in schema]


def create_table_sql(name: str, columns: list[StagedColumn], *, schema: str | None = None) -> str:
    """`CREATE TEMPORARY TABLE` for `columns`; with `schema`, a lasting table `schema.name`."""
    from shopflow.sql import qualified, quote_identifier

    body = ", ".join(f"{quote_identifier(c.name)} {c.sql_type}" for c in columns)
    if schema is not None:
        return f"CREATE TABLE {qualified(schema, name)} ({body})"
    return f"CREATE TEMPORARY TABLE {quote_identifier(name)} ({body})"


def conform(reader: pa.RecordBatchReader, columns: list[StagedColumn]) -> pa.RecordBatchReader:
    """`reader` with each column cast to its staged Arrow type, streamed batch by batch."""
    schema = pa.schema([pa.field(c.name, c.arrow_type) for c in columns])
    nested = [i for i, c in enumerate(columns) if c.as_json]

    def batches() -> Iterator[pa.RecordBatch]:
        renderer = _JsonRenderer() if nested else None
        try:
            for batch in reader:
                arrays = list(batch.columns)
                if renderer is not None:
                    for i, array in zip(nested, renderer.render([arrays[i] for i in nested]), strict=True):
                        arrays[i] = array
                for i, column in enumerate(columns):
                    if not column.as_json and not arrays[i].type.equals(column.arrow_type):
                        arrays[i] = arrays[i].cast(column.arrow_type)
                yield pa.RecordBatch.from_arrays(arrays, schema=schema)
        finally:
            if renderer is not None:
                renderer.close()

    return pa.RecordBatchReader.from_batches(schema, batches())


def _column(name: str, t: pa.DataType) -> StagedColumn:
    if pa.types.is_dictionary(t):
        return _column(name, t.value_type)
    simple = _simple(t)
    if simple is not None:
        return StagedColumn(name, simple[0], simple[1])
    if pa.types.is_decimal(t):
        precision, scale = t.precision, t.scale
        if scale < 0:  # 12E+3 at scale -3: a whole number of precision - scale digits
            precision, scale = precision - scale, 0
        arrow = pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)
        return StagedColumn(name, f"numeric({precision},{scale})", arrow)
    if pa.types.is_timestamp(t):
        if t.tz:
            return StagedColumn(name, "timestamp with time zone", pa.timestamp("us", tz=t.tz))
        return StagedColumn(name, "timestamp without time zone", pa.timestamp("us"))
    if _is_nested(t) or (isinstance(t, pa.ExtensionType) and t.extension_name == "arrow.json"):
        return StagedColumn(name, "jsonb", pa.json_(pa.string()), as_json=_is_nested(t))
    raise WarehouseError(
        f"column {name!r} has the Arrow type {t}, which the PostgreSQL warehouse cannot store",
        fix=f"declare the column's type in shopflow.yml (columns: {{{name}: text}} keeps it as text)",
        column=name,
    )


def _simple(t: pa.DataType) -> tuple[str, pa.DataType] | None:
    """(PostgreSQL type, Arrow type) for the types that map one to one."""
    checks: list[tuple[Any, str, pa.DataType]] = [
        (pa.types.is_null, "text", pa.string()),
        (pa.types.is_boolean, "boolean", pa.bool_()),
        (lambda x: pa.types.is_int8(x) or pa.types.is_uint8(x) or pa.types.is_int16(x), "smallint", pa.int16()),
        (lambda x: pa.types.is_uint16(x) or pa.types.is_int32(x), "integer", pa.int32()),
        (lambda x: pa.types.is_uint32(x) or pa.types.is_int64(x), "bigint", pa.int64()),
        (pa.types.is_uint64, "numeric(20,0)", pa.decimal128(20, 0)),
        (lambda x: pa.types.is_float16(x) or pa.types.is_float32(x), "real", pa.float32()),
        (pa.types.is_float64, "double precision", pa.float64()),
        (lambda x: pa.types.is_string(x) or pa.types.is_large_string(x) or pa.types.is_string_view(x),
         "text", pa.string()),
        (lambda x: pa.types.is_binary(x) or pa.types.is_large_binary(x) or pa.types.is_fixed_size_binary(x)
         or pa.types.is_binary_view(x), "bytea", pa.binary()),
        (pa.types.is_date, "date", pa.date32()),
        (pa.types.is_time, "time without time zone", pa.time64("us")),
        (pa.types.is_duration, "interval", pa.duration("us")),
    ]
    for check, sql_type, arrow in checks:
        if check(t):
            return sql_type, arrow
    return None


def _is_nested(t: pa.DataType) -> bool:
    return bool(
        pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)
        or pa.types.is_list_view(t) or pa.types.is_large_list_view(t) or pa.types.is_struct(t) or pa.types.is_map(t)
    )


class _JsonRenderer:
    """Nested Arrow arrays as JSON text (DuckDB's `to_json`), one batch at a time."""

    def __init__(self) -> None:
        from shopflow.engine import connect

        self._con = connect(extensions=("json",))

    def render(self, arrays: list[pa.Array]) -> list[pa.Array]:
        """Each of `arrays` as an Arrow JSON array of the same length and order."""
        names = [f"c{i}" for i in range(len(arrays))]
        self._con.register("_sf_nested", pa.table(arrays, names=names))
        try:
            select = ", ".join(f"to_json({n})::VARCHAR AS {n}" for n in names)
            table = self._con.execute(f"SELECT {select} FROM _sf_nested").to_arrow_table()
        finally:
            self._con.unregister("_sf_nested")
        return [
            pa.ExtensionArray.from_storage(pa.json_(pa.string()), table.column(n).combine_chunks().cast(pa.string()))
            for n in names
        ]

    def close(self) -> None:
        self._con.close()
