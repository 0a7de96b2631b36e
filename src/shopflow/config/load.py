"""Read `shopflow.yml`: YAML, then `${VAR}` interpolation, then validation."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

from shopflow.config.database import DatabaseSource
from shopflow.config.interpolate import interpolate
from shopflow.config.model import FileSource, PipelineConfig
from shopflow.errors import ConfigError


def load_config(path: str | Path) -> PipelineConfig:
    """Read and validate a pipeline file.

    Relative local paths in the file (lake, warehouse, source locations, SQLite files) are
    resolved against the file's folder, so a pipeline runs the same from any working directory.

    Raises:
        ConfigError: The file is missing, is not YAML, or a key or value is wrong; the
            message names the file, the key and the fix.
    """
    file = Path(path)
    if not file.is_file():
        raise ConfigError(
            f"pipeline file {str(file)!r} not found",
            fix="pass -c path/to/shopflow.yml, or run `shopflow init` to write a starter file",
        )
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file} is not valid YAML: {exc}", fix="fix the YAML syntax at the line shown") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{file} must hold a mapping of keys (pipeline, sources, ...)", fix="see `shopflow init`")
    values = interpolate(raw, file=str(file))
    try:
        config = PipelineConfig.model_validate(values)
    except ValidationError as exc:
        raise _explain(exc, file) from None
    return _resolve_paths(config, file.parent)


def _resolve_paths(config: PipelineConfig, base: Path) -> PipelineConfig:
    def resolve(location: str) -> str:
        if "://" in location or Path(location).is_absolute():
            return location
        return str((base / location).resolve())

    sources = [
        s.model_copy(update={"location": resolve(s.location)}) if isinstance(s, FileSource)
        else s.model_copy(update={"path": resolve(s.path)}) if s.path is not None
        else s
        for s in config.sources
    ]
    warehouse = config.warehouse
    if warehouse.type == "duckdb":
        warehouse = warehouse.model_copy(update={"path": resolve(warehouse.path)})
    transform = config.transform
    if transform is not None:
        transform = transform.model_copy(update={"project": resolve(transform.project)})
    return config.model_copy(
        update={"lake": resolve(config.lake), "sources": sources, "warehouse": warehouse, "transform": transform}
    )


def _explain(exc: ValidationError, file: Path) -> ConfigError:
    """Turn pydantic's errors into one message naming each key and its fix."""
    lines = []
    for error in exc.errors():
        loc = _user_loc(error["loc"])
        key = ".".join(loc) if loc else "(top level)"
        if error["type"] == "union_tag_not_found":
            lines.append(f"{key}.type: required key is missing; one of: {', '.join(_SOURCE_TYPES)}")
        elif error["type"] == "union_tag_invalid":  # name the bad value, not the whole source block
            tag = str((error.get("ctx") or {}).get("tag", ""))
            close = difflib.get_close_matches(tag, _SOURCE_TYPES, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            lines.append(f"{key}.type: {tag!r} is not a source type{hint} (one of: {', '.join(_SOURCE_TYPES)})")
        elif error["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown key{_suggest([str(p) for p in error['loc']], PipelineConfig)}")
        elif error["type"] == "missing":
            lines.append(f"{key}: required key is missing")
        else:  # a whole block as input says nothing the key does not
            given = error.get("input")
            got = "" if isinstance(given, dict | list) else f" (got {given!r})"
            lines.append(f"{key}: {error['msg']}{got}")
    return ConfigError(
        f"{file} is invalid:\n  " + "\n  ".join(lines),
        fix="correct the keys named above; `shopflow init` writes a commented example",
    )


_SOURCE_TYPES: tuple[str, ...] = (
    *get_args(FileSource.model_fields["type"].annotation), *get_args(DatabaseSource.model_fields["type"].annotation)
)


def _user_loc(loc: tuple[int | str, ...]) -> list[str]:
    """The key path as written in the file: without the source type pydantic adds (`sources.0.files.x`)."""
    parts = [str(part) for part in loc]
    if len(parts) > 2 and parts[0] == "sources" and isinstance(loc[1], int) and parts[2] in _SOURCE_TYPES:
        del parts[2]
    return parts


def _suggest(loc: list[str], model: type[BaseModel]) -> str:
    """`; did you mean 'x'?` for a misspelt key, by walking the model along pydantic's `loc`."""
    fields = _fields_at(loc[:-1], model)
    close = difflib.get_close_matches(loc[-1], fields, n=1) if fields else []
    valid = f"; valid keys here: {', '.join(sorted(fields))}" if fields else ""
    return f"; did you mean {close[0]!r}?" if close else valid


def _fields_at(loc: list[str], model: type[BaseModel]) -> list[str]:
    """The keys (aliases where set) of the model at `loc`; a source type in `loc` picks that union member."""
    current: list[type[BaseModel]] = [model]
    for part in loc:
        if part.isdigit():
            continue
        tagged = [m for m in current if part in _tags(m)]
        if tagged:
            current = tagged
            continue
        found: list[type[BaseModel]] = []
        for candidate in current:
            for name, field in candidate.model_fields.items():
                if part in (name, field.alias):
                    found.extend(_models_in(field.annotation))
        current = found
    keys: list[str] = []
    for candidate in current:
        keys.extend(field.alias or name for name, field in candidate.model_fields.items())
    return sorted(set(keys))


def _tags(model: type[BaseModel]) -> tuple[str, ...]:
    """The values of a union member's `type` discriminator."""
    field = model.model_fields.get("type")
    return tuple(str(a) for a in get_args(field.annotation)) if field is not None else ()


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models inside list[...], dict[..., X], Annotated[...] or a union."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()) or ():
        found.extend(_models_in(arg))
    origin = getattr(annotation, "__origin__", None)
    if not found and origin is not None and origin is not annotation:
        found.extend(_models_in(origin))
    return found
