"""One SparkSession for the whole test run (the JVM takes 5-20 s to start), and the dumps it reads.

Every in-process `shopflow run` with `engine: spark` gets this session back from
`SparkSession.builder.getOrCreate()`.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from shopflow.config.spark import SparkConfig
from shopflow.engines.spark.session import spark_session

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ROOT = Path(__file__).resolve().parents[3]
HOURLY = ROOT / "examples" / "online_retail" / "data" / "hourly"
SPARK = {"master": "local[2]", "conf": {"spark.sql.shuffle.partitions": "1", "spark.default.parallelism": "2"}}
# Rows the DuckDB path quarantines by cast: the Spark path must say the same.
BAD_CSV = """InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
999001,85123A,"WHITE, HEART",abc,5/12/2011 21:36,2.55,15513,United Kingdom
999002,85123A,CANDLE,6.5,5/12/2011 21:36,2.5555,,United Kingdom
999003,85123A,CANDLE,6,5/12/2011 21:36,2.55,15513,United Kingdom,extra
999004,21212,"PACK OF 72 ""RETRO"" CASES",12,5/12/2011 21:40,0.55,14911,EIRE
"""


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    session = spark_session(SparkConfig.model_validate(SPARK))
    yield session
    session.stop()


def retail_dumps(folder: Path) -> Path:
    """The example's hourly CSV dumps and one with bad rows, copied to `folder`."""
    shutil.copytree(HOURLY, folder)
    (folder / "2011-05-12" / "2100.csv").write_text(BAD_CSV, encoding="utf-8")
    return folder


def retail_pipeline(folder: Path, location: Path, engine: str, files: str = "**/*.csv") -> Path:
    """The example's pipeline (no models) on `location`, its table read by `engine`, lake and warehouse in `folder`."""
    config: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "online_retail" / "shopflow.yml").read_text())
    config.pop("transform")
    config["lake"] = str(folder / "lake")
    config["warehouse"] = {"type": "duckdb", "path": str(folder / "warehouse.duckdb")}
    config["spark"] = SPARK
    source = config["sources"][0]
    source["location"] = str(location)
    source["tables"][0].update(files=files, engine=engine)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "shopflow.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path
