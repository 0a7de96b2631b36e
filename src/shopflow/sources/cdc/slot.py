"""The replication slot and publication: create them idempotently, export a snapshot, confirm, measure, drop.

Everything goes through ordinary SQL (`pg_logical_slot_peek_binary_changes`,
`pg_replication_slot_advance`) except creating a slot with an exported snapshot, which needs
one replication-protocol command on a `replication=database` connection.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shopflow.errors import SourceError
from shopflow.sources.cdc.settings import CdcSettings, CdcTable, format_lsn, parse_lsn
from shopflow.sources.cdc.types import SESSION_SETTINGS, PgColumn
from shopflow.sql import qualified, quote_identifier

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

PLUGIN = "pgoutput"


@dataclass(frozen=True)
class SlotState:
    """A slot as pg_replication_slots shows it."""

    name: str
    plugin: str
    database: str
    confirmed_flush: int
    restart_lsn: int | None
    wal_status: str | None
    active_pid: int | None


@dataclass(frozen=True)
class TableInfo:
    """A captured table's published columns (in order), key columns, replica identity, whether partitioned."""

    columns: tuple[PgColumn, ...]
    key: tuple[str, ...]
    replica_identity: str
    partitioned: bool = False


@dataclass(frozen=True)
class ExportedSnapshot:
    """A snapshot that sees exactly the transactions committed before `consistent_point`."""

    name: str
    consistent_point: int


def connect(settings: CdcSettings, **kwargs: Any) -> psycopg.Connection[tuple[Any, ...]]:
    """An autocommit connection whose text output matches what the casts expect."""
    import psycopg

    try:
        con = psycopg.connect(settings.url, autocommit=True, application_name="shopflow-cdc", **kwargs)
    except psycopg.Error as exc:
        raise SourceError(f"cannot connect to {settings.describe()}: {str(exc).strip()}",
                          fix="check the database URL, that the server runs and that the user may log in") from exc
    if not kwargs.get("replication"):
        for name, value in SESSION_SETTINGS.items():
            con.execute("SELECT set_config(%s, %s, false)", [name, value])
    return con


def check_server(pg: psycopg.Connection[tuple[Any, ...]]) -> None:
    """Raise unless the server can decode changes logically, in UTF-8."""
    row = pg.execute("SELECT current_setting('wal_level'), current_setting('server_encoding')").fetchone()
    assert row is not None
    if row[0] != "logical":
        raise SourceError(
            f"the database has wal_level={row[0]}; change data capture needs wal_level=logical",
            fix=("set wal_level = logical in postgresql.conf (on RDS: rds.logical_replication = 1; on Azure: "
                 "azure.replication_support = logical) and restart the server"),
        )
    if row[1] != "UTF8":  # decoded values come in the database's encoding
        raise SourceError(f"the database is encoded in {row[1]}; change data capture reads UTF8 databases only",
                          fix="capture this database with mode: full or incremental instead")


def table_info(pg: psycopg.Connection[tuple[Any, ...]], table: CdcTable) -> TableInfo:
    """Columns (without generated ones, which pgoutput does not send), key and replica identity of `table`."""
    found = pg.execute(
        "SELECT c.oid, c.relreplident, c.relkind = 'p' FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')",
        [table.schema, table.table],
    ).fetchone()
    if found is None:
        raise SourceError(f"table {table.qualified} does not exist", fix="check the table list of the cdc source",
                          table=table.name)
    oid, identity, partitioned = found
    columns = pg.execute(
        "SELECT attname, atttypid, atttypmod FROM pg_attribute WHERE attrelid = %s AND attnum > 0 "
        "AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
        [oid],
    ).fetchall()
    key = [name for (name,) in pg.execute(  # the primary key, else the replica identity index
        "SELECT a.attname FROM (SELECT indrelid, indkey FROM pg_index WHERE indrelid = %s "
        "AND (indisprimary OR indisreplident) ORDER BY indisprimary DESC LIMIT 1) i "
        "CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, pos) "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.pos",
        [oid],
    ).fetchall()]
    return TableInfo(tuple(PgColumn(n, t, m, n in key) for n, t, m in columns), tuple(key), str(identity),
                     bool(partitioned))


