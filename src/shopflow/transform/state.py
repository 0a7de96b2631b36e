"""What the last build of a pipeline's models left: the project it built and whether it succeeded.

Kept in the pipeline's dbt work folder (`build_state.json`). A build of only the models
downstream of changed tables is right only if the rest were built from the same project and
did not fail; anything else calls for a full build.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

STATE_FILE = "build_state.json"


@dataclass(frozen=True)
class BuildState:
    """The last build.

    Attributes:
        fingerprint: `PreparedProject.fingerprint` of the project it built.
        ok: Every model built and every test passed.
    """

    fingerprint: str
    ok: bool


def load_state(folder: Path) -> BuildState | None:
    """The state the last build left in `folder`, or None (no build yet, or an unreadable file)."""
    try:
        data = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
        return BuildState(str(data["fingerprint"]), bool(data["ok"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_state(folder: Path, state: BuildState) -> None:
    """Write the state atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / STATE_FILE
    staged = path.with_suffix(".json.tmp")
    staged.write_text(json.dumps({"fingerprint": state.fingerprint, "ok": state.ok}) + "\n", encoding="utf-8")
    os.replace(staged, path)
