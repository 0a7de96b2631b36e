"""Named checkpoints where the crash tests stop a real run, to kill it with SIGKILL.

Set SHOPFLOW_PAUSE_AT to a checkpoint name and SHOPFLOW_PAUSE_FILE to a path: when a run
reaches that checkpoint it writes the file and sleeps, so a test can `kill -9` it at exactly
that moment, or remove the file to let it go on (to race another run). Unset (always, outside
tests), a checkpoint costs one dictionary lookup.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

# The places a run can be stopped at, in the order a run passes them.
CHECKPOINTS = (
    "file_extracted",      # mid-extract: a file spooled, its commit not written
    "outputs_committed",   # child and quarantine rows in the lake, the ledger commit not yet
    "lake_committed",      # the ledger commit landed, the warehouse load not started
    "load_applied",        # inside the warehouse transaction, data written, not committed
)


def checkpoint(name: str) -> None:
    """Pause here if the environment asks for it (tests only), until the pause file is removed."""
    if os.environ.get("SHOPFLOW_PAUSE_AT") != name:
        return
    marker = os.environ.get("SHOPFLOW_PAUSE_FILE")
    if marker:
        # Written beside, then renamed: a test that sees the file always reads the whole name.
        partial = Path(f"{marker}.partial")
        partial.write_text(name, encoding="utf-8")
        os.replace(partial, marker)
    while marker is None or Path(marker).exists():
        time.sleep(0.05 if marker else 3600)
