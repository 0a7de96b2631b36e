"""A SparkSession over the lake: every lake table a temporary view at its current version.

Spark reads each Delta table through the Parquet files of its current version as delta-rs
lists them (`DeltaTable.file_uris()`), so no Delta JARs are needed. Views are named as the
warehouse's raw tables (`invoice_lines`, `orders__line_items`); a table's quarantine is
`quarantine__<table>`. The lake is append-only: the rows of a file that was later replaced
stay in the lake (the warehouse applies the replacement).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shopflow.config.model import PipelineConfig
from shopflow.engines.spark.paths import spark_uri
from shopflow.engines.spark.session import spark_session
from shopflow.storage import Location

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LakeView:
    """One registered view: its name, the lake table's location and the version it shows."""

    name: str
    url: str
    version: int


def lake_session(config: PipelineConfig) -> SparkSession:
    """A SparkSession (from the pipeline's `spark:`) with every lake table registered as a temporary view.

    Example:
        >>> spark = lake_session(load_config("shopflow.yml"))
        >>> spark.sql("SELECT country, count(*) FROM invoice_lines GROUP BY 1").show()

    Raises:
        ConfigError: PySpark is not installed, or Spark cannot start.
    """
    spark = spark_session(config.spark, "a Spark session over the lake")
    register_lake(spark, config)
    return spark


def register_lake(spark: SparkSession, config: PipelineConfig) -> list[LakeView]:
    """Register (or refresh) a temporary view per lake table at its current version; the views made."""
    lake = Location(config.lake, config.storage)
    views = []
    for kind, prefix in (("raw", ""), ("quarantine", "quarantine__")):
        for table in _tables(lake.join(kind)):
            view = _register(spark, table, prefix + table.url.rstrip("/").rsplit("/", 1)[-1])
            if view is not None:
                views.append(view)
    return views


def _tables(root: Location) -> list[Location]:
    """The Delta tables two levels below `root` (`<source>/<table>`)."""
    fs = root.filesystem()
    if not fs.exists(root.path):
        return []
    found = []
    for source in sorted(fs.ls(root.path, detail=False)):
        if not fs.isdir(source):
            continue
        for table in sorted(fs.ls(source, detail=False)):
            if fs.isdir(table) and fs.exists(f"{table}/_delta_log"):
                url = table if root.scheme == "file" else f"{root.scheme}://{table}"
                found.append(Location(url, root.storage))
    return found


def _register(spark: SparkSession, table: Location, name: str) -> LakeView | None:
    import pyarrow as pa
    from deltalake import DeltaTable
    from pyspark.sql.pandas.types import from_arrow_schema

    delta = DeltaTable(table.url, storage_options=table.delta_storage_options())
    schema = from_arrow_schema(pa.schema(delta.schema().to_arrow()))
    root = spark_uri(table)
    files = [spark_uri(table, uri) for uri in delta.file_uris()]
    reader = spark.read.schema(schema).option("basePath", root)
    frame = reader.parquet(*files) if files else spark.createDataFrame([], schema)
    frame.createOrReplaceTempView(name)
    log.debug("view %s: %s version %s, %s files", name, table.url, delta.version(), len(files))
    return LakeView(name, table.url, delta.version())
