"""The dashboard file, `dashboard.yml`: pages of charts, one SQL query per chart, and the filters.

A chart's SQL binds the filters as named parameters: `:date_from` and `:date_to` (dates, the
date range filter) and `:dimension` (text, the one dimension filter; NULL when "all" is
chosen). They are bound as typed parameters, never pasted into the SQL.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from shopflow.config.base import StrictModel, check_identifier
from shopflow.errors import ConfigError

ChartType = Literal["line", "bar", "table", "kpi"]
ValueFormat = Literal["number", "money", "percent"]

# Parameter name -> the SQL type it is bound as.
PARAMETERS = {"date_from": "DATE", "date_to": "DATE", "dimension": "VARCHAR"}
HEALTH_PAGE = "health"
"""The name of the pipeline health page every pipeline gets; no dashboard page may take it."""

# A `:name` parameter, skipping string literals, quoted identifiers, comments and `::` casts;
# a bare `?` is reported, since the parameters are named.
_SQL_TOKENS = re.compile(
    r"""(?P<skip>'(?:[^']|'')*' | "(?:[^"]|"")*" | --[^\n]* | /\*.*?\*/ | ::)
      | :(?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<mark>\?)""",
    re.S | re.X,
)


def sql_parameters(sql: str) -> list[str]:
    """The names of the `:name` parameters in `sql`, in order of appearance (repeats included).

    Raises:
        ValueError: `sql` holds a positional `?` parameter.
    """
    names: list[str] = []
    for match in _SQL_TOKENS.finditer(sql):
        if match.group("mark"):
            raise ValueError("use the named parameters :date_from, :date_to and :dimension, not ?")
        if match.group("name"):
            names.append(match.group("name"))
    return names


def bind_sql(sql: str) -> str:
    """`sql` with each `:name` parameter as a typed positional one, `CAST(? AS <type>)`.

    The values go in the order `sql_parameters(sql)` gives.
    """
    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        return f"CAST(? AS {PARAMETERS[name]})" if name else match.group(0)

    return _SQL_TOKENS.sub(replace, sql)


class DateFilter(StrictModel):
    """The date range filter: `:date_from` and `:date_to`, both inclusive."""

    label: str = "Date"
    bounds: str = Field(description="SQL returning one row: the first and the last date; the default range")


class DimensionFilter(StrictModel):
    """The one dimension filter: `:dimension` is the chosen value, NULL for all."""

    label: str
    values: str = Field(description="SQL returning the values to choose from, one per row, in order")


class Filters(StrictModel):
    """The filters every page of the dashboard offers to the charts that use them."""

    date: DateFilter | None = None
    dimension: DimensionFilter | None = None


class Chart(StrictModel):
    """One chart: a query and how its result is drawn.

    `line` and `bar` draw column `x` against each column of `y` (default: every other column),
    or one trace per value of column `series`; `kpi` shows the first column of the first row;
    `table` shows the rows.
    """

    title: str
    type: ChartType
    sql: str
    description: str | None = None
    x: str | None = None
    y: list[str] | None = None
    series: str | None = None
    horizontal: bool = False
    wide: bool = Field(False, description="take the page's whole width (tables always do)")
    format: ValueFormat = "number"
    limit: int = Field(200, ge=1, le=10_000, description="the most rows a table shows")

    @field_validator("y", mode="before")
    @classmethod
    def _y_list(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("sql")
    @classmethod
    def _known_parameters(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("sql is empty; write the query that gives the chart's numbers")
        unknown = sorted({n for n in sql_parameters(value) if n not in PARAMETERS})
        if unknown:
            raise ValueError(
                f"unknown parameter {', '.join(':' + n for n in unknown)}; "
                f"the parameters are {', '.join(':' + n for n in PARAMETERS)}"
            )
        return value

    @model_validator(mode="after")
    def _keys_fit_type(self) -> Chart:
        plotted = ("x", "y", "series")
        if self.type in ("kpi", "table"):
            wrong = [k for k in plotted if getattr(self, k) is not None]
            if wrong:
                raise ValueError(f"{', '.join(wrong)} apply to line and bar charts, not to a {self.type}")
        if self.horizontal and self.type != "bar":
            raise ValueError("horizontal applies to bar charts only")
        if self.series is not None and self.y is not None and len(self.y) != 1:
            raise ValueError("with series, y names one column: the value each series plots")
        return self

    @property
    def parameters(self) -> set[str]:
        """The parameters the query uses."""
        return set(sql_parameters(self.sql))


class Page(StrictModel):
    """One page of charts; `filters` replaces the dashboard's for this page (e.g. a date range of other dates)."""

    name: str
    title: str
    description: str | None = None
    filters: Filters | None = None
    charts: list[Chart] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        check_identifier(value, "page name")
        if value == HEALTH_PAGE:
            raise ValueError(f"page name {HEALTH_PAGE!r} is taken by the pipeline health page; choose another")
        return value

    @property
    def parameters(self) -> set[str]:
        """The parameters any chart of the page uses."""
        return set().union(*(c.parameters for c in self.charts))


