"""The pipeline health page: runs over time, rows and quarantine, each table's freshness and lag, last errors.

Runs come from the orchestration ledger (`shopflow serve` and `shopflow runs` keep it, with
skipped and interrupted runs too) and from the warehouse's own record, `_shopflow.runs`, which
every run that reached the warehouse wrote. Each table's lake version is read from the lake;
the version the warehouse applied, and so how far it lags, from the warehouse's load ledger.
Freshness is the newest source change the warehouse holds, measured as `shopflow serve`
measures it, against the pipeline's `freshness:` targets.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shopflow.config.dashboard import Chart
from shopflow.config.model import PipelineConfig
from shopflow.serve.dashboard.figures import figure, format_value, to_json
from shopflow.serve.dashboard.query import QueryFn, QueryResult
from shopflow.serve.dashboard.views import ChartView, fill
from shopflow.sql import qualified
from shopflow.warehouse.base import RAW_SCHEMA, STATE_SCHEMA

log = logging.getLogger(__name__)

RECENT_RUNS = 20
RUNS_PLOTTED = 200
QUARANTINE_REASONS = 50
ERRORS_SHOWN = 5
STATUS_COLORS = {"ok": "#2e7d32", "quarantined": "#f9a825", "failed": "#c62828", "interrupted": "#6a1b9a",
                 "skipped": "#9e9e9e", "running": "#1565c0", "other": "#607d8b"}


@dataclass(frozen=True)
class Run:
    """One run as the health page shows it."""

    run_id: str | None
    started_at: datetime | None
    finished_at: datetime | None
    status: str
    rows: int
    quarantined: int
    errors: list[str]
    trigger: str = ""

    @property
    def seconds(self) -> float | None:
        """How long the run took, if it finished."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


