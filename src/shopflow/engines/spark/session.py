"""The SparkSession shopflow runs on: one per process, from the pipeline's `spark:` section.

PySpark is an optional extra (`shopflow[spark]`), imported only here and only when a table
says `engine: spark` or a user asks for a lake session. Local masters bind the driver to
127.0.0.1 and run without the web UI: nothing listens on other addresses unless told to.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from shopflow.config.spark import SparkConfig
from shopflow.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

INSTALL = "pip install 'shopflow[spark]'"

# Settings shopflow's Spark path relies on; `spark.conf` in shopflow.yml may add to them but these
# keep the lake readable by every engine: microsecond timestamps (Spark's default is INT96),
# UTC, and no `_SUCCESS` marker files among the table's Parquet files.
REQUIRED = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.parquet.compression.codec": "snappy",
    "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
    # The lake's partition folders hold text (`_sf_load_date=2024-05-01`), never dates.
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
}
# No progress bars drawn over shopflow's own output.
QUIET = {"spark.ui.showConsoleProgress": "false"}
LOCAL_DEFAULTS = {
    "spark.ui.enabled": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}


def require_pyspark(what: str) -> None:
    """Raise ConfigError naming `what` needs PySpark, unless it is installed.

    Args:
        what: What needs Spark, for the message, e.g. `table 'orders' (engine: spark)`.
    """
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"{what} needs PySpark, which is not installed", fix=INSTALL) from exc


def spark_session(settings: SparkConfig, what: str = "engine: spark") -> SparkSession:
    """The process's SparkSession for `settings`, started on first use (the JVM takes ~10-20 s).

    A session already running in this process is reused: Spark allows one per JVM, and its
    static settings (master, memory) are those of the first.

    Raises:
        ConfigError: PySpark is not installed, or Spark cannot start with these settings.
    """
    require_pyspark(what)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(settings.app_name)
    conf = {**QUIET, **settings.conf}
    if settings.is_connect:
        builder = builder.remote(settings.master)
    else:
        builder = builder.master(settings.master)
        if settings.master.startswith("local"):
            conf = {**LOCAL_DEFAULTS, **conf}
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # else Spark binds to the host's address
    for key, value in {**conf, **REQUIRED}.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # py4j and Spark raise their own errors for a master they cannot reach
        raise ConfigError(
            f"cannot start Spark at master {settings.master!r}: {(str(exc).strip() or repr(exc)).splitlines()[0]}",
            fix="check spark.master and spark.conf in shopflow.yml, and that Java 17+ is installed (java -version)",
        ) from exc
    for key, value in REQUIRED.items():  # a session started earlier by someone else gets them too
        if not key.startswith("spark.hadoop.") and session.conf.get(key, None) != value:
            session.conf.set(key, value)
    log.debug("Spark %s at %s", session.version, settings.master)
    return session
