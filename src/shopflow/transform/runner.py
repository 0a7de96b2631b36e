"""Run the pipeline's dbt project in-process (`dbt build`) against the pipeline's warehouse."""

from __future__ import annotations

import logging
import re
import threading
import time
from pathlib import Path
from typing import Any

from shopflow.config.model import PipelineConfig
from shopflow.errors import ConfigError, ShopflowError, WarehouseError
from shopflow.transform.profile import PROFILE, TARGET, dbt_environment, work_dir, write_profile
from shopflow.transform.project import PreparedProject, prepare_project
from shopflow.transform.raw_source import RawCatalog, defines_raw, read_catalog, source_yaml
from shopflow.transform.report import FAILED, TransformReport, collect
from shopflow.transform.state import BuildState, load_state, save_state

log = logging.getLogger(__name__)
# dbt's in-process runner keeps global state (flags, adapter registry, DuckDB's shared environment, the
# password variable): `shopflow serve` runs pipelines in threads, so one dbt invocation at a time.
_DBT_LOCK = threading.RLock()
# dbt's saved parse in its target folder: present, the next command only re-reads changed files.
PARTIAL_PARSE = "partial_parse.msgpack"
_WARM_UPS: dict[Path, threading.Thread] = {}  # work folder -> the thread warming dbt up for it
_WARM_UPS_LOCK = threading.Lock()


def run_transform(
    config: PipelineConfig, *, select: list[str] | None = None, full_refresh: bool = False
) -> TransformReport:
    """Build the models of `config.transform.project` and run their tests, in the warehouse.

    Two dbt steps: `dbt build` of everything but data tests (seeds, snapshots, unit tests and
    models, in dependency order), then `dbt test` of the data tests. A model that fails skips
    only the models that depend on it; a failing data test is reported and blocks nothing, so
    one bad row never leaves every downstream table stale. The raw tables are read through the
    source `raw`, which shopflow generates (`transform.raw_source`) unless the project defines
    it, and are never changed. shopflow's dbt package is installed for the run
    (`transform.project`); the project's folder is not written to. A DuckDB warehouse must not
    be open for writing elsewhere while this runs.

    Args:
        config: The pipeline; its `transform` section names the dbt project.
        select: dbt node selectors (`orders_table+`, `tag:daily`); all nodes if None.
        full_refresh: Rebuild incremental models from scratch.

    Returns:
        Each model's and test's outcome, and where dbt's log is.

    Raises:
        ConfigError: No transform section, no project folder, or no dbt_project.yml in it.
        WarehouseError: The warehouse does not exist yet or cannot be reached.
        ShopflowError: dbt could not parse or compile the project.
    """
    clock = time.perf_counter()
    prepared = prepare(config)
    report = build(config, prepared, select=select, full_refresh=full_refresh, started=clock)
    if not select or not report.ok:  # a full build, or any failure, is what the next changed-tables build starts from
        save_state(work_dir(config), BuildState(prepared.fingerprint, report.ok))
    return report


def prepare(config: PipelineConfig) -> PreparedProject:
    """Check the project and warehouse, write the profile, and lay out the project dbt runs (`transform.project`).

    The `raw` source is generated from the warehouse's raw tables unless the project defines it.
    """
    folder = work_dir(config)
    _wait_for_warm_up(folder)  # it writes the same project mirror
    project = check_project(config)
    check_warehouse(config)
    profile = write_profile(config, folder)
    defined = defines_raw(project)
    if defined is not None:
        log.info("the dbt project defines the source raw in %s; shopflow generates none", defined)
    sources = None if defined is not None else source_yaml(config, read_catalog(config))
    return prepare_project(project, folder, sources, defined, profile.read_text(encoding="utf-8"))


