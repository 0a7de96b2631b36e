"""The orchestration ledger: a SQLite file per pipeline with its runs, schedule slots, incidents and alert outbox.

SQLite, not the warehouse: `shopflow runs` and `shopflow status` read it from another process
while `shopflow serve` owns a DuckDB warehouse (DuckDB lets no reader in beside a writer), and
the scheduler writes to it when no run holds the warehouse (a skipped run, an alert). It sits
next to the pipeline's dbt folder (`<warehouse>.<pipeline>.runs.sqlite`, see `ledger_path`). The warehouse
keeps its own short record of each run (`_shopflow.runs`, `pipeline.history`), linked by run_id.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shopflow.config.model import PipelineConfig

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY, run_id TEXT, pipeline TEXT NOT NULL, job TEXT NOT NULL, trigger TEXT NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 1, status TEXT NOT NULL, scheduled_for TEXT, started_at TEXT NOT NULL,
  finished_at TEXT, seconds REAL, rows_loaded INTEGER NOT NULL DEFAULT 0, quarantined INTEGER NOT NULL DEFAULT 0,
  errors TEXT NOT NULL DEFAULT '[]', steps TEXT NOT NULL DEFAULT '[]', note TEXT, pid INTEGER
);
CREATE INDEX IF NOT EXISTS runs_started ON runs (started_at);
CREATE TABLE IF NOT EXISTS slots (job TEXT PRIMARY KEY, last_slot TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS incidents (
  id INTEGER PRIMARY KEY, pipeline TEXT NOT NULL, key TEXT NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL,
  summary TEXT NOT NULL, opened_at TEXT NOT NULL, updated_at TEXT NOT NULL, closed_at TEXT, run_id TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS incidents_open ON incidents (key) WHERE closed_at IS NULL;
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY, incident_id INTEGER NOT NULL, event TEXT NOT NULL, target INTEGER NOT NULL,
  payload TEXT NOT NULL, created_at TEXT NOT NULL, delivered_at TEXT, attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT
);
CREATE TABLE IF NOT EXISTS freshness (
  name TEXT PRIMARY KEY, kind TEXT NOT NULL, newest_change TEXT, measured_at TEXT NOT NULL
);
"""

RUNNING, SKIPPED, INTERRUPTED = "running", "skipped", "interrupted"


def now() -> datetime:
    """The current time, UTC."""
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    """`moment` as ISO 8601 text in UTC, or None."""
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _time(text: object) -> datetime | None:
    return None if text is None else datetime.fromisoformat(str(text))


