"""Keep a lake table's schema stable as new data arrives.

delta-rs casts appended data to the table's types and truncates silently (3.5 into a bigint
column becomes 3), so shopflow conforms every batch itself first: new columns are added,
values that fit the existing type are cast to it, and values that do not fit raise
SchemaDriftError, naming the column, both types and the fix. Nothing is truncated.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from shopflow.errors import SchemaDriftError


def _normal(t: pa.DataType) -> pa.DataType:
    """Delta stores strings as `string` and lists as `list`; compare on those."""
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return pa.binary()
    if pa.types.is_large_list(t) or pa.types.is_list_view(t):
        return pa.list_(_normal(t.value_type))
    if pa.types.is_timestamp(t):
        return pa.timestamp("us", tz=t.tz)
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, _normal(f.type)) for f in t])
    if pa.types.is_list(t):
        return pa.list_(_normal(t.value_type))
    return t


def normalize_schema(schema: pa.Schema) -> pa.Schema:
    """`schema` in the types Delta stores (string, list, microsecond timestamps)."""
    return pa.schema([pa.field(f.name, _normal(f.type)) for f in schema])


def target_schema(data: pa.Schema, lake: pa.Schema | None) -> pa.Schema:
    """The lake's schema plus the columns only `data` has (a null-typed new column becomes text)."""
    data = normalize_schema(data)
    if lake is None:
        return pa.schema([pa.field(f.name, pa.string() if pa.types.is_null(f.type) else f.type) for f in data])
    fields = list(lake)
    known = set(lake.names)
    for f in data:
        if f.name not in known:
            fields.append(pa.field(f.name, pa.string() if pa.types.is_null(f.type) else f.type))
    return pa.schema(fields)


def conform_batch(batch: pa.RecordBatch, target: pa.Schema, *, table: str, origin: str = "") -> pa.RecordBatch:
    """`batch` with exactly `target`'s columns and types; missing columns are null.

    Raises:
        SchemaDriftError: A value does not fit the lake's type for its column.
    """
    columns = []
    for field in target:
        index = batch.schema.get_field_index(field.name)
        if index < 0:
            columns.append(pa.nulls(batch.num_rows, field.type))
            continue
        column = batch.column(index)
        if column.type.equals(field.type):
            columns.append(column)
            continue
        try:
            columns.append(column.cast(field.type, safe=True))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise SchemaDriftError(
                f"column {field.name!r} is {field.type} in the lake, but new data has {column.type} values "
                f"that do not fit: {exc}",
                fix=(
                    f"declare the column's type on table {table!r} in shopflow.yml (columns: {{{field.name}: text}} "
                    "reads it as text everywhere) and rebuild the table's lake folder; the data that did not fit "
                    "was not consumed and will be read again"
                ),
                table=table,
                file=origin or None,
            ) from exc
    return pa.RecordBatch.from_arrays(columns, schema=target)


def conformed_reader(batches: Iterator[pa.RecordBatch], target: pa.Schema, *, table: str) -> pa.RecordBatchReader:
    """A reader over `batches`, each conformed to `target`."""
    return pa.RecordBatchReader.from_batches(target, (conform_batch(b, target, table=table) for b in batches))
