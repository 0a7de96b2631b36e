"""What one page shows, before it becomes HTML: its filters and each chart's figure, number or rows."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from shopflow.config.dashboard import Chart, DashboardConfig, Page
from shopflow.errors import ShopflowError
from shopflow.serve.dashboard.figures import ChartDataError, figure, format_value, kpi_value, table_cells, to_json
from shopflow.serve.dashboard.query import FilterValues, QueryFn, QueryResult, run_query

log = logging.getLogger(__name__)


@dataclass
class ChartView:
    """One chart as the page draws it; `error` replaces the chart when its query failed."""

    id: str
    title: str
    type: str
    description: str | None = None
    figure_json: str | None = None
    value: Any = None
    value_text: str | None = None
    columns: list[str] = field(default_factory=list)
    cells: list[list[str]] = field(default_factory=list)
    more_rows: int = 0
    error: str | None = None
    wide: bool = False

    @property
    def value_data(self) -> str:
        """The KPI's value as plain text, for the page's data attribute (tests and scripts read it)."""
        return "" if self.value is None else str(self.value)


@dataclass
class FilterView:
    """The filters a page offers and what is chosen."""

    values: FilterValues
    date_label: str | None = None
    date_min: date | None = None
    date_max: date | None = None
    dimension_label: str | None = None
    choices: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        """True if the page has any filter to show."""
        return self.date_label is not None or self.dimension_label is not None

    def describe(self) -> str:
        """The filters in one line, for an exported page (which cannot change them)."""
        parts = []
        if self.date_label is not None:
            parts.append(f"{self.date_label}: {self.values.date_from or '…'} to {self.values.date_to or '…'}")
        if self.dimension_label is not None:
            parts.append(f"{self.dimension_label}: {self.values.dimension or 'all'}")
        return "; ".join(parts)


def as_date(value: Any) -> date | None:
    """A date from a date, a timestamp or ISO text; None for None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def filters_for(dashboard: DashboardConfig, page: Page, query: QueryFn, chosen: Mapping[str, str]) -> FilterView:
    """The page's filters: the chosen values from the request (`from`, `to`, `dim`), else the defaults.

    The date range defaults to the whole range the `bounds` query gives; the dimension to all.
    """
    used = page.parameters
    view = FilterView(FilterValues())
    date_from = date_to = None
    dimension = None
    filters = dashboard.filters_of(page)
    date_filter, dimension_filter = filters.date, filters.dimension
    if date_filter is not None and {"date_from", "date_to"} & used:
        view.date_label = date_filter.label
        bounds = _filter_query(query, date_filter.bounds, "filters.date.bounds")
        first, last = (bounds.rows[0][0], bounds.rows[0][1]) if bounds.rows and len(bounds.columns) >= 2 else (
            None, None)
        view.date_min, view.date_max = as_date(first), as_date(last)
        date_from = _chosen_date(chosen, "from", view) or view.date_min
        date_to = _chosen_date(chosen, "to", view) or view.date_max
    if dimension_filter is not None and "dimension" in used:
        view.dimension_label = dimension_filter.label
        found = _filter_query(query, dimension_filter.values, "filters.dimension.values")
        view.choices = [str(r[0]) for r in found.rows if r and r[0] is not None]
        dimension = chosen.get("dim") or None
    view.values = FilterValues(date_from, date_to, dimension)
    return view


def _filter_query(query: QueryFn, sql: str, key: str) -> QueryResult:
    """Run a filter's own query; its failure names the key that holds it."""
    try:
        return run_query(query, sql)
    except Exception as exc:  # the database's error: the filter's SQL is wrong, or its table is missing
        raise ShopflowError(f"the query of {key} failed: {first_line(exc)}",
                            fix=f"correct {key} in the dashboard file") from exc


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (database errors run on with context), or its type."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _chosen_date(chosen: Mapping[str, str], key: str, view: FilterView) -> date | None:
    text = chosen.get(key, "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        view.problems.append(f"{key}={text!r} is not a date (YYYY-MM-DD); showing the whole range")
        return None


def chart_view(chart_id: str, chart: Chart, query: QueryFn, filters: FilterValues) -> ChartView:
    """Run the chart's query and shape its result; a failing query or a result that does not fit becomes `error`."""
    view = ChartView(chart_id, chart.title, chart.type, chart.description, wide=chart.wide)
    try:
        result = run_query(query, chart.sql, filters)
    except Exception as exc:  # the database's own error (missing table, bad SQL): shown in place of the chart
        log.warning("chart %r: query failed: %s", chart.title, exc)
        view.error = f"the query failed: {first_line(exc)}"
        return view
    try:
        fill(view, chart, result)
    except ChartDataError as exc:
        view.error = str(exc)
    return view


def fill(view: ChartView, chart: Chart, result: QueryResult) -> None:
    """Put `result` into `view` as the chart's type shows it.

    Raises:
        ChartDataError: The result does not fit the chart.
    """
    if chart.type == "kpi":
        view.value = kpi_value(result)
        view.value_text = format_value(view.value, chart.format)
    elif chart.type == "table":
        view.columns = list(result.columns)
        view.cells = table_cells(chart, result)
        view.more_rows = max(0, len(result.rows) - chart.limit)
    else:
        view.figure_json = to_json(figure(chart, result))


def page_charts(page: Page, query: QueryFn, filters: FilterValues) -> list[ChartView]:
    """Every chart of the page, in order."""
    return [chart_view(f"chart-{n}", chart, query, filters) for n, chart in enumerate(page.charts, 1)]
