"""`shopflow spark-session`: a SparkSession over the lake, as a shell, one SQL statement or a script."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def register(app: typer.Typer) -> None:
    """Add the `spark-session` command to `app`."""
    app.command("spark-session")(spark_session_command)


def spark_session_command(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="The pipeline file.", envvar="SHOPFLOW_CONFIG")
    ] = Path("shopflow.yml"),
    sql: Annotated[str | None, typer.Option("--sql", help="Run this Spark SQL statement and print its rows.")] = None,
    script: Annotated[
        Path | None, typer.Argument(help="A Python script to run with `spark` (the session) in its globals.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Rows of --sql to print at most.")] = 100,
) -> None:
    """Start Spark (spark: in shopflow.yml) with every lake table as a view at its current version.

    Views are named as the warehouse's raw tables (invoice_lines); a table's quarantine is
    quarantine__<table>. Without --sql or a script, an interactive Python shell starts with
    `spark` ready. Needs PySpark: pip install 'shopflow[spark]'.

    Exit codes: 0 done, 1 the SQL or script failed, 2 bad usage or configuration.
    """
    from shopflow.config import load_config
    from shopflow.engines.spark.session import spark_session
    from shopflow.engines.spark.views import register_lake

    pipeline = load_config(config)
    spark = spark_session(pipeline.spark, "shopflow spark-session")
    views = register_lake(spark, pipeline)
    if sql is not None:
        _print_sql(spark, sql, limit)
        return
    if script is not None:
        import runpy

        sys.argv = [str(script)]
        runpy.run_path(str(script), init_globals={"spark": spark}, run_name="__main__")
        return
    import code

    names = ", ".join(v.name for v in views) or "none yet (run `shopflow run` first)"
    code.interact(banner=f"Spark {spark.version} over the lake of {pipeline.pipeline}: `spark` is the session.\n"
                  f"Views: {names}\nExample: spark.sql('SELECT count(*) FROM ...').show()",
                  local={"spark": spark}, exitmsg="")


def _print_sql(spark: object, sql: str, limit: int) -> None:
    from pyspark.errors import PySparkException
    from pyspark.sql import SparkSession

    assert isinstance(spark, SparkSession)
    try:
        frame = spark.sql(sql)
        rows = frame.limit(limit + 1).collect()
    except PySparkException as exc:
        Console(stderr=True).print(f"[red]error:[/red] {str(exc).splitlines()[0]}", highlight=False, markup=True)
        raise typer.Exit(1) from None
    table = Table(*frame.columns)
    for row in rows[:limit]:
        table.add_row(*["NULL" if v is None else str(v) for v in row])
    console.print(table)
    more = f" (first {limit} shown)" if len(rows) > limit else ""
    console.print(f"{min(len(rows), limit)} rows{more}", highlight=False)
