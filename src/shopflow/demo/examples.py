"""The example pipelines shipped with shopflow: where they are, which there are, and copying one out.

A wheel carries them as package data in `shopflow/examples/` (pyproject maps the repository's
`examples/` there). An editable install (`pip install -e .`) has no such folder inside the
package, so the clone's `examples/` is used instead.
"""

from __future__ import annotations

import importlib.resources
import shutil
from pathlib import Path

from shopflow.errors import ConfigError, ShopflowError

CONFIG = "shopflow.yml"
# Left behind by running an example in place: never copied out.
_SKIPPED = frozenset({".shopflow", "target", "logs", "dbt_packages", "__pycache__", ".user.yml"})


def examples_root() -> Path:
    """The folder holding one folder per example.

    Raises:
        ShopflowError: This installation has no examples (neither in the package nor in a clone).
    """
    shipped = importlib.resources.files("shopflow").joinpath("examples")
    if isinstance(shipped, Path) and shipped.is_dir():
        return shipped
    clone = Path(__file__).resolve().parents[3] / "examples"  # src/shopflow/demo/ -> the repository root
    if clone.is_dir():
        return clone
    raise ShopflowError(
        "this shopflow installation has no example pipelines (no shopflow/examples folder in the package)",
        fix="reinstall shopflow from its wheel (pip install shopflow), or from a clone with pip install -e .",
    )


def example_names() -> list[str]:
    """The examples, by folder name, sorted."""
    return sorted(p.name for p in examples_root().iterdir() if (p / CONFIG).is_file())


def example_folder(name: str) -> Path:
    """The folder of example `name`.

    Raises:
        ConfigError: No example has that name; the message lists those there are.
    """
    folder = examples_root() / name
    if not (folder / CONFIG).is_file():
        raise ConfigError(
            f"there is no example named {name!r}",
            fix=f"use one of: {', '.join(example_names())}",
        )
    return folder


def copy_example(name: str, destination: Path, *, force: bool = False) -> Path:
    """Copy example `name` (pipeline file, dbt project, README, sample data) into `destination`.

    The example's paths are relative to its pipeline file, so the copy runs where it lands:
    `cd destination && shopflow run`.

    Args:
        name: The example's folder name, e.g. `glossier`.
        destination: The folder to create; it may exist only if empty, unless `force`.
        force: Copy over the files of an existing folder (its other files stay).

    Returns:
        The copied pipeline file.

    Raises:
        ConfigError: Unknown example, or `destination` holds files and `force` is not set.
    """
    source = example_folder(name)
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())) and not force:
        raise ConfigError(
            f"{destination} already exists and is not empty",
            fix=f"pass another folder (shopflow init --example {name} FOLDER), or --force to copy over it",
        )
    shutil.copytree(source, destination, ignore=_ignore, dirs_exist_ok=True)
    return destination / CONFIG


def _ignore(folder: str, names: list[str]) -> set[str]:
    return {n for n in names if n in _SKIPPED or n.endswith((".duckdb", ".duckdb.wal"))}
