"""How the harness talks to a tool process: a JSON spec as argv[1], a RESULT line on stdout."""

from __future__ import annotations

import json
import sys
from typing import Any


def read_spec() -> dict[str, Any]:
    """The spec the harness passed as the first argument."""
    return dict(json.loads(sys.argv[1]))


def report(**values: Any) -> None:
    """Print the tool's result for the harness: where it put the data."""
    print("RESULT " + json.dumps(values), flush=True)
