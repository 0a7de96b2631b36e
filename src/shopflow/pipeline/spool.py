"""Spool extracted batches to local Arrow IPC files until a lake commit takes them.

A commit holds whole files only, and one file feeds several lake tables (parent, children,
quarantine), each of which may see a different schema per file. Spooling to disk keeps memory
flat whatever the size of a commit; a file that fails midway is dropped from the spool.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc


class Spool:
    """Per output table, a list of IPC files; one segment per source file."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="shopflow-spool-", dir=folder))
        self._files: dict[str, list[Path]] = defaultdict(list)
        self._segment: dict[tuple[str, pa.Schema], tuple[Path, ipc.RecordBatchStreamWriter]] = {}
        self._count = 0

    def add(self, output: str, batch: pa.RecordBatch) -> None:
        """Append a batch for `output` to the current segment."""
        key = (output, batch.schema)
        if key not in self._segment:
            self._count += 1
            path = self.folder / f"{self._count:06d}.arrow"
            self._segment[key] = (path, ipc.new_stream(str(path), batch.schema))
        self._segment[key][1].write_batch(batch)

    def keep_segment(self) -> None:
        """Close the current segment and keep it for the next commit."""
        for (output, _schema), (path, writer) in self._segment.items():
            writer.close()
            self._files[output].append(path)
        self._segment.clear()

    def drop_segment(self) -> None:
        """Close the current segment and throw its batches away."""
        for path, writer in self._segment.values():
            writer.close()
            path.unlink(missing_ok=True)
        self._segment.clear()

    def outputs(self) -> list[str]:
        """The output tables with kept batches."""
        return list(self._files)

    def schemas(self, output: str) -> list[pa.Schema]:
        """The schemas of the kept files of `output`."""
        return [ipc.open_stream(str(p)).schema for p in self._files[output]]

    def batches(self, output: str) -> Iterator[pa.RecordBatch]:
        """Every kept batch of `output`, file by file."""
        for path in self._files[output]:
            with ipc.open_stream(str(path)) as reader:
                yield from reader

    def clear(self) -> None:
        """Forget every kept batch (after a commit)."""
        for paths in self._files.values():
            for path in paths:
                path.unlink(missing_ok=True)
        self._files.clear()

    def close(self) -> None:
        """Remove the spool folder."""
        self.drop_segment()
        shutil.rmtree(self.folder, ignore_errors=True)
