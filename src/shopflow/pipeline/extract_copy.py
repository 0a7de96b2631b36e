"""Database rows straight into the lake's Parquet files with DuckDB's COPY.

DuckDB's scanner and Parquet writer run in parallel in native code and the rows never cross
into Python or pass through delta-rs's writer (which holds each file in memory until it is
complete): about twice the rows per second, in a fraction of the memory. The files are then
committed to the Delta table as add actions (`lake.written`).

Only for a local or S3 lake (DuckDB cannot write Azure Blob) whose schema the rows already
match exactly, with no tombstones to add; anything else goes through the Arrow path, which
conforms types and evolves the schema.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from shopflow.lake.duckdb_access import grant_lake_access
from shopflow.lake.schema import normalize_schema, target_schema
from shopflow.lake.table import BATCH, PARTITION, ROW_GROUP_ROWS, TARGET_FILE_BYTES, LakeTable
from shopflow.lake.written import WrittenFile, batch_file_pattern
from shopflow.sql import quote_identifier, quote_literal

if TYPE_CHECKING:
    import duckdb


@dataclass
class CopiedRows:
    """What one COPY wrote: the files (not committed yet), their rows, and the cursor's highest value."""

    files: list[WrittenFile] = field(default_factory=list)
    rows: int = 0
    highest: Any = None


def copy_schema(con: duckdb.DuckDBPyConnection, sql: str, lake: LakeTable) -> pa.Schema | None:
    """The lake schema the rows of `sql` will have if COPY can write them as they are, else None."""
    if lake.location.scheme not in ("file", "s3"):
        return None
    if not grant_lake_access(con, lake.location.scheme, lake.location.delta_storage_options()):
        return None
    data = con.execute(f"SELECT * FROM ({sql}) AS rows LIMIT 0").to_arrow_table().schema
    if PARTITION not in data.names or BATCH not in data.names:
        return None
    target = target_schema(data, lake.schema())
    as_written = normalize_schema(data)
    same = target.names == as_written.names and all(
        t.type.equals(w.type) for t, w in zip(target, as_written, strict=True)
    )
    if not same or not all(_plain(f.type) for f in target):
        return None
    return target


def _plain(t: pa.DataType) -> bool:
    """Types DuckDB writes to Parquet exactly as delta-rs would (no nesting, unsigned, intervals, ...)."""
    if pa.types.is_timestamp(t):
        return bool(t.unit == "us" and t.tz in (None, "UTC", "+00:00"))
    return bool(
        pa.types.is_signed_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
        or pa.types.is_string(t) or pa.types.is_decimal128(t) or pa.types.is_date32(t)
        or pa.types.is_binary(t)
    )


def copy_rows(
    con: duckdb.DuckDBPyConnection, sql: str, lake: LakeTable, *, batch: str, load_date: str, cursor: str | None
) -> CopiedRows:
    """Write the rows of `sql` (which carry `batch` and `load_date`) into the lake's folder, uncommitted."""
    local = lake.location.scheme == "file"
    root = lake.uri.removeprefix("file://").rstrip("/")
    folder = f"{root}/{PARTITION}={load_date}"
    if local:
        Path(folder).mkdir(parents=True, exist_ok=True)
    written = con.execute(
        f"COPY (SELECT * EXCLUDE ({quote_identifier(PARTITION)}) FROM ({sql}) AS rows) "
        f"TO {quote_literal(folder)} (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE {ROW_GROUP_ROWS}, "
        f"FILE_SIZE_BYTES {TARGET_FILE_BYTES}, FILENAME_PATTERN {quote_literal(batch_file_pattern(batch))}, "
        "RETURN_STATS, APPEND)"
    ).fetchall()
    copied = CopiedRows()
    for path, rows, size, *_ in written:
        if not rows:  # DuckDB writes an empty file for an empty result
            if local:
                Path(path).unlink(missing_ok=True)
            else:
                lake.location.filesystem().rm(path)
            continue
        relative = str(path).removeprefix(root + "/")
        copied.files.append(WrittenFile(relative, os.path.getsize(path) if local else int(size), int(rows)))
        copied.rows += int(rows)
    if cursor is not None and copied.files:
        paths = "[" + ", ".join(quote_literal(f"{root}/{f.path}") for f in copied.files) + "]"
        highest = con.execute(f"SELECT max({quote_identifier(cursor)}) FROM read_parquet({paths})").to_arrow_table()
        copied.highest = highest.column(0)[0].as_py()
    return copied
