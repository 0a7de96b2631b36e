"""Pages as HTML, rendered on the server: the index, each dashboard page and each health page.

Every link is relative (`glossier/overview.html`, `../static/dashboard.css`), so the same
pages work at the root of `shopflow dashboard`, mounted under a prefix by `shopflow serve`,
and as files written by `--export` (which inlines the CSS and JavaScript instead).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from shopflow.config.dashboard import HEALTH_PAGE
from shopflow.errors import ShopflowError
from shopflow.serve.dashboard.site import DashboardPipeline
from shopflow.serve.dashboard.views import ChartView, FilterView, filters_for, first_line, page_charts

log = logging.getLogger(__name__)

PAGE_SUFFIX = ".html"
INDEX = "index.html"


class PageNotFoundError(LookupError):
    """No pipeline or page of that name."""


@functools.cache
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("shopflow.serve.dashboard", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


@functools.cache
def asset(name: str) -> str:
    """A static file's text: `dashboard.css`, `dashboard.js`, or `plotly.min.js` from plotly's own wheel."""
    if name == "plotly.min.js":
        from plotly.offline import get_plotlyjs

        return str(get_plotlyjs())
    return (resources.files("shopflow.serve.dashboard") / "static" / name).read_text(encoding="utf-8")


ASSETS = ("dashboard.css", "dashboard.js", "plotly.min.js")


@dataclass(frozen=True)
class Tab:
    """A link in a pipeline's page bar."""

    title: str
    href: str
    current: bool


def _tabs(pipeline: DashboardPipeline, current: str) -> list[Tab]:
    pages = [(p.name, p.title) for p in pipeline.dashboard.pages] if pipeline.dashboard else []
    pages.append((HEALTH_PAGE, "Pipeline health"))
    return [Tab(title, f"{name}{PAGE_SUFFIX}", name == current) for name, title in pages]


def first_page(pipeline: DashboardPipeline) -> str:
    """The name of the page a pipeline opens on: its first dashboard page, else its health page."""
    return pipeline.dashboard.pages[0].name if pipeline.dashboard else HEALTH_PAGE


def _render(template: str, *, inline: bool, root: str, **context: Any) -> str:
    plots = any(c.figure_json for c in context.get("charts", []))
    assets = {name: asset(name) for name in ASSETS if inline and (plots or name != "plotly.min.js")}
    return str(_environment().get_template(template).render(inline=inline, root=root, assets=assets, plots=plots,
                                                             **context))


def render_index(pipelines: list[DashboardPipeline], *, inline: bool = False) -> str:
    """The index page: every pipeline, its pages and its health page."""
    entries = [{"pipeline": p, "tabs": _tabs(p, "")} for p in pipelines]
    return _render("index.html", inline=inline, root="", title="Pipelines", pipeline=None, tabs=[],
                   entries=entries, notice=None, charts=[], rendered_ms=None)


def render_page(
    pipelines: list[DashboardPipeline], name: str, page_name: str, chosen: Mapping[str, str] | None = None,
    *, inline: bool = False,
) -> str:
    """One page of pipeline `name`: a dashboard page, or `health`.

    A warehouse that cannot be opened (not built yet, unreachable) gives a page saying so and
    how to fix it; a chart whose query fails shows the database's message in its place.

    Raises:
        PageNotFoundError: No such pipeline or page.
    """
    clock = time.perf_counter()
    pipeline = next((p for p in pipelines if p.name == name), None)
    if pipeline is None:
        raise PageNotFoundError(f"no pipeline named {name!r}")
    page = pipeline.dashboard.page(page_name) if pipeline.dashboard else None
    if page is None and page_name != HEALTH_PAGE:
        raise PageNotFoundError(f"pipeline {name!r} has no page {page_name!r}")
    charts: list[ChartView] = []
    filters: FilterView | None = None
    problem: ShopflowError | None = None
    try:
        with pipeline.connect() as query:
            if page is None:
                from shopflow.serve.dashboard.health import health_views

                charts = health_views(pipeline.config, query)
            else:
                assert pipeline.dashboard is not None
                filters = filters_for(pipeline.dashboard, page, query, chosen or {})
                charts = page_charts(page, query, filters.values)
    except ShopflowError as exc:
        problem = exc
    except Exception as exc:  # a database or lake failure outside any one chart: shown, and logged in full
        log.exception("page %s/%s failed", name, page_name)
        problem = ShopflowError(f"the page could not be built: {first_line(exc)}",
                                fix="see the dashboard's log for the whole error")
    title = page.title if page is not None else "Pipeline health"
    return _render(
        "page.html", inline=inline, root="../", title=f"{title} · {pipeline.title}", heading=title,
        description=page_description(pipeline, page_name), pipeline=pipeline, tabs=_tabs(pipeline, page_name),
        filters=filters, kpis=[c for c in charts if c.type == "kpi"], charts=[c for c in charts if c.type != "kpi"],
        problem=problem, notice=pipeline.notice(), several=len(pipelines) > 1,
        rendered_ms=round((time.perf_counter() - clock) * 1000),
    )


def page_description(pipeline: DashboardPipeline, page_name: str) -> str | None:
    """The line under a page's heading."""
    if page_name == HEALTH_PAGE:
        return (f"Runs, rows, quarantine and freshness of pipeline {pipeline.name}, warehouse "
                f"{pipeline.warehouse_label}.")
    page = pipeline.dashboard.page(page_name) if pipeline.dashboard else None
    return page.description if page is not None and page.description else (
        pipeline.dashboard.description if pipeline.dashboard else None)
