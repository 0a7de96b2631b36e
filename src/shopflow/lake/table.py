"""One Delta table of the lake: append with ledger metadata, read history, read batches back."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

import pyarrow as pa

from shopflow.errors import LakeError
from shopflow.lake.files import LakeFiles, files_holding, missing_files
from shopflow.lake.ledger import APP_ID, PREFIX, Commit, Ledger, LedgerConflictError
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
        return [] if table is None else _ledger_commits(table, after)

    def ledger(self) -> Ledger:
        """The latest version and shopflow's commits up to it: what a run plans its next ledger commit on."""
        table = self._open()
        if table is None:
            return Ledger(-1, [])
        return Ledger(table.version(), _ledger_commits(table, -1))

    def append(
        self, data: pa.RecordBatchReader, metadata: dict[str, str] | None = None, *, planned_on: int | None = None
    ) -> int:
        """Append `data` in one Delta commit carrying `metadata`; return the new version.

        `data` must already be conformed to the lake's schema (see `lake.schema`): delta-rs
        would otherwise truncate values that do not fit.

        Args:
            data: The rows.
            metadata: The commit's custom metadata (a ledger commit's `Commit.to_metadata()`).
            planned_on: For a ledger commit: the table version whose ledger the run planned it on
                (`ledger().version`). The commit then lands only if no other run's ledger commit
                landed since; the run's own commits do not count.

        Raises:
            LedgerConflictError: Another run's ledger commit landed after `planned_on`.
            LakeError: The table could not be written.
        """
        from deltalake import CommitProperties, WriterProperties, write_deltalake
        from deltalake.exceptions import CommitFailedError
        from deltalake.transaction import Transaction

        meta = metadata or {}
        target: DeltaTable | str = self.uri
        mode: Literal["append", "error"] = "append"
        properties = CommitProperties(custom_metadata=meta)
        if planned_on is not None:
            # Against the snapshot checked here: delta-rs fails the commit if another ledger commit
            # (same app id) lands in between.
            table = self._open()
            if table is not None:
                self._check_unchallenged(table, planned_on, meta)
                target = table
                properties = CommitProperties(custom_metadata=meta,
                                              app_transactions=[Transaction(APP_ID, table.version() + 1)])
            else:
                # The commit creates the table. delta-rs checks no conflict for a create and retries it
                # as the next version: no retry, and it fails if the table exists by the time it writes.
                mode = "error"
                properties = CommitProperties(custom_metadata=meta, max_commit_retries=0,
                                              app_transactions=[Transaction(APP_ID, 0)])
        try:
            write_deltalake(
                target,
                data,
                mode=mode,
                partition_by=[PARTITION] if PARTITION in data.schema.names else None,
                schema_mode="merge",
                storage_options=self._options,
                commit_properties=properties,
                writer_properties=WriterProperties(max_row_group_size=ROW_GROUP_ROWS),
                target_file_size=TARGET_FILE_BYTES,
            )
        except Exception as exc:
            if planned_on is not None:
                # Lost the race: another ledger commit landed meanwhile, or created the table first.
                latest = self._open()
                if latest is not None:
                    self._check_unchallenged(latest, planned_on, meta)
            if isinstance(exc, CommitFailedError):
                raise LakeError(f"cannot commit to lake table {self.name} at {self.uri}: {exc}",
                                fix="another process changed the table at the same moment; run again",
                                table=self.name) from exc
            raise LakeError(f"cannot write lake table {self.name} at {self.uri}: {exc}",
                            fix="check the lake location, its credentials and free space") from exc
        version = self.version()
        assert version is not None
        log.debug("committed %s version %s", self.name, version)
        return version

    def _check_unchallenged(self, table: DeltaTable, planned_on: int, metadata: dict[str, str]) -> None:
        """Raise LedgerConflictError if a ledger commit of another run than `metadata`'s is above `planned_on`."""
        run = metadata.get(PREFIX + "run")
        others = [c for c in _ledger_commits(table, planned_on) if c.run != run]
        if others:
            first = others[0]
            raise LedgerConflictError(
                f"another run committed to lake table {self.name} after this run read its ledger at version "
                f"{planned_on}: run {first.run} at version {first.version}"
                + (f", consuming {len(first.files)} files" if first.files else "")
                + (f", watermark {first.watermark}" if first.watermark else ""),
                fix="none needed: the run reads the ledger again and skips what the other run consumed",
                table=self.name,
            )

    def read_batches(self, batches: Iterable[str]) -> pa.RecordBatchReader | None:
        """A streaming reader of the rows whose `_sf_batch` is one of `batches`."""
        import pyarrow.dataset as ds

        table = self._open()
        if table is None:
            return None
        self._check_present(files_holding(self.uri.removeprefix("file://"), self._add_actions(table), BATCH,
                                          batches))
        dataset = table.to_pyarrow_dataset()
        wanted = pa.array(sorted(set(batches)), pa.string())
        # One file, one row group at a time, decoded on this thread: the defaults (several files
        # read ahead, whole files pre-buffered) hold hundreds of MB when the consumer is slower
        # than the reader, as a warehouse's COPY is. The decode is not the load's bottleneck.
        return dataset.scanner(
            filter=ds.field(BATCH).isin(wanted), batch_size=65_536, fragment_readahead=1, batch_readahead=1,
            use_threads=False, fragment_scan_options=ds.ParquetFragmentScanOptions(pre_buffer=False),
        ).to_reader()

    def _add_actions(self, table: DeltaTable) -> pa.Table:
        try:
            return pa.table(table.get_add_actions(flatten=True))
        except Exception as exc:
            raise LakeError(f"cannot list the files of lake table {self.name} at {self.uri}: {exc}",
                            fix="check the lake location and its credentials in shopflow.yml") from exc

    def _check_present(self, uris: list[str]) -> None:
        """Raise LakeError naming the files of `uris` (the Delta log references them) that are gone."""
        missing = missing_files(self.location, uris)
        if not missing:
            return
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise LakeError(
            f"lake table {self.name} is missing {len(missing)} of its data files: {missing[0]}{more}",
            fix=(
                "restore the file (from a backup, or the bucket's earlier object versions) and run again; until then "
                "the lake versions that added it cannot be read. If it is lost for good, drop it from the table: "
                f"python -c \"from deltalake import DeltaTable; DeltaTable('{self.uri}').repair()\" (pass the lake's "
                "storage_options for a bucket); its rows are then gone from the lake, and a warehouse loaded from "
                "the lake later will lack them"
            ),
            table=self.name,
        )

    def files(self, batches: Iterable[str]) -> LakeFiles | None:
        """The Parquet files holding the rows of `batches`, for engines that scan Parquet in place.

        None if the table does not exist yet.
        """
        table = self._open()
        if table is None:
            return None
        wanted = sorted(set(batches))
        uris = files_holding(self.uri.removeprefix("file://"), self._add_actions(table), BATCH, wanted)
        self._check_present(uris)
        return LakeFiles(
            uris=uris,
            scheme=self.location.scheme,
            storage_options=dict(self._options),
            columns=[f.name for f in pa.schema(table.schema().to_arrow())],
            partition_columns=list(table.metadata().partition_columns),
            batches=wanted,
        )


def _ledger_commits(table: DeltaTable, after: int) -> list[Commit]:
    """The shopflow commits of `table` (as loaded) with a version above `after`, oldest first."""
    latest = table.version()
    if latest <= after:
        return []
    # history() starts at the newest commit: read only the commits above `after`.
    entries = table.history(limit=latest - after) if after >= 0 else table.history()
    found = []
    for entry in entries:
        if not after < int(entry["version"]) <= latest:
            continue
        commit = Commit.from_history(entry)
        if commit is not None:
            found.append(commit)
    return sorted(found, key=lambda c: c.version)
