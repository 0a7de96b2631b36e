"""What every section of `shopflow.yml` builds on: strict models, checked identifiers, dispositions."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

WriteDisposition = Literal["append", "replace", "merge"]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class StrictModel(BaseModel):
    """A section of the pipeline file: unknown keys are errors, and values never change once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def check_identifier(value: str, what: str) -> str:
    """Return `value` if it is a plain identifier: a letter or _, then letters, digits and _.

    Args:
        value: The name to check.
        what: What the name is, for the error, e.g. `source name`.

    Raises:
        ValueError: `value` is not a plain identifier.
    """
    if not _IDENTIFIER.match(value):
        raise ValueError(f"{what} {value!r} must start with a letter or _ and hold only letters, digits and _")
    return value
