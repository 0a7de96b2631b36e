"""`shopflow dashboard --export out/`: every page as a self-contained HTML file, for email or a file share.

Each file carries its CSS and JavaScript inline (plotly's included), so it opens from disk
with no server and no network. Pages show the default filters (the whole date range, every
dimension value) and say so; links between the files are relative, as on the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shopflow.config.dashboard import HEALTH_PAGE
from shopflow.serve.dashboard.render import INDEX, PAGE_SUFFIX, render_index, render_page
from shopflow.serve.dashboard.site import DashboardPipeline


@dataclass(frozen=True)
class Exported:
    """The files one export wrote."""

    folder: Path
    files: list[Path]


def export(pipelines: list[DashboardPipeline], folder: Path) -> Exported:
    """Write the index and every page of every pipeline into `folder` (created if missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = [_write(folder / INDEX, render_index(pipelines, inline=True))]
    for pipeline in pipelines:
        names = [p.name for p in pipeline.dashboard.pages] if pipeline.dashboard else []
        for name in [*names, HEALTH_PAGE]:
            html = render_page(pipelines, pipeline.name, name, inline=True)
            written.append(_write(folder / pipeline.name / f"{name}{PAGE_SUFFIX}", html))
    return Exported(folder, written)


def _write(path: Path, html: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(path.name + ".tmp")
    staged.write_text(html, encoding="utf-8")
    staged.replace(path)
    return path
