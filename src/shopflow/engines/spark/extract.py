"""Extract a file table with Spark (`engine: spark`): each new or changed file exactly once.

shopflow lists the pending files as for DuckDB (`pipeline.extract_files.pending_files`); Spark
reads, casts and splits them, and writes Parquet into staging folders of the lake tables
(`staged`); shopflow then commits the quarantine rows, and last the main table's files in one
commit carrying the ledger (the files consumed, their rows). Only that commit makes the files
count as consumed: a run killed at any point leaves at most staged or uncommitted files that
no reader sees, and the next run reads the same files again under a new batch.

One Spark job writes the good rows; the bad rows (counted meanwhile by an observation) take a
second job only when there are any.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow as pa

from shopflow import quarantine
from shopflow.config.model import FileFormat, FileSource, FileTable, PipelineConfig
from shopflow.engines.spark.casting import FILE, shape_records
from shopflow.engines.spark.paths import spark_uri
from shopflow.engines.spark.reading import CORRUPT_REASONS, read_files
from shopflow.engines.spark.session import spark_session
from shopflow.engines.spark.staged import commit_staged, list_staged, staging_folder
from shopflow.errors import ConfigError, LakeError
from shopflow.faults import checkpoint
from shopflow.lake.ledger import Commit, FileEntry
from shopflow.naming import lake_name
from shopflow.pipeline.extract_files import TableExtract, pending_files
from shopflow.pipeline.layout import LakeLayout
from shopflow.sources.files.casting import ERROR, RAW
from shopflow.sources.files.nested import ROW_ID
from shopflow.storage import FileInfo, Location

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

log = logging.getLogger(__name__)

# A commit takes files until it holds this many input bytes or files: Spark is for big dumps.
COMMIT_BYTES = 16 << 30
COMMIT_FILES = 5000


def extract_spark_table(
    config: PipelineConfig,
    source: FileSource,
    table: FileTable,
    run_id: str,
    on_file: Callable[[FileInfo], None] | None = None,
    on_pending: Callable[[int], None] | None = None,
) -> TableExtract:
    """Extract every pending file of `table` into the lake with Spark; returns the counts.

    Raises:
        ConfigError: A pending file is XLSX (DuckDB's), PySpark is missing, or Spark cannot start.
    """
    layout = LakeLayout(config, source.name, table.name)
    location = Location(source.location, config.storage)
    todo, changed, seen = pending_files(layout, location, table)
    if on_pending:
        on_pending(len(todo))
    result = TableExtract(table.name, files_seen=seen, files_new=len(todo))
    if not todo:
        return result
    sheets = [f.url for f in todo if table.format_of(f.url) == "xlsx"]
    if sheets:
        raise ConfigError(
            f"table {table.name!r} has engine: spark, but XLSX files are read by DuckDB only: {sheets[0]}",
            fix=f"give the XLSX files their own table without engine: spark, or narrow files: of {table.name!r}",
            table=table.name,
        )
    spark = spark_session(config.spark, f"table {table.name!r} (engine: spark)")
    for group in _groups(todo):
        _Batch(spark, config.pipeline, layout, location, table, run_id, changed, result).run(group, on_file)
    return result


def _groups(files: list[FileInfo]) -> Iterator[list[FileInfo]]:
    group: list[FileInfo] = []
    size = 0
    for file in files:
        if group and (size + file.size > COMMIT_BYTES or len(group) >= COMMIT_FILES):
            yield group
            group, size = [], 0
        group.append(file)
        size += file.size
    if group:
        yield group


class _Batch:
    """One commit's worth of files: read by Spark, staged, committed."""

    def __init__(
        self, spark: SparkSession, pipeline: str, layout: LakeLayout, location: Location, table: FileTable,
        run_id: str, changed: set[str], result: TableExtract,
    ) -> None:
        self.spark = spark
        self.layout = layout
        self.location = location
        self.table = table
        self.run_id = run_id
        self.changed = changed
        self.result = result
        self.origin = quarantine.Origin(pipeline, layout.source, table.name, uuid.uuid4().hex, datetime.now(UTC))

    def run(self, group: list[FileInfo], on_file: Callable[[FileInfo], None] | None) -> None:
        """Extract and commit `group`."""
        whole: dict[str, str] = {}  # files quarantined whole, before Spark: url -> reason
        readable = []
        for file in group:
            reason = self._unreadable(file)
            if reason is None:
                readable.append(file)
            else:
                whole[file.url] = reason
        main = self.layout.main
        bad_table = self.layout.output(quarantine.TABLE)
        main_folder = staging_folder(main, self.origin.batch)
        bad_folder = staging_folder(bad_table, self.origin.batch)
        good_rows: dict[str, int] = {}
        bad_rows: dict[str, int] = {}
        if readable:
            shaped = self._shaped(readable)
            good_rows, bad_rows = self._write(shaped, main_folder, bad_folder, {f.url for f in readable})
        checkpoint("file_extracted")
        staged = list_staged(main, main_folder)
        staged_bad = list_staged(bad_table, bad_folder)
        outputs: dict[str, int] = {}
        batch = self.origin.batch
        if staged_bad.files or whole:
            if whole:
                bad_table.append(self._whole_files(group, whole), {"shopflow.output_of": batch})
            if staged_bad.files:
                commit_staged(staged_bad, batch, self.origin.load_date, {"shopflow.output_of": batch})
            outputs[quarantine.TABLE] = staged_bad.rows + len(whole)
        consumed = [FileEntry(f.url, f.size, f.version, good_rows.get(f.url, 0)) for f in group]
        outputs[self.table.name] = staged.rows
        resent = [f.url for f in group if f.url in self.changed]
        replaces = tuple(sorted(resent)) if self.table.on_file_change == "replace" else ()
        commit = Commit(version=-1, batch=batch, run=self.run_id, files=tuple(consumed), replaces=replaces,
                        outputs=outputs, quarantined=outputs.get(quarantine.TABLE, 0))
        checkpoint("outputs_committed")
        commit_staged(staged, batch, self.origin.load_date, commit.to_metadata())
        for file in group:
            self.result.rows += good_rows.get(file.url, 0)
            self.result.quarantined += bad_rows.get(file.url, 0) + (1 if file.url in whole else 0)
            if file.url in whole:
                self.result.failed_files.append(f"{file.url}: {whole[file.url]}")
            if on_file:
                on_file(file)
        self.result.commits += 1
        checkpoint("lake_committed")

    def _unreadable(self, file: FileInfo) -> str | None:
        """Why `file` cannot be read at all (empty, or a Parquet file without a footer), else None."""
        if file.size == 0:
            return "file is empty (0 bytes)"
        if self.table.format_of(file.url) != "parquet":
            return None
        import pyarrow.parquet as pq

        path = file.url if self.location.scheme == "file" else file.url.split("://", 1)[1]
        try:
            with self.location.filesystem().open(path, "rb") as handle:
                pq.read_metadata(handle)
        except (OSError, pa.ArrowException) as exc:
            return f"cannot read as parquet: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc}"
        return None

    def _whole_files(self, group: list[FileInfo], whole: dict[str, str]) -> pa.RecordBatchReader:
        """The quarantine rows of the files that could not be read, with their first MiB as raw text."""
        fs = self.location.filesystem()
        batches = []
        for file in group:
            if file.url not in whole:
                continue
            path = file.url if self.location.scheme == "file" else file.url.split("://", 1)[1]
            with fs.open(path, "rb") as handle:
                raw = quarantine.raw_text(handle.read(quarantine.RAW_LIMIT))
            log.warning("quarantined %s: %s", file.url, whole[file.url])
            batches.append(quarantine.records(self.origin, file.url, [whole[file.url]], [raw]))
        return pa.RecordBatchReader.from_batches(quarantine.SCHEMA, iter(batches))

    def _shaped(self, files: list[FileInfo]) -> DataFrame:
        """The records of `files`, shaped, one frame over every format among them."""
        by_format: dict[FileFormat, list[FileInfo]] = {}
        for file in files:
            by_format.setdefault(self.table.format_of(file.url), []).append(file)
        frames = []
        for fmt, of_format in by_format.items():
            read = read_files(self.spark, of_format, fmt, self.table, self.location)
            frames.append(shape_records(read, self.table, corrupt_reason=CORRUPT_REASONS[fmt]).frame)
        shaped = frames[0]
        for frame in frames[1:]:
            shaped = shaped.unionByName(frame, allowMissingColumns=True)
        return shaped

    def _write(
        self, shaped: DataFrame, main_folder: str, bad_folder: str, urls: set[str]
    ) -> tuple[dict[str, int], dict[str, int]]:
        """Write the good rows, and the bad ones if any, to the staging folders; their rows per file."""
        from pyspark.sql import Observation
        from pyspark.sql import functions as sf

        observation = Observation("shopflow_bad_rows")
        observed = shaped.observe(observation, sf.count_if(sf.col(ERROR).isNotNull()).alias("bad"))
        good = observed.filter(sf.col(ERROR).isNull()).drop(ERROR, RAW)
        batch, loaded_at = self._lineage()
        good = good.select(*[c for c in good.columns if c != FILE], batch, sf.col(FILE), loaded_at)
        if not self.table.primary_key:  # a table without a primary key gets a row id, as on the DuckDB path
            good = good.withColumn(ROW_ID, sf.concat_ws(":", sf.col("_sf_batch"), sf.col("_sf_file"),
                                                       sf.monotonically_increasing_id().cast("string")))
        main_uri = spark_uri(self.layout.main.location, self._url(self.layout.main.location, main_folder))
        good.write.mode("overwrite").parquet(main_uri)
        good_rows = self._rows_per_file(main_uri)
        bad_rows: dict[str, int] = {}
        if int(observation.get.get("bad", 0)):
            location = self.layout.output(quarantine.TABLE).location
            bad_uri = spark_uri(location, self._url(location, bad_folder))
            self._bad(shaped).write.mode("overwrite").parquet(bad_uri)
            bad_rows = self._rows_per_file(bad_uri)
        unknown = (set(good_rows) | set(bad_rows)) - urls
        if unknown:
            raise LakeError(
                f"Spark read rows from {sorted(unknown)[0]}, which is not among the files listed for this batch",
                fix="report this as a bug with the file's name; nothing was committed",
                table=self.table.name,
            )
        return good_rows, bad_rows

    @staticmethod
    def _url(location: Location, path: str) -> str:
        return path if location.scheme == "file" else f"{location.scheme}://{path}"

    def _lineage(self) -> tuple[Column, Column]:
        """The batch and load time columns, as the DuckDB path types them."""
        from pyspark.sql import functions as sf

        return (sf.lit(self.origin.batch).alias("_sf_batch"),
                sf.lit(self.origin.loaded_at).cast("timestamp").alias("_sf_loaded_at"))

    def _rows_per_file(self, uri: str) -> dict[str, int]:
        from pyspark.sql import functions as sf

        counts = self.spark.read.parquet(uri).groupBy("_sf_file").agg(sf.count(sf.lit(1)).alias("n")).collect()
        return {str(row["_sf_file"]): int(row["n"]) for row in counts}

    def _bad(self, shaped: DataFrame) -> DataFrame:
        """The bad rows as quarantine rows (the lake's quarantine schema, without its partition column)."""
        from pyspark.sql import functions as sf

        origin = self.origin
        keys = [lake_name(k) for k in self.table.primary_key]
        key: Column = sf.lit(None).cast("string")
        if keys:
            # The key as the DuckDB path spells it: a JSON list, `[1, "a"]`.
            parts = [sf.coalesce(sf.regexp_extract(sf.to_json(sf.array(sf.col(k))), r"^\[(.*)\]$", 1), sf.lit("null"))
                     for k in keys]
            set_keys = [sf.col(k).isNotNull() for k in keys]
            any_set = sf.greatest(*set_keys) if len(set_keys) > 1 else set_keys[0]
            key = sf.when(any_set, sf.concat(sf.lit("["), sf.concat_ws(", ", *parts), sf.lit("]")))
        return shaped.filter(sf.col(ERROR).isNotNull()).select(
            sf.lit(origin.pipeline).alias("pipeline"), sf.lit(origin.source).alias("source"),
            sf.lit(origin.table).alias("table"), sf.col(FILE).alias("file"), sf.lit(None).cast("bigint").alias("line"),
            key.alias("key"), sf.col(ERROR).alias("reason"), sf.col(RAW).alias("raw"),
            self._lineage()[0], sf.col(FILE).alias("_sf_file"), self._lineage()[1],
        )
