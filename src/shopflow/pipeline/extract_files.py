"""Extract a file table into the lake: each new or changed file exactly once.

The files not consumed yet are planned from the main table's ledger and grouped into commits;
each group is read (`file_extraction`) and committed (`file_commit`). Only the main table's
commit makes a group's files count as consumed, so a run killed at any point rereads exactly
the files whose commit did not land.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from shopflow.config.model import FileSource, FileTable, PipelineConfig
from shopflow.lake.ledger import FileEntry, replanned
from shopflow.pipeline.file_extraction import FileExtraction
from shopflow.pipeline.layout import LakeLayout
from shopflow.storage import FileInfo, Location
from shopflow.temp import locked_folder

if TYPE_CHECKING:
    import duckdb

# A commit takes files until it holds this many input bytes or files.
COMMIT_BYTES = 512 << 20
COMMIT_FILES = 1000


@dataclass
class TableExtract:
    """What extracting one table did."""

    table: str
    files_seen: int = 0
    files_new: int = 0
    rows: int = 0
    quarantined: int = 0
    commits: int = 0
    failed_files: list[str] = field(default_factory=list)
    files_committed: int = 0
    # Changed files whose new version could not be read: the rows of their last good version stay.
    kept: list[str] = field(default_factory=list)

    @property
    def error(self) -> str | None:
        """Why the table failed although its commits landed: the changed files that could not be read."""
        return "\n".join(self.kept) or None


def pending_files(layout: LakeLayout, location: Location, table: FileTable) -> tuple[list[FileInfo], set[str], int]:
    """Files not consumed yet (new, or changed in place), the changed ones' URLs, and all seen."""
    consumed: dict[str, FileEntry] = {}
    for commit in layout.main.commits():
        for entry in commit.files:
            consumed[entry.url] = entry
    files = location.list_files(table.files)
    todo, changed = [], set()
    for file in files:
        known = consumed.get(file.url)
        if known is None:
            todo.append(file)
        elif (known.size, known.version) != (file.size, file.version):
            todo.append(file)
            changed.add(file.url)
    return todo, changed, len(files)


def extract_file_table(
    con: duckdb.DuckDBPyConnection,
    config: PipelineConfig,
    source: FileSource,
    table: FileTable,
    run_id: str,
    on_file: Callable[[FileInfo], None] | None = None,
    on_pending: Callable[[int], None] | None = None,
) -> TableExtract:
    """Extract every pending file of `table` into the lake; returns the counts.

    If another run sharing the lake commits the table's ledger first, the files are planned
    again from the new ledger: those the other run consumed are skipped, never read twice.
    """
    result = TableExtract(table.name)
    return replanned(table.name, partial(_extract_pending, con, config, source, table, run_id, result, on_file,
                                         on_pending))


def _extract_pending(
    con: duckdb.DuckDBPyConnection, config: PipelineConfig, source: FileSource, table: FileTable, run_id: str,
    result: TableExtract, on_file: Callable[[FileInfo], None] | None, on_pending: Callable[[int], None] | None,
) -> TableExtract:
    """Plan the files from the ledger and extract them; LedgerConflictError if another run commits first."""
    layout = LakeLayout(config, source.name, table.name)
    location = Location(source.location, config.storage)
    # Read before the ledger: another run's commit between the two costs a needless re-plan, no more.
    planned_on = layout.main.version()
    todo, changed, seen = pending_files(layout, location, table)
    if on_pending:
        on_pending(len(todo))
    result.files_seen, result.files_new = seen, result.files_committed + len(todo)
    with locked_folder() as tmp:  # locked: a later run sweeps it only if this process is gone
        extraction = FileExtraction(con, config.pipeline, layout, location, table, run_id, changed, tmp, result,
                                    -1 if planned_on is None else planned_on)
        try:
            groups = _groups(todo)
            for i, group in enumerate(groups):
                extraction.extract_group(group, on_file, groups[i + 1] if i + 1 < len(groups) else [])
        finally:
            extraction.close()
    return result


def _groups(files: list[FileInfo]) -> list[list[FileInfo]]:
    groups: list[list[FileInfo]] = [[]]
    size = 0
    for file in files:
        if groups[-1] and (size + file.size > COMMIT_BYTES or len(groups[-1]) >= COMMIT_FILES):
            groups.append([])
            size = 0
        groups[-1].append(file)
        size += file.size
    return [g for g in groups if g]


