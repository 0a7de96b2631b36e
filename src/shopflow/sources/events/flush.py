"""Micro-batches: a stream's next range of buffered events into its lake table, exactly once.

The lake is the record of what was consumed. Each micro-batch appends the range's rows (and
its quarantined events) in commits that are not ledger commits, then one empty ledger commit
whose watermark is the range's last offset (the metadata also names the range, `from` and
`to`). A process killed before that commit leaves rows of a batch no ledger commit names,
never loaded, and the next micro-batch reads the same range again; killed after it, the range
is not read again and the warehouse load applies the commit. Only then is the log trimmed.

Idempotency keys already consumed are kept in the buffer file (`seen_<stream>`); the keys of
ranges the lake holds but the key store missed (a kill between the two) are added from the
log before the next range is read, so a repeat is dropped whenever it arrives. A Redis lookup
store is brought up to the SQLite one the same way (`keys.mirror`), right after it.
Every `compact.every_commits` versions the stream's lake tables are compacted (`compaction`).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from shopflow import quarantine
from shopflow.config.events import EventsSource, EventStream
from shopflow.config.model import PipelineConfig
from shopflow.errors import SourceError
from shopflow.faults import checkpoint
from shopflow.lake.ledger import PREFIX, Commit, replanned
from shopflow.lake.schema import conformed_reader, target_schema
from shopflow.lake.table import LakeTable
from shopflow.pipeline.layout import LakeLayout
from shopflow.sources.events import buffer, compaction, eventlog, keys
from shopflow.sources.events.eventlog import LogReader
from shopflow.sources.events.records import StreamSchema
from shopflow.sources.events.redis_keys import RedisLookup, redis_lookup

log = logging.getLogger(__name__)

RANGE_EVENTS = 200_000  # events per lake commit at most; a run commits as many ranges as wait
OFFSET = "_sf_offset"
ROW_ID = "_sf_row_id"


@dataclass
class Flushed:
    """What moving one stream's buffered events to the lake did."""

    rows: int = 0
    quarantined: int = 0
    duplicates: int = 0
    commits: int = 0
    watermark: str | None = None


def flush_stream(config: PipelineConfig, source: EventsSource, stream: EventStream, run_id: str) -> Flushed:
    """Commit every event `stream`'s buffer holds past the lake's watermark to the lake, range by range.

    Raises:
        SourceError: The buffer cannot be read, or it is behind the lake (it was replaced).
        LakeError: The lake table cannot be written.
    """
    store = redis_lookup(config.pipeline, source, stream)
    reader = eventlog.open_reader(config.pipeline, source, [stream.name])
    try:
        keys.ensure(reader.keys, stream.name)
        total = Flushed()
        # Events arriving meanwhile wait for the next micro-batch: chasing them would hold back this one's load.
        stop_at = reader.last_offset(stream.name)
        while True:
            step = replanned(stream.name, lambda: _next_range(reader, config, source, stream, run_id, store))
            total.rows += step.rows
            total.quarantined += step.quarantined
            total.duplicates += step.duplicates
            total.commits += step.commits
            total.watermark = step.watermark or total.watermark
            if (step.commits == 0 or step.rows + step.quarantined + step.duplicates == 0
                    or int(step.watermark or 0) >= stop_at):
                compaction.maybe_compact(reader.keys, config, source, stream)  # also after a replay
                return total
    finally:
        reader.close()


def _next_range(
    reader: LogReader, config: PipelineConfig, source: EventsSource, stream: EventStream, run_id: str,
    store: RedisLookup | None,
) -> Flushed:
    con = reader.keys
    layout = LakeLayout(config, source.name, stream.name)
    planned_on, watermark = _watermark(layout.main)
    upto = int(watermark or "0")
    last = reader.last_offset(stream.name)
    if last < upto:
        raise SourceError(
            f"the events buffer {reader.where} ends at offset {last} of stream {stream.name!r}, but the lake "
            f"already holds offsets up to {upto}: the {reader.kind} was replaced",
            fix=f"restore the {reader.kind} the lake was fed from, or move the stream's lake folder away to start "
                "over",
            source=source.name, table=stream.name,
        )
    _catch_up_keys(reader, stream, upto)
    keys.mirror(con, stream, store)
    reader.trim(stream.name, upto)
    entries = reader.read_after(stream.name, upto, RANGE_EVENTS)
    if not entries and watermark is not None:
        return Flushed(watermark=str(upto))
    schema = StreamSchema(stream)
    batch = compaction.batch_id()  # grows with time: see compaction
    loaded_at = datetime.now(UTC)
    file = f"{reader.where}#{stream.name}"
    good, bad, duplicates = _split(con, schema, entries)
    rows = _rows(schema, good, batch, file, loaded_at)
    target = target_schema(rows.schema, layout.main.schema())
    if good:
        layout.main.append(conformed_reader(pa.RecordBatchReader.from_batches(rows.schema, rows.to_batches()),
                                            target, table=stream.name), {PREFIX + "output_of": batch})
    if bad:
        origin = quarantine.Origin(config.pipeline, source.name, stream.name, batch, loaded_at)
        records = quarantine.records(origin, file, [r for _, r in bad], [e.body for e, _ in bad],
                                     lines=[e.offset for e, _ in bad])
        layout.output(quarantine.TABLE).append(pa.RecordBatchReader.from_batches(quarantine.SCHEMA, [records]),
                                               {PREFIX + "output_of": batch})
    checkpoint("outputs_committed")
    first, end = (entries[0].offset, entries[-1].offset) if entries else (upto + 1, upto)
    outputs = {stream.name: len(good)}
    if bad:
        outputs[quarantine.TABLE] = len(bad)
    commit = Commit(version=-1, batch=batch, run=run_id, outputs=outputs, quarantined=len(bad), watermark=str(end))
    metadata = {**commit.to_metadata(), PREFIX + "offsets": json.dumps([first, end]),
                PREFIX + "duplicates": str(duplicates)}
    layout.main.append(pa.RecordBatchReader.from_batches(target, iter([])), metadata, planned_on=planned_on)
    checkpoint("lake_committed")
    if keys.kept(stream):
        keys.remember(con, stream, schema, good, end)
        checkpoint("keys_remembered")  # tests only: not in faults.CHECKPOINTS, which file sources pass too
        keys.mirror(con, stream, store)
    reader.trim(stream.name, end)
    if duplicates:
        log.info("stream %s: %d repeated events dropped (idempotency key %s)", stream.name, duplicates,
                 ", ".join(stream.idempotency_key))
    return Flushed(len(good), len(bad), duplicates, 1, str(end))


