"""What a lake commit records about itself, in the Delta commit's custom metadata.

A commit of a source table's main lake table is the unit of exactly-once: it names its batch
(the `_sf_batch` value of its rows in every output table), the run, the files it consumed,
the watermark it reached and the row counts. Nothing counts as consumed unless that commit
landed; the rows a crashed run left in child or quarantine tables belong to a batch no
commit names, and are never loaded.

Two runs may share a lake (two warehouses fed from it). A ledger commit is conditional: it
lands only if no other run's ledger commit landed since the run read the ledger it planned
on (`LakeTable.append(planned_on=...)`); otherwise it raises LedgerConflictError and the run plans
again from the new ledger (`replanned`), skipping what the other run consumed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from shopflow.errors import LakeError

log = logging.getLogger(__name__)

PREFIX = "shopflow."
# The Delta application transaction every ledger commit carries: delta-rs fails a commit whose
# snapshot is older than another commit with the same app id (its ConcurrentTransaction check).
APP_ID = "shopflow.ledger"
# How often a run plans a table again after losing its ledger commit to another run.
MAX_REPLANS = 5

T = TypeVar("T")


@dataclass(frozen=True)
class FileEntry:
    """A consumed file: where, how big, and which version of it."""

    url: str
    size: int
    version: str
    rows: int = 0


@dataclass(frozen=True)
class Commit:
    """One main-table commit, as recorded in its metadata."""

    version: int
    batch: str
    run: str
    timestamp_ms: int = 0
    files: tuple[FileEntry, ...] = ()
    replaces: tuple[str, ...] = ()
    outputs: dict[str, int] = field(default_factory=dict)
    quarantined: int = 0
    watermark: str | None = None

    def to_metadata(self) -> dict[str, str]:
        """The commit's Delta custom metadata (values are strings)."""
        meta = {
            "batch": self.batch,
            "run": self.run,
            "files": json.dumps([[f.url, f.size, f.version, f.rows] for f in self.files]),
            "replaces": json.dumps(list(self.replaces)),
            "outputs": json.dumps(self.outputs),
            "quarantined": str(self.quarantined),
        }
        if self.watermark is not None:
            meta["watermark"] = self.watermark
        return {PREFIX + k: v for k, v in meta.items()}

    @classmethod
    def from_history(cls, entry: dict[str, Any]) -> Commit | None:
        """Read a Delta history entry; None for commits shopflow did not make."""
        if PREFIX + "batch" not in entry:
            return None
        files = tuple(FileEntry(u, int(s), str(v), int(r)) for u, s, v, r in json.loads(entry[PREFIX + "files"]))
        return cls(
            version=int(entry["version"]),
            batch=entry[PREFIX + "batch"],
            run=entry[PREFIX + "run"],
            timestamp_ms=int(entry.get("timestamp", 0)),
            files=files,
            replaces=tuple(json.loads(entry.get(PREFIX + "replaces", "[]"))),
            outputs={k: int(v) for k, v in json.loads(entry.get(PREFIX + "outputs", "{}")).items()},
            quarantined=int(entry.get(PREFIX + "quarantined", 0)),
            watermark=entry.get(PREFIX + "watermark"),
        )


@dataclass(frozen=True)
class Ledger:
    """A lake table's ledger as a run read it.

    Attributes:
        version: The table version read; -1 if the table did not exist.
        commits: shopflow's ledger commits up to `version`, oldest first.
    """

    version: int
    commits: list[Commit]


class LedgerConflictError(LakeError):
    """Another run's ledger commit landed after this run read the ledger it planned on."""


def replanned(table: str, plan_and_commit: Callable[[], T]) -> T:
    """`plan_and_commit()`, called again (it reads the ledger afresh) each time another run's commit wins.

    Raises:
        LakeError: Other runs kept winning, MAX_REPLANS times in a row.
    """
    for _ in range(MAX_REPLANS - 1):
        try:
            return plan_and_commit()
        except LedgerConflictError as exc:
            log.warning("%s; planning table %s again from the new ledger", exc.message, table)
    try:
        return plan_and_commit()
    except LedgerConflictError as exc:
        raise LakeError(
            f"lake table {table}: other runs committed first {MAX_REPLANS} times in a row",
            fix="run again when the other runs that share this lake are done", table=table,
        ) from exc
