"""A chart's query result as what the page shows: a plotly figure, a KPI number, or table cells."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from shopflow.config.dashboard import Chart, ValueFormat
from shopflow.serve.dashboard.query import QueryResult

_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"


class ChartDataError(ValueError):
    """The query's result does not fit the chart (a column it names is missing, or nothing to plot)."""


def plain(value: Any) -> Any:
    """`value` as JSON can hold it: decimals as floats, dates and times as ISO text."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def to_json(value: Any) -> str:
    """JSON for a `<script>` element: `</` escaped so the data can never close the element."""
    return json.dumps(value, default=plain, separators=(",", ":")).replace("</", "<\\/")


def format_value(value: Any, fmt: ValueFormat = "number", *, grouped: bool = True) -> str:
    """`value` for people: thousands separated; money with cents; a fraction as a percentage.

    A decimal keeps two places unless its type has none, so a column of amounts lines up;
    `grouped=False` leaves out the thousands separators (identifiers).
    """
    if value is None:
        return "–"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds").removesuffix("+00:00")
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return str(plain(value))
    comma = "," if grouped else ""
    if fmt == "percent":
        return f"{float(value) * 100:{comma}.1f}%"
    if fmt == "money":
        return f"{value:{comma}.2f}"
    whole = isinstance(value, int) or (isinstance(value, Decimal) and int(value.as_tuple().exponent) >= 0)
    return f"{int(value):{comma}}" if whole else f"{value:{comma}.2f}"


def _identifier(column: str) -> bool:
    """True for a column of identifiers (`id`, `user_id`, `invoice_no`): shown without separators."""
    name = column.lower()
    return name == "id" or name.endswith(("_id", "_no", "_number"))


def kpi_value(result: QueryResult) -> Any:
    """The KPI: the first column of the first row.

    Raises:
        ChartDataError: The query returned no column.
    """
    if not result.columns:
        raise ChartDataError("the query returned no column; a KPI shows the first column of the first row")
    return result.scalar()


def table_cells(chart: Chart, result: QueryResult) -> list[list[str]]:
    """The first `chart.limit` rows, each value formatted for people."""
    grouped = [not _identifier(c) for c in result.columns]
    return [[format_value(v, grouped=g) for v, g in zip(row, grouped, strict=False)]
            for row in result.rows[: chart.limit]]


def figure(chart: Chart, result: QueryResult) -> dict[str, Any]:
    """The plotly figure of a line or bar chart.

    Raises:
        ChartDataError: A column the chart names is not in the result, or there is nothing to plot.
    """
    x = chart.x or (result.columns[0] if result.columns else None)
    missing = [c for c in (x, chart.series, *(chart.y or [])) if c is not None and c not in result.columns]
    if x is None or missing:
        raise ChartDataError(
            f"column {', '.join(map(repr, missing or ['x']))} is not in the query's result "
            f"(its columns: {', '.join(result.columns) or 'none'})"
        )
    ys = chart.y or [c for c in result.columns if c not in (x, chart.series)]
    if not ys:
        raise ChartDataError(f"nothing to plot: the query's only column is {x!r}; add a value column")
    if chart.series is not None:
        traces = _series_traces(chart, result, x, ys[0])
    else:
        traces = [_trace(chart, ys[0] if len(ys) == 1 else y, result.column(x), result.column(y)) for y in ys]
    layout: dict[str, Any] = {
        "autosize": True,
        "margin": {"l": 56, "r": 16, "t": 32 if len(traces) > 1 else 8, "b": 48},
        "font": {"family": _FONT, "size": 12},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "showlegend": len(traces) > 1,
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        "hovermode": "closest",
        "xaxis": {"automargin": True, "title": {"text": "" if chart.horizontal else x}},
        "yaxis": {"automargin": True, "title": {"text": x if chart.horizontal else ""}},
    }
    days = _days(result.column(x))
    if chart.type == "bar" and chart.horizontal:
        layout["yaxis"]["autorange"] = "reversed"  # the first row on top, as the query orders it
        layout["yaxis"]["type"] = "category"
    elif days is not None:
        layout["xaxis"]["type"] = "date"
        if days <= DAY_TICKS:  # a few days: one tick a day, not plotly's 12-hourly ones
            layout["xaxis"].update({"dtick": 86_400_000, "tickformat": "%Y-%m-%d"})
            if chart.type == "line":  # half a day of room each side, so the first and last labels fit
                found = [v for v in result.column(x) if v is not None]
                half = timedelta(hours=12)
                layout["xaxis"]["range"] = [(datetime.combine(d, time()) + s).strftime("%Y-%m-%d %H:%M")
                                            for d, s in ((min(found), -half), (max(found), half))]
    elif chart.type == "bar":
        layout["xaxis"]["type"] = "category"
    if chart.type == "bar":
        layout["barmode"] = "group"
    return {"data": traces, "layout": layout}


DAY_TICKS = 14


def _days(values: list[Any]) -> int | None:
    """The days a column of dates spans; None unless every value is a date (not a timestamp)."""
    found: list[date] = [v for v in values if isinstance(v, date) and not isinstance(v, datetime)]
    if not found or len(found) != sum(v is not None for v in values):
        return None
    return (max(found) - min(found)).days


def _trace(chart: Chart, name: str, xs: list[Any], ys: list[Any]) -> dict[str, Any]:
    xs, ys = [plain(v) for v in xs], [plain(v) for v in ys]
    if chart.type == "line":
        return {"type": "scatter", "mode": "lines+markers", "name": name, "x": xs, "y": ys}
    if chart.horizontal:
        return {"type": "bar", "orientation": "h", "name": name, "x": ys, "y": [str(v) for v in xs]}
    return {"type": "bar", "name": name, "x": xs, "y": ys}


def _series_traces(chart: Chart, result: QueryResult, x: str, y: str) -> list[dict[str, Any]]:
    """One trace per value of the series column, in the order the values first appear."""
    groups: dict[Any, tuple[list[Any], list[Any]]] = {}
    xi, yi, si = (result.columns.index(c) for c in (x, y, chart.series or ""))
    for row in result.rows:
        xs, ys = groups.setdefault(row[si], ([], []))
        xs.append(row[xi])
        ys.append(row[yi])
    return [_trace(chart, str(plain(key)), xs, ys) for key, (xs, ys) in groups.items()]
