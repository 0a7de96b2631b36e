"""Spark over the lake: `lake_session` / `shopflow spark-session` see every lake table at its current version."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from pyspark.sql import SparkSession
from typer.testing import CliRunner

from shopflow.cli.main import app
from shopflow.config import load_config
from shopflow.engines.spark import lake_session
from tests.engines.spark.conftest import HOURLY, retail_dumps, retail_pipeline
from tests.helpers import query, run


def test_lake_session_shows_each_table_at_its_current_version(spark: SparkSession, tmp_path: Path) -> None:
    dumps = retail_dumps(tmp_path / "dumps")
    config = retail_pipeline(tmp_path / "duckdb", dumps, "duckdb")  # a lake written by DuckDB reads the same
    assert run(config).exit_code == 3
    session = lake_session(load_config(config))
    assert session.sql("SELECT count(*), sum(unit_price) FROM invoice_lines").collect()[0][:] == tuple(
        query(config, "SELECT count(*), sum(unit_price) FROM raw.invoice_lines")[0])
    assert session.sql("SELECT count(*) FROM quarantine__invoice_lines").collect()[0][0] == 3
    dates = session.sql("SELECT DISTINCT _sf_load_date FROM invoice_lines").collect()
    assert [type(r[0]) for r in dates] == [str]  # the partition value as the lake keeps it

    (dumps / "2011-05-13").mkdir()
    shutil.copy(HOURLY / "2011-05-12" / "0900.csv", dumps / "2011-05-13" / "0900.csv")
    assert run(config).exit_code == 0
    lake_session(load_config(config))  # registers the views again, at the new version
    assert session.sql("SELECT count(*) FROM invoice_lines").collect()[0][0] == 150 + 12


def test_cli_runs_sql_over_the_lake(spark: SparkSession, tmp_path: Path) -> None:
    config = retail_pipeline(tmp_path / "spark", retail_dumps(tmp_path / "dumps"), "spark")
    assert run(config).exit_code == 3
    sql = "SELECT country, count(*) AS n FROM invoice_lines GROUP BY country ORDER BY n DESC"
    result = CliRunner().invoke(app, ["spark-session", "-c", str(config), "--sql", sql])
    assert result.exit_code == 0, result.output
    assert "United Kingdom" in result.output and "rows" in result.output
    bad = CliRunner().invoke(app, ["spark-session", "-c", str(config), "--sql", "SELECT * FROM no_such_table"])
    assert bad.exit_code == 1


def test_engine_spark_without_pyspark_says_how_to_install(tmp_path: Path) -> None:
    config = retail_pipeline(tmp_path / "spark", retail_dumps(tmp_path / "dumps"), "spark")
    # PySpark made unimportable in a real CLI process: the table fails with the install command.
    code = ("import sys; sys.modules['pyspark'] = None; sys.argv = ['shopflow', 'run', '-c', sys.argv[1]]; "
            "from shopflow.cli.main import main; main()")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPFLOW_")}
    done = subprocess.run([sys.executable, "-c", code, str(config)], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 1
    output = done.stdout + done.stderr
    assert "needs PySpark, which is not installed" in output
    assert "pip install 'shopflow[spark]'" in output
