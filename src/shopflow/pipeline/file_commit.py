"""Commit a group of extracted files to the lake: child and quarantine rows first, the ledger last.

The main table's commit records the files consumed, so it lands last: a run killed before it
rereads exactly those files, and the rows it left in child or quarantine tables belong to a
batch no ledger commit names, so they are never loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pyarrow as pa

from shopflow import quarantine
from shopflow.errors import SchemaDriftError
from shopflow.faults import checkpoint
from shopflow.lake.ledger import Commit, FileEntry
from shopflow.lake.schema import conformed_reader, target_schema

if TYPE_CHECKING:
    from shopflow.config.model import FileTable
    from shopflow.pipeline.layout import LakeLayout
    from shopflow.pipeline.type_fit import TypedSpool

# The lake schema of an output table (None before its first commit).
LakeSchema = Callable[[str], "pa.Schema | None"]


def commit_group(
    layout: LakeLayout, table: FileTable, spool: TypedSpool, lake_schema: LakeSchema, *,
    origin: quarantine.Origin, run_id: str, planned_on: int, consumed: list[FileEntry], replaces: tuple[str, ...],
) -> None:
    """Append the spooled child and quarantine rows, then the main table's rows with the ledger commit.

    Args:
        layout: The table's lake tables.
        table: The file table.
        spool: The batches of the files of `consumed`, per output.
        lake_schema: Each output's lake schema as it was before this commit.
        origin: The batch the rows belong to.
        run_id: The run committing.
        planned_on: The main table's version the ledger was read at (a later one: LedgerConflictError).
        consumed: The files read, with their rows, in the ledger.
        replaces: The changed files whose earlier rows the new ones replace.
    """
    outputs: dict[str, int] = {}
    for output in [o for o in spool.outputs() if o != table.name]:
        outputs[output] = append_spooled(layout, table, spool, output, lake_schema(output),
                                         {"shopflow.output_of": origin.batch})
    outputs[table.name] = sum(f.rows for f in consumed)
    commit = Commit(
        version=-1, batch=origin.batch, run=run_id, files=tuple(consumed), replaces=replaces,
        outputs=outputs, quarantined=outputs.get(quarantine.TABLE, 0),
    )
    checkpoint("outputs_committed")
    append_spooled(layout, table, spool, table.name, lake_schema(table.name), commit.to_metadata(),
                   planned_on=planned_on)
    spool.clear()
    checkpoint("lake_committed")


def append_spooled(
    layout: LakeLayout, table: FileTable, spool: TypedSpool, output: str, lake_schema: pa.Schema | None,
    metadata: dict[str, str], *, planned_on: int | None = None,
) -> int:
    """Commit the spooled batches of `output` to its lake table; return the rows written.

    Raises:
        SchemaDriftError: The files of the commit gave one column types that do not unify.
    """
    spooled = spool.schemas(output)
    if spooled:
        try:
            unified = pa.unify_schemas(spooled, promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise SchemaDriftError(
                f"the files of one commit disagree on column types: {exc}",
                fix=f"declare the column's type under columns: of table {table.name!r} in shopflow.yml",
                table=output,
            ) from exc
    elif lake_schema is not None:
        unified = lake_schema
    else:  # every file of the commit was quarantined: an empty table that still carries the ledger
        unified = pa.schema([pa.field("_sf_batch", pa.string()), pa.field("_sf_file", pa.string()),
                             pa.field("_sf_load_date", pa.string())])
    target = target_schema(unified, lake_schema)
    rows = 0

    def counted() -> Iterator[pa.RecordBatch]:
        nonlocal rows
        for batch in spool.batches(output):
            rows += batch.num_rows
            yield batch

    layout.output(output).append(conformed_reader(counted(), target, table=output), metadata, planned_on=planned_on)
    return rows
