"""The cursor watermark of an incremental table, and the rule that advances it.

A run reads the rows whose cursor is past the watermark (less `lookback`) and records the new
watermark in the lake commit that holds them. The new watermark never passes a value that a
transaction still open when the run read its snapshot could yet commit:

- PostgreSQL, timestamp and date cursors: the start of the oldest transaction open just
  before the snapshot (pg_stat_activity) bounds the watermark. A late transaction stamps its
  rows with now(), its start time, so the next run, reading from that bound, finds them.
- PostgreSQL, integer cursors (and time cursors when pg_stat_activity hides other users'
  sessions): a run's highest cursor waits in `pending`, with the ids of the transactions of this
  database that were in flight at its snapshot, and becomes the watermark once a later run's
  snapshot shows all of them ended. Their rows were then visible to a run that read past the
  older watermark. (A transaction that takes its id after a snapshot takes its sequence values
  after it too, so its keys are above what that snapshot showed.)
- MySQL and SQLite: the highest cursor read; `lookback` covers writers that commit late.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from shopflow.config.database import parse_lookback
from shopflow.errors import SourceError
from shopflow.sql import quote_literal

TIME_KINDS = ("timestamptz", "timestamp", "date")
MAX_PENDING = 20
_INTEGERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")


@dataclass(frozen=True)
class Snapshot:
    """What a PostgreSQL run's snapshot tells the watermark rule.

    Attributes:
        xmin: The oldest transaction id still in flight at the snapshot.
        xmax: The first transaction id not yet assigned at the snapshot.
        xip: The transaction ids in flight at the snapshot (all databases of the server).
        waits: Those of `xip` that may write to this database (all of `xip` if others' sessions are hidden).
        horizon: The earliest start of a transaction that may still commit (time zone aware), or
            None if pg_stat_activity hides other users' sessions from this role.
        horizon_local: `horizon` on the server's wall clock, for `timestamp without time zone` cursors.
    """

    xmin: int
    xmax: int
    xip: frozenset[int] = frozenset()
    waits: tuple[int, ...] = ()
    horizon: datetime | None = None
    horizon_local: datetime | None = None

    def ended(self, xid: int) -> bool:
        """True if transaction `xid` had ended (committed or rolled back) when this snapshot was taken."""
        return xid < self.xmin or (xid < self.xmax and xid not in self.xip)


@dataclass(frozen=True)
class Watermark:
    """How far an incremental table has been read.

    Attributes:
        cursor: The cursor column's name in the lake.
        kind: timestamptz, timestamp, date, integer or text.
        value: Rows past it (at or past it, for dates) are read next; None before the first row.
        pending: (highest cursor, ids of the transactions it waits for) of PostgreSQL runs whose
            in-flight transactions may still commit below that cursor.
    """

    cursor: str
    kind: str
    value: str | None = None
    pending: tuple[tuple[str, tuple[int, ...]], ...] = ()

    def to_text(self) -> str:
        """The watermark as stored in the lake commit."""
        return json.dumps({"cursor": self.cursor, "kind": self.kind, "value": self.value,
                           "pending": [[v, list(x)] for v, x in self.pending]})

    @classmethod
    def from_text(cls, text: str | None) -> Watermark | None:
        """A stored watermark; None for none or one this version cannot read."""
        if not text:
            return None
        try:
            data = json.loads(text)
            return cls(str(data["cursor"]), str(data["kind"]), data.get("value"),
                       tuple((str(v), tuple(int(i) for i in x)) for v, x in data.get("pending", [])))
        except (ValueError, KeyError, TypeError):
            return None

    def describe(self) -> str:
        """`updated_at > 2024-11-15 10:00:00+00:00`, for status."""
        op = ">=" if self.kind == "date" else ">"
        value = self.value.replace("T", " ") if self.value else "-"
        waiting = f" ({len(self.pending)} pending)" if self.pending else ""
        return f"{self.cursor} {op} {value}{waiting}"


def cursor_kind(duck_type: str) -> str | None:
    """The watermark kind of a column of DuckDB type `duck_type`; None if it cannot be a cursor."""
    upper = duck_type.upper()
    if upper == "TIMESTAMP WITH TIME ZONE":
        return "timestamptz"
    if upper.startswith("TIMESTAMP"):
        return "timestamp"
    if upper == "DATE":
        return "date"
    if upper in _INTEGERS or (upper.startswith("DECIMAL(") and upper.replace(" ", "").endswith(",0)")):
        return "integer"
    if upper == "VARCHAR":
        return "text"
    return None


def cursor_filter(column: str, duck_type: str, watermark: Watermark, lookback: str | int | None) -> str | None:
    """The SQL predicate that selects rows past `watermark` (column is a quoted identifier)."""
    if watermark.value is None:
        return None
    bound = f"CAST({quote_literal(watermark.value)} AS {duck_type})"
    if lookback is not None:
        amount, unit = parse_lookback(lookback)
        if unit is not None and watermark.kind in TIME_KINDS:
            bound = f"({bound} - INTERVAL {quote_literal(f'{amount} {unit}')})"
        elif unit is None and watermark.kind == "integer":
            bound = f"({bound} - {amount})"
        else:
            raise SourceError(
                f"lookback {lookback!r} does not fit the {watermark.kind} cursor {watermark.cursor!r}",
                fix="give a time cursor a duration ('10 minutes') and an integer cursor a number of ids (1000)",
            )
    return f"{column} {'>=' if watermark.kind == 'date' else '>'} {bound}"


def as_text(value: Any) -> str:
    """A cursor value as stored: ISO 8601 for times and dates."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(int(value))
    return str(value)


def _typed(kind: str, text: str) -> Any:
    if kind in ("timestamptz", "timestamp"):
        return datetime.fromisoformat(text)
    if kind == "date":
        return date.fromisoformat(text[:10])
    if kind == "integer":
        return int(text)
    return text


def advance(
    previous: Watermark | None, cursor: str, kind: str, seen: Any | None, snapshot: Snapshot | None
) -> Watermark:
    """The watermark after a run that read up to cursor value `seen` in `snapshot`.

    Args:
        previous: The watermark the run read from (None: a first, full read).
        cursor: The cursor column's name in the lake.
        kind: The cursor's kind (see `cursor_kind`).
        seen: The highest cursor value the run read, or None if it read no row.
        snapshot: The PostgreSQL snapshot the run read in; None for other databases.
    """
    if previous is not None and (previous.cursor, previous.kind) != (cursor, kind):
        previous = None
    current = _typed(kind, previous.value) if previous is not None and previous.value is not None else None
    if kind == "integer" and seen is not None:
        seen = int(seen)
    pending: list[tuple[Any, tuple[int, ...]]] = []
    if snapshot is None:
        candidate = seen
    elif kind in TIME_KINDS and snapshot.horizon is not None:
        candidate = None if seen is None else min(seen, _bound(kind, snapshot))
    else:
        older = [(_typed(kind, v), x) for v, x in previous.pending] if previous is not None else []
        pending = [(v, tuple(x for x in xids if not snapshot.ended(x))) for v, xids in older]
        if seen is not None:
            pending.append((seen, snapshot.waits))
        safe = [value for value, xids in pending if not xids]
        candidate = max(safe) if safe else None
    value = max(v for v in (current, candidate) if v is not None) if (current, candidate) != (None, None) else None
    waiting = [(as_text(v), x) for v, x in pending if value is None or v > value][-MAX_PENDING:]
    return Watermark(cursor, kind, None if value is None else as_text(value), tuple(waiting))


def _bound(kind: str, snapshot: Snapshot) -> Any:
    """The highest watermark the horizon allows: just below the oldest open transaction's start."""
    assert snapshot.horizon is not None and snapshot.horizon_local is not None
    if kind == "timestamptz":
        return snapshot.horizon - timedelta(microseconds=1)
    if kind == "timestamp":
        return snapshot.horizon_local - timedelta(microseconds=1)
    return snapshot.horizon_local.date()  # dates are read with >=, so the bound's own day is read again
