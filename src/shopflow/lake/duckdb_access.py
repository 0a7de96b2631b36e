"""DuckDB's access to the lake's storage: the lake's credentials as a temporary DuckDB secret.

The lake's delta-rs storage options (`Location.delta_storage_options`) name the key, region
and endpoint; DuckDB's httpfs (S3) and azure extensions take the same as a secret.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from shopflow.errors import ShopflowError
from shopflow.sql import quote_literal

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)


def grant_lake_access(con: duckdb.DuckDBPyConnection, scheme: str, storage_options: dict[str, str]) -> bool:
    """Let `con` read (and for S3 write) the lake's `scheme://` files; False if DuckDB cannot use the credentials.

    Args:
        con: The DuckDB connection that will scan or write the files.
        scheme: `file`, `s3` or `az`.
        storage_options: The lake's delta-rs storage options.
    """
    import duckdb

    from shopflow.engine import load_extension

    if scheme == "file":
        return True
    secret = _secret_sql(scheme, storage_options)
    if secret is None:
        log.info("DuckDB has no key it can use for the %s:// lake", scheme)
        return False
    try:
        load_extension(con, "httpfs" if scheme == "s3" else "azure")
        con.execute(secret)
    except (duckdb.Error, ShopflowError) as exc:  # a missing extension wheel, an option DuckDB rejects
        log.info("DuckDB cannot use the %s:// lake's credentials (%s)", scheme, exc)
        return False
    return True


def _secret_sql(scheme: str, options: dict[str, str]) -> str | None:
    if scheme == "s3":
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
    if scheme == "az":
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