def build(
    config: PipelineConfig, prepared: PreparedProject, *, select: list[str] | None = None,
    full_refresh: bool = False, started: float | None = None,
) -> TransformReport:
    """Run `dbt build` (all but data tests), then `dbt test` of the data tests that can run, on `prepared`."""
    clock = time.perf_counter() if started is None else started
    folder = work_dir(config)
    project = prepared.project
    log_path = folder / "logs" / "dbt.log"
    common = _common_args(folder, prepared)
    selectors = [part for item in select or [] for part in item.split()]
    if selectors:
        common += ["--select", *selectors]
    with _DBT_LOCK, dbt_environment(config):
        built = _invoke(
            ["build", *common, "--exclude-resource-type", "test", *(["--full-refresh"] if full_refresh else [])],
            config, project, log_path,
        )
        models, tests = collect(built)
        # Data tests of a model that did not build would test a missing or stale table.
        unbuilt = [m.name for m in models if m.status != "success"]
        checks = _invoke(
            ["test", *common, "--exclude-resource-type", "unit_test", *(["--exclude", *unbuilt] if unbuilt else [])],
            config, project, log_path,
        )
    tests += collect(checks)[1]
    ok = not any(m.status in FAILED for m in models) and not any(t.status in FAILED for t in tests)
    return TransformReport(ok=ok, models=models, tests=tests, log_path=log_path, seconds=time.perf_counter() - clock,
                           selected=selectors)


def _common_args(folder: Path, prepared: PreparedProject) -> list[str]:
    """The options of every dbt command shopflow runs in work folder `folder`."""
    return [
        "--project-dir", str(prepared.root),
        "--profiles-dir", str(folder),
        "--profile", PROFILE,
        "--target", TARGET,
        "--target-path", str(folder / "target"),
        "--log-path", str(folder / "logs"),
        "--log-level", "none",
        "--log-level-file", "debug",
        "--no-use-colors-file",
        "--no-send-anonymous-usage-stats",
        "--no-version-check",
    ]


def warm_up(config: PipelineConfig) -> None:
    """Import dbt and parse the project on a thread of its own, while the run extracts and loads.

    Called when a run starts that builds the models after it. dbt's import and its first full
    parse of a project cost seconds of Python; on this thread they overlap the extracts and
    loads, which run inside DuckDB or PostgreSQL without the GIL. The parse reads a `raw`
    source made from shopflow.yml alone (the warehouse is busy loading): when the build starts,
    dbt finds its saved parse and re-reads only the regenerated source file. A project dbt has
    parsed or built before is left alone: its partial parse is cheap already, and a run with
    nothing new must not pay for dbt's import. Whatever fails here is left for the build to
    report; `prepare` waits for this to finish.
    """
    folder = work_dir(config)
    with _WARM_UPS_LOCK:
        running = _WARM_UPS.get(folder)
        if running is not None and running.is_alive():
            return
        thread = threading.Thread(target=_warm_up, args=(config, folder), name="shopflow-dbt-warm-up", daemon=True)
        _WARM_UPS[folder] = thread
    thread.start()


def _warm_up(config: PipelineConfig, folder: Path) -> None:
    with _DBT_LOCK:
        try:
            # Only before the first build: after one, the changed-tables build reads the manifest dbt saved,
            # and dbt is not even imported here, as most such runs find nothing new and never start it.
            if (folder / "target" / PARTIAL_PARSE).is_file() or load_state(folder) is not None:
                return
            from dbt.cli.main import dbtRunner

            project = check_project(config)
            profile = write_profile(config, folder)
            defined = defines_raw(project)
            # The tables not loaded yet: those shopflow.yml names, and those the models read (child tables).
            catalog = RawCatalog(columns={name: [] for name in _raw_tables_read(project)})
            sources = None if defined is not None else source_yaml(config, catalog)
            prepared = prepare_project(project, folder, sources, defined, profile.read_text(encoding="utf-8"))
            with dbt_environment(config):
                dbtRunner().invoke(["parse", *_common_args(folder, prepared)])
        except Exception:  # the build reports what is wrong with the project, with its fix
            log.debug("warming dbt up failed", exc_info=True)


_SOURCE_CALL = re.compile(r"""source\(\s*['"]raw['"]\s*,\s*['"]([^'"]+)['"]\s*\)""")


