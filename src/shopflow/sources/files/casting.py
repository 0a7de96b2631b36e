"""Give a file's records their final names and types, and mark the rows that do not fit.

One SQL projection over the reader's relation: names become snake_case (a source column named
like shopflow's own, `_sf_batch`, becomes `src_sf_batch`: see `naming`), declared columns are
cast (decimals and integers exactly: a value with more digits than the scale, or a fraction
in an integer column, is an error unless the column says `round: true`; text dates by the
column's strptime `format`, if it has one), types are normalised for the lake (every integer
to BIGINT, JSON and UUID to text), and each row gets `_sf_error` (why it cannot be loaded,
such as a text value holding a NUL byte, which PostgreSQL cannot store; or NULL) and
`_sf_raw` (the row as JSON text, only when it is bad).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shopflow import nul_bytes
from shopflow.column_types import ColumnType, parse_column_type
from shopflow.config.model import FileTable
from shopflow.errors import SourceError
from shopflow.naming import lake_name, normalize_name, source_name
from shopflow.sources.files.decimals import EXACT, decimal_cast, lossy
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

# Declared types whose cast rounds a fraction (TRY_CAST('6.5' AS BIGINT) is 7).
_INTEGER_TYPES = ("SMALLINT", "INTEGER", "BIGINT")
# Source types that can hold a fraction without being text.
_FRACTIONAL_KINDS = ("float", "double", "decimal")

ERROR = "_sf_error"
RAW = "_sf_raw"


def check_names(names: list[str], table: FileTable) -> None:
    """Refuse a file whose columns, named as they load, collide or lack the key or cursor.

    Raises:
        SourceError: Two columns normalise to one name, or the primary key or cursor is missing.
    """
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise SourceError(
            f"columns {sorted(duplicates)} appear twice after normalising names to snake_case",
            fix="rename the source columns so that each normalises to a distinct name",
            table=table.name,
        )
    for required in [*table.primary_key, *([table.cursor] if table.cursor else [])]:
        if normalize_name(required) not in names:
            raise SourceError(
                f"column {required!r} (primary key or cursor of table {table.name!r}) is not in the file",
                fix=f"check the column name; the file has: {', '.join(names)}",
                table=table.name,
            )


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
    names = [source_name(c, table.name) for c in raw_columns]
    check_names(names, table)
    declared = {lake_name(k): v for k, v in table.columns.items()}
    projections: list[str] = []
    casts: list[str] = []  # each declared cast once, in an inner query, for its value and its check
    errors: list[str] = []
    for raw_name, name, dtype in zip(raw_columns, names, types, strict=True):
        source = quote_identifier(raw_name)
        target = quote_identifier(name)
        if name in declared:
            spec = declared[name]
            column_type = parse_column_type(spec.type)
            cast = f"_sf_cast{len(casts)}"
            text = str(dtype) == "VARCHAR"
            date_format = spec.format if text else None
            casts.append(f"{_declared_cast(source, column_type, text, date_format)} AS {cast}")
            projections.append(f"{cast} AS {target}")
            errors.append(_cast_error(source, cast, name, column_type, spec.round, dtype, date_format))
        else:
            projections.append(f"{_normalised(source, dtype, table, name)} AS {target}")
        nul = nul_bytes.contains_nul(source, dtype)
        if nul is not None:
            errors.append(f"CASE WHEN coalesce({nul}, false) THEN {quote_literal(nul_bytes.reason(name))} END")
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


def _declared_cast(source: str, column_type: ColumnType, text: bool, date_format: str | None) -> str:
    """SQL of `source` cast to its declared type, NULL where it does not fit; text dates by `date_format`."""
    if column_type.is_decimal:
        return decimal_cast(source, column_type, text)
    plain = f"TRY_CAST({source} AS {column_type.sql})"
    if date_format is None:
        return plain
    # ISO text still parses: a table may get both from different exporters (Excel date cells read as ISO).
    parsed = f"CAST(try_strptime({source}, {quote_literal(date_format)}) AS {column_type.sql})"
    return f"COALESCE({parsed}, {plain})"


def _cast_error(
    source: str, cast: str, name: str, column_type: ColumnType, rounding: bool, dtype: DuckDBPyType,
    date_format: str | None = None,
) -> str:
    """Why `source` (of type `dtype`) does not fit its declared type (`cast` holds the cast of it), or NULL."""
    target = f" to {column_type.sql}" + (f" with format {date_format}" if date_format else "")
    message = f"'{name}: cannot cast ' || {source}::VARCHAR || {quote_literal(target)}"
    if column_type.sql in _INTEGER_TYPES and str(dtype) == "VARCHAR":  # a whole number out of range
        wider = "bigint, decimal(38,0)" if column_type.sql != "BIGINT" else "decimal(38,0)"
        too_big = f" does not fit {column_type.sql}; declare {name}: {wider} or text"
        message = (f"CASE WHEN regexp_full_match({source}, '[-+]?[0-9]+') THEN {quote_literal(name + ': ')} || "
                   f"{source} || {quote_literal(too_big)} ELSE {message} END")
    check = f"CASE WHEN {source} IS NOT NULL AND {cast} IS NULL THEN {message} END"
    lost = None if rounding else _lost_digits(source, cast, column_type, dtype)
    if lost is None:
        return check
    condition, why = lost
    message_lost = f"{quote_literal(name + ': ')} || {source}::VARCHAR || {quote_literal(why)}"
    return f"COALESCE({check}, CASE WHEN {condition} THEN {message_lost} END)"


def _lost_digits(source: str, cast: str, column_type: ColumnType, dtype: DuckDBPyType) -> tuple[str, str] | None:
    """SQL that is true when the cast rounded `source`, and the reason's tail; None if it cannot round."""
    text = str(dtype) == "VARCHAR"
    if column_type.is_decimal:
        lost = lossy(source, cast, column_type, text)
        why = f" has more than {column_type.scale} decimal places; declare round: true to round it"
        return None if lost is None else (lost, why)
    if column_type.sql not in _INTEGER_TYPES:
        return None
    why = " is not a whole number; declare round: true to round it"
    if text:
        return _text_fraction(source, cast), why
    if dtype.id in _FRACTIONAL_KINDS:
        # A whole DOUBLE or DECIMAL equals its cast exactly; a double past 2**53 is always whole.
        return f"{source} <> {cast}", why
    return None


def _text_fraction(source: str, cast: str) -> str:
    """SQL that is true when the text `source` is a number with a fraction (`cast`, its integer cast)."""
    # With an exponent ('15e-1'), compare the value as a double (tiny fractions) and as an
    # exact decimal (past 2**53, where doubles have no fraction). Plain text ('6.5', '7.000')
    # has a fraction when a digit after the point is not 0: exact at any length, no parse.
    # `contains` first: it is some 3 times faster than a regex, and most values are whole.
    exponent = f"(TRY_CAST({source} AS DOUBLE) <> {cast} OR TRY_CAST({source} AS {EXACT}) <> {cast})"
    return (
        f"CASE WHEN contains({source}, 'e') OR contains({source}, 'E') THEN {exponent} "
        rf"WHEN contains({source}, '.') THEN regexp_matches({source}, '\.[0-9]*[1-9]') ELSE false END"
    )


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
