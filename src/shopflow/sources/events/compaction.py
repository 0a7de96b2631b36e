"""Compact a stream's lake tables on a schedule: many small micro-batch files become a few large ones.

Each micro-batch adds a small file and two commits to the stream's lake table (and to its
quarantine table, when events fail their checks). Every `compact.every_commits` versions (or
`compact.every_minutes` after the last compaction, once a commit came since) the micro-batch
step ends with delta-rs `optimize.compact()`, then `create_checkpoint()`, so opening and
scanning the table reads a checkpoint and a few files instead of a thousand.

Why this is safe for the ledger and the warehouse:

- The compaction commit rewrites rows (`dataChange: false`) and carries no ledger metadata, so
  the ledger (`lake.ledger`) does not count it and no warehouse load applies it: the rows it
  moves were loaded, or will be, by the ledger commit of their batch, read from wherever the
  current snapshot keeps them (always filtered on `_sf_batch`).
- The files it replaces are vacuumed only `compact.vacuum_after_hours` (a week) after they
  left the table: a warehouse load that listed them just before still finds them. Files of the
  current version are never vacuumed.
- Micro-batch ids grow with time (`batch_id`), so a compacted file's `_sf_batch` statistics
  end below every later batch: a load of new batches does not open the compacted files.
- Log clean-up is left off, so the commits the ledger reads stay in the Delta log.

When each table was last compacted is kept in the buffer's SQLite file (`compactions`).
"""

from __future__ import annotations

import logging
import sqlite3
import time
import uuid
from dataclasses import dataclass

from shopflow import quarantine
from shopflow.config.events import CompactConfig, EventsSource, EventStream
from shopflow.config.model import PipelineConfig
from shopflow.lake.ledger import PREFIX
from shopflow.lake.table import ROW_GROUP_ROWS, TARGET_FILE_BYTES, LakeTable
from shopflow.pipeline.layout import LakeLayout

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Compacted:
    """What one compaction of one lake table did."""

    table: str
    version: int
    files_removed: int
    files_added: int
    seconds: float
    files_vacuumed: int = 0


def batch_id() -> str:
    """A micro-batch id that sorts after every earlier one: 16 hex digits of nanoseconds, then 16 random ones.

    A clock stepped back only costs a load a look at a compacted file it did not need.
    """
    return f"{time.time_ns():016x}{uuid.uuid4().hex[:16]}"


def _ensure(con: sqlite3.Connection) -> None:
    con.execute(
        "CREATE TABLE IF NOT EXISTS compactions (lake_table TEXT PRIMARY KEY, version INTEGER NOT NULL, "
        "at REAL NOT NULL)"
    )


def _last(con: sqlite3.Connection, uri: str) -> tuple[int, float]:
    """The table version after the last compaction and when it ran; the first look counts as one at version 0."""
    row = con.execute("SELECT version, at FROM compactions WHERE lake_table = ?", [uri]).fetchone()
    if row is not None:
        return int(row[0]), float(row[1])
    now = time.time()
    con.execute("INSERT INTO compactions (lake_table, version, at) VALUES (?, 0, ?)", [uri, now])
    return 0, now


def _record(con: sqlite3.Connection, uri: str, version: int) -> None:
    con.execute(
        "INSERT INTO compactions (lake_table, version, at) VALUES (?, ?, ?) ON CONFLICT (lake_table) DO "
        "UPDATE SET version = excluded.version, at = excluded.at",
        [uri, version, time.time()],
    )


def due(settings: CompactConfig, version: int, last_version: int, last_at: float, now: float) -> bool:
    """True if a table at `version`, last compacted at `last_version` (at `last_at`), is due at `now`."""
    since = version - last_version
    if since >= settings.every_commits:
        return True
    return settings.every_minutes is not None and since > 0 and now - last_at >= settings.every_minutes * 60


def maybe_compact(
    con: sqlite3.Connection, config: PipelineConfig, source: EventsSource, stream: EventStream
) -> list[Compacted]:
    """Compact the lake tables of `stream` that are due (see `due`); a failure is logged, never raised.

    Args:
        con: The buffer's SQLite file, where the last compactions are kept.
        config: The pipeline.
        source: The stream's source (its `compact:` settings).
        stream: The stream.
    """
    settings = source.compact
    if settings is None:
        return []
    _ensure(con)
    layout = LakeLayout(config, source.name, stream.name)
    done = []
    for table in (layout.main, layout.output(quarantine.TABLE)):
        version = table.version()
        if version is None:
            continue
        last_version, last_at = _last(con, table.uri)
        if not due(settings, version, last_version, last_at, time.time()):
            continue
        try:
            result = compact(table, settings.vacuum_after_hours)
        except Exception as exc:  # a compaction is an optimisation: the micro-batch it follows is committed
            log.warning("lake table %s not compacted (tried again at the next micro-batch): %s", table.name, exc)
            continue
        _record(con, table.uri, result.version)
        done.append(result)
    return done


def compact(table: LakeTable, vacuum_after_hours: int | None = None) -> Compacted:
    """Rewrite the small files of `table` into files of up to TARGET_FILE_BYTES, then write a checkpoint.

    With `vacuum_after_hours`, the files earlier compactions replaced that long ago or more are deleted.

    Raises:
        Exception: delta-rs's own errors (storage, a concurrent compaction that won).
    """
    from deltalake import CommitProperties, DeltaTable, PostCommitHookProperties, WriterProperties

    started = time.perf_counter()
    delta = DeltaTable(table.uri, storage_options=table.location.delta_storage_options())
    metrics = delta.optimize.compact(
        target_size=TARGET_FILE_BYTES,
        writer_properties=WriterProperties(max_row_group_size=ROW_GROUP_ROWS),
        # Marks the commit as shopflow's; it has no `batch`, so the ledger does not read it as one of its own.
        commit_properties=CommitProperties(custom_metadata={PREFIX + "compaction": "optimize.compact"}),
        post_commithook_properties=PostCommitHookProperties(create_checkpoint=False, cleanup_expired_logs=False),
    )
    delta.update_incremental()
    delta.create_checkpoint()
    vacuumed = 0
    if vacuum_after_hours is not None:
        vacuumed = len(
            delta.vacuum(
                retention_hours=vacuum_after_hours,
                dry_run=False,
                enforce_retention_duration=False,
                post_commithook_properties=PostCommitHookProperties(
                    create_checkpoint=False, cleanup_expired_logs=False
                ),
            )
        )
    result = Compacted(
        table.name,
        delta.version(),
        int(metrics.get("numFilesRemoved", 0)),
        int(metrics.get("numFilesAdded", 0)),
        time.perf_counter() - started,
        vacuumed,
    )
    log.info(
        "compacted lake table %s: %d files into %d, checkpoint at version %d, %d old files deleted (%.2fs)",
        result.table,
        result.files_removed,
        result.files_added,
        result.version,
        result.files_vacuumed,
        result.seconds,
    )
    return result
