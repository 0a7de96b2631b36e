"""What a benchmark case is: its data's truth and the tools that load it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sources import Truth


@dataclass
class Tool:
    """One way to load a case: a label, the interpreter and script, and its spec.

    The script prints `RESULT {"tables": {key: warehouse table}}`; the keys are the case's
    `main` and the names in its truth's `extra`.
    """

    label: str
    python: Path
    script: str
    spec: Callable[[Path, dict[str, Any]], dict[str, Any]]
    prepare: Callable[[Path, dict[str, Any]], None] | None = None  # untimed, e.g. the full load before B2


@dataclass
class Case:
    """A benchmark case: its data, its truth and the tools that run it."""

    name: str
    rows: int  # the rows rows/s counts: source rows (B1, B2), orders (B3), fact rows (B4)
    truth: Truth
    destination: str  # duckdb | postgres
    money: str  # the column of `main` whose sum must match the truth
    tools: list[Tool]
    main: str = "orders"  # the table whose row count and money sum are checked
    input_bytes: int = 0  # B3, B6: the bytes of JSON read, for MB/s


def tool_env() -> dict[str, str]:
    """The environment every tool process runs in: the harness's, with the tools' helpers importable.

    dlt's anonymous telemetry is turned off so no tool waits on the network.
    """
    import os

    return {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent / "tools"),
            "RUNTIME__DLTHUB_TELEMETRY": "false"}
