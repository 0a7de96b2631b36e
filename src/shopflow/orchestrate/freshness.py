"""Freshness: how old the newest source change visible in the warehouse is, per table and per model.

A table's newest visible change is taken from the lake commits the warehouse has applied:
the watermark of a database table (its cursor: every source row changed up to it is loaded),
the arrival (modification time) of the newest file consumed, or, where neither tells a time
(an integer cursor, change data capture, an object store's ETag), the commit's own time. A
model is as fresh as the stalest raw table upstream of it was when the model last built.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shopflow.config.database import DatabaseSource
from shopflow.config.events import EventsSource
from shopflow.config.model import FileSource, PipelineConfig
from shopflow.config.schedule import FreshnessTarget
from shopflow.lake.ledger import Commit
from shopflow.orchestrate.incidents import Observation
from shopflow.orchestrate.ledger import Ledger, now
from shopflow.transform.report import TransformReport

log = logging.getLogger(__name__)

TABLE, MODEL = "table", "model"


@dataclass(frozen=True)
class Freshness:
    """One table's or model's freshness against its target."""

    name: str
    kind: str
    newest_change: datetime | None
    target: FreshnessTarget | None

    def age(self, at: datetime) -> timedelta | None:
        """How old the newest visible change is at `at`."""
        return None if self.newest_change is None else max(at - self.newest_change, timedelta(0))

    def level(self, at: datetime) -> str:
        """ok, warn or error against the target; `no target`, or `no data` before anything is visible."""
        if self.target is None or not self.target.has_threshold:
            return "no target"
        age = self.age(at)
        if age is None:
            return "no data"
        if self.target.error_after is not None and age > self.target.error_after:
            return "error"
        if self.target.warn_after is not None and age > self.target.warn_after:
            return "warn"
        return "ok"


def change_time(commit: Commit, source: FileSource | DatabaseSource | EventsSource) -> datetime:
    """The newest source change `commit` carries (see the module's docstring)."""
    committed = datetime.fromtimestamp(commit.timestamp_ms / 1000, UTC)
    if isinstance(source, FileSource):
        arrivals = [int(f.version) for f in commit.files if f.version.isdigit()]
        return datetime.fromtimestamp(max(arrivals) / 1e9, UTC) if arrivals else committed
    if commit.watermark:
        from shopflow.sources.database.watermark import TIME_KINDS, Watermark

        mark = Watermark.from_text(commit.watermark)
        if mark is not None and mark.kind in TIME_KINDS and mark.value:
            try:
                moment = datetime.fromisoformat(mark.value)
            except ValueError:
                return committed
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # naive cursors: read as UTC
    return committed


def measure_tables(config: PipelineConfig, only: set[str] | None = None) -> dict[str, datetime | None]:
    """The newest visible change of each table (or of the tables in `only`) from the lake and the warehouse."""
    from shopflow.pipeline.layout import LakeLayout
    from shopflow.pipeline.status import table_names
    from shopflow.warehouse.factory import open_warehouse

    if config.warehouse.type == "duckdb" and not Path(config.warehouse.path).exists():
        return {}
    found: dict[str, datetime | None] = {}
    with open_warehouse(config.warehouse, read_only=True) as warehouse:
        for source in config.sources:
            for name in table_names(config, source):
                if only is not None and name not in only:
                    continue
                layout = LakeLayout(config, source.name, name)
                applied = warehouse.applied_version(layout.key)
                times = [change_time(c, source) for c in layout.main.commits() if c.version <= applied]
                found[name] = max(times) if times else None
    return found


def upstream_tables(config: PipelineConfig) -> dict[str, set[str]]:
    """Model name -> the raw tables upstream of it, from dbt's manifest (empty before the first build)."""
    from shopflow.transform.profile import work_dir

    manifest = work_dir(config) / "target" / "manifest.json"
    try:
        parents: dict[str, list[str]] = json.loads(manifest.read_text(encoding="utf-8")).get("parent_map", {})
    except (OSError, ValueError):
        return {}

    def sources_of(node: str, seen: set[str]) -> set[str]:
        tables: set[str] = set()
        for parent in parents.get(node, []):
            if parent in seen:
                continue
            seen.add(parent)
            parts = parent.split(".")
            if parts[0] == "source" and len(parts) >= 4 and parts[-2] == "raw":
                tables.add(parts[-1])
            elif parts[0] in ("model", "seed", "snapshot"):
                tables |= sources_of(parent, seen)
        return tables

    return {node.split(".")[-1]: sources_of(node, set()) for node in parents if node.startswith("model.")}


def record(
    ledger: Ledger, config: PipelineConfig, changed: set[str] | None, transform: TransformReport | None,
) -> None:
    """Measure the tables in `changed` (all if None), and the models `transform` built; store both in the ledger."""
    tables = measure_tables(config, changed)
    for name, newest in tables.items():
        ledger.save_freshness(name, TABLE, newest)
    if transform is None:
        return
    built = [m.name for m in transform.models if m.status == "success"]
    if not built:
        return
    known = {name: moment for (kind, name), moment in ledger.freshness().items() if kind == TABLE}
    upstream = upstream_tables(config)
    for model in built:
        parents = upstream.get(model) or set(known)
        times = [known.get(t) for t in parents]
        ledger.save_freshness(model, MODEL, None if not times or None in times else min(t for t in times if t))


def current(ledger: Ledger, config: PipelineConfig) -> list[Freshness]:
    """Each measured table and model with its target, tables first."""
    targets = config.freshness
    found = []
    for (kind, name), newest in sorted(ledger.freshness().items()):
        target = None
        if targets is not None:
            target = targets.for_table(name) if kind == TABLE else targets.models.get(name)
        found.append(Freshness(name, kind, newest, target))
    return found


def observations(ledger: Ledger, config: PipelineConfig, at: datetime | None = None) -> list[Observation]:
    """One freshness observation per table or model with a target (good ones close open incidents)."""
    moment = at or now()
    seen = []
    for item in current(ledger, config):
        level = item.level(moment)
        if level not in ("ok", "warn", "error"):
            continue
        age = item.age(moment)
        assert age is not None and item.newest_change is not None and item.target is not None
        limit = item.target.error_after if level == "error" else item.target.warn_after
        summary = (f"{item.kind} {item.name} is fresh" if level == "ok" else
                   f"{item.kind} {item.name} is stale: newest change {_minutes(age)} old, target {_minutes(limit)}")
        seen.append(Observation(
            key=f"freshness:{item.kind}:{item.name}", kind="freshness", severity=None if level == "ok" else level,
            summary=summary,
            details={"newest_change": item.newest_change.isoformat(), "age_seconds": round(age.total_seconds())},
        ))
    return seen


def _minutes(delta: timedelta | None) -> str:
    if delta is None:
        return "-"
    seconds = delta.total_seconds()
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"
