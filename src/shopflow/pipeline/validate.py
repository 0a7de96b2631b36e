"""`shopflow validate`: everything a run needs, checked without moving data.

The pipeline file (loading it validates every key), the lake and the warehouse (reachable,
writable or creatable), the dbt project, each database source (reachable, its named tables
and their declared columns), each file table (its location and glob find files, and its keys
and cursor name columns of the files not read yet: see `preflight`). Nothing is written.
"""

from __future__ import annotations

import os
from pathlib import Path

from shopflow.config.model import PipelineConfig, WarehouseConfig
from shopflow.errors import ShopflowError
from shopflow.pipeline.preflight import Finding, column_findings, counted
from shopflow.storage import Location


def validate_pipeline(config: PipelineConfig, file: Path) -> list[Finding]:
    """Every check's finding, in the order a run meets them."""
    from shopflow.engine import connect

    tables = sum(len(s.tables) for s in config.sources)
    findings = [Finding("ok", "config", f"{file}: {counted(len(config.sources), 'source')}, "
                                        f"{counted(tables, 'table')} listed")]
    findings.append(_lake(config))
    findings.append(_warehouse(config.warehouse))
    if config.transform is not None:
        findings.append(_transform(Path(config.transform.project)))
    con = connect()
    try:
        findings.extend(column_findings(con, config, listing=True, reach=True))
    finally:
        con.close()
    return findings


def _lake(config: PipelineConfig) -> Finding:
    location = Location(config.lake, config.storage)
    try:
        if location.scheme == "file":
            return _local_folder("lake", Path(location.path))
        fs = location.filesystem()
        bucket = location.path.split("/", 1)[0]
        if not fs.exists(bucket):
            return Finding("error", "lake", f"{location.scheme}://{bucket} does not exist or is not visible",
                           "create the bucket or container, or check lake: and the credentials under storage:")
        if fs.exists(location.path):
            fs.ls(location.path)  # a listing proves the credentials may read it
    except ShopflowError as exc:
        return Finding("error", "lake", exc.message, exc.fix)
    except Exception as exc:  # the object store SDK's own errors: credentials, endpoint
        return Finding("error", "lake", f"cannot list {location.url}: {exc}",
                       "check lake: and the credentials under storage: in shopflow.yml")
    return Finding("ok", "lake", f"{location.url}: reachable")


def _local_folder(subject: str, folder: Path) -> Finding:
    """An ok finding if `folder` exists and is writable or could be created, else an error naming why not."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return Finding("error", subject, f"{existing} is a file, so {folder} cannot be created", f"check {subject}:")
    if not os.access(existing, os.W_OK):
        return Finding("error", subject, f"{existing} is not writable", f"make it writable or change {subject}:")
    state = "exists" if existing == folder else "is created by the first run"
    return Finding("ok", subject, f"{folder} {state}")


def _warehouse(config: WarehouseConfig) -> Finding:
    if config.type == "postgres":
        from shopflow.warehouse.postgres_connect import connect_control

        try:
            connect_control(config, read_only=True).close()
        except ShopflowError as exc:
            return Finding("error", "warehouse", exc.message, exc.fix)
        return Finding("ok", "warehouse", f"{config.describe()}: reachable")
    path = Path(config.path)
    if not path.exists():
        return _local_folder("warehouse", path.parent)
    import duckdb

    try:
        duckdb.connect(str(path), read_only=True).close()
    except duckdb.Error as exc:
        return Finding("warning", "warehouse", f"{path} cannot be opened now: {str(exc).splitlines()[0]}",
                       "another process holds it (a run, `shopflow serve` or a DuckDB client); "
                       "a run fails at once until it closes it")
    return Finding("ok", "warehouse", f"{path}: a DuckDB file shopflow can open")


def _transform(project: Path) -> Finding:
    if not (project / "dbt_project.yml").is_file():
        return Finding("error", "transform", f"{project} holds no dbt_project.yml",
                       "set transform.project: to the dbt project folder (relative to shopflow.yml)")
    return Finding("ok", "transform", f"dbt project {project}")

