"""`shopflow validate`: check a pipeline without moving data."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from shopflow.cli.options import ConfigOption

console = Console()

_LEVELS = {"ok": "[green]ok[/green]     ", "warning": "[yellow]warning[/yellow]", "error": "[red]error[/red]  "}


def register(app: typer.Typer) -> None:
    """Add `validate` to `app`."""
    app.command("validate")(validate)


def validate(config: ConfigOption = Path("shopflow.yml")) -> None:
    """Check the pipeline without moving data: config, connections, files, keys and cursors.

    It checks the pipeline file, that the lake, the warehouse and each source database can
    be reached, that each file table's location and glob find files, and that each declared
    primary key and cursor names a column of the files not read yet (their headers only) or
    of the source table. Nothing is read past headers and catalogs, and nothing is written.

    Exit codes: 0 every check passed (warnings are listed), 2 a check failed.
    """
    from shopflow.config import load_config
    from shopflow.pipeline.preflight import counted
    from shopflow.pipeline.validate import validate_pipeline

    pipeline = load_config(config)  # a wrong key or value exits 2 here, naming it
    findings = validate_pipeline(pipeline, config)
    for finding in findings:
        console.print(f"{_LEVELS[finding.level]} {escape(finding.subject)}: {escape(finding.message)}", highlight=False)
        if finding.fix and finding.level != "ok":
            console.print(f"         fix: {escape(finding.fix)}", highlight=False)
    errors = sum(1 for f in findings if f.level == "error")
    warnings = sum(1 for f in findings if f.level == "warning")
    if errors:
        console.print(f"{counted(errors, 'check')} failed, {counted(warnings, 'warning')}.", highlight=False)
        raise typer.Exit(2)
    noted = f", {counted(warnings, 'warning')}" if warnings else ""
    console.print(f"All checks passed{noted}.", highlight=False)
