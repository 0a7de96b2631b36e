"""Extract a file table into the lake: each new or changed file exactly once.

Files are grouped into commits. Per commit, child and quarantine rows are appended first,
then the main table's commit, which records the files consumed. Only that last commit makes
the files count as consumed, so a run killed at any point rereads exactly the files whose
commit did not land; rows it left in child or quarantine tables belong to a batch no ledger
commit names, and are never loaded.
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from shopflow import quarantine
from shopflow.config.model import FileSource, FileTable, PipelineConfig
from shopflow.errors import SchemaDriftError
from shopflow.faults import checkpoint
from shopflow.lake.ledger import Commit, FileEntry
from shopflow.lake.schema import conform_batch, conformed_reader, target_schema
from shopflow.pipeline.layout import LakeLayout
from shopflow.pipeline.spool import Spool
from shopflow.sources.files import FileExtract, PartialFileError, extract_file, quarantine_whole_file
from shopflow.storage import FileInfo, Location

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

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
    """Extract every pending file of `table` into the lake; returns the counts."""
    layout = LakeLayout(config, source.name, table.name)
    location = Location(source.location, config.storage)
    todo, changed, seen = pending_files(layout, location, table)
    if on_pending:
        on_pending(len(todo))
    result = TableExtract(table.name, files_seen=seen, files_new=len(todo))
    schemas: dict[str, pa.Schema | None] = {}
    with tempfile.TemporaryDirectory(prefix="shopflow-fetch-") as tmp:
        spool = Spool(Path(tmp))
        try:
            for group in _groups(todo):
                _extract_group(con, config, layout, location, table, run_id, group, changed, spool, schemas, result,
                               Path(tmp), on_file)
        finally:
            spool.close()
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


def _extract_group(
    con: duckdb.DuckDBPyConnection,
    config: PipelineConfig,
    layout: LakeLayout,
    location: Location,
    table: FileTable,
    run_id: str,
    group: list[FileInfo],
    changed: set[str],
    spool: Spool,
    schemas: dict[str, pa.Schema | None],
    result: TableExtract,
    tmp: Path,
    on_file: Callable[[FileInfo], None] | None,
) -> None:
    origin = quarantine.Origin(config.pipeline, layout.source, table.name, uuid.uuid4().hex,
                               datetime.now(UTC))
    consumed: list[FileEntry] = []
    drift: SchemaDriftError | None = None
    for file in group:
        extract = FileExtract(file)
        local = location.fetch(file, tmp)
        try:
            for output, batch in extract_file(con, local, file, table, origin, extract):
                spool.add(output, _conform(layout, output, batch, schemas, file.url))
            spool.keep_segment()
        except PartialFileError as exc:
            spool.drop_segment()
            extract = FileExtract(file)
            for output, batch in quarantine_whole_file(origin, file, local, exc.message, extract):
                spool.add(output, batch)
            spool.keep_segment()
        except SchemaDriftError as exc:
            spool.drop_segment()
            drift = exc
            break
        finally:
            if local != Path(file.url):
                local.unlink(missing_ok=True)
        if extract.failed:
            result.failed_files.append(f"{file.url}: {extract.failed}")
        result.rows += extract.rows
        result.quarantined += extract.quarantined
        consumed.append(FileEntry(file.url, file.size, file.version, extract.rows))
        if on_file:
            on_file(file)
        checkpoint("file_extracted")
    if consumed:
        _commit(layout, table, run_id, origin, consumed, changed, spool, schemas)
        result.commits += 1
    if drift is not None:
        raise drift


def _lake_schema(layout: LakeLayout, output: str, schemas: dict[str, pa.Schema | None]) -> pa.Schema | None:
    if output not in schemas:
        schemas[output] = layout.output(output).schema()
    return schemas[output]


def _conform(
    layout: LakeLayout, output: str, batch: pa.RecordBatch, schemas: dict[str, pa.Schema | None], origin: str
) -> pa.RecordBatch:
    """Check the batch against the lake's types now, so a misfit names its file."""
    lake = _lake_schema(layout, output, schemas)
    if lake is None:
        return batch
    known = [f for f in batch.schema if f.name in lake.names]
    check = pa.schema([lake.field(f.name) for f in known])
    conformed = conform_batch(batch.select([f.name for f in known]), check, table=output, origin=origin)
    extra = [f.name for f in batch.schema if f.name not in lake.names]
    for name in extra:
        conformed = conformed.append_column(batch.schema.field(name), batch.column(name))
    return conformed


def _commit(
    layout: LakeLayout,
    table: FileTable,
    run_id: str,
    origin: quarantine.Origin,
    consumed: list[FileEntry],
    changed: set[str],
    spool: Spool,
    schemas: dict[str, pa.Schema | None],
) -> None:
    outputs: dict[str, int] = {}
    quarantined = 0
    for output in [o for o in spool.outputs() if o != table.name]:
        rows = _append(layout, output, spool, schemas, {"shopflow.output_of": origin.batch})
        outputs[output] = rows
        if output == quarantine.TABLE:
            quarantined = rows
    replaces = tuple(sorted(f.url for f in consumed if f.url in changed and table.on_file_change == "replace"))
    outputs[table.name] = sum(f.rows for f in consumed)
    commit = Commit(
        version=-1, batch=origin.batch, run=run_id, files=tuple(consumed), replaces=replaces,
        outputs=outputs, quarantined=quarantined,
    )
    checkpoint("outputs_committed")
    _append(layout, table.name, spool, schemas, commit.to_metadata())
    spool.clear()
    checkpoint("lake_committed")


def _append(
    layout: LakeLayout, output: str, spool: Spool, schemas: dict[str, pa.Schema | None], metadata: dict[str, str]
) -> int:
    lake_table = layout.output(output)
    lake_schema = _lake_schema(layout, output, schemas)
    spooled = spool.schemas(output)
    if spooled:
        try:
            unified = pa.unify_schemas(spooled, promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise SchemaDriftError(
                f"the files of one commit disagree on column types: {exc}",
                fix=f"declare the column's type under columns: of table {layout.table!r} in shopflow.yml",
                table=output,
            ) from exc
    elif lake_schema is not None:
        unified = lake_schema
    else:  # every file of the commit was quarantined: an empty table that still carries the ledger
        unified = pa.schema([pa.field("_sf_batch", pa.string()), pa.field("_sf_file", pa.string()),
                             pa.field("_sf_load_date", pa.string())])
    target = target_schema(unified, lake_schema)
    rows = 0

    def counted() -> object:
        nonlocal rows
        for batch in spool.batches(output):
            rows += batch.num_rows
            yield batch

    lake_table.append(conformed_reader(counted(), target, table=output), metadata)  # type: ignore[arg-type]
    schemas.pop(output, None)  # read the committed schema again when next needed
    return rows
