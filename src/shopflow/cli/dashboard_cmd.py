"""`shopflow dashboard`: serve (or export) each pipeline's dashboard pages and its health page."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shopflow.errors import ConfigError

if TYPE_CHECKING:
    from rich.console import Console

    from shopflow.serve.dashboard.site import DashboardPipeline

DEMO_FOLDER = Path(".shopflow-demo")
TOKEN_ENV = "SHOPFLOW_DASHBOARD_TOKEN"
MIN_TOKEN = 8


def register(app: typer.Typer) -> None:
    """Add the `dashboard` command to `app`."""
    app.command("dashboard")(dashboard)


def dashboard(
    config: Annotated[
        list[Path] | None,
        typer.Option("--config", "-c", help="A pipeline file (repeatable: one index over several pipelines)."),
    ] = None,
    project: Annotated[
        Path | None,
        typer.Option("--project", help="A folder of pipelines: its shopflow.yml and each subfolder's."),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on; other than loopback needs --token.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8050,
    token: Annotated[
        str | None,
        typer.Option("--token", envvar=TOKEN_ENV, show_envvar=True,
                     help="Pages need this token (a login form asks once per browser)."),
    ] = None,
    export: Annotated[
        Path | None,
        typer.Option("--export", help="Write every page as a self-contained HTML file into this folder, then exit."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens.")] = False,
) -> None:
    """Show each pipeline's dashboard (its dashboard.yml) and its health page in a browser.

    With no -c and no --project it shows ./shopflow.yml, else the demo's pipelines
    (.shopflow-demo, after `shopflow demo`). It reads a DuckDB warehouse from a private copy,
    refreshed between runs, so it never holds a run up; a PostgreSQL warehouse is queried
    directly, read-only.

    Exit codes: 0 stopped or exported, 2 bad usage or configuration.
    """
    from rich.console import Console

    from shopflow.cli.main import _setup_logging

    _setup_logging(verbose)
    console = Console()
    pipelines = _pipelines(config, project)
    try:
        for pipeline in pipelines:
            if pipeline.dashboard is None:
                console.print(f"{pipeline.name}: no dashboard.yml next to its shopflow.yml or dbt project; "
                              "it shows its health page only", highlight=False)
        if export is not None:
            from shopflow.serve.dashboard.export import export as write_pages

            done = write_pages(pipelines, export)
            console.print(f"Wrote {len(done.files)} pages into {export}; open {export / 'index.html'}",
                          highlight=False)
            return
        _serve(pipelines, host, port, token, console)
    finally:
        for pipeline in pipelines:
            pipeline.close()


def _pipelines(config: list[Path] | None, project: Path | None) -> list[DashboardPipeline]:
    from shopflow.serve.dashboard.site import check_unique, project_configs, standalone

    if config and project is not None:
        raise ConfigError("pass either -c (pipeline files) or --project (a folder of them), not both",
                          fix="drop one of the two options")
    if config:
        files = list(config)
    elif project is not None:
        files = project_configs(project)
    elif Path("shopflow.yml").is_file():
        files = [Path("shopflow.yml")]
    elif DEMO_FOLDER.is_dir():
        files = project_configs(DEMO_FOLDER)
    else:
        raise ConfigError("no pipeline to show: no shopflow.yml here and no demo folder (.shopflow-demo)",
                          fix="pass -c path/to/shopflow.yml or --project FOLDER, or run `shopflow demo` first")
    pipelines = [standalone(file) for file in files]
    check_unique(pipelines)
    return pipelines


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _serve(pipelines: list[DashboardPipeline], host: str, port: int, token: str | None, console: Console) -> None:
    import uvicorn

    from shopflow.serve.dashboard.app import create_app, warm
    from shopflow.serve.server import bind

    if token is not None and len(token) < MIN_TOKEN:
        raise ConfigError(f"the dashboard token is {len(token)} characters long; it needs at least {MIN_TOKEN}",
                          fix=f"pass a longer --token (or {TOKEN_ENV}), e.g. from `openssl rand -hex 16`")
    if not _loopback(host) and token is None:
        raise ConfigError(
            f"--host {host} would show every warehouse's data to the network without a token",
            fix=f"pass --token (or set {TOKEN_ENV}), or keep the default --host 127.0.0.1",
        )
    listener = bind(host, port)
    warm(pipelines)
    app = create_app(pipelines, token=token)
    shown = f"[{host}]" if ":" in host else host
    needs = " (pages need the token)" if token else ""
    console.print(f"Dashboard of {', '.join(p.name for p in pipelines)} at http://{shown}:{listener.getsockname()[1]}/"
                  f"{needs} - Ctrl+C stops it", highlight=False, soft_wrap=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[listener])
