"""DuckDB reads the lake's Parquet files in place: local folders, S3 (httpfs) and Azure Blob.

Scanning the files with DuckDB's own reader decodes each row once, in parallel, inside
DuckDB's memory limit, where an Arrow stream handed over from Python would be decoded by
pyarrow and copied again. What DuckDB cannot reach with the lake's credentials is read
through the Arrow stream instead (the caller falls back when `scan_sql` returns None).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from shopflow.errors import ShopflowError
from shopflow.lake.files import LakeFiles
from shopflow.sql import quote_identifier, quote_literal

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

SOURCE_FILE = "_sf_src"
# DuckDB's name for the row's position in its file; a data column of that name blocks the option.
ROW_NUMBER = "file_row_number"


def scan_sql(con: duckdb.DuckDBPyConnection, files: LakeFiles, ordinal: str) -> str | None:
    """A SELECT over `files` returning the rows of `files.batches` in the lake's column order.

    The result also has `ordinal`, a (file, row) struct that orders rows as they were written.
    None if DuckDB cannot read these files here (no credentials it can use, a column named
    `file_row_number`, no files): the caller reads through Arrow instead.
    """
    import duckdb

    if not files.uris or not _reach_storage(con, files):
        return None
    source = _read_parquet(files)
    try:
        found = [str(r[0]) for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
    except duckdb.Error as exc:
        log.info("reading the lake through Arrow: DuckDB cannot scan its files (%s)", exc)
        return None
    data = [c for c in found if c not in (SOURCE_FILE, ROW_NUMBER)]
    order = {name: i for i, name in enumerate(files.columns)}
    data.sort(key=lambda c: order.get(c, len(order)))
    columns = ", ".join(quote_identifier(c) for c in data)
    wanted = ", ".join(quote_literal(b) for b in files.batches)
    return (
        f"SELECT {columns}, {{'file': {SOURCE_FILE}, 'row': {ROW_NUMBER}}} AS {quote_identifier(ordinal)} "
        f"FROM {source} WHERE _sf_batch IN ({wanted})"
    )


def _read_parquet(files: LakeFiles) -> str:
    uris = "[" + ", ".join(quote_literal(u) for u in files.uris) + "]"
    options = [f"union_by_name = true, filename = {quote_literal(SOURCE_FILE)}, file_row_number = true"]
    if files.partition_columns:
        # Delta keeps partition values as text in the path; DuckDB would guess dates and numbers.
        types = ", ".join(f"{quote_literal(c)}: 'VARCHAR'" for c in files.partition_columns)
        options.append(f"hive_partitioning = true, hive_types = {{{types}}}")
    else:
        options.append("hive_partitioning = false")
    return f"read_parquet({uris}, {', '.join(options)})"


def _reach_storage(con: duckdb.DuckDBPyConnection, files: LakeFiles) -> bool:
    """Give DuckDB the lake's credentials as a temporary secret; False if it cannot use them."""
    import duckdb

    from shopflow.engine import load_extension

    if files.scheme == "file":
        return True
    secret = _secret_sql(files)
    if secret is None:
        log.info("reading the lake through Arrow: no key DuckDB can use for %s://", files.scheme)
        return False
    try:
        load_extension(con, "httpfs" if files.scheme == "s3" else "azure")
        con.execute(secret)
    except (duckdb.Error, ShopflowError) as exc:  # a missing extension wheel, an option DuckDB rejects
        log.info("reading the lake through Arrow: DuckDB cannot use the lake's credentials (%s)", exc)
        return False
    return True


def _secret_sql(files: LakeFiles) -> str | None:
    options = files.storage_options
    if files.scheme == "s3":
        key, secret = options.get("AWS_ACCESS_KEY_ID"), options.get("AWS_SECRET_ACCESS_KEY")
        if not key or not secret:
            return None
        parts = [f"TYPE s3, KEY_ID {quote_literal(key)}, SECRET {quote_literal(secret)}",
                 f"REGION {quote_literal(options.get('AWS_REGION', 'us-east-1'))}"]
        if options.get("AWS_SESSION_TOKEN"):
            parts.append(f"SESSION_TOKEN {quote_literal(options['AWS_SESSION_TOKEN'])}")
        endpoint = options.get("AWS_ENDPOINT_URL")
        if endpoint:
            url = urlsplit(endpoint)
            parts.append(f"ENDPOINT {quote_literal(url.netloc)}, URL_STYLE 'path', "
                         f"USE_SSL {'false' if url.scheme == 'http' else 'true'}")
        return f"CREATE OR REPLACE TEMPORARY SECRET _sf_lake_s3 ({', '.join(parts)}, SCOPE 's3://')"
    if files.scheme == "az":
        name, key = options.get("account_name"), options.get("account_key")
        if not name or not key:
            return None
        endpoint = options.get("endpoint")
        protocol = "http" if endpoint and endpoint.startswith("http://") else "https"
        connection = f"DefaultEndpointsProtocol={protocol};AccountName={name};AccountKey={key}"
        if endpoint:
            connection += f";BlobEndpoint={endpoint}"
        return (f"CREATE OR REPLACE TEMPORARY SECRET _sf_lake_az (TYPE azure, "
                f"CONNECTION_STRING {quote_literal(connection)}, SCOPE 'az://')")
    return None
