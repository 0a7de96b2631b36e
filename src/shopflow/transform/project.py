"""The dbt project as dbt runs it: the user's project, plus shopflow's package and the `raw` source.

dbt loads every folder in a project's packages folder (`dbt_packages/`) as a package, and has
no option to add one from elsewhere. So that the user's folder is never written to, shopflow
runs dbt on a mirror in the pipeline's dbt work folder: `<work>/project/` holds a symbolic link
to each entry of the user's project (models, macros, dbt_project.yml, ...; edits show at once)
and a real packages folder with links to the packages the user installed (`dbt deps`) and a
copy of shopflow's package (`transform/dbt_package`), into which the generated `raw` source is
written (`models/raw_sources.yml`). File paths in dbt's messages are the same as in the
user's project, relative to its root.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from shopflow.errors import ConfigError

PACKAGE = "shopflow"
SOURCES_FILE = Path("models") / "raw_sources.yml"
# Not linked: dbt's output and packages folders, and a project's hidden files (.git, .user.yml).
_OWN = {"target", "logs"}
# libyaml's parser where PyYAML has it (it reads the same documents, ~10x faster).
SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class PreparedProject:
    """A project ready for dbt.

    Attributes:
        root: The mirror dbt runs in (`--project-dir`).
        project: The user's project folder.
        fingerprint: Changes whenever a file dbt reads changes: the user's project, installed
            packages, shopflow's package, the generated source.
        raw_defined_by: The user's file that defines the source `raw`, if any (none is generated then).
    """

    root: Path
    project: Path
    fingerprint: str
    raw_defined_by: Path | None


def prepare_project(
    project: Path, work: Path, raw_sources: str | None, raw_defined_by: Path | None = None, extra: str = ""
) -> PreparedProject:
    """Lay out the mirror of `project` in `work/project` with shopflow's package in it.

    Args:
        project: The user's dbt project folder (holds dbt_project.yml).
        work: The pipeline's dbt work folder.
        raw_sources: The generated `raw` source (YAML text), or None to generate none.
        raw_defined_by: The project's file that defines `raw` itself, if one does.
        extra: What else a build depends on (the profile's text): part of the fingerprint.

    Raises:
        ConfigError: The project is named `shopflow` or keeps its packages outside itself.
    """
    project = project.resolve()
    install = _install_path(project)
    root = work / "project"
    root.mkdir(parents=True, exist_ok=True)
    top = Path(install).parts[0]
    wanted = {e.name: e for e in project.iterdir()
              if not e.name.startswith(".") and e.name not in _OWN and e.name != top}
    for entry in root.iterdir():
        if entry.name != top and entry.name not in wanted:
            _remove(entry)
    for name, source in wanted.items():
        _link(root / name, source)
    packages = root / install
    if (root / top).is_symlink():
        _remove(root / top)
    packages.mkdir(parents=True, exist_ok=True)
    installed = {e.name: e for e in (project / install).iterdir()} if (project / install).is_dir() else {}
    installed.pop(PACKAGE, None)
    for entry in packages.iterdir():
        if entry.name != PACKAGE and entry.name not in installed:
            _remove(entry)
    for name, source in installed.items():
        _link(packages / name, source)
    files = _package_files(raw_sources)
    _install_package(packages / PACKAGE, files)
    return PreparedProject(root, project, _fingerprint(project, install, files, extra), raw_defined_by)


def project_fingerprint(project: Path, raw_sources: str | None, extra: str = "") -> str:
    """The `PreparedProject.fingerprint` that `prepare_project` would give, without writing the mirror.

    A run with nothing new compares it with the last build's (`transform.changes`) and, when
    they match, skips dbt without laying out the project.

    Raises:
        ConfigError: As `prepare_project`.
    """
    project = project.resolve()
    return _fingerprint(project, _install_path(project), _package_files(raw_sources), extra)


def _install_path(project: Path) -> str:
    """The project's packages folder (`packages-install-path`), after checking the project may be mirrored."""
    settings = _settings(project)
    if settings.get("name") == PACKAGE:
        raise ConfigError(
            f"the dbt project {project} is named {PACKAGE!r}, the name of the dbt package shopflow adds to it",
            fix=f"rename it in {project / 'dbt_project.yml'} (name: my_shop, and the same key under models:)",
        )
    install = str(settings.get("packages-install-path") or "dbt_packages")
    if Path(install).is_absolute() or ".." in Path(install).parts:
        raise ConfigError(
            f"packages-install-path {install!r} in {project / 'dbt_project.yml'} is outside the project",
            fix="remove packages-install-path, or set it to a folder inside the project (default dbt_packages)",
        )
    return install


def _settings(project: Path) -> dict[str, object]:
    try:
        loaded = yaml.load((project / "dbt_project.yml").read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except (OSError, yaml.YAMLError):
        return {}  # dbt itself reports a broken dbt_project.yml, with its line
    return loaded if isinstance(loaded, dict) else {}


def _package_files(raw_sources: str | None) -> dict[Path, bytes]:
    """The files of shopflow's package as dbt gets them (relative path -> content), the `raw` source included."""
    shipped = importlib.resources.files("shopflow.transform").joinpath("dbt_package")
    files: dict[Path, bytes] = {}
    pending = [(shipped, Path())]
    while pending:
        node, relative = pending.pop()
        for child in node.iterdir():
            if child.is_dir():
                pending.append((child, relative / child.name))
            elif child.name.endswith((".sql", ".yml", ".md")):
                files[relative / child.name] = child.read_bytes()
    if raw_sources is not None:
        files[SOURCES_FILE] = raw_sources.encode("utf-8")
    return files


def _install_package(folder: Path, files: dict[Path, bytes]) -> None:
    """Write shopflow's package `files` into `folder` (only files that changed), removing any others."""
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        folder.unlink()
    for path in sorted(folder.rglob("*"), reverse=True) if folder.is_dir() else []:
        if path.is_file() and path.relative_to(folder) not in files:
            path.unlink()
    for relative, content in files.items():
        target = folder / relative
        if not target.is_file() or target.read_bytes() != content:
            target.parent.mkdir(parents=True, exist_ok=True)
            staged = target.with_name(target.name + ".tmp")
            staged.write_bytes(content)
            staged.replace(target)


def _link(path: Path, source: Path) -> None:
    """Make `path` a link to `source`; where links cannot be made, a copy."""
    if path.is_symlink() and Path(os.readlink(path)) == source:
        return
    if path.is_symlink() or path.exists():
        _remove(path)
    try:
        path.symlink_to(source, target_is_directory=source.is_dir())
    except OSError:  # e.g. Windows without the right to make links
        if source.is_dir():
            shutil.copytree(source, path)
        else:
            shutil.copy2(source, path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _fingerprint(project: Path, install: str, package: dict[Path, bytes], extra: str) -> str:
    """A digest of every file dbt reads: the user's project and its packages, shopflow's package, the profile.

    The package's files are hashed in the order of their paths, as they lie in the mirror, so
    the digest is the same whether or not the mirror is written.
    """
    digest = hashlib.sha256(extra.encode())
    top = Path(install).parts[0]
    for path in sorted(project.rglob("*")):
        relative = path.relative_to(project)
        first = relative.parts[0]
        if first.startswith(".") or first in _OWN or (first == top and len(relative.parts) > 1
                                                      and relative.parts[1] == PACKAGE):
            continue
        if path.is_file():
            digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    for relative in sorted(package):
        digest.update(str(relative).encode() + b"\0" + package[relative] + b"\0")
    return digest.hexdigest()
