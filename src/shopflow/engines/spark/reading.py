"""Read the files of one commit with Spark, as records of raw columns plus each row's file.

CSV files are grouped by their header line (Spark applies one column list to all files it
reads at once); declared columns of JSON files are read as text, so that `casting` casts
them exactly (a money value never passes through a double). Rows a reader cannot parse keep
their text in `_sf_corrupt`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from shopflow.config.model import FileFormat, FileTable
from shopflow.engines.spark.casting import CORRUPT, FILE
from shopflow.engines.spark.paths import file_url, spark_uri
from shopflow.errors import SourceError
from shopflow.naming import lake_name
from shopflow.storage import FileInfo, Location

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

_ENCODINGS = {"utf-8": "UTF-8", "latin-1": "ISO-8859-1", "utf-16": "UTF-16"}
# What a row the reader could not parse is quarantined with, per format.
CORRUPT_REASONS = {
    "csv": "malformed CSV line: its fields do not match the header's columns",
    "jsonl": "cannot read as jsonl: the line is not a JSON object",
    "json": "cannot read as json: the document does not parse",
    "parquet": "cannot read as parquet",
}


def read_files(
    spark: SparkSession, files: Sequence[FileInfo], fmt: FileFormat, table: FileTable, location: Location
) -> DataFrame:
    """The records of `files` (all of format `fmt`): raw columns, `_sf_file` and maybe `_sf_corrupt`."""
    if fmt == "csv":
        return _read_csv(spark, files, table, location)
    paths = [spark_uri(location, f.url) for f in files]
    if fmt == "parquet":
        frame = spark.read.option("mergeSchema", "true").parquet(*paths)
        return _with_file(frame, location)
    return _read_json(spark, paths, fmt, table, location, _key_order(files[0], fmt, table, location))


def _with_file(frame: DataFrame, location: Location) -> DataFrame:
    from pyspark.sql import functions as sf

    return frame.select("*", file_url(sf.col("_metadata.file_path"), location.scheme).alias(FILE))


def _header(file: FileInfo, table: FileTable, location: Location) -> list[str]:
    """The column names of a CSV file: its header line, or column0, column1, ... without one."""
    opts = table.csv
    path = file.url if location.scheme == "file" else file.url.split("://", 1)[1]
    with location.filesystem().open(path, "rb") as handle:
        first = handle.readline(1 << 20)
    if first.startswith(b"\xef\xbb\xbf"):
        first = first[3:]
    line = first.decode(opts.encoding, errors="replace").rstrip("\r\n")
    fields = next(csv.reader([line], delimiter=opts.delimiter, quotechar=opts.quote), [])
    if not opts.header:
        return [f"column{i}" for i in range(len(fields))]
    return fields


def _read_csv(spark: SparkSession, files: Sequence[FileInfo], table: FileTable, location: Location) -> DataFrame:
    from pyspark.sql.types import StringType, StructField, StructType

    opts = table.csv
    by_header: dict[tuple[str, ...], list[str]] = {}
    for file in files:
        by_header.setdefault(tuple(_header(file, table, location)), []).append(spark_uri(location, file.url))
    frames = []
    for header, paths in by_header.items():
        schema = StructType([*(StructField(c, StringType()) for c in header), StructField(CORRUPT, StringType())])
        frame = spark.read.csv(
            list(paths), schema=schema, header=opts.header, sep=opts.delimiter, quote=opts.quote, escape=opts.quote,
            encoding=_ENCODINGS[opts.encoding], mode="PERMISSIVE", columnNameOfCorruptRecord=CORRUPT,
            multiLine=False, enforceSchema=True,
        )
        frames.append(_with_file(frame, location))
    result = frames[0]
    for frame in frames[1:]:
        result = result.unionByName(frame, allowMissingColumns=True)
    return result


# A JSON document up to this size is parsed here to learn its records' key order.
_ORDER_BYTES = 64 << 20


def _key_order(file: FileInfo, fmt: FileFormat, table: FileTable, location: Location) -> list[str]:
    """The keys of the first record of `file`, in document order (Spark's inference sorts them)."""
    path = file.url if location.scheme == "file" else file.url.split("://", 1)[1]
    try:
        with location.filesystem().open(path, "rb") as handle:
            if fmt == "jsonl":
                first: object = json.loads(handle.readline(_ORDER_BYTES) or b"{}")
            elif file.size <= _ORDER_BYTES:
                doc = json.loads(handle.read())
                first = doc.get(table.records) if table.records and isinstance(doc, dict) else doc
                first = first[0] if isinstance(first, list) and first else first
            else:
                return []
    except (ValueError, UnicodeDecodeError):
        return []
    return list(first) if isinstance(first, dict) else []


def _read_json(
    spark: SparkSession, paths: list[str], fmt: FileFormat, table: FileTable, location: Location, order: list[str]
) -> DataFrame:
    from pyspark.sql import functions as sf
    from pyspark.sql.types import StructType

    options = {"multiLine": "true" if fmt == "json" else "false", "mode": "PERMISSIVE",
               "columnNameOfCorruptRecord": CORRUPT}
    inferred = spark.read.options(**options).json(paths).schema
    declared = {lake_name(c) for c in table.columns}
    schema = _declared_as_text(inferred, declared, table.records)
    if table.records is None:
        rank = {k: i for i, k in enumerate(order)}
        schema = StructType(sorted(schema.fields, key=lambda f: (f.name == CORRUPT, rank.get(f.name, len(rank)))))
    frame = _with_file(spark.read.options(**options).schema(schema).json(paths), location)
    if CORRUPT not in frame.columns:
        frame = frame.withColumn(CORRUPT, sf.lit(None).cast("string"))
    if table.records is None:
        return frame
    if table.records not in frame.columns:
        raise SourceError(
            f"the documents have no key {table.records!r} (records: of table {table.name!r})",
            fix=f"set records: to the key of the array of records; the documents have: {', '.join(inferred.names)}",
            table=table.name,
        )
    exploded = frame.select(sf.explode_outer(sf.col(f"`{table.records}`")).alias("_sf_record"), FILE, CORRUPT)
    kept = exploded.filter(sf.col("_sf_record").isNotNull() | sf.col(CORRUPT).isNotNull())
    names = kept.schema["_sf_record"].dataType.names  # type: ignore[attr-defined]
    rank = {k: i for i, k in enumerate(order)}
    ordered = sorted(names, key=lambda n: rank.get(n, len(rank)))
    return kept.select(*[sf.col("_sf_record").getField(n).alias(n) for n in ordered], FILE, CORRUPT)


def _declared_as_text(schema: StructType, declared: set[str], records: str | None) -> StructType:
    """`schema` with the declared columns (of the records below `records`, if set) as text."""
    from pyspark.sql.types import ArrayType, StringType, StructField, StructType

    def record_fields(struct: StructType) -> StructType:
        return StructType([
            StructField(f.name, StringType() if lake_name(f.name) in declared else f.dataType, True)
            for f in struct.fields
        ])

    if records is None:
        fields = record_fields(schema).fields
        corrupt = [f for f in fields if f.name == CORRUPT]
        return StructType([f for f in fields if f.name != CORRUPT] + (corrupt or [StructField(CORRUPT, StringType())]))
    out = []
    for field in schema.fields:
        kind = field.dataType
        if field.name == records and isinstance(kind, ArrayType) and isinstance(kind.elementType, StructType):
            out.append(StructField(field.name, ArrayType(record_fields(kind.elementType), True), True))
        elif field.name != CORRUPT:
            out.append(field)
    return StructType([*out, StructField(CORRUPT, StringType())])
