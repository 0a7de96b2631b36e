"""One Delta table of the lake: append with ledger metadata, read history, read batches back."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

import pyarrow as pa

from shopflow.errors import LakeError
from shopflow.lake.files import LakeFiles, files_holding
from shopflow.lake.ledger import Commit
from shopflow.storage import Location

if TYPE_CHECKING:
    from deltalake import DeltaTable

log = logging.getLogger(__name__)

PARTITION = "_sf_load_date"
BATCH = "_sf_batch"
# DuckDB's own row group size: a reader holds one decoded row group per column at a time,
# so smaller groups keep the lake's readers (and delta-rs's writer) in bounded memory.
ROW_GROUP_ROWS = 122_880
TARGET_FILE_BYTES = 64 * 1024 * 1024


class LakeTable:
    """A Delta table at `location`, partitioned by load date.

    Args:
        location: Where the table lives (folder, s3:// or az://).
        name: The table's name, for messages.
    """

    def __init__(self, location: Location, name: str) -> None:
        self.location = location
        self.name = name
        self._options = location.delta_storage_options()

    @property
    def uri(self) -> str:
        """The table's URI as delta-rs wants it."""
        return self.location.url

    def _open(self) -> DeltaTable | None:
        from deltalake import DeltaTable

        try:
            if not DeltaTable.is_deltatable(self.uri, storage_options=self._options):
                return None
            return DeltaTable(self.uri, storage_options=self._options)
        except Exception as exc:  # delta-rs raises its own generic errors for storage problems
            raise LakeError(f"cannot open lake table {self.name} at {self.uri}: {exc}",
                            fix="check the lake location and its credentials in shopflow.yml") from exc

    def version(self) -> int | None:
        """The latest version, or None if the table does not exist yet."""
        table = self._open()
        return None if table is None else table.version()

    def schema(self) -> pa.Schema | None:
        """The table's Arrow schema, or None if it does not exist yet."""
        table = self._open()
        return None if table is None else pa.schema(table.schema().to_arrow())

    def commits(self, after: int = -1) -> list[Commit]:
        """Commits made by shopflow with a version above `after`, oldest first."""
        table = self._open()
        if table is None or table.version() <= after:
            return []
        found = []
        for entry in table.history():
            if int(entry["version"]) <= after:
                continue
            commit = Commit.from_history(entry)
            if commit is not None:
                found.append(commit)
        return sorted(found, key=lambda c: c.version)

    def append(self, data: pa.RecordBatchReader, metadata: dict[str, str] | None = None) -> int:
        """Append `data` in one Delta commit carrying `metadata`; return the new version.

        `data` must already be conformed to the lake's schema (see `lake.schema`): delta-rs
        would otherwise truncate values that do not fit.
        """
        from deltalake import CommitProperties, WriterProperties, write_deltalake

        try:
            write_deltalake(
                self.uri,
                data,
                mode="append",
                partition_by=[PARTITION] if PARTITION in data.schema.names else None,
                schema_mode="merge",
                storage_options=self._options,
                commit_properties=CommitProperties(custom_metadata=metadata or {}),
                writer_properties=WriterProperties(max_row_group_size=ROW_GROUP_ROWS),
                target_file_size=TARGET_FILE_BYTES,
            )
        except Exception as exc:
            raise LakeError(f"cannot write lake table {self.name} at {self.uri}: {exc}",
                            fix="check the lake location, its credentials and free space") from exc
        version = self.version()
        assert version is not None
        log.debug("committed %s version %s", self.name, version)
        return version

    def read_batches(self, batches: Iterable[str]) -> pa.RecordBatchReader | None:
        """A streaming reader of the rows whose `_sf_batch` is one of `batches`."""
        import pyarrow.dataset as ds

        table = self._open()
        if table is None:
            return None
        dataset = table.to_pyarrow_dataset()
        wanted = pa.array(sorted(set(batches)), pa.string())
        # One file, one row group at a time, decoded on this thread: the defaults (several files
        # read ahead, whole files pre-buffered) hold hundreds of MB when the consumer is slower
        # than the reader, as a warehouse's COPY is. The decode is not the load's bottleneck.
        return dataset.scanner(
            filter=ds.field(BATCH).isin(wanted), batch_size=65_536, fragment_readahead=1, batch_readahead=1,
            use_threads=False, fragment_scan_options=ds.ParquetFragmentScanOptions(pre_buffer=False),
        ).to_reader()

    def files(self, batches: Iterable[str]) -> LakeFiles | None:
        """The Parquet files holding the rows of `batches`, for engines that scan Parquet in place.

        None if the table does not exist yet.
        """
        table = self._open()
        if table is None:
            return None
        wanted = sorted(set(batches))
        try:
            actions = pa.table(table.get_add_actions(flatten=True))
        except Exception as exc:
            raise LakeError(f"cannot list the files of lake table {self.name} at {self.uri}: {exc}",
                            fix="check the lake location and its credentials in shopflow.yml") from exc
        root = self.uri.removeprefix("file://")
        return LakeFiles(
            uris=files_holding(root, actions, BATCH, wanted),
            scheme=self.location.scheme,
            storage_options=dict(self._options),
            columns=[f.name for f in pa.schema(table.schema().to_arrow())],
            partition_columns=list(table.metadata().partition_columns),
            batches=wanted,
        )
