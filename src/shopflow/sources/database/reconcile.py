"""Reconcile: find the rows gone from the source, and write their deletion to the lake.

The keys the source holds now (in the run's snapshot, keys only) are compared with the keys
alive in the lake (each key's latest row, if that row is not marked deleted). Each key the
source lost gets a tombstone: its last lake row with `_sf_deleted` true, committed with the
run's other rows. The warehouse merge then deletes the row (`reconcile: delete`) or keeps it
flagged (`reconcile: flag`). The deletion goes through the lake, so the lake stays the truth
and a rebuilt warehouse deletes the same rows.
"""

from __future__ import annotations

import logging

import pyarrow as pa

from shopflow.lake.ledger import Commit
from shopflow.lake.table import LakeTable
from shopflow.sources.database.catalog import DELETED, ResolvedTable
from shopflow.sources.database.query import Stamp, keys_sql
from shopflow.sources.database.session import SourceSession
from shopflow.sql import quote_identifier

log = logging.getLogger(__name__)

TOMBSTONES = "_sf_tombstones"
_LAKE, _BATCHES, _KEYS, _GONE = "_sf_lake_rows", "_sf_lake_batches", "_sf_source_keys", "_sf_gone"


def stage_tombstones(
    session: SourceSession, table: ResolvedTable, lake: LakeTable, commits: list[Commit], stamp: Stamp
) -> int:
    """Stage in temporary table `_sf_tombstones` a tombstone per key gone from the source; return how many."""
    con = session.conn.con
    con.execute(f"DROP TABLE IF EXISTS {TOMBSTONES}")
    if not commits:
        return 0
    from deltalake import DeltaTable

    dataset = DeltaTable(lake.uri, storage_options=lake.location.delta_storage_options()).to_pyarrow_dataset()
    keys = [quote_identifier(c.name) for c in table.key]
    if any(c.name not in dataset.schema.names for c in table.key):
        return 0  # the lake predates this key: nothing to compare
    versions = pa.table({"batch": [c.batch for c in commits], "version": [c.version for c in commits]})
    con.register(_LAKE, dataset)
    con.register(_BATCHES, versions)
    try:
        con.execute(f"CREATE OR REPLACE TEMPORARY TABLE {_KEYS} AS {keys_sql(session.type, table)}")
        deleted = f"coalesce(l.{DELETED}, false)" if DELETED in dataset.schema.names else "false"
        key_list = ", ".join(f"l.{k}" for k in keys)
        con.execute(
            f"CREATE OR REPLACE TEMPORARY TABLE {_GONE} AS SELECT * FROM ("
            f"SELECT {key_list}, b.version AS _sf_version, {deleted} AS _sf_was_deleted, "
            f"row_number() OVER (PARTITION BY {key_list} ORDER BY b.version DESC) AS _sf_rank "
            f"FROM {_LAKE} AS l JOIN {_BATCHES} AS b ON l._sf_batch = b.batch) AS latest "
            f"WHERE _sf_rank = 1 AND NOT _sf_was_deleted AND NOT EXISTS (SELECT 1 FROM {_KEYS} AS s WHERE "
            + " AND ".join(f"s.{k} = latest.{k}" for k in keys) + ")"
        )
        data = [quote_identifier(n) for n in dataset.schema.names if not n.startswith("_sf_")]
        match = " AND ".join(f"g.{k} = l.{k}" for k in keys)
        con.execute(
            f"CREATE TEMPORARY TABLE {TOMBSTONES} AS SELECT {', '.join(f'l.{c}' for c in data)}, "
            f"true AS {DELETED}, {', '.join(stamp.columns())} "
            f"FROM {_LAKE} AS l JOIN {_BATCHES} AS b ON l._sf_batch = b.batch "
            f"JOIN {_GONE} AS g ON {match} AND b.version = g._sf_version"
        )
        row = con.execute(f"SELECT count(*) FROM {TOMBSTONES}").fetchone()
    finally:
        con.unregister(_LAKE)
        con.unregister(_BATCHES)
        con.execute(f"DROP TABLE IF EXISTS {_KEYS}")
        con.execute(f"DROP TABLE IF EXISTS {_GONE}")
    gone = int(row[0]) if row else 0
    if gone:
        log.info("table %s: %d rows gone from the source", table.name, gone)
    return gone
