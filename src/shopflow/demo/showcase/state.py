"""What the demo folder has been through: its seed and scale, and each pipeline's last round.

Kept in `<demo folder>/demo.json`. A pipeline's round is counted as prepared once its data is
written and as run once the pipeline ran on it, so a demo interrupted between the two runs
the pipeline on the data already written instead of writing another round.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from shopflow.errors import ConfigError

STATE_FILE = "demo.json"


@dataclass
class Progress:
    """One pipeline's rounds: the last one prepared and the last one run (-1: none yet)."""

    prepared: int = -1
    ran: int = -1


@dataclass
class DemoState:
    """The demo folder's state.

    Attributes:
        seed: The seed the data was generated with.
        scale: The size factor the data was generated with.
        pipelines: Each pipeline's rounds.
    """

    seed: int
    scale: float
    pipelines: dict[str, Progress] = field(default_factory=dict)

    def of(self, pipeline: str) -> Progress:
        """The rounds of `pipeline` (none yet if it never ran)."""
        return self.pipelines.setdefault(pipeline, Progress())

    def save(self, folder: Path) -> None:
        """Write the state atomically."""
        data = {"seed": self.seed, "scale": self.scale,
                "pipelines": {name: {"prepared": p.prepared, "ran": p.ran} for name, p in self.pipelines.items()}}
        path = folder / STATE_FILE
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, path)

    @classmethod
    def load(cls, folder: Path) -> DemoState | None:
        """The state of the demo folder, or None if no demo ran there yet."""
        path = folder / STATE_FILE
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(int(data["seed"]), float(data["scale"]),
                       {name: Progress(int(p["prepared"]), int(p["ran"])) for name, p in data["pipelines"].items()})
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path} is not a demo state file: {exc}",
                              fix="start over with shopflow demo --reset") from exc
