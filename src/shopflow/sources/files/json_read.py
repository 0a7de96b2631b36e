"""Read JSON documents and JSON lines, one file or many in one DuckDB query.

Types come from DuckDB's own `read_json` detection (binding only), over every record of every
file, so a column is typed as the file read alone would type it (merged across files).
Detection is the slowest pass (about 40 MB/s), so it walks only the documents it must:
documents whose records have the shape of records detected earlier reuse those types, and
of documents read together, only the files whose shapes cover the others' are detected over
(see `shapes`). Declared columns are read as text, for `casting` to cast exactly.

The data is read in one of two ways:

* **documents, fast** (`{"orders": [...]}` or `[...]`): each file read as text (or by
  `read_json_objects`, gzipped or with several documents), `json_transform_strict` types the
  records with the detected structure: a `{"orders": [...]}` document whole, in one parse,
  others split into records by `json_extract` first. A document is one giant JSON object,
  which `read_json` itself converts slowly.
* **exact**: `read_json` with the detected columns: JSON lines, and documents the fast way
  cannot express.

Dates and timestamps: `read_json` detects them in many formats (`05-01-2024`, `24-05-01`) but
converts given types as ISO only, and `json_transform` likewise. So both ways read them as
text and convert plain ISO 8601 here (offsets to UTC, as `read_json` does); any other value
fails the query with `NOT_ISO` and its leaf path (`created_at`, `events[].at`), and the caller
reads again with that path in `text`, where it stays text rather than becoming a wrong date.

Doubles: a whole one past 2**53 may be a rounded id past 64 bits (DuckDB detects those as
DOUBLE). It fails the query with its leaf path, and the caller reads that leaf as text, typed
DOUBLE, DECIMAL(38,0) or text by its values (see `exact_numbers`).

Every query has a `_sf_src` column: the local path of the row's file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from shopflow.config.model import FileTable
from shopflow.naming import lake_name
from shopflow.sources.files import exact_numbers
from shopflow.sources.files.shapes import Shape, record_shape
from shopflow.sql import quote_identifier, quote_literal

if TYPE_CHECKING:
    import duckdb
    from duckdb.sqltypes import DuckDBPyType

SOURCE = "_sf_src"
# A document is parsed as one object, so the reader's object limit must cover the largest
# file; DuckDB reserves buffers of twice this size, so it is not set higher than needed.
_MIN_OBJECT = 16 << 20
# Leaf types json_transform converts exactly as read_json does (DATE and TIMESTAMP are converted here).
_TRANSFORMABLE = {"BOOLEAN", "BIGINT", "UBIGINT", "HUGEINT", "DOUBLE", "VARCHAR", "TIME", "UUID"}
_ISO = {
    "DATE": r"\d{4}-\d{1,2}-\d{1,2}",
    "TIMESTAMP": r"\d{4}-\d{1,2}-\d{1,2}[T ]\d{1,2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)?",
}
NOT_ISO = "shopflow: a date or timestamp is not plain ISO 8601: "
_PATH_END = " (read as text)"
_EXACT_END = " (read again)"
# The markers of errors that name a leaf to read otherwise, and what ends the leaf's path.
_RETRIES = ((NOT_ISO, _PATH_END), (exact_numbers.ROUNDED, _EXACT_END), (exact_numbers.NOT_WHOLE, _EXACT_END))


class FastPathError(Exception):
    """The records' types cannot be read the fast way; read the files exactly instead."""


@dataclass(frozen=True)
class JsonRead:
    """A query of the records of some JSON files and the records' columns (without `_sf_src`)."""

    sql: str
    columns: list[tuple[str, DuckDBPyType]]


def object_limit(paths: list[Path]) -> int:
    """The `maximum_object_size` that covers the largest of `paths` (gzipped files: uncompressed)."""
    return max([_MIN_OBJECT, *(_uncompressed_size(p) + 1024 for p in paths)])


def _uncompressed_size(path: Path) -> int:
    size = path.stat().st_size
    if path.suffix.lower() not in (".gz", ".gzip") or size < 18:
        return size
    with open(path, "rb") as handle:  # gzip keeps the uncompressed size (mod 4 GiB) in its last 4 bytes
        handle.seek(-4, os.SEEK_END)
        return max(size, int.from_bytes(handle.read(4), "little"))


def _paths_sql(paths: list[Path]) -> str:
    return "[" + ", ".join(quote_literal(str(p)) for p in paths) + "]"


