"""What a lake commit records about itself, in the Delta commit's custom metadata.

A commit of a source table's main lake table is the unit of exactly-once: it names its batch
(the `_sf_batch` value of its rows in every output table), the run, the files it consumed,
the watermark it reached and the row counts. Nothing counts as consumed unless that commit
landed; the rows a crashed run left in child or quarantine tables belong to a batch no
commit names, and are never loaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

PREFIX = "shopflow."


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