def _watermark(table: LakeTable) -> tuple[int, str | None]:
    """The table's version and the watermark of its latest ledger commit (None: it has none yet).

    Reads the newest commits only, in a widening window: the whole history (`LakeTable.ledger`)
    costs a read of every commit file, and a stream makes thousands of them.
    """
    version = table.version()
    if version is None:
        return -1, None
    window = 16
    while True:
        after = max(-1, version - window)
        found = [c.watermark for c in table.commits(after=after) if c.watermark is not None]
        if found or after == -1:
            return version, found[-1] if found else None
        window *= 8


def _split(
    con: sqlite3.Connection, schema: StreamSchema, entries: list[buffer.Entry]
) -> tuple[list[tuple[buffer.Entry, dict[str, Any]]], list[tuple[buffer.Entry, str]], int]:
    """The good events (parsed), the bad ones with their reasons, and how many repeats were dropped."""
    import orjson

    stream = schema.stream
    good: list[tuple[buffer.Entry, dict[str, Any]]] = []
    bad: list[tuple[buffer.Entry, str]] = []
    for entry in entries:
        if entry.reason is not None:
            bad.append((entry, entry.reason))
        else:
            good.append((entry, orjson.loads(entry.body)))
    before = len(good)
    if stream.idempotency_key:
        seen = keys.seen_among(con, stream.name, [schema.key(e, stream.idempotency_key) for _, e in good])
        kept = []
        for item in good:
            key = schema.key(item[1], stream.idempotency_key)
            if key not in seen:
                seen.add(key)
                kept.append(item)
        good = kept
    if stream.write_disposition == "merge":
        latest = {schema.key(e, stream.primary_key): (entry, e) for entry, e in good}  # the last one per key wins
        good = sorted(latest.values(), key=lambda item: item[0].offset)
    return good, bad, before - len(good) if stream.idempotency_key else 0


def _rows(
    schema: StreamSchema, good: list[tuple[buffer.Entry, dict[str, Any]]], batch: str, file: str, loaded_at: datetime
) -> pa.Table:
    columns = schema.arrow([e for _, e in good])
    n = len(good)
    columns[OFFSET] = pa.array([entry.offset for entry, _ in good], type=pa.int64())
    columns["_sf_batch"] = pa.array([batch] * n, type=pa.string())
    columns["_sf_file"] = pa.array([file] * n, type=pa.string())
    columns["_sf_load_date"] = pa.array([loaded_at.strftime("%Y-%m-%d")] * n, type=pa.string())
    columns["_sf_loaded_at"] = pa.array([loaded_at] * n, type=pa.timestamp("us", tz="UTC"))
    # One id per loaded row, spelled as a file table's (batch:file:position), so models written for
    # the batch path's `_sf_row_id` run unchanged on a stream.
    columns[ROW_ID] = pa.array([f"{batch}:{file}:{entry.offset}" for entry, _ in good], type=pa.string())
    return pa.table(columns)


def _catch_up_keys(reader: LogReader, stream: EventStream, upto: int) -> None:
    """Replay into the key stores the events the lake holds up to `upto` that they missed (killed in between).

    The same split as the micro-batch made (the seen keys are as they were then) tells which events it kept.
    """
    if not keys.kept(stream):
        return
    con = reader.keys
    known = keys.known_upto(con, stream.name)
    if known >= upto:
        return
    schema = StreamSchema(stream)
    entries = [e for e in reader.read_after(stream.name, known, upto - known) if e.offset <= upto]
    good, _, _ = _split(con, schema, entries)
    keys.remember(con, stream, schema, good, upto)