def detect(
    con: duckdb.DuckDBPyConnection, paths: list[Path], fmt: str, *, sample_all: bool = False
) -> list[tuple[str, DuckDBPyType]]:
    """The columns `read_json` detects over all of `paths`; raises duckdb.Error for an unreadable file.

    JSON lines are sampled as `read_json` does, per file, unless `sample_all`.
    """
    if fmt == "jsonl" and sample_all:
        options = "format='newline_delimited', sample_size=-1"
    elif fmt == "jsonl":  # each file's own sample, as when read alone, merged by name
        options = "format='newline_delimited', union_by_name=true"
    else:  # a document is one sample value: sample every value of every file
        options = f"format='auto', sample_size=-1, maximum_sample_files={len(paths)}"
    relation = con.sql(
        f"SELECT * FROM read_json({_paths_sql(paths)}, {options}, maximum_object_size={object_limit(paths)})"
    )
    return list(zip(relation.columns, relation.types, strict=True))


def record_types(detected: list[tuple[str, DuckDBPyType]], table: FileTable) -> dict[str, str]:
    """The SQL type of each column `read_json` is to read: declared columns as text, JSON as text.

    Raises:
        KeyError: `records:` names a key the documents do not have.
    """
    text_columns = {lake_name(c) for c in table.columns}
    if table.records:
        names = [n for n, _ in detected]
        if table.records not in names:
            raise KeyError(f"the JSON document has no key {table.records!r} (keys: {', '.join(names)})")
        return {n: _type_sql(t, text_columns if n == table.records else set()) for n, t in detected}
    return {n: "VARCHAR" if lake_name(n) in text_columns else _type_sql(t, set()) for n, t in detected}


def exact_read(paths: list[Path], table: FileTable, fmt: str, types: dict[str, str], text: frozenset[str]) -> JsonRead:
    """`read_json` with the given column types; the records of `records:` unnested.

    Dates, timestamps and doubles are read as text and converted as `fast_read` does; those
    at the leaf paths in `text` stay text.
    """
    import duckdb

    json_format = "newline_delimited" if fmt == "jsonl" else "auto"
    as_text = {n: _read_type(duckdb.sqltype(t), text, n, records=n == table.records) for n, t in types.items()}
    spec = "{" + ", ".join(f"{quote_literal(n)}: {quote_literal(t)}" for n, t in as_text.items()) + "}"
    source = (
        f"read_json({_paths_sql(paths)}, format={quote_literal(json_format)}, "
        f"maximum_object_size={object_limit(paths)}, filename={quote_literal(SOURCE)}, columns={spec})"
    )
    if not table.records:
        return _converted_read(f"SELECT * FROM {source}", [(n, duckdb.sqltype(t)) for n, t in types.items()], text)
    records = duckdb.sqltype(types[table.records])
    if records.id != "list" or records.child.id != "struct":
        raise KeyError(f"key {table.records!r} does not hold a list of records (it holds {records})")
    sql = (
        f"SELECT {SOURCE}, UNNEST(_r) FROM "
        f"(SELECT {SOURCE}, UNNEST({quote_identifier(table.records)}) AS _r FROM {source})"
    )
    return _converted_read(sql, fields(records.child), text)


def _read_type(dtype: DuckDBPyType, text: frozenset[str], name: str, *, records: bool) -> str:
    """The type `read_json` reads column `name` as; the leaf paths of `records:` start at its fields."""
    if not records or dtype.id != "list" or dtype.child.id != "struct":
        return _type_sql(dtype, set(), as_read=True, text=text, path=name)
    inner = ", ".join(
        f"{quote_identifier(f)} {_type_sql(child, set(), as_read=True, text=text, path=f)}"
        for f, child in fields(dtype.child)
    )
    return f"STRUCT({inner})[]"


@dataclass(frozen=True)
class Documents:
    """The JSON documents of some files and their records' shapes (see `shapes`).

    Attributes:
        sql: A query of one row per document: `_sf_src` and `json`, its text.
        shapes: The shape of each file's records (one per distinct shape of its documents).
        files: For each of `shapes`, the position of its file among the paths read.
    """

    sql: str
    shapes: list[Shape]
    files: list[int] = field(default_factory=list)


def documents(con: duckdb.DuckDBPyConnection, paths: list[Path], records: str | None) -> Documents:
    """The documents of `paths` and their records' shapes, found one file at a time (to hold one in memory).

    Raises:
        duckdb.Error: A file is not JSON.
        FastPathError: A document does not hold records: `records` is missing or not a list of
            objects (the message names its file).
    """
    import duckdb

    # Read as text, a file is parsed once per query; DuckDB's JSON reader parses it once more to
    # find where each document ends. It takes over for gzip, a byte order mark or several documents.
    as_text = not any(p.suffix.lower() in (".gz", ".gzip") for p in paths)
    found: list[Shape] = []
    files: list[int] = []
    for position, path in enumerate(paths):
        try:
            structures = _structures(con, _text_sql([path]) if as_text else _objects_sql([path]))
        except duckdb.Error:
            if not as_text:
                raise
            as_text = False
            structures = _structures(con, _objects_sql([path]))
        for structure in structures:
            shape = record_shape(structure, records)
            if shape is None:
                what = f"no list {records!r}" if records else "a JSON value that is not a record or a list of records"
                raise FastPathError(f"the JSON document has {what} in file {path}")
            found.append(shape)
            files.append(position)
    return Documents(_text_sql(paths) if as_text else _objects_sql(paths), found, files)


