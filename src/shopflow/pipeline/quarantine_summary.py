"""What is in quarantine now, per table: records and files by reason, and which files `reprocess` can read again.

Read from the lake's quarantine tables (the warehouse's `raw._quarantine` is loaded from
them), so it works while a run holds the warehouse. Only ledger-committed batches count. For
a file table, a file's records are those of its latest read: a file read again after a fix
leaves its earlier records behind as history, not as what is in quarantine now.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from shopflow import quarantine
from shopflow.config.database import DatabaseSource
from shopflow.config.events import EventsSource
from shopflow.config.model import FileSource, PipelineConfig
from shopflow.errors import ConfigError
from shopflow.lake.ledger import Commit
from shopflow.pipeline.layout import LakeLayout
from shopflow.pipeline.reprocess import MARK, QuarantinedFile, quarantined_files
from shopflow.pipeline.status import table_names

_REASON_LENGTH = 160
# A value inside a reason (`customer_id: cannot cast abc to BIGINT`) would make every record its own reason.
_VALUE_PATTERNS = [
    (re.compile(r"^(\w+): cannot cast .* to "), r"\1: cannot cast <value> to "),
    (re.compile(r"^(\w+): .* (has more than \d+ decimal places|is not a whole number)"), r"\1: <value> \2"),
    (re.compile(r"\bline \d+"), "line <n>"),
]


@dataclass
class ReasonCount:
    """Records of one table quarantined for one reason."""

    reason: str
    records: int = 0
    files: set[str] = field(default_factory=set)
    example: str = ""
    first: tuple[str, int] | None = None


@dataclass
class TableQuarantine:
    """What is in quarantine for one table."""

    table: str
    source: str
    records: int = 0
    files: set[str] = field(default_factory=set)
    reasons: dict[str, ReasonCount] = field(default_factory=dict)
    rereadable: list[QuarantinedFile] = field(default_factory=list)
    pending: int = 0


def reason_kind(reason: str) -> str:
    """The reason without the values in it, so that records fail alike group together."""
    text = reason.strip().splitlines()[0] if reason.strip() else "(no reason)"
    for pattern, replacement in _VALUE_PATTERNS:
        text = pattern.sub(replacement, text)
    return text if len(text) <= _REASON_LENGTH else text[: _REASON_LENGTH - 1] + "…"


def quarantine_summary(config: PipelineConfig, only: str | None = None) -> list[TableQuarantine]:
    """Per table with records in quarantine now (or only `only`): counts by reason.

    Raises:
        ConfigError: `only` names no table of the pipeline.
    """
    found: list[TableQuarantine] = []
    known: list[str] = []
    for source in config.sources:
        for name in table_names(config, source):
            known.append(name)
            if only is not None and name != only:
                continue
            summary = _table(config, source, name)
            if summary.records or only is not None:
                found.append(summary)
    if only is not None and only not in known:
        raise ConfigError(f"the pipeline has no table {only!r}", fix=f"name one of: {', '.join(sorted(known))}")
    return found


def _table(config: PipelineConfig, source: FileSource | DatabaseSource | EventsSource, name: str) -> TableQuarantine:
    layout = LakeLayout(config, source.name, name)
    summary = TableQuarantine(name, layout.source)
    commits = layout.main.commits()
    batches = {c.batch for c in commits if c.quarantined}
    if not batches:
        return summary
    current = _current_reads(commits) if isinstance(source, FileSource) else None
    for file, line, reason, batch in _records(layout, batches):
        if current is not None and current.get(file) != batch:
            continue  # read again since: history
        summary.records += 1
        summary.files.add(file)
        kind = reason_kind(reason)
        counted = summary.reasons.setdefault(kind, ReasonCount(kind))
        counted.records += 1
        counted.files.add(file)
        if counted.first is None or (file, line or 0) < counted.first:  # the example: the first by file and line
            counted.first = (file, line or 0)
            counted.example = _where(file, line)
    if isinstance(source, FileSource):
        table = next(t for t in source.tables if t.name == name)
        summary.rereadable = quarantined_files(config, source, table, commits)
        latest = {e.url: e for c in commits for e in c.files}
        summary.pending = sum(1 for e in latest.values() if e.version.startswith(MARK))
    return summary


def _current_reads(commits: list[Commit]) -> dict[str, str]:
    """Each file's latest real read (not a `reprocess` mark): file -> batch."""
    current: dict[str, str] = {}
    for commit in commits:
        for entry in commit.files:
            if not entry.version.startswith(MARK):
                current[entry.url] = commit.batch
    return current


def _records(layout: LakeLayout, batches: set[str]) -> Iterator[tuple[str, int | None, str, str]]:
    """(file, line, reason, batch) of the quarantine records of `batches`."""
    reader = layout.output(quarantine.TABLE).read_batches(batches)
    if reader is None:
        return
    for batch in reader:
        yield from zip(*(batch.column(n).to_pylist() for n in ("file", "line", "reason", "_sf_batch")), strict=True)


def _where(file: str, line: int | None) -> str:
    name = file.rsplit("/", 1)[-1]
    return f"{name} line {line}" if line is not None else name