def ensure_publication(
    pg: psycopg.Connection[tuple[Any, ...]], settings: CdcSettings, infos: dict[str, TableInfo]
) -> None:
    """Create the publication for the captured tables, or add those it lacks. Checks replica identities first.

    A table without a usable replica identity would make its UPDATEs and DELETEs fail at the
    source once published, so it is refused before it is added.
    """
    for table in settings.tables:
        info = infos[table.name]
        if info.replica_identity == "n" or (info.replica_identity == "d" and not info.key):
            raise SourceError(
                f"{table.qualified} has no primary key, so once published its UPDATEs and DELETEs would fail",
                fix=f"add a primary key, or ALTER TABLE {qualified(table.schema, table.table)} REPLICA IDENTITY FULL",
                table=table.name,
            )
    name = quote_identifier(settings.publication)
    row = pg.execute(
        "SELECT pubinsert AND pubupdate AND pubdelete, pubviaroot FROM pg_publication WHERE pubname = %s",
        [settings.publication],
    ).fetchone()
    tables = [qualified(t.schema, t.table) for t in settings.tables]
    if row is None:
        # Via the root: a partitioned table's changes carry its own name, not its partitions'.
        pg.execute(f"CREATE PUBLICATION {name} FOR TABLE {', '.join(tables)} WITH (publish_via_partition_root = true)")
        log.info("created publication %s for %s", settings.publication, ", ".join(tables))
        return
    if not row[0]:
        raise SourceError(f"publication {settings.publication} does not publish all inserts, updates and deletes",
                          fix=f"ALTER PUBLICATION {name} SET (publish = 'insert, update, delete, truncate')")
    if not row[1] and any(infos[t.name].partitioned for t in settings.tables):
        raise SourceError(f"publication {settings.publication} publishes partitioned tables by partition",
                          fix=f"ALTER PUBLICATION {name} SET (publish_via_partition_root = true)")
    published = {
        (s, t) for s, t in pg.execute(
            "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = %s", [settings.publication]
        ).fetchall()
    }
    missing = [qualified(t.schema, t.table) for t in settings.tables if (t.schema, t.table) not in published]
    if missing:
        pg.execute(f"ALTER PUBLICATION {name} ADD TABLE {', '.join(missing)}")
        log.info("added %s to publication %s", ", ".join(missing), settings.publication)


def slot_state(pg: psycopg.Connection[tuple[Any, ...]], slot: str) -> SlotState | None:
    """The slot `slot`, or None if it does not exist."""
    row = pg.execute(
        "SELECT slot_name, plugin, database, confirmed_flush_lsn::text, restart_lsn::text, wal_status, active_pid "
        "FROM pg_replication_slots WHERE slot_name = %s",
        [slot],
    ).fetchone()
    if row is None:
        return None
    name, plugin, database, confirmed, restart, wal_status, pid = row
    state = SlotState(name, plugin or "", database or "", parse_lsn(confirmed) if confirmed else 0,
                      parse_lsn(restart) if restart else None, wal_status, pid)
    current = pg.execute("SELECT current_database()").fetchone()
    if state.plugin != PLUGIN or (current and state.database != current[0]):
        raise SourceError(
            f"replication slot {slot} exists but is not shopflow's: plugin {state.plugin}, database {state.database}",
            fix="choose another slot name for this source",
        )
    if wal_status == "lost":
        raise SourceError(
            f"replication slot {slot} was invalidated: the server removed WAL it still needed, changes are lost",
            fix=("copy the tables afresh: run `shopflow cdc drop`, delete the source's lake folders and raw tables, "
                 "run again; raise max_slot_wal_keep_size or run more often so it does not happen again"),
        )
    return state


