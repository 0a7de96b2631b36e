"""Read one local file into a DuckDB relation of records, one reader per format.

Declared columns are read as text, so that `typing` can cast them exactly (a money string
never passes through a float) and send what does not cast to quarantine.
"""

from __future__ import annotations

import gzip
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from duckdb.sqltypes import DuckDBPyType

from shopflow.config.model import FileFormat, FileTable
from shopflow.naming import normalize_name
from shopflow.sql import quote_identifier, quote_literal

if TYPE_CHECKING:
    import duckdb

# A JSON document holding every record of a file is parsed as one object, so the reader's
# object limit must cover the file; DuckDB reserves buffers of twice this size, so it is not
# set higher than the file needs.
_MIN_JSON_OBJECT = 16 << 20


@dataclass
class RejectedLine:
    """A line a reader refused, with why."""

    line: int | None
    reason: str
    raw: str


@dataclass
class FileRead:
    """What a reader made of one file: a query of its records (not yet run) and refused lines."""

    sql: str
    rejected: list[RejectedLine] = field(default_factory=list)


def read_file(con: duckdb.DuckDBPyConnection, path: Path, table: FileTable, fmt: FileFormat) -> FileRead:
    """Read `path` as `fmt`; raises duckdb.Error when the file as a whole cannot be parsed."""
    text_columns = {normalize_name(c) for c in table.columns}
    if fmt in ("parquet", "xlsx") and path.suffix.lower() in (".gz", ".gzip"):
        path = _gunzip(path)
    if fmt == "json":
        return FileRead(_read_json(con, path, table, text_columns, "auto"))
    if fmt == "jsonl":
        return FileRead(_read_json(con, path, table, text_columns, "newline_delimited"))
    if fmt == "csv":
        return _read_csv(con, path, table, text_columns)
    if fmt == "parquet":
        return FileRead(f"SELECT * FROM read_parquet({quote_literal(str(path))})")
    return FileRead(_read_xlsx(con, path, table))


def _gunzip(path: Path) -> Path:
    target = path.with_name(f".{uuid.uuid4().hex}.{path.stem}")
    with gzip.open(path, "rb") as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst, length=8 << 20)
    return target


def _read_json(
    con: duckdb.DuckDBPyConnection, path: Path, table: FileTable, text_columns: set[str], json_format: str
) -> str:
    max_object = max(_MIN_JSON_OBJECT, path.stat().st_size + 1024)
    source = (
        f"read_json({quote_literal(str(path))}, format={quote_literal(json_format)}, maximum_object_size={max_object}"
    )
    detected = con.sql(f"SELECT * FROM {source})")  # binding detects the schema: one scan
    # Re-read with explicit columns: declared columns as text, JSON-typed (all-null) ones as text.
    if table.records:
        columns = {
            n: _type_sql(t, text_columns if n == table.records else set())
            for n, t in zip(detected.columns, detected.types, strict=True)
        }
    else:
        columns = {
            n: "VARCHAR" if normalize_name(n) in text_columns else _type_sql(t, set())
            for n, t in zip(detected.columns, detected.types, strict=True)
        }
    spec = "{" + ", ".join(f"{quote_literal(n)}: {quote_literal(t)}" for n, t in columns.items()) + "}"
    typed = f"{source}, columns={spec})"
    if not table.records:
        return f"SELECT * FROM {typed}"
    if table.records not in columns:
        raise KeyError(f"the JSON document has no key {table.records!r} (keys: {', '.join(columns)})")
    records = quote_identifier(table.records)
    return f"SELECT UNNEST(_r) FROM (SELECT UNNEST({records}) AS _r FROM {typed})"


def _type_sql(dtype: DuckDBPyType, text_fields: set[str]) -> str:
    """The SQL type of `dtype`, JSON as VARCHAR; in a struct, the fields in `text_fields` as VARCHAR."""
    if dtype.id == "list":
        return _type_sql(dtype.child, text_fields) + "[]"
    if dtype.id == "struct":
        fields = []
        for name, child in dtype.children:
            assert isinstance(child, DuckDBPyType)
            child_sql = "VARCHAR" if normalize_name(name) in text_fields else _type_sql(child, set())
            fields.append(f"{quote_identifier(name)} {child_sql}")
        return "STRUCT(" + ", ".join(fields) + ")"
    text = str(dtype)
    return "VARCHAR" if text in ("JSON", "NULL", '"NULL"') else text


def _read_csv(con: duckdb.DuckDBPyConnection, path: Path, table: FileTable, text_columns: set[str]) -> FileRead:
    opts = table.csv
    rejects = f"_sf_rejects_{uuid.uuid4().hex}"
    scans = f"_sf_scans_{uuid.uuid4().hex}"
    base = (
        f"read_csv({quote_literal(str(path))}, delim={quote_literal(opts.delimiter)}, "
        f"header={str(opts.header).lower()}, quote={quote_literal(opts.quote)}, "
        f"encoding={quote_literal(opts.encoding)}"
    )
    types = ""
    if text_columns:
        sniffed = con.sql(f"SELECT * FROM {base}, sample_size=2048, ignore_errors=true) LIMIT 0").columns
        declared = [c for c in sniffed if normalize_name(c) in text_columns]
        if declared:
            types = ", types={" + ", ".join(f"{quote_literal(c)}: 'VARCHAR'" for c in declared) + "}"
    relation_sql = (
        f"SELECT * FROM {base}, store_rejects=true, rejects_table={quote_literal(rejects)}, "
        f"rejects_scan={quote_literal(scans)}, strict_mode=true{types})"
    )
    # Materialise so the rejects table is filled before it is read; DuckDB spills to disk if large.
    staged = f"_sf_csv_{uuid.uuid4().hex}"
    con.execute(f"CREATE TEMP TABLE {staged} AS {relation_sql}")
    rows = con.execute(f"SELECT line, error_type, error_message, csv_line FROM {rejects} ORDER BY line").fetchall()
    rejected = [RejectedLine(line=r[0], reason=f"{r[1]}: {r[2]}", raw=r[3] or "") for r in rows]
    con.execute(f"DROP TABLE IF EXISTS {rejects}; DROP TABLE IF EXISTS {scans}")
    return FileRead(f"SELECT * FROM {staged}", rejected)


def _read_xlsx(con: duckdb.DuckDBPyConnection, path: Path, table: FileTable) -> str:
    from shopflow.engine import load_extension

    load_extension(con, "excel")
    opts = table.xlsx
    sheet = f", sheet={quote_literal(opts.sheet)}" if opts.sheet else ""
    return f"SELECT * FROM read_xlsx({quote_literal(str(path))}, header={str(opts.header).lower()}{sheet})"
