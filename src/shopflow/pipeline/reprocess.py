"""Read again, after a fix to the pipeline file, the files that loaded no row and were quarantined.

A file counts as consumed once a ledger commit names it (path, size, version), whatever
became of its rows; one quarantined whole stays consumed, so fixing the pipeline file alone
does not bring its rows. `reprocess` appends a ledger commit that names each such file with a
version no file has (`reprocess:<version>`): the next run sees the file as changed and reads
it, once, and its own ledger commit then names the file's real version again. Reprocessing
twice before that run finds nothing more to do, since the files are pending already.

Only files none of whose rows loaded qualify, so reading one again cannot load a row twice,
whether the table replaces a changed file's rows or appends them.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from functools import partial

import pyarrow as pa

from shopflow import quarantine
from shopflow.config.model import FileSource, FileTable, PipelineConfig
from shopflow.errors import ConfigError
from shopflow.lake.ledger import Commit, FileEntry, replanned
from shopflow.pipeline.layout import LakeLayout
from shopflow.storage import Location

log = logging.getLogger(__name__)

MARK = "reprocess:"


@dataclass(frozen=True)
class QuarantinedFile:
    """A file whose latest read loaded no row and quarantined it (whole, or every row of it)."""

    table: str
    url: str
    batch: str
    reason: str


def file_tables(config: PipelineConfig, only: str | None = None) -> list[tuple[FileSource, FileTable]]:
    """The file tables of the pipeline, or just `only`.

    Raises:
        ConfigError: `only` names no file table.
    """
    found = [(s, t) for s in config.sources if isinstance(s, FileSource) for t in s.tables
             if only is None or t.name == only]
    if only is not None and not found:
        names = ", ".join(t.name for s in config.sources if isinstance(s, FileSource) for t in s.tables) or "none"
        raise ConfigError(f"the pipeline has no file table {only!r}", fix=f"name one of its file tables: {names}")
    return found


def latest_reads(commits: list[Commit]) -> dict[str, tuple[FileEntry, Commit]]:
    """Each file's latest ledger entry and the commit that holds it."""
    latest: dict[str, tuple[FileEntry, Commit]] = {}
    for commit in commits:
        for entry in commit.files:
            latest[entry.url] = (entry, commit)
    return latest


def quarantined_files(config: PipelineConfig, source: FileSource, table: FileTable,
                      commits: list[Commit] | None = None) -> list[QuarantinedFile]:
    """The files of `table` whose latest read loaded no row and left quarantine records."""
    layout = LakeLayout(config, source.name, table.name)
    commits = layout.main.commits() if commits is None else commits
    candidates = {url: (entry, commit) for url, (entry, commit) in latest_reads(commits).items()
                  if entry.rows == 0 and commit.quarantined and not entry.version.startswith(MARK)}
    if not candidates:
        return []
    reader = layout.output(quarantine.TABLE).read_batches({c.batch for _, c in candidates.values()})
    if reader is None:
        return []
    reasons: dict[tuple[str, str], str] = {}
    for batch in reader:
        for url, batch_id, reason in zip(batch.column("file").to_pylist(), batch.column("_sf_batch").to_pylist(),
                                         batch.column("reason").to_pylist(), strict=True):
            reasons.setdefault((str(url), str(batch_id)), str(reason))
    found = []
    for url, (_entry, commit) in sorted(candidates.items()):
        reason = reasons.get((url, commit.batch))
        if reason is not None:
            found.append(QuarantinedFile(table.name, url, commit.batch, reason))
    return found


def reprocess(config: PipelineConfig, only: str | None = None) -> list[QuarantinedFile]:
    """Make the files that loaded no row and were quarantined pending again; return them.

    A file that is gone, or changed since (the next run reads it anyway), is left alone.
    """
    marked: list[QuarantinedFile] = []
    for source, table in file_tables(config, only):
        marked.extend(replanned(table.name, partial(_mark, config, source, table)))
    return marked


def _mark(config: PipelineConfig, source: FileSource, table: FileTable) -> list[QuarantinedFile]:
    """One ledger commit naming `table`'s quarantined files with a version that makes them pending."""
    layout = LakeLayout(config, source.name, table.name)
    ledger = layout.main.ledger()
    found = quarantined_files(config, source, table, ledger.commits)
    if not found:
        return []
    listed = {f.url: f for f in Location(source.location, config.storage).list_files(table.files)}
    latest = latest_reads(ledger.commits)
    entries, marked = [], []
    for file in found:
        entry = latest[file.url][0]
        now = listed.get(file.url)
        if now is None or (now.size, now.version) != (entry.size, entry.version) or not entry.size:
            continue  # gone, changed (pending already), or empty (reading it again cannot help)
        entries.append(FileEntry(entry.url, entry.size, MARK + entry.version, 0))
        marked.append(file)
    if not entries:
        return []
    schema = layout.main.schema()
    assert schema is not None  # the table has commits
    # The last run's id: a `replace` table keeps loading that run's rows with this commit.
    commit = Commit(version=-1, batch=uuid.uuid4().hex, run=ledger.commits[-1].run, files=tuple(entries),
                    outputs={table.name: 0})
    layout.main.append(pa.RecordBatchReader.from_batches(schema, iter([])), commit.to_metadata(),
                       planned_on=ledger.version)
    log.info("table %s: %d quarantined files will be read again by the next run", table.name, len(entries))
    return marked