def _exists(query: QueryFn, schema: str, table: str) -> bool:
    found = query("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                  [schema, table])
    return bool(found.scalar())


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def warehouse_runs(query: QueryFn) -> list[Run]:
    """The runs `_shopflow.runs` records, oldest first (empty before the first run)."""
    if not _exists(query, STATE_SCHEMA, "runs"):
        return []
    result = query(
        f"SELECT run_id, started_at, finished_at, status, rows_loaded, quarantined, errors "
        f"FROM {qualified(STATE_SCHEMA, 'runs')} ORDER BY started_at", [])
    return [Run(str(r[0]), _utc(r[1]), _utc(r[2]), str(r[3]), int(r[4] or 0), int(r[5] or 0),
                str(r[6]).splitlines() if r[6] else []) for r in result.rows]


def ledger_runs(config: PipelineConfig) -> list[Run]:
    """The runs the orchestration ledger records, oldest first (empty if the pipeline never ran under it)."""
    from shopflow.orchestrate.ledger import Ledger, ledger_path

    if not ledger_path(config).is_file():
        return []
    records = Ledger(ledger_path(config)).runs(RUNS_PLOTTED)
    return [Run(r.run_id, _utc(r.started_at), _utc(r.finished_at), r.status, r.rows_loaded, r.quarantined,
                list(r.errors), r.trigger) for r in reversed(records)]


def all_runs(config: PipelineConfig, query: QueryFn) -> list[Run]:
    """The ledger's runs and the warehouse's, each run once (the ledger's record wins), oldest first."""
    ledger = ledger_runs(config)
    known = {r.run_id for r in ledger if r.run_id}
    merged = ledger + [r for r in warehouse_runs(query) if r.run_id not in known]
    merged.sort(key=lambda r: r.started_at or datetime.min.replace(tzinfo=UTC))
    return merged[-RUNS_PLOTTED:]


@dataclass(frozen=True)
class TableHealth:
    """One source table: its lake and applied versions, and how fresh the warehouse copy is."""

    table: str
    lake_version: int | None
    applied_version: int
    newest_change: datetime | None
    level: str
    target: str

    @property
    def behind(self) -> int:
        """Lake versions not applied yet."""
        return max(0, (self.lake_version if self.lake_version is not None else -1) - self.applied_version)


def table_health(config: PipelineConfig, query: QueryFn, at: datetime) -> list[TableHealth]:
    """Every source table's versions and freshness."""
    from shopflow.orchestrate.freshness import Freshness, change_time
    from shopflow.pipeline.layout import LakeLayout
    from shopflow.pipeline.status import table_names

    applied: dict[str, int] = {}
    if _exists(query, STATE_SCHEMA, "loads"):
        rows = query(f"SELECT lake_key, max(lake_version) FROM {qualified(STATE_SCHEMA, 'loads')} GROUP BY lake_key",
                     []).rows
        applied = {str(r[0]): int(r[1]) for r in rows}
    found = []
    for source in config.sources:
        for name in table_names(config, source):
            layout = LakeLayout(config, source.name, name)
            done = applied.get(layout.key, -1)
            commits = layout.main.commits()
            times = [change_time(c, source) for c in commits if c.version <= done]
            target = config.freshness.for_table(name) if config.freshness is not None else None
            fresh = Freshness(name, "table", max(times) if times else None, target)
            found.append(TableHealth(
                table=name,
                lake_version=commits[-1].version if commits else layout.main.version(),
                applied_version=done,
                newest_change=fresh.newest_change,
                level=fresh.level(at),
                target=_target_text(target),
            ))
    return found


def model_freshness(config: PipelineConfig, at: datetime) -> list[tuple[str, str, str, str, str]]:
    """(model, newest change, age, target, level) of each model `shopflow serve` measured after a build."""
    from shopflow.orchestrate.freshness import MODEL, current
    from shopflow.orchestrate.ledger import Ledger, ledger_path

    if not ledger_path(config).is_file():
        return []
    return [(f.name, _when(f.newest_change), _age(f.age(at)), _target_text(f.target), f.level(at))
            for f in current(Ledger(ledger_path(config)), config) if f.kind == MODEL]


def _target_text(target: Any) -> str:
    if target is None or not target.has_threshold:
        return "none"
    parts = []
    if target.warn_after is not None:
        parts.append(f"warn {_age(target.warn_after)}")
    if target.error_after is not None:
        parts.append(f"error {_age(target.error_after)}")
    return ", ".join(parts)


def _age(delta: timedelta | None) -> str:
    if delta is None:
        return "–"
    seconds = int(delta.total_seconds())
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= 3 * size:  # 26 h rather than 1.1 d
            value = seconds / size
            return f"{value:.0f} {unit}" if value >= 10 or value == int(value) else f"{value:.1f} {unit}"
    return f"{seconds} s"


def _when(moment: datetime | None) -> str:
    return "–" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


def _view(chart_id: str, chart: Chart, result: QueryResult) -> ChartView:
    view = ChartView(chart_id, chart.title, chart.type, chart.description)
    fill(view, chart, result)
    return view


def _kpi(chart_id: str, title: str, value: Any, text: str | None = None, description: str | None = None) -> ChartView:
    return ChartView(chart_id, title, "kpi", description, value=value,
                     value_text=text if text is not None else format_value(value))


def _table(chart_id: str, title: str, columns: list[str], rows: list[tuple[Any, ...]],
           description: str | None = None) -> ChartView:
    chart = Chart(title=title, type="table", sql="(health)", description=description, limit=max(len(rows), 1))
    return _view(chart_id, chart, QueryResult(columns, rows))


def health_views(config: PipelineConfig, query: QueryFn, at: datetime | None = None) -> list[ChartView]:
    """The health page's charts, in the order it shows them."""
    moment = at or datetime.now(UTC)
    runs = all_runs(config, query)
    tables = table_health(config, query, moment)
    quarantine, quarantined = _quarantine(query)
    last = runs[-1] if runs else None
    views = [
        _kpi("runs", "Runs", len(runs), description="recorded by the warehouse and the scheduler"),
        _kpi("last-run", "Last run", last.status if last else None, last.status if last else "never",
             f"started {_when(last.started_at)} UTC" if last else None),
        _kpi("quarantined", "Quarantined records", quarantined,
             description="in raw._quarantine"),
        _kpi("behind", "Tables behind the lake", sum(1 for t in tables if t.behind),
             description="lake versions the warehouse has not applied"),
    ]
    plotted = [r for r in runs if r.started_at is not None]
    rows_chart = Chart(title="Rows loaded per run", type="bar", sql="(health)", x="run started (UTC)", y=["rows"],
                       series="status", wide=True, description="each bar one run, coloured by its status")
    plot = figure(rows_chart, QueryResult(["run started (UTC)", "status", "rows"],
                                          [(_when(r.started_at), r.status, r.rows) for r in plotted]))
    plot["layout"]["xaxis"]["categoryorder"] = "category ascending"
    for trace in plot["data"]:
        trace["marker"] = {"color": STATUS_COLORS.get(trace["name"], STATUS_COLORS["other"])}
    views.append(ChartView("rows-per-run", rows_chart.title, "bar", rows_chart.description, figure_json=to_json(plot),
                           wide=True))
    views.append(_table("recent-runs", "Recent runs", ["started (UTC)", "seconds", "status", "rows", "quarantined",
                                                        "trigger", "first error"],
                        [(_when(r.started_at), None if r.seconds is None else round(r.seconds, 1), r.status, r.rows,
                          r.quarantined, r.trigger or "run", r.errors[0] if r.errors else "")
                         for r in reversed(runs[-RECENT_RUNS:])]))
    views.append(_table("tables", "Tables: versions and freshness",
                        ["table", "lake version", "applied version", "behind", "newest change (UTC)", "age",
                         "target", "freshness"],
                        [(t.table, "–" if t.lake_version is None else t.lake_version, t.applied_version, t.behind,
                          _when(t.newest_change), _age(moment - t.newest_change) if t.newest_change else "–",
                          t.target, t.level) for t in tables],
                        "applied version -1: never loaded; freshness against the pipeline's freshness: targets"))
    models = model_freshness(config, moment)
    if models:
        views.append(_table("models", "Models: freshness", ["model", "newest change (UTC)", "age", "target",
                                                            "freshness"], list(models),
                            "as fresh as the stalest raw table upstream was when the model last built"))
    views.append(_table("quarantine", "Quarantined records by reason", quarantine.columns, quarantine.rows,
                        "rows and files that could not be loaded: SELECT * FROM raw._quarantine"))
    failed = [r for r in runs if r.errors][-ERRORS_SHOWN:]
    views.append(_table("errors", "Last errors", ["started (UTC)", "status", "error"],
                        [(_when(r.started_at), r.status, "\n".join(r.errors)) for r in reversed(failed)]))
    return views


def _quarantine(query: QueryFn) -> tuple[QueryResult, int]:
    """Quarantined records per table and reason, most first; and how many there are in all."""
    columns = ["table", "reason", "records", "last quarantined (UTC)"]
    if not _exists(query, RAW_SCHEMA, "_quarantine"):
        return QueryResult(columns, []), 0
    total = int(query(f"SELECT count(*) FROM {qualified(RAW_SCHEMA, '_quarantine')}", []).scalar() or 0)
    result = query(
        f'SELECT "table", reason, count(*) AS records, max(_sf_loaded_at) FROM {qualified(RAW_SCHEMA, "_quarantine")} '
        f"GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT {QUARANTINE_REASONS}", [])
    return QueryResult(columns, [(r[0], r[1], int(r[2]), _when(_utc(r[3]))) for r in result.rows]), total
