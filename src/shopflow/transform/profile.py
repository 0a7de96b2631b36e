"""The dbt profile shopflow writes from `shopflow.yml`, and the private folder dbt works in.

The profile never holds the warehouse password: it reads it with `env_var()` from a
`DBT_ENV_SECRET_` variable (which dbt scrubs from its logs), set only while dbt runs.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from shopflow.config.model import PipelineConfig

PROFILE = "shopflow"
TARGET = "shopflow"
PASSWORD_ENV = "DBT_ENV_SECRET_SHOPFLOW_WAREHOUSE_PASSWORD"
THREADS = 4


def work_dir(config: PipelineConfig) -> Path:
    """The folder that holds the profile, dbt's `target/` and its `logs/` for the pipeline's warehouse.

    Keyed by the warehouse, not by the pipeline's name: two pipelines of one name with
    warehouses of their own never share a profile, so one's dbt never builds into the other's
    warehouse. A DuckDB warehouse: `<file stem>.dbt/` next to the file. A PostgreSQL one:
    `postgres-<database>-<hash of host, port and database>.dbt/` next to a local lake, else in
    the user's cache folder. Never inside the dbt project, so projects stay clean.
    """
    warehouse = config.warehouse
    if warehouse.type == "duckdb":
        path = Path(warehouse.path)
        return path.parent / f"{path.stem}.dbt"
    if "://" not in config.lake:
        base = Path(config.lake).parent
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "shopflow"
    identity = hashlib.sha256(f"{warehouse.host}:{warehouse.port}/{warehouse.database}".encode()).hexdigest()[:12]
    return base / f"postgres-{re.sub(r'[^A-Za-z0-9_-]', '_', warehouse.database)}-{identity}.dbt"


def profile(config: PipelineConfig) -> dict[str, Any]:
    """The contents of `profiles.yml` for the pipeline's warehouse (no secret in it)."""
    from shopflow.engine import DEFAULT_MEMORY_LIMIT, MEMORY_LIMIT_ENV

    assert config.transform is not None
    warehouse = config.warehouse
    output: dict[str, Any]
    if warehouse.type == "duckdb":
        output = {
            "type": "duckdb",
            "path": warehouse.path,
            # Release the file lock when dbt finishes, so the next load can open the file.
            "keep_open": False,
            "settings": {
                "TimeZone": "UTC",
                "memory_limit": os.environ.get(MEMORY_LIMIT_ENV, DEFAULT_MEMORY_LIMIT),
            },
        }
    else:
        output = {
            "type": "postgres",
            "host": warehouse.host,
            "port": warehouse.port,
            "user": warehouse.user,
            "password": "{{ env_var('" + PASSWORD_ENV + "', '') }}",
            "dbname": warehouse.database,
            "application_name": "shopflow-dbt",
        }
    output.update({"schema": config.transform.schema_name, "threads": THREADS})
    return {PROFILE: {"target": TARGET, "outputs": {TARGET: output}}}


def profile_text(config: PipelineConfig) -> str:
    """The text of `profiles.yml` for the pipeline's warehouse."""
    return yaml.safe_dump(profile(config), sort_keys=False)


def write_profile(config: PipelineConfig, folder: Path) -> Path:
    """Write `folder/profiles.yml` (only if it changed, so dbt's partial parse stays valid)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "profiles.yml"
    text = profile_text(config)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        staged = path.with_suffix(".yml.tmp")
        staged.write_text(text, encoding="utf-8")
        staged.replace(path)
    return path


@contextmanager
def dbt_environment(config: PipelineConfig) -> Iterator[None]:
    """Set the variables the profile reads while dbt runs; restore them after.

    `PGTZ=UTC` makes PostgreSQL sessions use UTC, as the DuckDB profile does.
    """
    values: dict[str, str] = {}
    if config.warehouse.type == "postgres":
        password = config.warehouse.password
        # Without a password in shopflow.yml, do what libpq would do with an unset one: use PGPASSWORD.
        values[PASSWORD_ENV] = password.get_secret_value() if password is not None else os.environ.get("PGPASSWORD", "")
        values["PGTZ"] = "UTC"
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old
