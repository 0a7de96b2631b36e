"""Locations as Spark spells them, and back: local paths, `s3://` as `s3a://`.

Spark reports each row's file (`_metadata.file_path`) as a URI (`file:/data/a%20b.csv`,
`s3a://bucket/key`); `file_url` turns it back into the URL shopflow's ledger names the file by.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shopflow.errors import ConfigError
from shopflow.storage import Location

if TYPE_CHECKING:
    from pyspark.sql import Column


def spark_uri(location: Location, path: str | None = None) -> str:
    """The URI Spark reads and writes `path` (a file's URL at `location`, or the location itself) at.

    Raises:
        ConfigError: The location is on Azure Blob, which this Spark path does not reach.
    """
    url = path or location.url
    scheme = location.scheme
    if scheme == "file":
        return url.removeprefix("file://")
    if scheme == "s3":
        return "s3a://" + url.split("://", 1)[1]
    raise ConfigError(
        f"engine: spark reads and writes local folders and s3:// locations, not {url!r}",
        fix="use engine: duckdb for tables on az:// or with an az:// lake",
    )


def file_url(column: Column, scheme: str) -> Column:
    """Spark's URI of a row's file (`_metadata.file_path`) as shopflow's file URL."""
    from pyspark.sql import functions as sf

    # url_decode reads '+' as a space; a '+' in a URI path is a plus.
    if scheme == "file":
        return sf.url_decode(sf.regexp_replace(sf.regexp_replace(column, r"^file:/+", "/"), r"\+", "%2B"))
    return sf.url_decode(sf.regexp_replace(sf.regexp_replace(column, r"^s3a://", "s3://"), r"\+", "%2B"))
