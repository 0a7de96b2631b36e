"""Build only what the new data changes: nothing when no raw table changed, else the models downstream.

`shopflow run` (and `shopflow serve`, after each micro-batch) calls `transform_changed` with the
raw tables the run changed. The models are rebuilt in full instead when there is no earlier
build to start from: none yet, the last one failed or did not finish, or the project, its
packages or the raw tables' columns changed since (`BuildState.fingerprint`). A run with no
changed table compares that fingerprint without laying out the project for dbt, so it costs a
catalog read, not a dbt start.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from shopflow.transform.profile import work_dir
from shopflow.transform.report import TransformReport
from shopflow.transform.state import BuildState, load_state, save_state

if TYPE_CHECKING:
    from shopflow.config.model import PipelineConfig
    from shopflow.pipeline.run import RunReport

log = logging.getLogger(__name__)

QUARANTINE = "_quarantine"


def changed_tables(report: RunReport) -> set[str]:
    """The raw tables whose rows `report`'s loads changed (child tables and the quarantine included)."""
    changed: set[str] = set()
    for table in report.tables:
        load = table.load
        if load is None:
            continue
        for output in load.outputs:
            if load.changes(output).any:
                changed.add(output)
        if load.quarantined:
            changed.add(QUARANTINE)
    return changed


def transform_changed(config: PipelineConfig, changed: Iterable[str]) -> TransformReport:
    """Bring the models up to date after a load that changed the raw tables `changed`.

    Args:
        config: The pipeline; its `transform` section names the dbt project.
        changed: Raw tables whose rows changed since the models were last built (e.g. `orders`,
            `orders__line_items`, `_quarantine`).

    Returns:
        What dbt built: the whole project (first build, or after a failed build or a change of
        the project), the models downstream of the changed tables (`--select source:raw.<t>+`),
        or nothing (`skipped` says why).

    Raises:
        ConfigError, WarehouseError, ShopflowError: as `run_transform`.
    """
    from shopflow.transform.runner import build, prepare

    clock = time.perf_counter()
    tables = {t.lower() for t in changed}
    folder = work_dir(config)
    state = load_state(folder)
    if not tables and state is not None and state.ok and _unchanged(config, state):
        return _skipped("no raw table changed since the models were built", clock)
    if tables and state is not None and state.ok:
        # The models lag the raw tables until a build ends well: if this one fails or never runs (no
        # project, the process killed), the next run builds everything rather than find no change and skip.
        save_state(folder, BuildState(state.fingerprint, ok=False))
    prepared = prepare(config)
    if state is None or not state.ok or state.fingerprint != prepared.fingerprint:
        reason = ("first build" if state is None else "the last build failed" if not state.ok
                  else "the project or the raw tables' columns changed")
        log.info("building every model: %s", reason)
        report = build(config, prepared, started=clock)
        save_state(folder, BuildState(prepared.fingerprint, report.ok))
        return report
    if not tables:
        return _skipped("no raw table changed since the models were built", clock)
    selectors = downstream(folder / "target" / "manifest.json", tables)
    if selectors is not None and not selectors:
        save_state(folder, BuildState(prepared.fingerprint, ok=True))
        return _skipped(f"no model reads {', '.join(sorted(tables))}", clock)
    if selectors is None:
        report = build(config, prepared, started=clock)
    else:
        log.info("building the models downstream of %s", ", ".join(sorted(tables)))
        report = build(config, prepared, select=selectors, started=clock)
    save_state(folder, BuildState(prepared.fingerprint, report.ok))
    return report


def _unchanged(config: PipelineConfig, state: BuildState) -> bool:
    """True if the project, its packages, the profile and the raw tables' columns are as `state` built them.

    The same fingerprint `prepare` computes, without laying out the project for dbt; anything
    that stops it (no project, an unreadable warehouse) is left to `prepare` to report.
    """
    from shopflow.errors import ShopflowError
    from shopflow.transform.profile import profile_text
    from shopflow.transform.project import project_fingerprint
    from shopflow.transform.raw_source import defines_raw, read_catalog, source_yaml
    from shopflow.transform.runner import check_project

    try:
        project = check_project(config)
        sources = None if defines_raw(project) is not None else source_yaml(config, read_catalog(config))
        return project_fingerprint(project, sources, profile_text(config)) == state.fingerprint
    except ShopflowError as exc:
        log.debug("the last build's fingerprint is not checked here: %s", exc)
        return False


def downstream(manifest: Path, tables: set[str]) -> list[str] | None:
    """`source:<source>.<table>+` for each dbt source table in schema raw that is one of `tables`.

    None if there is no manifest of an earlier build to tell which sources read those tables.
    """
    try:
        nodes = json.loads(manifest.read_text(encoding="utf-8"))["sources"].values()
    except (OSError, ValueError, KeyError, AttributeError):
        return None
    found = {
        f"source:{node['source_name']}.{node['name']}+"
        for node in nodes
        if str(node.get("schema", "")).lower() == "raw"
        and str(node.get("identifier") or node.get("name", "")).lower() in tables
    }
    return sorted(found)


def _skipped(reason: str, clock: float) -> TransformReport:
    return TransformReport(ok=True, skipped=reason, seconds=time.perf_counter() - clock)
