"""Commit Parquet files that another engine (DuckDB's COPY) wrote into a lake table's folder.

The files become part of the table in one Delta commit of add actions, exactly as if delta-rs
had written them: until that commit lands they are invisible to every reader, so a run killed
after writing them leaves unreferenced files and no rows.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

from shopflow.errors import LakeError

if TYPE_CHECKING:
    from shopflow.lake.table import LakeTable


# A file named for its batch: with no column statistics, the name is what lets a load skip
# the files of other batches (`lake.files`).
BATCH_FILE_PREFIX = "batch-"


def batch_file_pattern(batch: str) -> str:
    """The file name pattern (DuckDB's FILENAME_PATTERN) of files holding only rows of `batch`."""
    return f"{BATCH_FILE_PREFIX}{batch}-{{uuid}}"


@dataclass(frozen=True)
class WrittenFile:
    """A Parquet file in the table's folder that no commit references yet.

    Attributes:
        path: Relative to the table's root, e.g. `_sf_load_date=2024-05-01/batch-....parquet`.
        size: Bytes.
        rows: Rows in the file.
    """

    path: str
    size: int
    rows: int

    def stats(self) -> str:
        """The add action's statistics as Delta's JSON: the row count only.

        delta-rs turns column statistics into guarantees a reader prunes files with, and it
        treats a column without statistics as null there, which would hide the file from any
        filter on that column. So a file has statistics for every column or none; these have none.
        """
        return json.dumps({"numRecords": self.rows})


def commit_written(
    table: LakeTable, files: list[WrittenFile], schema: pa.Schema, partition: dict[str, str],
    metadata: dict[str, str],
) -> int:
    """Add `files` (whose rows have `schema`, partition columns included) in one commit; return its version.

    The table is created with `schema` if it does not exist; an existing table must already
    have exactly `schema` (the caller writes through delta-rs when the schema changes).
    """
    from deltalake import CommitProperties, DeltaTable
    from deltalake.transaction import AddAction, RemoveAction

    now = int(time.time() * 1000)
    actions: list[AddAction | RemoveAction] = [
        AddAction(f.path, f.size, partition, now, True, f.stats()) for f in files
    ]
    options = table.location.delta_storage_options()
    try:
        if table.version() is None:
            DeltaTable.create(table.uri, schema, mode="ignore", partition_by=list(partition) or None,
                              storage_options=options)
        delta = DeltaTable(table.uri, storage_options=options)
        delta.create_write_transaction(actions, "append", schema, partition_by=list(partition) or None,
                                       commit_properties=CommitProperties(custom_metadata=metadata))
    except Exception as exc:  # delta-rs raises its own generic errors for storage problems
        raise LakeError(f"cannot commit to lake table {table.name} at {table.uri}: {exc}",
                        fix="check the lake location, its credentials and free space") from exc
    version = table.version()
    assert version is not None
    return version