def _structures(con: duckdb.DuckDBPyConnection, sql: str) -> list[Shape]:
    """The distinct `json_structure`s of the documents of `sql`."""
    return [json.loads(s) for (s,) in con.sql(f"SELECT DISTINCT json_structure(json) FROM {sql}").fetchall()]


def _text_sql(paths: list[Path]) -> str:
    return f"(SELECT filename AS {SOURCE}, content AS json FROM read_text({_paths_sql(paths)}))"


def _objects_sql(paths: list[Path]) -> str:
    return (
        f"(SELECT {SOURCE}, json FROM read_json_objects({_paths_sql(paths)}, format='unstructured', "
        f"maximum_object_size={object_limit(paths)}, filename={quote_literal(SOURCE)}))"
    )


def fast_read(docs: Documents, table: FileTable, types: dict[str, str], text: frozenset[str]) -> JsonRead:
    """The records of `docs` typed by `json_transform_strict` with the detected structure.

    A document with a `records:` key is transformed whole, in one parse; other documents are
    split into their records first. Dates and timestamps are transformed as text, then
    converted if plain ISO 8601; a value that is not makes the query fail with `NOT_ISO` and
    its leaf path (see `not_iso_leaf`), for the caller to read again with that path in `text`,
    where it stays text. Doubles are checked likewise (see `exact_numbers`).

    Raises:
        FastPathError: A column's type cannot be expressed as a `json_transform` structure.
    """
    import duckdb

    if table.records:
        records = duckdb.sqltype(types[table.records])
        if records.id != "list" or records.child.id != "struct":
            raise FastPathError(f"key {table.records!r} does not hold a list of records")
        columns: list[tuple[str, DuckDBPyType]] = fields(records.child)
    else:
        columns = [(n, duckdb.sqltype(t)) for n, t in types.items()]
    if not columns:
        raise FastPathError("the records have no fields")
    structure = {name: _structure(dtype, text, name) for name, dtype in columns}
    if table.records:
        whole = quote_literal(json.dumps({table.records: [structure]}))
        records_sql = (
            f"SELECT {SOURCE}, UNNEST(json_transform_strict(json, {whole}).{quote_identifier(table.records)}) AS _r "
            f"FROM {docs.sql}"
        )
        return _converted_read(f"SELECT {SOURCE}, UNNEST(_r) FROM ({records_sql})", columns, text)
    split = (
        "CASE json_type(json) WHEN 'ARRAY' THEN json_extract(json, '$[*]') WHEN 'OBJECT' THEN [json] "
        f"ELSE error({quote_literal('shopflow: a JSON value is not a record or a list of records in file ')} "
        f"|| {SOURCE}) END"
    )
    typed = (
        f"SELECT {SOURCE}, UNNEST(json_transform_strict(_o, {quote_literal(json.dumps(structure))})) "
        f"FROM (SELECT {SOURCE}, UNNEST({split}) AS _o FROM {docs.sql})"
    )
    return _converted_read(typed, columns, text)


def not_iso_leaf(error: BaseException) -> str | None:
    """The leaf to read otherwise that `error` names, if it is one of the errors meant for that.

    Those are a date or timestamp not plain ISO 8601 (`NOT_ISO`: read it as text) and a whole
    number a double cannot hold (read it as DECIMAL(38,0), then as text: see `exact_numbers`).
    """
    message = str(error)
    for marker, end in _RETRIES:
        if marker in message:
            return message.split(marker, 1)[1].split(end, 1)[0]
    return None


def _converted_read(typed: str, columns: list[tuple[str, DuckDBPyType]], text: frozenset[str]) -> JsonRead:
    """`typed` (dates and timestamps as text) with those converted, except the leaves in `text`."""
    import duckdb

    conversions = [(name, _converted(quote_identifier(name), dtype, name, text)) for name, dtype in columns]
    out = [(name, duckdb.sqltype(_type_sql(dtype, set(), text=text, path=name))) for name, dtype in columns]
    if all(c is None for _, c in conversions):
        return JsonRead(typed, out)
    projections = [f"{conv} AS {quote_identifier(n)}" if conv else quote_identifier(n) for n, conv in conversions]
    return JsonRead(f"SELECT {SOURCE}, {', '.join(projections)} FROM ({typed})", out)