class DashboardConfig(StrictModel):
    """The whole dashboard file."""

    title: str
    description: str | None = None
    filters: Filters = Field(default_factory=Filters)
    pages: list[Page] = Field(min_length=1)

    @model_validator(mode="after")
    def _pages_fit_filters(self) -> DashboardConfig:
        names = [p.name for p in self.pages]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"page {', '.join(map(repr, twice))} is defined twice; page names are unique")
        for page in self.pages:
            filters = self.filters_of(page)
            for chart in page.charts:
                needed = chart.parameters
                if {"date_from", "date_to"} & needed and filters.date is None:
                    raise ValueError(f"chart {chart.title!r} on page {page.name!r} uses :date_from or :date_to, "
                                     "which needs filters.date (label, bounds)")
                if "dimension" in needed and filters.dimension is None:
                    raise ValueError(f"chart {chart.title!r} on page {page.name!r} uses :dimension, "
                                     "which needs filters.dimension (label, values)")
        return self

    def filters_of(self, page: Page) -> Filters:
        """The filters `page` offers: its own, else the dashboard's."""
        return page.filters if page.filters is not None else self.filters

    def page(self, name: str) -> Page | None:
        """The page named `name`, or None."""
        return next((p for p in self.pages if p.name == name), None)


def load_dashboard(path: str | Path) -> DashboardConfig:
    """Read and validate a dashboard file.

    Raises:
        ConfigError: The file is missing, is not YAML, or a key or value is wrong; the message
            names the file, the key and the fix.
    """
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"dashboard file {str(file)!r} not found",
                          fix="write a dashboard.yml next to shopflow.yml (see examples/glossier/dashboard.yml)")
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file} is not valid YAML: {exc}", fix="fix the YAML syntax at the line shown") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{file} must hold a mapping of keys (title, filters, pages)",
                          fix="see examples/glossier/dashboard.yml")
    try:
        return DashboardConfig.model_validate(raw)
    except ValidationError as exc:
        raise _explain(exc, file, raw) from None


def _explain(exc: ValidationError, file: Path, raw: dict[str, object]) -> ConfigError:
    """One message naming each wrong key, with the chart's title where there is one."""
    from shopflow.config.load import _fields_at

    lines = []
    for error in exc.errors():
        loc = [str(p) for p in error["loc"]]
        key = _described(loc, raw)
        if error["type"] == "extra_forbidden":
            fields = _fields_at(loc[:-1], DashboardConfig)
            close = difflib.get_close_matches(loc[-1], fields, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; valid keys here: {', '.join(fields)}"
            lines.append(f"{key}: unknown key{hint}")
        elif error["type"] == "missing":
            lines.append(f"{key}: required key is missing")
        else:
            message = str(error["msg"]).removeprefix("Value error, ")
            shown = "" if error["type"] == "value_error" else f" (got {error.get('input')!r})"
            lines.append(f"{key}: {message}{shown}")
    return ConfigError(
        f"{file} is invalid:\n  " + "\n  ".join(lines),
        fix="correct the keys named above; examples/glossier/dashboard.yml shows every key",
    )


def _described(loc: list[str], raw: object) -> str:
    """`pages.0.charts.2.type` as `pages.0.charts.2 ('Orders per day').type`, so the chart is easy to find."""
    parts: list[str] = []
    node = raw
    for part in loc:
        label = part
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
            title = node.get("name") or node.get("title") if isinstance(node, dict) else None
            label = f"{part} ({title!r})" if title else part
        elif isinstance(node, dict):
            node = node.get(part)
        parts.append(label)
    return ".".join(parts) if parts else "(top level)"
