"""Reuse the types detected in earlier JSON documents for later documents of the same shape.

`read_json` detects types by walking every record (`sample_size=-1`), which costs about as much
as reading them. DuckDB's `json_structure` gives a document's shape (its keys and the JSON type
of each value, merged over list elements) for a third of that. When the records of a file have
exactly the keys of the records detected earlier, at every level, and no value of a JSON type
those did not have, detecting over both would give the types already detected: the file reuses
them. A new key anywhere (a column first appearing late), a missing key, or a value of another
type makes the caller detect the file's types afresh.

Within one query of many documents the same holds: types are detected over the documents of
a `covering` of their shapes only, for the others fit what those give.

A shape cannot tell what the text of a string looks like. Dates and timestamps that are not
plain ISO 8601 still fail the read and stay text (see `json_read`); a value that does not fit a
type detected from text (a UUID, a time) fails the read, and the caller detects afresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from duckdb.sqltypes import DuckDBPyType

# A shape is a JSON type name (`json_structure`'s), a dict of key -> shape, or a one-item list
# holding the shape of the elements.
Shape = object

NULL = "NULL"
MIXED = "JSON"
# How `json_structure` merges numbers: rank, and what two of a rank merge into.
_NUMBER_RANK = {"UBIGINT": 0, "BIGINT": 0, "HUGEINT": 1, "DOUBLE": 2}


def record_shape(document: Shape, records: str | None) -> Shape | None:
    """The shape of a document's records (`records:` key, else the document or its elements).

    None if the document does not hold records: no such key, or not a list of objects.
    """
    if records is not None:
        if not isinstance(document, dict) or records not in document:
            return None
        value = document[records]
        if value == NULL:
            return NULL
        if not isinstance(value, list):
            return None
        document = value
    if isinstance(document, list):
        document = document[0]
    return document if isinstance(document, dict) or document == NULL else None


def merge(a: Shape, b: Shape) -> Shape:
    """The shape of the values of `a` and `b` together, as `json_structure` merges them."""
    if a == NULL:
        return b
    if b == NULL or a == b:
        return a
    if isinstance(a, dict) and isinstance(b, dict):
        return {key: merge(a.get(key, NULL), b.get(key, NULL)) for key in {**a, **b}}
    if isinstance(a, list) and isinstance(b, list):
        return [merge(a[0], b[0])]
    if isinstance(a, str) and isinstance(b, str) and a in _NUMBER_RANK and b in _NUMBER_RANK:
        if _NUMBER_RANK[a] == _NUMBER_RANK[b]:
            return "HUGEINT"  # signed and unsigned 64-bit integers
        return a if _NUMBER_RANK[a] > _NUMBER_RANK[b] else b
    return MIXED


def fits(shape: Shape, known: Shape) -> bool:
    """True if values of `shape` merged into `known` leave it as it is, with the same keys throughout.

    Mixed values (`JSON`) fit nothing but nulls: `{}` has that shape too, and `read_json` types
    it otherwise than mixed values.
    """
    if shape == NULL:
        return True
    if isinstance(known, dict):
        return (isinstance(shape, dict) and shape.keys() == known.keys()
                and all(fits(shape[key], value) for key, value in known.items()))
    if isinstance(known, list):
        return isinstance(shape, list) and fits(shape[0], known[0])
    return known != MIXED and merge(known, shape) == known


def covering(shapes: list[Shape]) -> list[int] | None:
    """The positions of the fewest `shapes`, taken in order, whose merge every shape fits; None if none has.

    Detecting types over the documents of those shapes gives the types of detecting over all
    of them, by the argument of this module: each other shape fits the merge. Greedy: a shape
    joins when it does not fit the merge of those before it.
    """
    chosen: list[int] = []
    merged: Shape = NULL
    for i, shape in enumerate(shapes):
        if not chosen or not fits(shape, merged):
            chosen.append(i)
            merged = merge(merged, shape)
    if not isinstance(merged, dict) or not all(fits(shape, merged) for shape in shapes):
        return None
    return chosen


@dataclass
class DetectedTypes:
    """What `read_json` detected in earlier documents of a table, and their records' shape.

    Attributes:
        columns: The columns `json_read.detect` gave, or None before the first detection.
        shape: The merged shape of the records those columns were detected over.
        covers: Types may be detected over a `covering` of the documents' shapes; false once
            types so detected, or reused, did not fit (a value a shape cannot tell, such as a UUID).
    """

    columns: list[tuple[str, DuckDBPyType]] | None = None
    shape: Shape = None
    covers: bool = True

    def columns_for(self, shapes: list[Shape]) -> list[tuple[str, DuckDBPyType]] | None:
        """The columns records of `shapes` would be detected as, if those already detected; else None."""
        if self.columns is None or not all(fits(s, self.shape) for s in shapes):
            return None
        return self.columns

    def remember(self, columns: list[tuple[str, DuckDBPyType]], shapes: list[Shape]) -> None:
        """Keep the columns detected over records of `shapes`, for the next documents."""
        merged: Shape = NULL
        for shape in shapes:
            merged = merge(merged, shape)
        if isinstance(merged, dict):
            self.columns, self.shape = columns, merged
        else:  # no records, or not records alike: nothing to compare later documents with
            self.columns, self.shape = None, None

    def forget(self) -> None:
        """Detect the next documents' types afresh, over all of them."""
        self.columns, self.shape, self.covers = None, None, False
