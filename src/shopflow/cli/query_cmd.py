"""`shopflow query`: run one read-only SQL query on the pipeline's warehouse and print the rows."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from shopflow.errors import ShopflowError, WarehouseError

if TYPE_CHECKING:
    from shopflow.config.model import WarehouseConfig

console = Console()
DEFAULT_LIMIT = 100
MAX_WIDTH = 30  # characters of a value shown in a column


def register(app: typer.Typer) -> None:
    """Add `query` to `app`."""
    app.command()(query)


def query(
    sql: Annotated[str, typer.Argument(help="The query, e.g. \"SELECT * FROM analytics.orders_table LIMIT 5\".")],
    config: Annotated[
        Path, typer.Option("--config", "-c", help="The pipeline file.", envvar="SHOPFLOW_CONFIG")
    ] = Path("shopflow.yml"),
    limit: Annotated[int, typer.Option("--limit", help="Show at most this many rows.")] = DEFAULT_LIMIT,
) -> None:
    """Run a read-only SQL query on the pipeline's warehouse and print its rows as a table.

    The warehouse is opened read-only: a statement that writes fails. A DuckDB file cannot be
    read while a run writes to it; the error says so.

    Exit codes: 0 done, 1 the query failed, 2 bad usage or configuration, or no warehouse yet.
    """
    from decimal import Decimal

    from rich.markup import escape
    from rich.table import Table

    from shopflow.config import load_config

    pipeline = load_config(config)
    columns, rows, more = run_query(pipeline.warehouse, sql, limit)
    cells = [["NULL" if v is None else str(v) for v in row] for row in rows]
    widths = [min(MAX_WIDTH, max([len(name)] + [len(r[i]) for r in cells])) for i, name in enumerate(columns)]
    fit, used = 0, 1
    while fit < len(columns) and (fit == 0 or used + widths[fit] + 3 <= console.width):
        used += widths[fit] + 3  # a border and a space on each side
        fit += 1
    table = Table(header_style="bold")
    for i in range(fit):
        right = bool(rows) and all(isinstance(r[i], int | float | Decimal) or r[i] is None for r in rows)
        # One line per row, as the duckdb shell shows them: a value wider than its column ends in "…".
        table.add_column(escape(columns[i]), justify="right" if right else "left", no_wrap=True,
                         overflow="ellipsis", max_width=MAX_WIDTH)
    for row, text in zip(rows, cells, strict=True):
        table.add_row(*("[dim]NULL[/dim]" if row[i] is None else escape(text[i]) for i in range(fit)))
    console.print(table)
    if fit < len(columns):
        console.print(f"{len(columns) - fit} more columns not shown (the terminal is too narrow): "
                      f"{escape(', '.join(columns[fit:]))}", highlight=False)
    shown = f"{len(rows):,} row{'' if len(rows) == 1 else 's'}"
    console.print(f"{shown} (more not shown: --limit)" if more else shown, highlight=False)


def run_query(warehouse: WarehouseConfig, sql: str, limit: int) -> tuple[list[str], list[tuple[Any, ...]], bool]:
    """Column names, up to `limit` rows, and whether more rows followed.

    Raises:
        WarehouseError: No warehouse yet, a run holds the DuckDB file, or the server cannot be reached.
        ShopflowError: The query failed (exit 1); the message is the database's.
    """
    if warehouse.type == "duckdb":
        return _duckdb(warehouse.path, sql, limit)
    return _postgres(warehouse, sql, limit)


def _duckdb(path: str, sql: str, limit: int) -> tuple[list[str], list[tuple[Any, ...]], bool]:
    import duckdb

    from shopflow.engine import load_extension

    if not Path(path).is_file():
        raise WarehouseError(f"the warehouse {path} does not exist yet", fix="run `shopflow run` first")
    try:
        con = duckdb.connect(path, read_only=True)
    except duckdb.IOException as exc:
        raise WarehouseError(
            f"cannot read the DuckDB warehouse {path} while another process writes to it: {exc}",
            fix="a shopflow run (or serve, or a DuckDB client) holds it; query again when it has finished, "
                "or use the dashboard of `shopflow serve`",
        ) from exc
    try:
        load_extension(con, "icu")  # timestamps with time zone
        con.execute("SET TimeZone = 'UTC'")
        try:
            cursor = con.execute(sql)
            rows = cursor.fetchmany(limit + 1)
        except duckdb.Error as exc:
            raise ShopflowError(f"the query failed: {exc}", fix="correct the SQL") from exc
        columns = [d[0] for d in cursor.description or []]
    finally:
        con.close()
    return columns, rows[:limit], len(rows) > limit


def _postgres(warehouse: WarehouseConfig, sql: str, limit: int) -> tuple[list[str], list[tuple[Any, ...]], bool]:
    import psycopg

    from shopflow.warehouse.postgres_connect import connect_control

    with connect_control(warehouse, read_only=True) as con:
        try:
            with con.cursor() as cursor:
                cursor.execute(sql.encode("utf-8"))
                rows = cursor.fetchmany(limit + 1) if cursor.description else []
                columns = [d.name for d in cursor.description or []]
        except psycopg.Error as exc:
            raise ShopflowError(f"the query failed: {str(exc).strip()}", fix="correct the SQL") from exc
    return columns, rows[:limit], len(rows) > limit

