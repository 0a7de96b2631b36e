"""The quarantine: rows and files that could not be loaded, with why, where from and the raw text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

TABLE = "_quarantine"
# The first MiB of an unreadable file is kept as its raw text; the file itself stays where it was.
RAW_LIMIT = 1 << 20

SCHEMA = pa.schema([
    pa.field("pipeline", pa.string()),
    pa.field("source", pa.string()),
    pa.field("table", pa.string()),
    pa.field("file", pa.string()),
    pa.field("line", pa.int64()),
    pa.field("key", pa.string()),
    pa.field("reason", pa.string()),
    pa.field("raw", pa.string()),
    pa.field("_sf_batch", pa.string()),
    pa.field("_sf_file", pa.string()),
    pa.field("_sf_load_date", pa.string()),
    pa.field("_sf_loaded_at", pa.timestamp("us", tz="UTC")),
])


@dataclass(frozen=True)
class Origin:
    """Where quarantined records come from, and the batch they belong to."""

    pipeline: str
    source: str
    table: str
    batch: str
    loaded_at: datetime

    @property
    def load_date(self) -> str:
        """The partition value: the load date."""
        return self.loaded_at.strftime("%Y-%m-%d")


def records(
    origin: Origin, file: str, reasons: list[str], raws: list[str],
    lines: list[int | None] | None = None, keys: list[str | None] | None = None,
) -> pa.RecordBatch:
    r"""A batch of quarantine rows in the lake's quarantine schema.

    A NUL byte in a reason or a raw text is written `\x00`: PostgreSQL cannot store it.
    """
    n = len(reasons)
    reasons, raws = [_visible_nul(r) for r in reasons], [_visible_nul(r) for r in raws]
    return pa.RecordBatch.from_pydict(
        {
            "pipeline": [origin.pipeline] * n,
            "source": [origin.source] * n,
            "table": [origin.table] * n,
            "file": [file] * n,
            "line": lines if lines is not None else [None] * n,
            "key": keys if keys is not None else [None] * n,
            "reason": reasons,
            "raw": raws,
            "_sf_batch": [origin.batch] * n,
            "_sf_file": [file] * n,
            "_sf_load_date": [origin.load_date] * n,
            "_sf_loaded_at": [origin.loaded_at] * n,
        },
        schema=SCHEMA,
    )


def _visible_nul(text: str) -> str:
    return text.replace("\x00", "\\x00") if text and "\x00" in text else text


def raw_text(data: bytes) -> str:
    r"""Bytes as text for the `raw` column: invalid UTF-8 stays visible as \x escapes."""
    return data[:RAW_LIMIT].decode("utf-8", errors="backslashreplace")


_SQL_TYPES = {pa.string(): "VARCHAR", pa.int64(): "BIGINT", pa.timestamp("us", tz="UTC"): "TIMESTAMP WITH TIME ZONE"}


def create_table_sql(table: str) -> str:
    """`CREATE TABLE IF NOT EXISTS` of the quarantine table `table` (qualified), for DuckDB and PostgreSQL.

    The warehouse creates it with its schema, so that `SELECT * FROM raw._quarantine` works
    before anything was quarantined.
    """
    columns = ", ".join(f'"{f.name}" {_SQL_TYPES[f.type]}' for f in SCHEMA)
    return f"CREATE TABLE IF NOT EXISTS {table} ({columns})"

