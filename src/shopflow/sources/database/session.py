"""One run's read of a database source: attached, inside one read-only transaction.

Every table of the run is read in that transaction. On PostgreSQL it is REPEATABLE READ, so
all tables come from one snapshot (the scanner's parallel readers import it with
`SET TRANSACTION SNAPSHOT`); on MySQL/MariaDB InnoDB gives the transaction one consistent read
view from its first read. Before the transaction starts, a PostgreSQL run records the start of
the oldest transaction still open, which bounds the watermarks (see watermark.py).
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, timedelta

from shopflow.config.database import DatabaseSource
from shopflow.sources.database.connection import APPLICATION_NAME, SourceConnection
from shopflow.sources.database.watermark import Snapshot

log = logging.getLogger(__name__)

_HORIZON_SQL = f"""
SELECT now() AS now, now() AT TIME ZONE s.tz AS now_local, min(a.xact_start) AS oldest,
       min(a.xact_start) AT TIME ZONE s.tz AS oldest_local, count(a.pid) FILTER (WHERE a.state IS NULL) AS hidden,
       coalesce(string_agg(a.backend_xid::text, ','), '') AS xids,
       pg_snapshot_xmax(pg_current_snapshot())::text AS next_xid,
       (array_agg(a.pid ORDER BY a.xact_start) FILTER (WHERE a.xact_start IS NOT NULL))[1] AS oldest_pid
FROM (SELECT reset_val AS tz FROM pg_settings WHERE name = 'TimeZone') AS s
LEFT JOIN pg_stat_activity AS a
  ON a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend'
 AND a.application_name IS DISTINCT FROM '{APPLICATION_NAME}'
GROUP BY s.tz
"""


HELD_BACK = timedelta(hours=1)


def _full_xid(xid: int, next_xid: int) -> int:
    """A 32-bit transaction id (pg_stat_activity) as the 64-bit one snapshots use, next to `next_xid`."""
    full = (next_xid >> 32 << 32) | xid
    return full - (1 << 32) if full > next_xid else full


class SourceSession:
    """A connection to `source` with its run-long transaction open.

    Args:
        source: The database source.
        tables: Table names for messages.

    Raises:
        SourceError: The database cannot be reached, or refuses the credentials.
    """

    def __init__(self, source: DatabaseSource, tables: list[str] | None = None) -> None:
        self.source = source
        self.conn = SourceConnection(source, tables)
        try:
            self.snapshot = self._begin()
        except Exception:
            self.conn.close()
            raise

    @property
    def type(self) -> str:
        """postgres, mysql or sqlite."""
        return self.source.type

    def _begin(self) -> Snapshot | None:
        import duckdb

        try:
            before = self._before() if self.type == "postgres" else None
            self.conn.query("BEGIN TRANSACTION")
            if self.type != "postgres":
                return None
            row = self.conn.native("SELECT pg_current_snapshot()::text AS snapshot")[0]
        except duckdb.Error as exc:
            raise self.conn.error(exc, "start reading") from None
        assert before is not None
        xmin, xmax, listed = str(row[0]).split(":", 2)
        xip = frozenset(int(x) for x in listed.split(",") if x)
        ours, next_xid, horizon = before
        # In flight at the snapshot and possibly writing here: this database's (as listed just before),
        # and any that took its id after that listing.
        waits = tuple(sorted(x for x in xip if ours is None or x in ours or x >= next_xid))
        snapshot = Snapshot(int(xmin), int(xmax), xip, waits, *(horizon or (None, None)))
        log.debug("source %s: snapshot %s, horizon %s", self.source.name, row[0], snapshot.horizon)
        return snapshot

    def _before(self) -> tuple[frozenset[int] | None, int, tuple[datetime, datetime] | None]:
        """Just before the snapshot: this database's in-flight transaction ids, the next id, and the horizon.

        The ids and the horizon are None if pg_stat_activity hides other users' sessions.
        """
        now, now_local, oldest, oldest_local, hidden, xids, next_xid, oldest_pid = self.conn.native(_HORIZON_SQL)[0]
        next_xid = int(next_xid)
        if hidden:
            log.warning(
                "source %s: %d sessions of other users are hidden from %s in pg_stat_activity, so watermarks "
                "wait until the transactions of each run's snapshot have ended; grant pg_read_all_stats to "
                "advance them sooner", self.source.name, hidden, self.conn.endpoint.user,
            )
            return None, next_xid, None
        ours = frozenset(_full_xid(int(x), next_xid) for x in str(xids).split(",") if x)
        if oldest is None or oldest > now:
            return ours, next_xid, (now, now_local)
        if now - oldest > HELD_BACK:
            log.warning(
                "source %s: a transaction open since %s (pid %s) holds the watermarks of time cursors back to its "
                "start; each run reads the rows changed since then again", self.source.name, oldest, oldest_pid,
            )
        return ours, next_xid, (oldest, oldest_local)

    def restart(self) -> None:
        """Roll back and start a new transaction (a failed query leaves DuckDB's aborted): a new snapshot."""
        import duckdb

        with contextlib.suppress(duckdb.Error):
            self.conn.query("ROLLBACK")
        self.snapshot = self._begin()

    def close(self) -> None:
        """End the transaction and close the connection."""
        self.conn.close()
