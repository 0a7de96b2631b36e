"""`${VAR}` and `${VAR:-default}` interpolation of configuration values.

Interpolation runs on parsed YAML values, not on the raw text, so a secret that holds YAML
syntax (a colon, a quote) cannot change the structure of the file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from shopflow.errors import ConfigError

_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate(value: Any, *, path: str = "", file: str = "", env: Mapping[str, str] | None = None) -> Any:
    """Return `value` with every `${VAR}` in its strings replaced from the environment.

    Args:
        value: A parsed YAML value: mapping, list or scalar.
        path: The dotted key path of `value`, used in error messages.
        file: The configuration file, used in error messages.
        env: The variables to read; the process environment by default.

    Raises:
        ConfigError: A `${VAR}` without default names a variable that is not set.
    """
    environ = os.environ if env is None else env
    if isinstance(value, dict):
        return {
            k: interpolate(v, path=f"{path}.{k}" if path else str(k), file=file, env=environ) for k, v in value.items()
        }
    if isinstance(value, list):
        return [interpolate(v, path=f"{path}[{i}]", file=file, env=environ) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        raise ConfigError(
            f"environment variable {name} is not set",
            fix=f"export {name}=..., or write ${{{name}:-default}} in the file",
            file=file,
            key=path,
        )

    return _PATTERN.sub(replace, value)
