"""Read JSON documents and JSON lines, one file or many in one DuckDB query.

Types come from DuckDB's own `read_json` detection (binding only), over every record of every
file, so a column is typed as the file read alone would type it (merged across files).
Declared columns are read as text, for `casting` to cast exactly.

The data is read in one of two ways:

* **documents, fast** (`{"orders": [...]}` or `[...]`): `read_json_objects` + `json_extract`
  split each document into its records, `json_transform_strict` types them with the detected
  structure. A document is one giant JSON object, which `read_json` itself converts slowly.
* **exact**: `read_json` with the detected columns: JSON lines, and documents the fast way
  cannot express.

Dates and timestamps: `read_json` detects them in many formats (`05-01-2024`, `24-05-01`) but
converts given types as ISO only, and `json_transform` likewise. So both ways read them as
text and convert plain ISO 8601 here (offsets to UTC, as `read_json` does); any other value
fails the query with `NOT_ISO` and its leaf path (`created_at`, `events[].at`), and the caller
reads again with that path in `text`, where it stays text rather than becoming a wrong date.

Every query has a `_sf_src` column: the local path of the row's file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from shopflow.config.model import FileTable
from shopflow.naming import normalize_name
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
    text_columns = {normalize_name(c) for c in table.columns}
    if table.records:
        names = [n for n, _ in detected]
        if table.records not in names:
            raise KeyError(f"the JSON document has no key {table.records!r} (keys: {', '.join(names)})")
        return {n: _type_sql(t, text_columns if n == table.records else set()) for n, t in detected}
    return {n: "VARCHAR" if normalize_name(n) in text_columns else _type_sql(t, set()) for n, t in detected}


def exact_read(paths: list[Path], table: FileTable, fmt: str, types: dict[str, str], text: frozenset[str]) -> JsonRead:
    """`read_json` with the given column types; the records of `records:` unnested.

    Dates and timestamps are read as text and converted as `fast_read` does; those at the
    leaf paths in `text` stay text.
    """
    import duckdb

    json_format = "newline_delimited" if fmt == "jsonl" else "auto"
    as_text = {n: _type_sql(duckdb.sqltype(t), set(), temporal_text=True) for n, t in types.items()}
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


def fast_read(paths: list[Path], table: FileTable, types: dict[str, str], text: frozenset[str]) -> JsonRead:
    """The documents split into records by `json_extract`, typed by `json_transform_strict`.

    Dates and timestamps are transformed as text, then converted if plain ISO 8601; a value
    that is not makes the query fail with `NOT_ISO` and its leaf path (see `not_iso_leaf`),
    for the caller to read again with that path in `text`, where it stays text.

    Raises:
        FastPathError: A column's type cannot be expressed as a `json_transform` structure.
    """
    import duckdb

    if table.records:
        records = duckdb.sqltype(types[table.records])
        if records.id != "list" or records.child.id != "struct":
            raise FastPathError(f"key {table.records!r} does not hold a list of records")
        columns: list[tuple[str, DuckDBPyType]] = fields(records.child)
        path = f'$."{_json_key(table.records)}"'
        message = quote_literal(f"shopflow: the JSON document has no list {table.records!r} in file ")
        split = (
            f"CASE json_type(json, {quote_literal(path)}) "
            f"WHEN 'ARRAY' THEN json_extract(json, {quote_literal(path + '[*]')}) "
            f"WHEN 'NULL' THEN []::JSON[] ELSE error({message} || {SOURCE}) END"
        )
    else:
        columns = [(n, duckdb.sqltype(t)) for n, t in types.items()]
        message = quote_literal("shopflow: a JSON value is not a record or a list of records in file ")
        split = (
            "CASE json_type(json) WHEN 'ARRAY' THEN json_extract(json, '$[*]') WHEN 'OBJECT' THEN [json] "
            f"ELSE error({message} || {SOURCE}) END"
        )
    if not columns:
        raise FastPathError("the records have no fields")
    structure = json.dumps({name: _structure(dtype) for name, dtype in columns})
    records_sql = (
        f"SELECT {SOURCE}, UNNEST({split}) AS _o FROM read_json_objects({_paths_sql(paths)}, "
        f"format='unstructured', maximum_object_size={object_limit(paths)}, filename={quote_literal(SOURCE)})"
    )
    typed = f"SELECT {SOURCE}, UNNEST(json_transform_strict(_o, {quote_literal(structure)})) FROM ({records_sql})"
    return _converted_read(typed, columns, text)


def not_iso_leaf(error: BaseException) -> str | None:
    """The leaf path a `NOT_ISO` error names, if `error` is one."""
    message = str(error)
    if NOT_ISO not in message:
        return None
    return message.split(NOT_ISO, 1)[1].split(_PATH_END, 1)[0]


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


def _json_key(key: str) -> str:
    return key.replace("\\", "\\\\").replace('"', '\\"')


def _structure(dtype: DuckDBPyType) -> object:
    """The `json_transform` structure of `dtype`; dates and timestamps stay text (see `_converted`)."""
    if dtype.id == "struct":
        if not dtype.children:
            raise FastPathError("an object without fields")
        return {name: _structure(child) for name, child in fields(dtype)}
    if dtype.id == "list":
        return [_structure(dtype.child)]
    text = str(dtype)
    if text in _ISO:
        return "VARCHAR"
    if text not in _TRANSFORMABLE:
        raise FastPathError(f"type {text} is not read the fast way")
    return text


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
    if kind not in _ISO or path in text:
        return None
    # read_json converts an offset to UTC: so does TIMESTAMPTZ in a UTC session, then TIMESTAMP.
    cast = f"CAST({expr} AS DATE)" if kind == "DATE" else f"CAST(CAST({expr} AS TIMESTAMPTZ) AS TIMESTAMP)"
    error = quote_literal(f"{NOT_ISO}{path}{_PATH_END}")
    return (
        f"CASE WHEN {expr} IS NULL THEN NULL WHEN regexp_full_match({expr}, {quote_literal(_ISO[kind])}) "
        f"THEN {cast} ELSE error({error}) END"
    )


def _type_sql(
    dtype: DuckDBPyType, text_fields: set[str], *, temporal_text: bool = False,
    text: frozenset[str] = frozenset(), path: str = "",
) -> str:
    """The SQL type of `dtype`, JSON as VARCHAR; in a struct, the fields in `text_fields` as VARCHAR.

    Dates and timestamps are VARCHAR if `temporal_text`, or if their leaf path is in `text`.
    """
    if dtype.id == "list":
        return _type_sql(dtype.child, text_fields, temporal_text=temporal_text, text=text, path=f"{path}[]") + "[]"
    if dtype.id == "struct":
        typed = []
        for name, child in fields(dtype):
            child_sql = "VARCHAR" if normalize_name(name) in text_fields else _type_sql(
                child, set(), temporal_text=temporal_text, text=text, path=f"{path}.{name}" if path else name
            )
            typed.append(f"{quote_identifier(name)} {child_sql}")
        return "STRUCT(" + ", ".join(typed) + ")"
    kind = str(dtype)
    if kind in _ISO and (temporal_text or path in text):
        return "VARCHAR"
    return "VARCHAR" if kind in ("JSON", "NULL", '"NULL"') else kind
