"""Fit a file's rows to the types its table has already, so one file's type change blocks nothing.

A column keeps the type it got first: the lake table's, or within the commit being built, the
one the earlier files gave it (when the two cannot be unified, e.g. bigint and text; bigint and
double unify into double as before). A later file whose values have another type (`qty: "five"`
where earlier files had `qty: 5`) is cast to it value by value: what fits loads (the text "7"
becomes 7), what does not goes to quarantine with the column, the value and the fix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from shopflow import quarantine
from shopflow.lake.schema import normalize_schema
from shopflow.pipeline.spool import Spool

_CAST_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)


class CommitTypes:
    """The types the files kept for the commit being built gave each output's columns."""

    def __init__(self) -> None:
        self._kept: dict[str, dict[str, pa.DataType]] = {}
        self._segment: dict[str, dict[str, pa.DataType]] = {}

    def add(self, output: str, schema: pa.Schema) -> None:
        """Note the columns of a batch of `output` spooled for the current file."""
        types = self._segment.setdefault(output, {})
        for column in normalize_schema(schema):
            types.setdefault(column.name, column.type)

    def segment_outputs(self) -> set[str]:
        """The outputs the current file has spooled batches for."""
        return set(self._segment)

    def keep(self) -> None:
        """The current file is kept: its types count for the next files."""
        for output, types in self._segment.items():
            kept = self._kept.setdefault(output, {})
            for name, kind in types.items():
                kept[name] = _unified(kept[name], kind) if name in kept else kind
        self._segment.clear()

    def drop(self) -> None:
        """The current file's batches are dropped."""
        self._segment.clear()

    def clear(self) -> None:
        """A commit landed: its types are the lake's now."""
        self._kept.clear()
        self._segment.clear()

    def expected(self, output: str, lake: pa.Schema | None, schema: pa.Schema) -> pa.Schema:
        """The types the columns of `schema` must be cast to: the lake's, else an earlier file's that clash."""
        earlier = self._kept.get(output, {})
        fields = []
        for column in schema:
            if lake is not None and column.name in lake.names:
                fields.append(lake.field(column.name))
            elif column.name in earlier and _unified(earlier[column.name], column.type) is None:
                fields.append(pa.field(column.name, earlier[column.name]))
        return pa.schema(fields)


class TypedSpool(Spool):
    """A spool that notes the types each kept file gave each output's columns, until the commit."""

    def __init__(self, folder: Path | None = None) -> None:
        super().__init__(folder)
        self.types = CommitTypes()

    def add(self, output: str, batch: pa.RecordBatch) -> None:
        """Append a batch for `output` to the current segment."""
        self.types.add(output, batch.schema)
        super().add(output, batch)

    def keep_segment(self) -> None:
        """Close the current segment and keep it, and its types, for the next commit."""
        super().keep_segment()
        self.types.keep()

    def drop_segment(self) -> None:
        """Close the current segment and throw its batches and types away."""
        super().drop_segment()
        self.types.drop()

    def clear(self) -> None:
        """Forget every kept batch and type (after a commit: the lake has the types now)."""
        super().clear()
        self.types.clear()


@dataclass
class Misfits:
    """The rows of one file that did not fit: how many (of the main table's), and the first reason."""

    rows: int = 0
    main_rows: int = 0
    first: str | None = None

    def add(self, rows: int, *, main: bool, reason: str) -> None:
        """Count `rows` more misfits, of the main table's rows if `main`."""
        self.rows += rows
        self.main_rows += rows if main else 0
        self.first = self.first or reason


