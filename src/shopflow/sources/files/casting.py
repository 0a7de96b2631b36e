"""Give a file's records their final names and types, and mark the rows that do not fit.

One SQL projection over the reader's relation: names become snake_case, declared columns are
cast (decimals exactly: a value with more digits than the scale is an error unless the
column says `round: true`), types are normalised for the lake (every integer to BIGINT, JSON
and UUID to text), and each row gets `_sf_error` (why it cannot be loaded, or NULL) and
`_sf_raw` (the row as JSON text, only when it is bad).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shopflow.column_types import ColumnType, parse_column_type
from shopflow.config.model import FileTable
from shopflow.errors import SourceError
from shopflow.naming import normalize_name
from shopflow.sources.files.decimals import decimal_cast, lossy
from shopflow.sources.files.json_read import SOURCE
from shopflow.sql import quote_identifier, quote_literal

if TYPE_CHECKING:
    import duckdb
    from duckdb.sqltypes import DuckDBPyType

    from shopflow.sources.files.readers import FileRead

_NORMAL_TYPES = {
    "TINYINT": "BIGINT", "SMALLINT": "BIGINT", "INTEGER": "BIGINT", "UTINYINT": "BIGINT",
    "USMALLINT": "BIGINT", "UINTEGER": "BIGINT", "UBIGINT": "DECIMAL(20,0)", "HUGEINT": "DECIMAL(38,0)",
    "FLOAT": "DOUBLE", "UUID": "VARCHAR", "JSON": "VARCHAR", "TIMESTAMP_S": "TIMESTAMP",
    "TIMESTAMP_MS": "TIMESTAMP", "TIMESTAMP_NS": "TIMESTAMP", "NULL": "VARCHAR", '"NULL"': "VARCHAR",
}

ERROR = "_sf_error"
RAW = "_sf_raw"


def shape_records(con: duckdb.DuckDBPyConnection, read: FileRead, table: FileTable) -> str:
    """A query projecting `read`'s records to the table's names and types plus `_sf_error` and `_sf_raw`.

    When the reader does not know the records' columns, binding its query tells them without
    running it. A `_sf_src` column (the file of each row) is passed through.

    Raises:
        SourceError: Two source columns normalise to the same name, or a primary-key or
            cursor column is missing from the file.
    """
    if read.columns is not None:
        raw_columns = [name for name, _ in read.columns]
        types = [dtype for _, dtype in read.columns]
    else:
        relation = con.sql(read.sql)
        raw_columns = [c for c in relation.columns if c != SOURCE or not read.source]
        types = [t for c, t in zip(relation.columns, relation.types, strict=True) if c != SOURCE or not read.source]
    names = [normalize_name(c) for c in raw_columns]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise SourceError(
            f"columns {sorted(duplicates)} appear twice after normalising names to snake_case",
            fix="rename the source columns so that each normalises to a distinct name",
            table=table.name,
        )
    declared = {normalize_name(k): (parse_column_type(v.type), v.round) for k, v in table.columns.items()}
    for required in [*table.primary_key, *([table.cursor] if table.cursor else [])]:
        if normalize_name(required) not in names:
            raise SourceError(
                f"column {required!r} (primary key or cursor of table {table.name!r}) is not in the file",
                fix=f"check the column name; the file has: {', '.join(names)}",
                table=table.name,
            )
    projections: list[str] = []
    casts: list[str] = []  # each declared cast once, in an inner query, for its value and its check
    errors: list[str] = []
    for raw_name, name, dtype in zip(raw_columns, names, types, strict=True):
        source = quote_identifier(raw_name)
        target = quote_identifier(name)
        if name in declared:
            column_type, rounding = declared[name]
            cast = f"_sf_cast{len(casts)}"
            text = str(dtype) == "VARCHAR"
            value = (
                decimal_cast(source, column_type, text) if column_type.is_decimal
                else f"TRY_CAST({source} AS {column_type.sql})"
            )
            casts.append(f"{value} AS {cast}")
            projections.append(f"{cast} AS {target}")
            errors.append(_cast_error(source, cast, name, column_type, rounding, text))
        else:
            projections.append(f"{_normalised(source, dtype, table, name)} AS {target}")
    for key in table.primary_key:
        raw_key = quote_identifier(raw_columns[names.index(normalize_name(key))])
        errors.append(f"CASE WHEN {raw_key} IS NULL THEN {quote_literal(f'primary key {key} is null')} END")
    error_sql = f"NULLIF(concat_ws('; ', {', '.join(errors)}), '')" if errors else "NULL::VARCHAR"
    # The input row as a struct, serialised only for bad rows.
    row = "struct_pack(" + ", ".join(f"{quote_identifier(c)} := {quote_identifier(c)}" for c in raw_columns) + ")"
    passed = f", {SOURCE}" if read.source else ""
    outputs = ", ".join(quote_identifier(n) for n in names)
    inputs = ", ".join([*(quote_identifier(c) for c in raw_columns), *casts]) + passed
    return (
        f"SELECT {outputs}{passed}, {ERROR}, CASE WHEN {ERROR} IS NOT NULL THEN to_json(_sf_row)::VARCHAR END "
        f"AS {RAW} FROM (SELECT {', '.join(projections)}{passed}, {error_sql} AS {ERROR}, {row} AS _sf_row "
        f"FROM (SELECT {inputs} FROM ({read.sql}) AS _records) AS _cast)"
    )


def _cast_error(source: str, cast: str, name: str, column_type: ColumnType, rounding: bool, text: bool) -> str:
    """Why `source` does not fit its declared type (`cast` holds TRY_CAST of it), or NULL."""
    message = f"'{name}: cannot cast ' || {source}::VARCHAR || ' to {column_type.sql}'"
    check = f"CASE WHEN {source} IS NOT NULL AND {cast} IS NULL THEN {message} END"
    lost = lossy(source, cast, column_type, text) if column_type.is_decimal and not rounding else None
    if lost is not None:
        message_lossy = (
            f"'{name}: ' || {source}::VARCHAR || ' has more than {column_type.scale} decimal places; "
            f"declare round: true to round it'"
        )
        check = f"COALESCE({check}, CASE WHEN {lost} THEN {message_lossy} END)"
    return check


def _normalised(source: str, dtype: DuckDBPyType, table: FileTable, name: str) -> str:
    """The expression for an undeclared column: lake-friendly type, nested values as configured."""
    kind = dtype.id
    if kind in ("struct", "list", "map"):
        mode = table.nested.columns.get(name) or (table.nested.objects if kind == "struct" else table.nested.lists)
        if kind == "map" or mode == "json" or (kind == "list" and not _is_list_of(dtype)):
            return f"to_json({source})::VARCHAR"
        return source
    text = str(dtype)
    return f"CAST({source} AS {_NORMAL_TYPES[text]})" if text in _NORMAL_TYPES else source


def _is_list_of(dtype: DuckDBPyType) -> bool:
    """A list shopflow can turn into a child table: of records or of scalars, not of lists."""
    return bool(dtype.child.id != "list")
