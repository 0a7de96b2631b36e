"""Parquet files Spark wrote into a lake table's staging folder, and their commit.

Spark writes each output of a batch into `<table>/_sf_spark/<batch>/`, a folder no Delta
reader looks at. The files then move into the table's partition folder under names that tell
their batch (`lake.written`) and are added to the Delta table in one commit. When the files'
schema is not exactly the table's (a new column, another type), their rows go through the
Arrow path instead, which conforms types and evolves the schema, as the DuckDB COPY path does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyarrow as pa

from shopflow.lake.schema import conformed_reader, normalize_schema, target_schema
from shopflow.lake.table import PARTITION, LakeTable
from shopflow.lake.written import BATCH_FILE_PREFIX, WrittenFile, commit_written

if TYPE_CHECKING:
    import fsspec

STAGING = "_sf_spark"


@dataclass
class Staged:
    """The Parquet files of one output Spark wrote, not committed yet."""

    table: LakeTable
    folder: str  # filesystem path of the staging folder
    files: list[tuple[str, int, int]] = field(default_factory=list)  # (path, bytes, rows)
    schema: pa.Schema | None = None

    @property
    def rows(self) -> int:
        """Rows in the staged files."""
        return sum(rows for _, _, rows in self.files)


def staging_folder(table: LakeTable, batch: str) -> str:
    """The filesystem path (no scheme) Spark writes `batch`'s files of `table` into."""
    return f"{table.location.path.rstrip('/')}/{STAGING}/{batch}"


def list_staged(table: LakeTable, folder: str) -> Staged:
    """The Parquet files in `folder`, their sizes, rows and schema; empty files are removed."""
    import pyarrow.parquet as pq

    fs = table.location.filesystem()
    staged = Staged(table, folder)
    if not fs.exists(folder):
        return staged
    for info in sorted(fs.ls(folder, detail=True), key=lambda i: str(i["name"])):
        name = str(info["name"])
        if not name.endswith(".parquet"):
            continue
        with fs.open(name, "rb") as handle:
            meta = pq.read_metadata(handle)
        if staged.schema is None:
            staged.schema = meta.schema.to_arrow_schema()
        if meta.num_rows == 0:
            continue
        staged.files.append((name, int(info["size"]), meta.num_rows))
    return staged


def commit_staged(staged: Staged, batch: str, load_date: str, metadata: dict[str, str]) -> None:
    """Commit the staged files to their table in one commit carrying `metadata`, then drop the folder.

    With no file at all (no rows), the commit still lands, so that a ledger commit records its files.
    """
    table = staged.table
    fs = table.location.filesystem()
    lake = table.schema()
    data = staged.schema or pa.schema([])
    target = _with_partition(target_schema(data, lake))
    if lake is not None and not _same(target, lake):
        _append_through_arrow(staged, fs, target, load_date, metadata)
    else:
        root = table.location.path.rstrip("/")
        partition = f"{PARTITION}={load_date}"
        fs.makedirs(f"{root}/{partition}", exist_ok=True)
        written = []
        for path, size, rows in staged.files:
            relative = f"{partition}/{BATCH_FILE_PREFIX}{batch}-{uuid.uuid4()}.parquet"
            fs.mv(path, f"{root}/{relative}")
            written.append(WrittenFile(relative, size, rows))
        commit_written(table, written, lake if lake is not None else target, {PARTITION: load_date}, metadata)
    fs.rm(staged.folder, recursive=True)


def _with_partition(schema: pa.Schema) -> pa.Schema:
    """`schema` with the partition column, after `_sf_file` as the Arrow path orders it."""
    if PARTITION in schema.names:
        return schema
    fields = list(schema)
    at = schema.get_field_index("_sf_file") + 1 if "_sf_file" in schema.names else len(fields)
    fields.insert(at, pa.field(PARTITION, pa.string()))
    return pa.schema(fields)


def _same(target: pa.Schema, lake: pa.Schema) -> bool:
    lake = normalize_schema(lake)
    return sorted(target.names) == sorted(lake.names) and all(
        target.field(n).type.equals(lake.field(n).type) for n in target.names
    )


def _append_through_arrow(
    staged: Staged, fs: fsspec.AbstractFileSystem, target: pa.Schema, load_date: str, metadata: dict[str, str]
) -> None:
    import pyarrow.parquet as pq

    def batches() -> Iterator[pa.RecordBatch]:
        for path, _, _ in staged.files:
            with fs.open(path, "rb") as handle:
                for batch in pq.ParquetFile(handle).iter_batches(batch_size=65_536):
                    yield batch.append_column(PARTITION, pa.repeat(pa.scalar(load_date, pa.string()), batch.num_rows))

    staged.table.append(conformed_reader(batches(), target, table=staged.table.name), metadata)