@dataclass
class RunRecord:
    """One run as the ledger keeps it.

    Attributes:
        id: The ledger's id of the run (known before the run starts).
        run_id: The pipeline run's id (lake commits, `_shopflow.runs`); None for a run that never started.
        job: `pipeline`, or the source or table a schedule of its own runs.
        trigger: schedule, continuous, manual, retry, backfill.
        status: running, ok, quarantined, failed, interrupted, skipped.
        steps: Per step: `{"step": "extract_load", "table": ..., "seconds": ..., "rows": ...}` and
            `{"step": "transform", "seconds": ..., "models": ..., "failed": [...]}`.
    """

    id: str
    pipeline: str
    job: str
    trigger: str
    status: str
    started_at: datetime
    attempt: int = 1
    run_id: str | None = None
    scheduled_for: datetime | None = None
    finished_at: datetime | None = None
    seconds: float | None = None
    rows_loaded: int = 0
    quarantined: int = 0
    errors: list[str] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None
    pid: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The record as JSON-ready values (times in ISO 8601)."""
        values = asdict(self)
        for key in ("started_at", "finished_at", "scheduled_for"):
            values[key] = iso(values[key])
        return values


@dataclass(frozen=True)
class Incident:
    """An open or closed problem: one alert when it opens, one when it escalates, one when it closes."""

    id: int
    key: str
    kind: str
    severity: str
    summary: str
    opened_at: datetime
    closed_at: datetime | None
    run_id: str | None


def ledger_path(config: PipelineConfig) -> Path:
    """`<dbt work folder's name without .dbt>.<pipeline>.runs.sqlite` beside the dbt work folder.

    Keyed by the warehouse (as the dbt work folder is) and the pipeline: two warehouses of one
    pipeline name keep separate histories, and so do two pipelines sharing one warehouse.
    """
    from shopflow.transform.profile import work_dir

    folder = work_dir(config)
    return folder.parent / f"{folder.name.removesuffix('.dbt')}.{config.pipeline}.runs.sqlite"


class Ledger:
    """The SQLite ledger of one pipeline; safe to use from several threads and processes.

    Args:
        path: The SQLite file; created with its folder if missing.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.executescript(_SCHEMA)

    @classmethod
    def of(cls, config: PipelineConfig) -> Ledger:
        """The ledger of `config`'s pipeline."""
        return cls(ledger_path(config))

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=FULL")  # incident and slot state must survive kill -9
            yield con
        finally:
            con.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE ... COMMIT); rolled back if the block raises."""
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    # Runs.

    def save_run(self, run: RunRecord) -> None:
        """Insert or replace `run`."""
        values = run.to_json()
        values["errors"] = json.dumps(run.errors)
        values["steps"] = json.dumps(run.steps)
        with self.transaction() as con:
            con.execute(
                f"INSERT OR REPLACE INTO runs ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                list(values.values()),
            )

    def runs(self, last: int | None = None, *, job: str | None = None) -> list[RunRecord]:
        """The runs, newest first; `last` limits how many."""
        sql = "SELECT * FROM runs" + (" WHERE job = ?" if job else "") + " ORDER BY started_at DESC, rowid DESC"
        params: list[object] = [job] if job else []
        if last is not None:
            sql += " LIMIT ?"
            params.append(last)
        with self._connect() as con:
            con.row_factory = sqlite3.Row
            rows = con.execute(sql, params).fetchall()
        return [_run_of(dict(row)) for row in rows]

    def delete_run(self, run_id: str) -> None:
        """Forget a run (a continuous poll that found nothing to do)."""
        with self.transaction() as con:
            con.execute("DELETE FROM runs WHERE id = ?", [run_id])

    def abandon_running(self, alive: set[int]) -> list[RunRecord]:
        """Mark runs left `running` by a process that is gone (kill -9) as interrupted; return them."""
        stale = [r for r in self.runs() if r.status == RUNNING and r.pid not in alive]
        for run in stale:
            run.status = INTERRUPTED
            run.note = "the process running it stopped (killed or crashed); the next run resumes exactly once"
            run.finished_at = run.finished_at or now()
            self.save_run(run)
        return stale

    # Schedule slots.

    def last_slot(self, job: str) -> datetime | None:
        """The last scheduled slot of `job` that was run or skipped."""
        with self._connect() as con:
            row = con.execute("SELECT last_slot FROM slots WHERE job = ?", [job]).fetchone()
        return _time(row[0]) if row else None

    def set_slot(self, job: str, slot: datetime) -> None:
        """Record that `job`'s slot `slot` was handled."""
        with self.transaction() as con:
            con.execute("INSERT OR REPLACE INTO slots VALUES (?, ?)", [job, iso(slot)])

    # Incidents.

    def open_incident(self, key: str) -> Incident | None:
        """The open incident of `key`, if any."""
        with self._connect() as con:
            row = con.execute("SELECT * FROM incidents WHERE key = ? AND closed_at IS NULL", [key]).fetchone()
        return _incident_of(row) if row else None

    def incidents(self, *, open_only: bool = False) -> list[Incident]:
        """Incidents, newest first."""
        where = " WHERE closed_at IS NULL" if open_only else ""
        with self._connect() as con:
            rows = con.execute(f"SELECT * FROM incidents{where} ORDER BY id DESC").fetchall()
        return [_incident_of(row) for row in rows]

    # Alert outbox.

    def pending_alerts(self) -> list[tuple[int, int, dict[str, Any], int]]:
        """(outbox id, target index, payload, attempts so far) of each alert not yet delivered, oldest first."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT id, target, payload, attempts FROM outbox WHERE delivered_at IS NULL ORDER BY id"
            ).fetchall()
        return [(int(r[0]), int(r[1]), json.loads(r[2]), int(r[3])) for r in rows]

    def alert_done(self, outbox_id: int, error: str | None) -> None:
        """Record a delivery attempt: delivered if `error` is None."""
        with self.transaction() as con:
            con.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, delivered_at = ? WHERE id = ?",
                [error, None if error else iso(now()), outbox_id],
            )

    def delivered_alerts(self) -> list[dict[str, Any]]:
        """Payloads of every delivered alert, oldest first."""
        with self._connect() as con:
            rows = con.execute("SELECT payload FROM outbox WHERE delivered_at IS NOT NULL ORDER BY id").fetchall()
        return [json.loads(r[0]) for r in rows]

    # Freshness.

    def save_freshness(self, name: str, kind: str, newest_change: datetime | None) -> None:
        """Record the newest source change visible in table or model `name`."""
        with self.transaction() as con:
            con.execute("INSERT OR REPLACE INTO freshness VALUES (?, ?, ?, ?)",
                        [name, kind, iso(newest_change), iso(now())])

    def freshness(self) -> dict[tuple[str, str], datetime | None]:
        """(kind, name) -> the newest source change visible in it, as last measured."""
        with self._connect() as con:
            rows = con.execute("SELECT kind, name, newest_change FROM freshness").fetchall()
        return {(str(r[0]), str(r[1])): _time(r[2]) for r in rows}


def _run_of(row: dict[str, Any]) -> RunRecord:
    for key in ("started_at", "finished_at", "scheduled_for"):
        row[key] = _time(row[key])
    row["errors"] = json.loads(row["errors"])
    row["steps"] = json.loads(row["steps"])
    return RunRecord(**row)


def _incident_of(row: tuple[Any, ...]) -> Incident:
    opened, closed = _time(row[6]), _time(row[8])
    assert opened is not None
    return Incident(id=int(row[0]), key=str(row[2]), kind=str(row[3]), severity=str(row[4]), summary=str(row[5]),
                    opened_at=opened, closed_at=closed, run_id=row[9])
