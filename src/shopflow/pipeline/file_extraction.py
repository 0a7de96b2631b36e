"""Read the files of one commit into the spool: many JSON files per query, one by one when that fails.

Within a commit, runs of JSON files are read by one query each (`sources.files.chunks`). If
that query fails, the file it blames is read alone and the others together again; failing
that, every file of the run alone, so a bad file is quarantined on its own and a schema
misfit names its file. Runs of JSON documents reuse the types detected in earlier runs when
their records' shapes fit (`sources.files.shapes`); the shapes of a local run's documents are
found on a second connection while the run before it is read (`sources.files.ahead`). Once
read, the commit itself is `file_commit`'s.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from shopflow import quarantine
from shopflow.config.model import FileTable
from shopflow.errors import SchemaDriftError, SourceError
from shopflow.faults import checkpoint
from shopflow.lake.ledger import FileEntry
from shopflow.lake.schema import conform_batch
from shopflow.naming import normalize_name
from shopflow.pipeline.file_commit import commit_group
from shopflow.pipeline.layout import LakeLayout
from shopflow.pipeline.type_fit import Misfits, TypedSpool, fit, quarantine_rows
from shopflow.sources.files import (
    FileExtract,
    ManyFilesError,
    PartialFileError,
    extract_file,
    extract_files,
    quarantine_whole_file,
)
from shopflow.sources.files.ahead import DocumentsAhead
from shopflow.sources.files.chunks import chunks, readable_together
from shopflow.sources.files.shapes import DetectedTypes
from shopflow.storage import FileInfo, Location

if TYPE_CHECKING:
    import duckdb

    from shopflow.pipeline.extract_files import TableExtract

log = logging.getLogger(__name__)

# How often a failed query of many files is split around the file it blames, before reading one by one.
MAX_SPLITS = 4


class FileExtraction:
    """The state of one table's extraction: where files come from and go, the spool, the counts."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        pipeline: str,
        layout: LakeLayout,
        location: Location,
        table: FileTable,
        run_id: str,
        changed: set[str],
        tmp: Path,
        result: TableExtract,
        planned_on: int = -1,
    ) -> None:
        self.con = con
        self.pipeline = pipeline
        self.layout = layout
        self.location = location
        self.table = table
        self.run_id = run_id
        self.changed = changed
        self.tmp = tmp
        self.result = result
        self.planned_on = planned_on  # the main table's version the ledger was read at
        self.spool = TypedSpool(tmp)  # also notes the types each column got (see `type_fit`)
        # Each output's lake schema, read once and again after each of its commits.
        self._schemas: dict[str, pa.Schema | None] = {}
        # Leaf paths of JSON dates and timestamps found not plain ISO 8601: read as text from then on.
        self.text: set[str] = set()
        # Types detected in earlier JSON documents, for later documents of the same shape.
        self.known = DetectedTypes()
        self.pk_columns = [normalize_name(k) for k in table.primary_key]
        # Local files need no fetching: the next run's document shapes are found while a run is read.
        self.ahead = DocumentsAhead(con, table.records) if location.scheme == "file" else None

    def close(self) -> None:
        """Stop finding shapes ahead and remove the spool."""
        try:
            if self.ahead is not None:
                self.ahead.close()
        finally:
            self.spool.close()

    def extract_group(
        self, group: list[FileInfo], on_file: Callable[[FileInfo], None] | None, next_group: Sequence[FileInfo] = (),
    ) -> None:
        """Extract the files of `group` and commit them as one batch; a schema misfit stops at its file.

        The shapes of each next run's documents, the first of `next_group` last, are found meanwhile.
        """
        origin = quarantine.Origin(self.pipeline, self.layout.source, self.table.name, uuid.uuid4().hex,
                                   datetime.now(UTC))
        consumed: list[FileEntry] = []
        done: list[FileExtract] = []
        drift: SchemaDriftError | None = None
        runs = chunks(group, self.table)
        upcoming = [*runs[1:], *chunks(list(next_group), self.table)[:1]]
        for i, chunk in enumerate(runs):
            if i < len(upcoming):
                self._look_ahead(upcoming[i])
            extracts, drift = self._extract_chunk(chunk, origin)
            done.extend(extracts)
            for extract in extracts:
                file = extract.file
                consumed.append(FileEntry(file.url, file.size, file.version, extract.rows))
                if on_file:
                    on_file(file)
                checkpoint("file_extracted")
            if drift is not None:
                break
        unreadable = {e.file.url for e in done if e.failed}
        if consumed:
            self._commit(origin, consumed, unreadable)
            self.result.commits += 1
            self.result.files_committed += len(consumed)
        for extract in done:  # counted once committed: a commit another run won is planned again
            if extract.failed:
                self.result.failed_files.append(f"{extract.file.url}: {extract.failed}")
                if self._replaces(extract.file.url):
                    self.result.kept.append(self._kept_message(extract))
            self.result.rows += extract.rows
            self.result.quarantined += extract.quarantined
        if drift is not None:
            raise drift

    def _look_ahead(self, run: list[FileInfo]) -> None:
        """Start finding the shapes of the documents of `run`, if it is JSON documents read together."""
        together = len(run) > 1 or readable_together(run[0], self.table)
        if self.ahead is not None and together and self.table.format_of(run[0].url) == "json":
            self.ahead.start([Path(f.url) for f in run])

    def _extract_chunk(
        self, chunk: list[FileInfo], origin: quarantine.Origin
    ) -> tuple[list[FileExtract], SchemaDriftError | None]:
        """Spool the files of `chunk`, in order; the extracts done, and the schema misfit that stopped it."""
        local: dict[str, Path] = {}
        done: list[FileExtract] = []
        try:
            for i, file in enumerate(chunk):
                folder = self.tmp / str(i)  # object-store files of one name may sit in different folders
                folder.mkdir(exist_ok=True)
                local[file.url] = self.location.fetch(file, folder)
            drift = self._read_together(chunk, local, origin, done, [MAX_SPLITS])
        finally:
            for file in chunk:
                if file.url in local and local[file.url] != Path(file.url):
                    local[file.url].unlink(missing_ok=True)
        return done, drift

    def _read_together(
        self, files: list[FileInfo], local: dict[str, Path], origin: quarantine.Origin, done: list[FileExtract],
        splits: list[int],
    ) -> SchemaDriftError | None:
        """Spool `files` from one query; if that fails, the file it blames alone and the others again."""
        if not files:
            return None
        while len(files) > 1 or readable_together(files[0], self.table):
            results = [FileExtract(f) for f in files]
            try:
                for output, batch in extract_files(self.con, [local[f.url] for f in files], self.table, origin,
                                                   results, frozenset(self.text), self.known, self.ahead):
                    self.spool.add(output, self._conform(output, batch, files[0].url if len(files) == 1 else ""))
                self.spool.keep_segment()
                done.extend(results)
                return None
            except ManyFilesError as exc:
                self.spool.drop_segment()
                if exc.leaf is not None and exc.leaf not in self.text:
                    log.info("reading %s as text: %s", exc.leaf, exc.message)
                    self.text.add(exc.leaf)
                    continue
                if exc.reused:
                    log.info("the types of earlier files did not fit, detecting these files' own: %s", exc.message)
                    self.known.forget()
                    continue
                log.info("reading %s files together failed, reading them one by one: %s", len(files), exc.message)
                if exc.file is not None and splits[0] > 0:
                    splits[0] -= 1
                    i = exc.file
                    return (self._read_together(files[:i], local, origin, done, splits)
                            or self._extract_file(files[i], local[files[i].url], origin, done)
                            or self._read_together(files[i + 1:], local, origin, done, splits))
                break
            except SchemaDriftError:
                self.spool.drop_segment()  # read one by one: a file's rows that do not fit go to quarantine
                break
        for file in files:
            drift = self._extract_file(file, local[file.url], origin, done)
            if drift is not None:
                return drift
        return None

    def _extract_file(
        self, file: FileInfo, local: Path, origin: quarantine.Origin, done: list[FileExtract]
    ) -> SchemaDriftError | None:
        """Spool one file's outputs as a segment; a file that fails midway is quarantined whole.

        A JSON-lines file that fails midway is read again line by line first. Rows whose values
        do not fit the types their columns have already go to quarantine (the whole file, if it
        has nested rows: a parent row and its nested rows go together).
        """
        by_line = False
        while True:
            extract = FileExtract(file)
            misfits = Misfits()
            try:
                for output, batch in extract_file(self.con, local, file, self.table, origin, extract, by_line=by_line,
                                                  text=frozenset(self.text)):
                    self.spool.add(output, self._fitted(output, batch, origin, file.url, misfits))
                if misfits.rows and self.spool.types.segment_outputs() - {self.table.name, quarantine.TABLE}:
                    self.spool.drop_segment()
                    extract = FileExtract(file)
                    reason = f"the file has nested rows, so it is quarantined whole: {misfits.first}"
                    for output, batch in quarantine_whole_file(origin, file, local, reason, extract):
                        self.spool.add(output, batch)
                else:
                    extract.rows -= misfits.main_rows
                    extract.quarantined += misfits.rows
                self.spool.keep_segment()
            except PartialFileError as exc:
                self.spool.drop_segment()
                if exc.leaf is not None and exc.leaf not in self.text:
                    self.text.add(exc.leaf)
                    continue
                if exc.by_line and not by_line:
                    by_line = True
                    continue
                extract = FileExtract(file)
                for output, batch in quarantine_whole_file(origin, file, local, exc.message, extract):
                    self.spool.add(output, batch)
                self.spool.keep_segment()
            except SchemaDriftError as exc:
                self.spool.drop_segment()
                return exc
            done.append(extract)
            return None

    def _lake_schema(self, output: str) -> pa.Schema | None:
        if output not in self._schemas:
            self._schemas[output] = self.layout.output(output).schema()
        return self._schemas[output]

    def _conform(self, output: str, batch: pa.RecordBatch, origin: str) -> pa.RecordBatch:
        """Cast the batch to the types its columns have already (the lake's, or earlier files'), naming its file."""
        check = self.spool.types.expected(output, self._lake_schema(output), batch.schema)
        if not check.names:
            return batch
        conformed = conform_batch(batch.select(check.names), check, table=output, origin=origin)
        for name in [n for n in batch.schema.names if n not in check.names]:
            conformed = conformed.append_column(batch.schema.field(name), batch.column(name))
        return conformed

    def _fitted(
        self, output: str, batch: pa.RecordBatch, origin: quarantine.Origin, url: str, misfits: Misfits
    ) -> pa.RecordBatch:
        """`_conform` of the batch's rows that fit; the others are spooled to quarantine and counted in `misfits`."""
        lake = self._lake_schema(output)
        check = self.spool.types.expected(output, lake, batch.schema)
        if output != quarantine.TABLE and check.names:
            batch, bad, reasons = fit(batch, check, table=self.table.name, in_lake=set(lake.names if lake else []))
            if bad.num_rows:
                log.warning("%s: %s rows do not fit the types of earlier files (%s)", url, bad.num_rows, reasons[0])
                misfits.add(bad.num_rows, main=output == self.table.name, reason=reasons[0])
                rows = quarantine_rows(origin, url, bad, reasons, self.pk_columns)
                self.spool.add(quarantine.TABLE, self._conform(quarantine.TABLE, rows, url))
        return self._conform(output, batch, url)

    def _replaces(self, url: str) -> bool:
        """True if the file at `url` changed in place and its new rows replace its earlier ones."""
        return url in self.changed and self.table.on_file_change == "replace"

    def _kept_message(self, extract: FileExtract) -> str:
        """Why a changed file's earlier rows stay: its new version could not be read."""
        url = extract.file.url
        rows = next((e.rows for c in reversed(self.layout.main.commits()) for e in c.files
                     if e.url == url and e.rows), None)
        kept = f"the {rows:,} rows of its last good version" if rows else "the rows of its last good version"
        return str(SourceError(
            f"{url} changed and its new version cannot be read ({extract.failed}); {kept} stay in "
            f"raw.{self.table.name}, and the new version is in raw.{quarantine.TABLE}",
            fix="correct the file and write it again: its next version replaces those rows",
            table=self.table.name,
        ))

    def _commit(self, origin: quarantine.Origin, consumed: list[FileEntry], unreadable: set[str]) -> None:
        """Commit the spooled rows of `consumed` (see `file_commit`).

        A changed file in `unreadable` (quarantined whole) replaces nothing: its earlier rows stay.
        """
        replaces = tuple(sorted(f.url for f in consumed if self._replaces(f.url) and f.url not in unreadable))
        try:
            commit_group(self.layout, self.table, self.spool, self._lake_schema, origin=origin, run_id=self.run_id,
                         planned_on=self.planned_on, consumed=consumed, replaces=replaces)
        finally:
            self._schemas.clear()  # read again after the commit