@contextmanager
def exported_snapshot(settings: CdcSettings, slot: str, *, temporary: bool) -> Iterator[ExportedSnapshot]:
    """Create logical slot `slot` and hold its exported snapshot open until the block ends.

    A temporary slot disappears with this connection: it only serves its snapshot, for tables
    added to a capture whose permanent slot already runs.
    """
    import psycopg

    con = connect(settings, replication="database")
    try:
        kind = "TEMPORARY " if temporary else ""
        try:
            row = con.execute(f"CREATE_REPLICATION_SLOT {slot} {kind}LOGICAL {PLUGIN} EXPORT_SNAPSHOT").fetchone()
        except psycopg.Error as exc:
            raise SourceError(
                f"cannot create replication slot {slot} on {settings.describe()}: {str(exc).strip()}",
                fix=("the user needs the REPLICATION attribute (ALTER ROLE ... REPLICATION; on RDS grant "
                     "rds_replication) and max_replication_slots must leave a free slot"),
            ) from exc
        assert row is not None
        log.info("created replication slot %s at %s", slot, row[1])
        yield ExportedSnapshot(str(row[2]), parse_lsn(str(row[1])))
    finally:
        con.close()


def temporary_slot_name(slot: str) -> str:
    """A unique name for a temporary slot beside `slot`."""
    return f"{slot[:50]}_t{uuid.uuid4().hex[:8]}"


def current_flush_lsn(pg: psycopg.Connection[tuple[Any, ...]]) -> int:
    """The WAL position the server has flushed: decoding can always reach it."""
    row = pg.execute("SELECT pg_current_wal_flush_lsn()::text").fetchone()
    assert row is not None
    return parse_lsn(str(row[0]))


def advance(pg: psycopg.Connection[tuple[Any, ...]], slot: str, lsn: int) -> None:
    """Confirm every transaction that committed before `lsn`: the slot never sends them again."""
    pg.execute("SELECT pg_replication_slot_advance(%s, %s::pg_lsn)", [slot, format_lsn(lsn)])
    log.debug("advanced slot %s to %s", slot, format_lsn(lsn))


def lag_bytes(pg: psycopg.Connection[tuple[Any, ...]], slot: str) -> int | None:
    """WAL bytes the slot keeps on the server's disk, or None if the slot does not exist."""
    row = pg.execute(
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint FROM pg_replication_slots "
        "WHERE slot_name = %s",
        [slot],
    ).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def check_lag(pg: psycopg.Connection[tuple[Any, ...]], settings: CdcSettings) -> int | None:
    """The slot's retained WAL in bytes; logs a warning above `settings.max_lag_bytes`."""
    lag = lag_bytes(pg, settings.slot)
    if lag is not None and lag > settings.max_lag_bytes:
        log.warning(
            "replication slot %s holds back %s of WAL on %s (warning above %s): the server cannot recycle it "
            "until shopflow reads the changes; run the pipeline more often, or `shopflow cdc drop` if this "
            "capture is no longer used", settings.slot, _size(lag), settings.describe(), _size(settings.max_lag_bytes),
        )
    return lag


def retained_wal(settings: CdcSettings) -> int | None:
    """Connect and measure the slot's retained WAL (warning above the threshold); None without a slot."""
    with connect(settings) as pg:
        return check_lag(pg, settings)


def drop(settings: CdcSettings) -> list[str]:
    """Drop the slot and the publication if they exist; return what was dropped.

    Raises:
        SourceError: The slot is in use (a run reads it right now).
    """
    import psycopg

    dropped = []
    with connect(settings) as pg:
        if pg.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", [settings.slot]).fetchone():
            try:
                pg.execute("SELECT pg_drop_replication_slot(%s)", [settings.slot])
            except psycopg.Error as exc:
                raise SourceError(f"cannot drop replication slot {settings.slot}: {str(exc).strip()}",
                                  fix="wait for the running pipeline to finish, then drop again") from exc
            dropped.append(f"replication slot {settings.slot}")
        if pg.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", [settings.publication]).fetchone():
            pg.execute(f"DROP PUBLICATION {quote_identifier(settings.publication)}")
            dropped.append(f"publication {settings.publication}")
    for what in dropped:
        log.info("dropped %s on %s", what, settings.describe())
    return dropped


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.0f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"
