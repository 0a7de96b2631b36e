"""The pipeline file the demo writes for each example: the example's own, pointed at the demo's folders.

The example's `shopflow.yml` (shipped in the package: `demo.examples`) takes its inputs and
outputs from `${VARS}`; the demo fills them (the demo's bucket folder or embedded PostgreSQL,
its lake and DuckDB warehouse) instead of reading the environment, and points
`transform.project` at the example's dbt project by absolute path. The result is a plain file
a user can run again: `shopflow run -c <file>`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from shopflow.config.interpolate import interpolate
from shopflow.demo.examples import example_folder


def write_demo_config(name: str, home: Path, settings: dict[str, str], note: str = "", file: str = "shopflow.yml",
                      ) -> Path:
    """Write `home/<file>`: example `name`'s pipeline file `file` with its `${VARS}` set from `settings`.

    Args:
        name: The example's folder name under `examples/`.
        home: The pipeline's folder in the demo; its lake and warehouse go there.
        settings: Values of the example's input variables (e.g. `GLOSSIER_INPUT`).
        note: A line to add to the file's header comment.
        file: The example's pipeline file (`stream.yml`: Online Retail's stream path).

    Returns:
        The path of the written file.
    """
    example = example_folder(name)
    source = example / file
    raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    env = {"SHOPFLOW_LAKE": str(home / "lake"), "SHOPFLOW_WAREHOUSE": str(home / "warehouse.duckdb"), **settings}
    values: dict[str, Any] = _natural(raw, interpolate(raw, file=str(source), env=env))
    if values.get("transform") is not None:
        values["transform"]["project"] = str((example / values["transform"].get("project", "dbt")).resolve())
    for entry in values.get("sources", []):
        if entry.get("password") == "":  # an unset ${..._PASSWORD:-}: the demo's server needs none
            del entry["password"]
    home.mkdir(parents=True, exist_ok=True)
    path = home / file
    header = (
        f"# Written by `shopflow demo` from {source}:\n"
        "# the example's pipeline, reading the demo's data and writing to the demo's lake and warehouse.\n"
        f"# Run it again with: shopflow run -c {path}\n"
        + (f"# {note}\n" if note else "")
    )
    path.write_text(header + yaml.safe_dump(values, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _natural(raw: Any, value: Any) -> Any:
    """`value` with each scalar that was a whole `${VAR}` typed as YAML would type it (`port: 5432` an int)."""
    if isinstance(raw, dict) and isinstance(value, dict):
        return {k: _natural(raw.get(k), v) for k, v in value.items()}
    if isinstance(raw, list) and isinstance(value, list):
        return [_natural(r, v) for r, v in zip(raw, value, strict=True)]
    if isinstance(raw, str) and raw.startswith("${") and raw.endswith("}") and isinstance(value, str) and value:
        typed = yaml.safe_load(value)
        return typed if isinstance(typed, int | float | bool) else value
    return value
