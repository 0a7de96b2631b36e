"""The rows of the run and status tables: what each table's columns say, cell by cell.

The run table has one line per warehouse table a run touched: each source table, then its
child tables (`orders__line_items`), with the rows the load added (new), rewrote (updated)
and removed (deleted).
"""

from __future__ import annotations

from datetime import datetime

from shopflow.cli.fit import Column
from shopflow.pipeline.run import RunReport, TableReport
from shopflow.pipeline.status import TableStatus
from shopflow.warehouse.base import RowChanges

RUN_COLUMNS = [
    Column("table"), Column("files", right=True, drop=1), Column("read", right=True, drop=2),
    Column("new", right=True), Column("updated", right=True), Column("deleted", right=True),
    Column("quarantined", right=True), Column("status"),
]
STATUS_COLUMNS = [
    Column("table"), Column("lake", right=True), Column("applied", right=True), Column("rows", right=True),
    Column("last commit (UTC)", drop=1), Column("files", right=True, drop=2), Column("watermark", drop=3),
]


def run_rows(report: RunReport) -> list[list[str]]:
    """One row per source table and per child table it filled, for `RUN_COLUMNS`."""
    rows: list[list[str]] = []
    for table in report.tables:
        changes = _changes(table, table.table)
        files = "" if table.kind == "database" else f"{table.files_new:,}"
        quarantined = f"[yellow]{table.quarantined:,}[/yellow]" if table.quarantined else "0"
        rows.append([table.table, files, f"{table.rows_extracted:,}", *_counts(changes), quarantined, _state(table)])
        load = table.load
        children = sorted(load.outputs - {table.table}) if load is not None else []
        for child in children:
            rows.append([child, "", "", *_counts(_changes(table, child)), "", ""])
    return rows


def _changes(table: TableReport, output: str) -> RowChanges:
    if table.load is None:
        return RowChanges()
    return table.load.changes(output, tombstones=table.rows_deleted if output == table.table else 0)


def _counts(changes: RowChanges) -> list[str]:
    return [f"{changes.new:,}", f"{changes.updated:,}", f"{changes.deleted:,}"]


def _state(table: TableReport) -> str:
    if table.error:
        return "[red]failed[/red]"
    if table.warning:
        return "[yellow]no files[/yellow]"
    return "ok"


def status_rows(tables: list[TableStatus]) -> list[list[str]]:
    """One row per table for `STATUS_COLUMNS`."""
    return [
        [
            t.table,
            "-" if t.lake_version is None else str(t.lake_version),
            "-" if t.applied_version < 0 else str(t.applied_version),
            "-" if t.warehouse_rows is None else f"{t.warehouse_rows:,}",
            _minute(t.last_commit),
            f"{t.files_consumed:,}",
            t.watermark or "-",
        ]
        for t in tables
    ]


def _minute(stamp: str | None) -> str:
    """`2024-11-15 09:00:07 UTC` as `2024-11-15 09:00`, to keep the column narrow."""
    if not stamp:
        return "-"
    try:
        return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S UTC").strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return stamp