def _raw_tables_read(project: Path) -> set[str]:
    """Tables of the source `raw` that the project's SQL files name (`source('raw', 'orders__line_items')`)."""
    names: set[str] = set()
    for path in project.rglob("*.sql"):
        if not {"target", "logs", "dbt_packages"} & set(path.relative_to(project).parts):
            names.update(_SOURCE_CALL.findall(path.read_text(encoding="utf-8", errors="replace")))
    return names


def _wait_for_warm_up(folder: Path) -> None:
    with _WARM_UPS_LOCK:
        thread = _WARM_UPS.pop(folder, None)
    if thread is not None:
        thread.join()


def check_project(config: PipelineConfig) -> Path:
    """The dbt project folder of `config`, after checking it holds a dbt_project.yml and the schema is free."""
    from shopflow.warehouse.base import RAW_SCHEMA, STATE_SCHEMA

    if config.transform is None:
        raise ConfigError(
            f"pipeline {config.pipeline!r} has no transform step",
            fix="add `transform: {project: dbt}` to shopflow.yml, naming the folder of your dbt project",
        )
    if config.transform.schema_name in (RAW_SCHEMA, STATE_SCHEMA):
        raise ConfigError(
            f"transform.schema {config.transform.schema_name!r} is where shopflow loads; models would overwrite it",
            fix="set transform.schema to a schema of its own, e.g. analytics (the default)",
        )
    project = Path(config.transform.project)
    if not project.is_dir():
        raise ConfigError(
            f"the dbt project folder {project} does not exist",
            fix="set transform.project in shopflow.yml to the folder that holds dbt_project.yml",
        )
    if not (project / "dbt_project.yml").is_file():
        raise ConfigError(
            f"{project} has no dbt_project.yml, so it is not a dbt project",
            fix=f"add {project / 'dbt_project.yml'} (name, version, profile: shopflow), or point transform.project "
            "at the folder that has one",
        )
    return project


def check_warehouse(config: PipelineConfig) -> None:
    """Fail early, with a fix, if dbt could not open the warehouse."""
    warehouse = config.warehouse
    if warehouse.type == "duckdb":
        import duckdb

        if not Path(warehouse.path).is_file():
            raise WarehouseError(
                f"the warehouse {warehouse.path} does not exist yet, so there are no raw tables to model",
                fix="run `shopflow run` first",
            )
        try:
            duckdb.connect(warehouse.path).close()
        except duckdb.IOException as exc:
            raise WarehouseError(
                f"cannot open the DuckDB warehouse {warehouse.path} for the transform: {exc}",
                fix="another process (a shopflow run, a DuckDB client) holds it; wait for it to finish or close it",
            ) from exc
        return
    import psycopg

    password = warehouse.password.get_secret_value() if warehouse.password is not None else None
    try:
        psycopg.connect(
            host=warehouse.host, port=warehouse.port, user=warehouse.user, password=password,
            dbname=warehouse.database, connect_timeout=10,
        ).close()
    except psycopg.Error as exc:
        raise WarehouseError(
            f"cannot connect to the PostgreSQL warehouse {warehouse.describe()}: {str(exc).strip()}",
            fix="check warehouse host, port, user and database in shopflow.yml, and that the password variable is set",
        ) from exc


def _invoke(args: list[str], config: PipelineConfig, project: Path, log_path: Path) -> list[Any]:
    """Run one dbt command in this process and return its node results; release DuckDB's file lock after."""
    from dbt.cli.main import dbtRunner

    log.info("dbt %s", " ".join(args))
    try:
        outcome = dbtRunner().invoke(args)
    finally:
        if config.warehouse.type == "duckdb":
            _close_duckdb()
    if outcome.exception is not None or outcome.result is None:
        raise ShopflowError(
            f"dbt could not run the project {project}: {outcome.exception}",
            fix=f"correct the project as the message says; dbt's full log is {log_path}",
        )
    return list(getattr(outcome.result, "results", []))


def _close_duckdb() -> None:
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    env = DuckDBConnectionManager._ENV
    if env is not None:
        try:
            env.close()
        finally:
            DuckDBConnectionManager.close_all_connections()
