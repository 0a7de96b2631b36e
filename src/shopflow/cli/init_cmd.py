"""`shopflow init`: a starter pipeline to edit, or a copy of one of the examples, ready to run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    """Add `init` to `app`."""
    app.command()(init)


def init(
    path: Annotated[
        Path | None,
        typer.Argument(help="The pipeline file to write (default shopflow.yml); with --example, the folder to copy "
                       "it into (default: the example's name).", show_default=False),
    ] = None,
    example: Annotated[
        str | None,
        typer.Option("--example", "-e", help="Copy this example (glossier, shop_db, totesys, online_retail, "
                     "customers): its pipeline file, dbt project, README and sample data.", show_default=False),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
) -> None:
    """Write a commented starter pipeline (shopflow.yml and a dbt project in dbt/), or copy an example.

    The starter reads order files from ./data into raw.orders and builds one model over it;
    edit its sources, then `shopflow run`. With --example, the copy runs as it is:
    `cd glossier && shopflow run`.
    """
    if example is not None:
        from shopflow.demo.examples import copy_example

        folder = path if path is not None else Path(example)
        copy_example(example, folder, force=force)
        console.print(f"Copied the example {example} to {folder}; see {folder / 'README.md'}. "
                      f"Run it: [bold]cd {folder} && shopflow run[/bold]", highlight=False, soft_wrap=True)
        return
    from shopflow.cli.starter import write_starter

    target = path if path is not None else Path("shopflow.yml")
    written = write_starter(target, force=force)
    if written is None:
        err_console.print(f"[red]{target} exists[/red]; pass --force to overwrite it.", highlight=False)
        raise typer.Exit(2)
    console.print(f"Wrote {', '.join(str(p) for p in written)}. Edit the sources, then: "
                  f"[bold]shopflow run -c {target}[/bold]", highlight=False, soft_wrap=True)
