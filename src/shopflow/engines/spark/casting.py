"""Give records read by Spark their final names and types, and mark the rows that do not fit.

The Spark twin of `sources.files.casting`: names become snake_case, declared columns are cast
exactly (a value with more digits than the scale, or a fraction in an integer column, is an
error unless the column says `round: true`; text dates by the column's strptime `format`),
undeclared ones get the lake's types (every integer to bigint, objects flattened to `a__b`),
and each row gets `_sf_error` (why it cannot be loaded, or NULL, in the same words as the
DuckDB path) and `_sf_raw` (the row as JSON text, only when it is bad).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from shopflow.column_types import ColumnType, parse_column_type
from shopflow.config.model import FileTable
from shopflow.engines.spark.dates import spark_pattern
from shopflow.errors import ConfigError, SourceError
from shopflow.naming import lake_name, source_name
from shopflow.sources.files.casting import ERROR, RAW, check_names
from shopflow.sources.files.decimals import EXACT_SCALE

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame
    from pyspark.sql.types import DataType

CORRUPT = "_sf_corrupt"
FILE = "_sf_file"

_SPARK_TYPES = {
    "VARCHAR": "string", "INTEGER": "int", "BIGINT": "bigint", "SMALLINT": "smallint", "DOUBLE": "double",
    "BOOLEAN": "boolean", "DATE": "date", "TIMESTAMP": "timestamp_ntz", "TIMESTAMPTZ": "timestamp",
}
_INTEGER_TYPES = ("SMALLINT", "INTEGER", "BIGINT")
_EXACT = f"decimal(38,{EXACT_SCALE})"


def spark_type(column_type: ColumnType, column: str) -> str:
    """The Spark SQL type of a declared type.

    Raises:
        ConfigError: Spark has no type for it here (json, time, uuid).
    """
    if column_type.is_decimal:
        return f"decimal({column_type.precision},{column_type.scale})"
    if column_type.sql not in _SPARK_TYPES:
        raise ConfigError(
            f"column {column!r} is declared {column_type.sql.lower()}, which engine: spark does not read",
            fix="declare it text (and cast it in a model), or use engine: duckdb for this table",
        )
    return _SPARK_TYPES[column_type.sql]


@dataclass(frozen=True)
class Shaped:
    """The shaped records: final columns (in order), then `_sf_file`, `_sf_error`, `_sf_raw`."""

    frame: DataFrame
    columns: list[str]


def shape_records(frame: DataFrame, table: FileTable, *, corrupt_reason: str) -> Shaped:
    """Project `frame` (the reader's columns, `_sf_file` and maybe `_sf_corrupt`) to the table's names and types.

    Args:
        frame: The records as read.
        table: The table's settings: declared columns, primary key, nested modes.
        corrupt_reason: The reason given to a row the reader could not parse (`_sf_corrupt` set).

    Raises:
        SourceError: Two source columns normalise to the same name, a primary-key or cursor
            column is missing, or a column holds lists (child tables are DuckDB's).
        ConfigError: A declared type or date format that Spark cannot read.
    """
    from pyspark.sql import functions as sf

    raw_columns = [c for c in frame.columns if c not in (FILE, CORRUPT)]
    names = [source_name(c, table.name) for c in raw_columns]
    check_names(names, table)
    declared = {lake_name(k): v for k, v in table.columns.items()}
    types = {f.name: f.dataType for f in frame.schema.fields}
    outputs: list[Column] = []
    out_names: list[str] = []
    errors: list[Column] = []
    corrupt = CORRUPT in frame.columns
    if corrupt:
        errors.append(sf.when(sf.col(CORRUPT).isNotNull(), sf.lit(corrupt_reason)))
    for raw_name, name in zip(raw_columns, names, strict=True):
        source = sf.col(f"`{raw_name}`")
        dtype = types[raw_name]
        if name in declared:
            spec = declared[name]
            column_type = parse_column_type(spec.type)
            cast = _declared_cast(source, dtype, column_type, spec.format, name)
            outputs.append(cast.alias(name))
            out_names.append(name)
            errors.append(_cast_error(source, cast, name, column_type, spec.round, dtype, spec.format))
        else:
            for out_name, column in _normalised(source, dtype, table, name):
                outputs.append(column.alias(out_name))
                out_names.append(out_name)
    for key in table.primary_key:
        raw_key = sf.col(f"`{raw_columns[names.index(lake_name(key))]}`")
        errors.append(sf.when(raw_key.isNull(), sf.lit(f"primary key {key} is null")))
    joined = sf.concat_ws("; ", *errors) if errors else sf.lit(None).cast("string")
    error = sf.when(joined != "", joined)
    row = sf.to_json(sf.struct(*[sf.col(f"`{c}`") for c in raw_columns]), {"ignoreNullFields": "false"})
    raw = sf.when(error.isNotNull(), sf.coalesce(sf.col(CORRUPT), row) if corrupt else row)
    shaped = frame.select(*outputs, sf.col(FILE), error.alias(ERROR), raw.alias(RAW))
    return Shaped(shaped, out_names)


def _declared_cast(source: Column, dtype: DataType, column_type: ColumnType, fmt: str | None, name: str) -> Column:
    """`source` cast to its declared type, NULL where it does not fit; text dates by `fmt`."""
    from pyspark.sql import functions as sf
    from pyspark.sql.types import DecimalType, DoubleType, FloatType, StringType

    target = spark_type(column_type, name)
    text = isinstance(dtype, StringType)
    if column_type.sql in _INTEGER_TYPES:
        # DuckDB rounds a fraction into an integer column (TRY_CAST('6.5' AS BIGINT) is 7); Spark
        # refuses text with a fraction and truncates doubles: round half away from zero, as DuckDB.
        if text:
            return sf.coalesce(source.try_cast(target), sf.round(source.try_cast(_EXACT)).try_cast(target))
        if isinstance(dtype, (DoubleType, FloatType, DecimalType)):
            return sf.round(source).try_cast(target)
        return source.try_cast(target)
    plain = source.try_cast(target)
    if fmt is None or not text:
        return plain
    # ISO text still parses: a table may get both from different exporters.
    parsed = sf.try_to_timestamp(source, sf.lit(spark_pattern(fmt, name))).try_cast(target)
    return sf.coalesce(parsed, plain)


def _cast_error(
    source: Column, cast: Column, name: str, column_type: ColumnType, rounding: bool, dtype: DataType,
    fmt: str | None,
) -> Column:
    """Why `source` does not fit its declared type (`cast` is the cast of it), or NULL; DuckDB's words."""
    from pyspark.sql import functions as sf
    from pyspark.sql.types import StringType

    text = isinstance(dtype, StringType)
    target = f" to {column_type.sql}" + (f" with format {fmt}" if fmt and text else "")
    as_text = source.cast("string")
    check = sf.when(source.isNotNull() & cast.isNull(), sf.concat(sf.lit(f"{name}: cannot cast "), as_text,
                                                                 sf.lit(target)))
    if rounding:
        return check
    lost: Column | None = None
    why = ""
    if column_type.is_decimal and (column_type.scale or 0) < EXACT_SCALE:
        exact = as_text.try_cast(_EXACT) != cast
        scale = column_type.scale or 0
        few = rf"^-?\d+(\.\d{{0,{scale}}})?$" if scale else r"^-?\d+$"
        lost = (~source.rlike(few) & exact) if text else exact
        why = f" has more than {scale} decimal places; declare round: true to round it"
    elif column_type.sql in _INTEGER_TYPES:
        why = " is not a whole number; declare round: true to round it"
        if text:
            exponent = (source.try_cast("double") != cast) | (source.try_cast(_EXACT) != cast)
            lost = (sf.when(source.contains("e") | source.contains("E"), exponent)
                    .when(source.contains("."), source.rlike(r"\.[0-9]*[1-9]")).otherwise(sf.lit(False)))
        elif dtype.typeName() in ("double", "float", "decimal"):
            lost = source != cast
    if lost is None:
        return check
    return sf.coalesce(check, sf.when(lost, sf.concat(sf.lit(f"{name}: "), as_text, sf.lit(why))))


def _normalised(source: Column, dtype: DataType, table: FileTable, name: str) -> list[tuple[str, Column]]:
    """An undeclared column in the lake's types: `(name, column)` pairs, objects flattened to `a__b`."""
    from pyspark.sql import functions as sf
    from pyspark.sql.types import ArrayType, ByteType, FloatType, IntegerType, MapType, NullType, ShortType, StructType

    top = name.split("__", 1)[0]
    if isinstance(dtype, StructType):
        mode = table.nested.columns.get(top) or table.nested.objects
        if mode == "json":
            return [(name, sf.to_json(source))]
        pairs: list[tuple[str, Column]] = []
        for field in dtype.fields:
            pairs.extend(_normalised(source.getField(field.name), field.dataType, table,
                                     f"{name}__{source_name(field.name, table.name)}"))
        return pairs
    if isinstance(dtype, ArrayType):
        mode = table.nested.columns.get(top) or table.nested.lists
        if mode != "json" and not isinstance(dtype.elementType, ArrayType):
            raise SourceError(
                f"column {name!r} holds lists; engine: spark does not make child tables of them",
                fix=f"set nested: {{columns: {{{top}: json}}}} on table {table.name!r} to keep them as JSON text, "
                "or use engine: duckdb",
                table=table.name,
            )
        return [(name, sf.to_json(source))]
    if isinstance(dtype, MapType):
        return [(name, sf.to_json(source))]
    if isinstance(dtype, (ByteType, ShortType, IntegerType)):
        return [(name, source.cast("bigint"))]
    if isinstance(dtype, FloatType):
        return [(name, source.cast("double"))]
    if isinstance(dtype, NullType):
        return [(name, source.cast("string"))]
    return [(name, source)]