def fit(
    batch: pa.RecordBatch, expected: pa.Schema, *, table: str, in_lake: set[str]
) -> tuple[pa.RecordBatch, pa.RecordBatch, list[str]]:
    """Split `batch` into rows whose values fit `expected` (cast to it) and those that do not, with why.

    `in_lake` names the columns whose type comes from the lake (the rest from earlier files).
    """
    bad = np.zeros(batch.num_rows, dtype=bool)
    reasons: dict[int, list[str]] = {}
    cast: dict[str, pa.Array] = {}
    for target in expected:
        column = batch.column(target.name)
        if column.type.equals(target.type):
            continue
        try:
            cast[target.name] = _cast(column, target.type)
            continue
        except _CAST_ERRORS:
            pass
        for i in _misfit_positions(column, target.type):
            bad[i] = True
            reasons.setdefault(i, []).append(_reason(target.name, column[i].as_py(), target.type, table,
                                                      target.name in in_lake))
    good = batch
    if bad.any():
        good = batch.filter(pa.array(~bad))
        cast = {target.name: _cast(good.column(target.name), target.type) for target in expected
                if not good.column(target.name).type.equals(target.type)}
    for name, column in cast.items():
        good = good.set_column(good.schema.get_field_index(name), expected.field(name), column)
    return good, batch.filter(pa.array(bad)), [" / ".join(reasons[i]) for i in sorted(reasons)]


def quarantine_rows(
    origin: quarantine.Origin, url: str, rows: pa.RecordBatch, reasons: list[str], pk_columns: list[str]
) -> pa.RecordBatch:
    """Quarantine rows for rows that did not fit: the reason, the row's key and its values as JSON."""
    data = [c for c in rows.schema.names if not c.startswith("_sf_")]
    records = rows.select(data).to_pylist()
    keys: list[str | None] = [None] * len(records)
    if pk_columns:
        values = [[r.get(k) for k in pk_columns] for r in records]
        keys = [json.dumps(v, default=str) if any(x is not None for x in v) else None for v in values]
    raws = [json.dumps(r, default=str, ensure_ascii=False) for r in records]
    return quarantine.records(origin, url, reasons, raws, keys=keys)


def _reason(name: str, value: object, kind: pa.DataType, table: str, in_lake: bool) -> str:
    where = f"the type {name} has in the lake" if in_lake else f"the type earlier files of this run gave {name}"
    fix = f"declare {name}: text under columns: of table {table!r} in shopflow.yml"
    if in_lake:
        fix += (f", then rebuild the table from its files (its lake holds {name} as {type_name(kind)}) "
                "and write this file again")
    return f"{name}: {value!r} does not fit {type_name(kind)}, {where}; fix: {fix}"


def type_name(kind: pa.DataType) -> str:
    """The name a user declares `kind` by in shopflow.yml."""
    if pa.types.is_decimal(kind):
        return f"decimal({kind.precision},{kind.scale})"
    names = {pa.int64(): "bigint", pa.int32(): "integer", pa.int16(): "smallint", pa.float64(): "double",
             pa.string(): "text", pa.large_string(): "text", pa.bool_(): "boolean", pa.date32(): "date"}
    if kind in names:
        return names[kind]
    if pa.types.is_timestamp(kind):
        return "timestamptz" if kind.tz else "timestamp"
    return str(kind)


def _unified(a: pa.DataType, b: pa.DataType) -> pa.DataType | None:
    """The type a commit holding both `a` and `b` gets, or None if they do not unify."""
    try:
        both = pa.unify_schemas([pa.schema([("x", a)]), pa.schema([("x", b)])], promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    return both.field("x").type


def _cast(column: pa.Array, kind: pa.DataType) -> pa.Array:
    """`column` cast to `kind` without loss; a column of nulls only casts to any type."""
    if column.null_count == len(column):
        return pa.nulls(len(column), kind)
    return column.cast(kind, safe=True)


def _casts(column: pa.Array, kind: pa.DataType) -> bool:
    try:
        _cast(column, kind)
    except _CAST_ERRORS:
        return False
    return True


def _misfit_positions(column: pa.Array, kind: pa.DataType) -> list[int]:
    """The positions of the values of `column` that do not cast to `kind`, found by halving."""
    out, todo = [], [(0, len(column))]
    while todo:
        start, stop = todo.pop()
        if _casts(column.slice(start, stop - start), kind):
            continue
        if stop - start == 1:
            out.append(start)
            continue
        middle = (start + stop) // 2
        todo += [(middle, stop), (start, middle)]
    return sorted(out)
