"""`shopflow quarantine`, `shopflow reprocess` and `shopflow rebuild`: recovering after bad input or a fix."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from shopflow.cli.options import ConfigOption

if TYPE_CHECKING:
    from shopflow.pipeline.quarantine_summary import TableQuarantine

console = Console()

TableOption = Annotated[str | None, typer.Option("--table", "-t", help="Only this table.")]
_REASONS_SHOWN = 10


def register(app: typer.Typer) -> None:
    """Add the recovery commands to `app`."""
    app.command("quarantine")(quarantine)
    app.command("reprocess")(reprocess)
    app.command("rebuild")(rebuild)


def quarantine(config: ConfigOption = Path("shopflow.yml"), table: TableOption = None) -> None:
    """List what is in quarantine now, per table: records and files by reason, with an example of each.

    Files that loaded no row are marked: after a fix to shopflow.yml, `shopflow reprocess`
    reads them again. The records themselves are in the warehouse: SELECT * FROM raw._quarantine.
    """
    from shopflow.config import load_config
    from shopflow.pipeline.quarantine_summary import quarantine_summary

    pipeline = load_config(config)
    tables = quarantine_summary(pipeline, table)
    if not any(t.records for t in tables):
        console.print(f"Nothing in quarantine{f' for table {table}' if table else ''}.")
        return
    for summary in tables:
        _print_table(summary, config)


def _print_table(summary: TableQuarantine, config: Path) -> None:
    files = len(summary.files)
    console.print(f"[bold]raw.{summary.table}[/bold]: {summary.records:,} records from {files:,} "
                  f"file{'s' if files != 1 else ''}", highlight=False)
    if not summary.records:
        return
    grid = Table(box=None, pad_edge=False, show_edge=False)
    for column, justify in (("records", "right"), ("files", "right"), ("reason", "left"), ("for example", "left")):
        grid.add_column(column, justify=justify)  # type: ignore[arg-type]
    reasons = sorted(summary.reasons.values(), key=lambda r: (-r.records, r.reason))
    for reason in reasons[:_REASONS_SHOWN]:
        grid.add_row(f"{reason.records:,}", f"{len(reason.files):,}", escape(reason.reason), escape(reason.example))
    console.print(grid)
    if len(reasons) > _REASONS_SHOWN:
        console.print(f"  and {len(reasons) - _REASONS_SHOWN} more reasons", highlight=False)
    if summary.rereadable:
        console.print(f"  {len(summary.rereadable)} of these files loaded no row; after fixing {config}, "
                      f"`shopflow reprocess -c {config}` has the next run read them again", highlight=False)
    if summary.pending:
        console.print(f"  {summary.pending} files are marked to be read again by the next run", highlight=False)


def reprocess(config: ConfigOption = Path("shopflow.yml"), table: TableOption = None) -> None:
    """Have the next run read again the files that loaded no row and went to quarantine.

    Use it after fixing shopflow.yml (a column's type, a key, the CSV options), so that
    files read before the fix load. Each such file is read once more, by the next `shopflow
    run`; files that loaded some rows are not read again, so no row loads twice.
    """
    from shopflow.config import load_config
    from shopflow.pipeline.reprocess import reprocess as mark_again
    from shopflow.pipeline.run_lock import run_lock

    pipeline = load_config(config)
    with run_lock(pipeline.warehouse):  # no run plans on the ledger meanwhile
        marked = mark_again(pipeline, table)
    if not marked:
        console.print("Nothing to read again: no file that loaded no row is in quarantine"
                      f"{f' for table {table}' if table else ''}.")
        return
    by_table: dict[str, list[str]] = {}
    for file in marked:
        by_table.setdefault(file.table, []).append(file.url)
    for name, urls in by_table.items():
        console.print(f"{name}: {len(urls)} file{'s' if len(urls) != 1 else ''} to read again:", highlight=False)
        for url in urls:
            console.print(f"  {escape(url)}", highlight=False)
    console.print(f"The next run reads them: shopflow run -c {config}", highlight=False)


def rebuild(
    table: Annotated[str, typer.Argument(help="The warehouse table to rebuild, e.g. orders (for raw.orders).")],
    config: ConfigOption = Path("shopflow.yml"),
) -> None:
    """Rebuild a warehouse table, its child tables and its quarantine records from the lake.

    The source is not read (a database table's catalog is, for its key, unless shopflow.yml
    names it). It happens in one transaction: readers see the old table until the new one is
    complete. A run must not be running: the command takes the run lock.
    """
    from shopflow.config import load_config
    from shopflow.pipeline.rebuild import rebuild_table

    pipeline = load_config(config)
    with console.status(f"rebuilding raw.{table} ..."):
        result = rebuild_table(pipeline, table.removeprefix("raw."))
    rows = ", ".join(f"raw.{name} {count:,} rows" for name, count in result.rows.items())
    console.print(f"Rebuilt from {result.commits:,} lake commits: {rows}; {result.quarantined:,} quarantined records.",
                  highlight=False)