def fields(dtype: DuckDBPyType) -> list[tuple[str, DuckDBPyType]]:
    """The fields of a STRUCT type."""
    from duckdb.sqltypes import DuckDBPyType

    out = []
    for name, child in dtype.children:
        assert isinstance(name, str) and isinstance(child, DuckDBPyType)
        out.append((name, child))
    return out


def _structure(dtype: DuckDBPyType, text: frozenset[str], path: str) -> object:
    """The `json_transform` structure of `dtype` at leaf `path`; dates and timestamps stay text (see `_converted`)."""
    if dtype.id == "struct":
        if not dtype.children:
            raise FastPathError("an object without fields")
        return {name: _structure(child, text, f"{path}.{name}") for name, child in fields(dtype)}
    if dtype.id == "list":
        return [_structure(dtype.child, text, f"{path}[]")]
    kind = str(dtype)
    if kind in _ISO:
        return "VARCHAR"
    if kind == "DOUBLE":
        return exact_numbers.json_read_type(path, text)
    if kind not in _TRANSFORMABLE:
        raise FastPathError(f"type {kind} is not read the fast way")
    return kind


def _converted(expr: str, dtype: DuckDBPyType, path: str, text: frozenset[str], depth: int = 0) -> str | None:
    """SQL turning `expr`, read with dates and timestamps as text, into `dtype`: None when it already is."""
    if dtype.id == "struct":
        accessed = [(name, f"{expr}.{quote_identifier(name)}", child) for name, child in fields(dtype)]
        converted = [
            (name, _converted(access, child, f"{path}.{name}", text, depth), access) for name, access, child in accessed
        ]
        if all(c is None for _, c, _ in converted):
            return None
        packed = ", ".join(f"{quote_identifier(name)} := {c or access}" for name, c, access in converted)
        return f"CASE WHEN {expr} IS NULL THEN NULL ELSE struct_pack({packed}) END"
    if dtype.id == "list":
        var = f"_x{depth}"
        inner = _converted(var, dtype.child, f"{path}[]", text, depth + 1)
        return None if inner is None else f"list_transform({expr}, {var} -> {inner})"
    kind = str(dtype)
    if kind == "DOUBLE":
        return exact_numbers.json_double(expr, path, text, _EXACT_END)
    if kind not in _ISO or path in text:
        return None
    # read_json converts an offset to UTC: so does TIMESTAMPTZ in a UTC session. Its epoch
    # microseconds make the TIMESTAMP of that instant some 3 times faster than a cast (ICU's calendar).
    cast = f"CAST({expr} AS DATE)" if kind == "DATE" else f"make_timestamp(epoch_us(CAST({expr} AS TIMESTAMPTZ)))"
    error = quote_literal(f"{NOT_ISO}{path}{_PATH_END}")
    return (
        f"CASE WHEN {expr} IS NULL THEN NULL WHEN regexp_full_match({expr}, {quote_literal(_ISO[kind])}) "
        f"THEN {cast} ELSE error({error}) END"
    )


def _type_sql(
    dtype: DuckDBPyType, text_fields: set[str], *, as_read: bool = False,
    text: frozenset[str] | None = None, path: str = "",
) -> str:
    """The SQL type of `dtype`, JSON as VARCHAR; in a struct, the fields in `text_fields` as VARCHAR.

    `as_read`: the type a value is read as, before `_converted` (dates and timestamps as
    VARCHAR, doubles as `exact_numbers.json_read_type` says). Else, given `text`, the type
    after `_converted`: dates and timestamps whose leaf path is in it stay VARCHAR, doubles
    become what `exact_numbers.json_double` makes them.
    """
    if dtype.id == "list":
        return _type_sql(dtype.child, text_fields, as_read=as_read, text=text, path=f"{path}[]") + "[]"
    if dtype.id == "struct":
        typed = []
        for name, child in fields(dtype):
            child_sql = "VARCHAR" if lake_name(name) in text_fields else _type_sql(
                child, set(), as_read=as_read, text=text, path=f"{path}.{name}" if path else name
            )
            typed.append(f"{quote_identifier(name)} {child_sql}")
        return "STRUCT(" + ", ".join(typed) + ")"
    kind = str(dtype)
    if kind == "DOUBLE" and text is not None:
        return exact_numbers.json_read_type(path, text) if as_read else exact_numbers.json_double_type(path, text)
    if kind in _ISO and (as_read or path in (text or ())):
        return "VARCHAR"
    return "VARCHAR" if kind in ("JSON", "NULL", '"NULL"') else kind
