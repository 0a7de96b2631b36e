"""Split nested records into flat tables, batch by batch, in Arrow.

Objects are flattened into `parent__child` columns (a key named like shopflow's own columns,
`_sf_idx`, becomes `src_sf_idx`: see `naming`). A list becomes a child table
`<table>__<column>` with one row per element, the parent's key (`order_id` for table
`orders` keyed by `id`) and `_sf_idx`, the element's position. Lists of scalars give a child
column `value`. Lists below the first level stay as list columns of the child table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopflow.naming import normalize_name, singular, source_name

CHILD_INDEX = "_sf_idx"
ROW_ID = "_sf_row_id"
# Carried from the parent into every child row.
INHERITED = ("_sf_batch", "_sf_file", "_sf_load_date")


@dataclass(frozen=True)
class ParentKey:
    """How child rows point at their parent: parent columns and their names in the child."""

    parent_columns: tuple[str, ...]
    child_columns: tuple[str, ...]


def parent_key(table: str, primary_key: list[str]) -> ParentKey:
    """`orders` keyed by `id` -> child column `order_id`; no key -> `_sf_row_id`."""
    if not primary_key:
        return ParentKey((ROW_ID,), ("_sf_parent_id",))
    columns = tuple(normalize_name(k) for k in primary_key)
    return ParentKey(columns, tuple(f"{singular(table)}_{c}" for c in columns))


def split_nested(batch: pa.RecordBatch, table: str, key: ParentKey) -> dict[str, pa.RecordBatch]:
    """The batch as flat tables: `{table: parent rows, table__col: child rows, ...}`."""
    flat_columns: dict[str, pa.Array] = {}
    lists: dict[str, pa.Array] = {}
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        _flatten_into(flat_columns, lists, name, column, table)
    parent = pa.RecordBatch.from_pydict(flat_columns) if flat_columns else batch.select([])
    out = {table: parent}
    for name, column in lists.items():
        out[f"{table}__{name}"] = _child(parent, column, key, table)
    return out


def _flatten_into(
    columns: dict[str, pa.Array], lists: dict[str, pa.Array], name: str, column: pa.Array, table: str
) -> None:
    if pa.types.is_struct(column.type):
        # StructArray.flatten carries the struct's nulls into its fields: a null address has a null city.
        for field, child in zip(column.type, column.flatten(), strict=True):
            _flatten_into(columns, lists, f"{name}__{source_name(field.name, table)}", child, table)
    elif pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        lists[name] = column
    else:
        columns[name] = column


def _child(parent: pa.RecordBatch, column: pa.Array, key: ParentKey, table: str) -> pa.RecordBatch:
    parents = pc.list_parent_indices(column)
    values = pc.list_flatten(column)
    offsets = column.offsets.to_numpy(zero_copy_only=False)
    parent_rows = parents.to_numpy(zero_copy_only=False)
    positions = np.arange(len(values), dtype=np.int64) + offsets[0] - offsets[parent_rows] if len(values) else []
    data: dict[str, pa.Array] = {}
    for parent_column, child_column in zip(key.parent_columns, key.child_columns, strict=True):
        data[child_column] = parent.column(parent_column).take(parents)
    data[CHILD_INDEX] = pa.array(positions, pa.int64())
    if pa.types.is_struct(values.type):
        element_lists: dict[str, pa.Array] = {}
        flat: dict[str, pa.Array] = {}
        for field, child in zip(values.type, values.flatten(), strict=True):
            _flatten_into(flat, element_lists, source_name(field.name, table), child, table)
        data.update(flat)
        data.update(element_lists)  # deeper lists stay lists in the child table
    else:
        data["value"] = values
    for inherited in INHERITED:
        if inherited in parent.schema.names:
            data[inherited] = parent.column(inherited).take(parents)
    return pa.RecordBatch.from_pydict(data)
