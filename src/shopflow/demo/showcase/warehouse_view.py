"""What a demo pipeline's DuckDB warehouse holds: each raw table, model and view with its rows."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from shopflow.demo.showcase.results import TableLine
from shopflow.errors import WarehouseError

if TYPE_CHECKING:
    from shopflow.pipeline.run import RunReport
    from shopflow.transform.report import TransformReport

_HIDDEN = ("_shopflow", "information_schema", "pg_catalog")


def table_rows(warehouse: Path) -> dict[str, tuple[str, int]]:
    """`schema.table` -> (table type, rows) for every table and view but shopflow's state; {} if no warehouse yet."""
    import duckdb

    from shopflow.engine import load_extension

    if not warehouse.is_file():
        return {}
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot open the demo warehouse {warehouse}: {exc}",
                             fix="close other programs that have it open, then run the demo again") from exc
    try:
        load_extension(con, "icu")  # views may use time zone functions
        con.execute("SET TimeZone = 'UTC'")
        hidden = ", ".join(f"'{s}'" for s in _HIDDEN)
        relations = con.execute(
            "SELECT table_schema, table_name, table_type FROM information_schema.tables "
            f"WHERE table_catalog = current_database() AND table_schema NOT IN ({hidden}) ORDER BY 1, 2"
        ).fetchall()
        found: dict[str, tuple[str, int]] = {}
        for schema, name, kind in relations:
            quoted = '"' + schema.replace('"', '""') + '"."' + name.replace('"', '""') + '"'
            count = con.execute(f"SELECT count(*) FROM {quoted}").fetchone()
            found[f"{schema}.{name}"] = (str(kind), int(count[0]) if count else 0)
        return found
    finally:
        con.close()


def describe_tables(
    warehouse: Path,
    before: dict[str, tuple[str, int]] | None,
    run: RunReport,
    transform: TransformReport | None,
    seconds: dict[str, float],
) -> list[TableLine]:
    """One line per table and view: raw tables by name, then the quarantine, then the models.

    Args:
        warehouse: The DuckDB file.
        before: `table_rows` before the run (None on a first run: no change column).
        run: The extract-and-load report: rows read and quarantined per table.
        transform: The dbt report: build time per model.
        seconds: Extract-and-load time per source table.
    """
    after = table_rows(warehouse)
    read: dict[str, int] = {}
    quarantined: dict[str, int] = {}
    for table in run.tables:
        for output, rows in table.rows_loaded.items():
            read[f"raw.{output}"] = rows
        read[f"raw.{table.table}"] = table.rows_extracted
        quarantined[f"raw.{table.table}"] = table.quarantined
    model_seconds = {m.name: m.seconds for m in transform.models} if transform is not None else {}
    model_order = list(model_seconds)

    def line(name: str) -> TableLine:
        kind_found, rows = after[name]
        schema, _, table = name.partition(".")
        if schema == "raw":
            kind = "quarantine" if table == "_quarantine" else "raw"
        else:
            kind = "view" if kind_found == "VIEW" else "model"
        previous = before.get(name, ("", 0))[1] if before is not None else None
        return TableLine(
            name=name, kind=kind, rows=rows, added=None if previous is None else rows - previous,
            read=read.get(name, 0) if kind == "raw" else None,
            seconds=seconds.get(table) if kind == "raw" else model_seconds.get(table),
            quarantined=quarantined.get(name, 0) if kind == "raw" else 0,
        )

    def order(name: str) -> tuple[int, int, str]:
        schema, _, table = name.partition(".")
        if schema == "raw":
            return (1, 0, name) if table == "_quarantine" else (0, 0, name)
        return (2, model_order.index(table) if table in model_order else len(model_order), name)

    return [line(name) for name in sorted(after, key=order)]
