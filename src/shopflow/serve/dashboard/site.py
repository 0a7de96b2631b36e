"""The pipelines a dashboard shows: each one's config, dashboard file and way into its warehouse."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from shopflow.config.dashboard import DashboardConfig, load_dashboard
from shopflow.config.model import PipelineConfig
from shopflow.errors import ConfigError
from shopflow.serve.dashboard.query import Connector, QueryFn, shared

DASHBOARD_FILE = "dashboard.yml"
PIPELINE_FILE = "shopflow.yml"


def _no_notice() -> str | None:
    return None


def _nothing() -> None:
    return None


@dataclass
class DashboardPipeline:
    """One pipeline on the dashboard.

    Attributes:
        config: The pipeline (its warehouse, lake and tables, for the health page).
        dashboard: Its dashboard file's pages, or None: then it has the health page only.
        connect: Opens the warehouse for one page view.
        notice: A line every page shows, e.g. that a run holds the warehouse and an older copy shows.
        close: Releases what `connect` keeps open between pages.
    """

    config: PipelineConfig
    dashboard: DashboardConfig | None
    connect: Connector
    notice: Callable[[], str | None] = field(default=_no_notice)
    close: Callable[[], None] = field(default=_nothing)

    @property
    def name(self) -> str:
        """The pipeline's name: its part of every page address."""
        return self.config.pipeline

    @property
    def title(self) -> str:
        """The dashboard's title, else the pipeline's name."""
        return self.dashboard.title if self.dashboard else self.config.pipeline

    @property
    def warehouse_label(self) -> str:
        """Where the warehouse is, short: a DuckDB file's last two path parts, or PostgreSQL's address."""
        warehouse = self.config.warehouse
        if warehouse.type != "duckdb":
            return warehouse.describe()
        parts = Path(warehouse.path).parts
        return str(Path(*parts[-2:])) if len(parts) <= 2 else f"…/{Path(*parts[-2:])}"

    @classmethod
    def over(cls, config: PipelineConfig, dashboard: DashboardConfig | None, query: QueryFn) -> DashboardPipeline:
        """A pipeline whose warehouse a server already holds open (`shopflow serve`): every page uses `query`."""
        return cls(config, dashboard, shared(query))


def dashboard_file(config_path: Path, config: PipelineConfig) -> Path | None:
    """The pipeline's dashboard file: `dashboard.yml` next to its shopflow.yml, else next to its dbt project.

    The second place is where an example keeps it when another file (the demo's) runs its models.
    """
    beside = config_path.parent / DASHBOARD_FILE
    if beside.is_file():
        return beside
    if config.transform is not None:
        by_models = Path(config.transform.project).parent / DASHBOARD_FILE
        if by_models.is_file():
            return by_models
    return None


def load_pipeline_dashboard(config_path: Path, config: PipelineConfig) -> DashboardConfig | None:
    """The pipeline's dashboard, validated; None if it has no dashboard file."""
    found = dashboard_file(config_path, config)
    return load_dashboard(found) if found is not None else None


def standalone(config_path: Path, snapshots: Path | None = None) -> DashboardPipeline:
    """A pipeline read by the standalone dashboard: its own read-only access to the warehouse.

    Raises:
        ConfigError: The pipeline file or its dashboard file is invalid.
    """
    from shopflow.config import load_config
    from shopflow.serve.dashboard.access import DuckDBSnapshots, warehouse_connector

    config = load_config(config_path)
    dashboard = load_pipeline_dashboard(config_path, config)
    if config.warehouse.type == "duckdb":
        copies = DuckDBSnapshots(Path(config.warehouse.path), snapshots)
        return DashboardPipeline(config, dashboard, copies.connect, copies.note, copies.close)
    return DashboardPipeline(config, dashboard, warehouse_connector(config.warehouse))


def project_configs(folder: Path) -> list[Path]:
    """The pipeline files of a project folder: its shopflow.yml and each subfolder's, sorted.

    Raises:
        ConfigError: The folder holds no pipeline file.
    """
    if not folder.is_dir():
        raise ConfigError(f"project folder {str(folder)!r} not found", fix="pass --project with an existing folder")
    found = [folder / PIPELINE_FILE] if (folder / PIPELINE_FILE).is_file() else []
    found += sorted(p for p in folder.glob(f"*/{PIPELINE_FILE}") if p.is_file())
    if not found:
        raise ConfigError(f"{folder} holds no {PIPELINE_FILE}, nor do its subfolders",
                          fix="pass --project with a folder of pipelines (e.g. the demo's), or -c with each file")
    return found


def check_unique(pipelines: list[DashboardPipeline]) -> None:
    """Raise ConfigError if two pipelines share a name: the name is their part of the page address."""
    names = [p.name for p in pipelines]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"pipeline {', '.join(twice)} is given twice; each pipeline needs its own name",
                          fix="pass each pipeline file once, or rename one of them (pipeline: in shopflow.yml)")
