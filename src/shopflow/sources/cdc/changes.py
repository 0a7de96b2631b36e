"""Decoded changes as Arrow record batches per table, a bounded number of rows at a time.

Every row carries where it sits in the change stream: `_sf_lsn` (its transaction's commit
LSN), `_sf_seq` (its place in the transaction, from 2; snapshot rows 0) and `_sf_change_seq`
(both in one sortable DECIMAL(38,0), lsn * 2^32 + seq: the merge cursor), `_sf_op`
(`snapshot`, `insert`, `update`, `delete`), `_sf_deleted` (a delete: the key columns hold
the deleted row's key) and `_sf_committed_at`. `_sf_unchanged` lists the columns of an
update whose TOASTed values PostgreSQL did not send; `toast.py` fills them before the lake.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from shopflow.errors import SourceError
from shopflow.naming import source_name
from shopflow.sources.cdc.decode import Decoder
from shopflow.sources.cdc.settings import CdcTable
from shopflow.sources.cdc.tuples import OPS, Relation, Rows
from shopflow.sources.cdc.types import PgColumn, lake_type
from shopflow.sql import quote_identifier

if TYPE_CHECKING:
    import duckdb

SEQ_BITS = 32
UNCHANGED_COLUMN = "_sf_unchanged"
CHANGE_SEQ = "_sf_change_seq"
DELETED = "_sf_deleted"


def lake_names(table: CdcTable, columns: tuple[PgColumn, ...] | list[PgColumn]) -> list[str]:
    """The lake names of `columns`; two that normalise to one name are an error."""
    names = [source_name(c.name, table.name) for c in columns]  # `_sf_batch` -> `src_sf_batch`
    if len(set(names)) != len(names):
        clash = sorted({n for n in names if names.count(n) > 1})
        raise SourceError(f"columns of {table.qualified} collide once written in snake_case: {clash}",
                          fix="rename one of the columns in PostgreSQL", table=table.name)
    return names


def change_columns_sql(lsn: str, seq: str) -> str:
    """The `_sf_lsn, _sf_seq, _sf_change_seq` select list from two BIGINT expressions."""
    return (f"{lsn} AS _sf_lsn, {seq} AS _sf_seq, "
            f"CAST(CAST({lsn} AS DECIMAL(38,0)) * {1 << SEQ_BITS} + {seq} AS DECIMAL(38,0)) AS {CHANGE_SEQ}")


@dataclass
class TableState:
    """A captured table while changes are read: its watermark and key columns (PostgreSQL names)."""

    table: CdcTable
    watermark: int
    key: tuple[str, ...]
    changes: int = 0
    unchanged: int = 0


class ChangeCollector:
    """Decodes chunks of messages and emits each captured table's new changes as typed Arrow batches.

    Args:
        con: DuckDB, for the casts from PostgreSQL's text output.
        tables: The captured tables by relation name (schema, table).
        emit: Called with (lake table name, batch) for every decoded chunk of a table's changes.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        tables: dict[tuple[str, str], TableState],
        emit: Callable[[str, pa.RecordBatch], None],
    ) -> None:
        self.con = con
        self.tables = tables
        self.emit = emit
        self.decoder = Decoder(self._key_of, self._truncated)

    @property
    def last_end_lsn(self) -> int | None:
        """The end of the last commit read, or None before the first."""
        return self.decoder.last_end_lsn

    def add(self, messages: list[bytes]) -> None:
        """Decode `messages` (the next chunk, in order) and emit the changes a table's lake lacks."""
        for rows in self.decoder.decode(messages):
            state = self.tables[(rows.relation.schema, rows.relation.name)]
            keep = rows.final_lsn >= state.watermark  # older ones are in this table's lake: a replay after a crash
            if not keep.any():
                continue
            if not keep.all():
                rows = _filter(rows, keep)
            state.changes += len(rows)
            state.unchanged += int(sum(int(u.sum()) for u in rows.unchanged if u is not None))
            self.emit(state.table.name, _to_batch(self.con, state.table, rows))

    def _key_of(self, relation: Relation) -> list[int] | None:
        state = self.tables.get((relation.schema, relation.name))
        if state is None:
            return None
        names = [c.name for c in relation.columns]
        if state.key and all(k in names for k in state.key):
            return [names.index(k) for k in state.key]
        return [i for i, c in enumerate(relation.columns) if c.key] if relation.replica_identity != "f" else []

    def _truncated(self, relation: Relation, final_lsn: int) -> None:
        state = self.tables[(relation.schema, relation.name)]
        if final_lsn < state.watermark:
            return
        raise SourceError(
            f"{state.table.qualified} was truncated; change data capture cannot apply a TRUNCATE row by row",
            fix=("copy the table afresh: run `shopflow cdc drop`, delete the table's lake folder and its raw "
                 "table, and run again (until then the slot stays before the truncate)"),
            table=state.table.name,
        )


def _filter(rows: Rows, keep: np.ndarray) -> Rows:
    mask = pa.array(keep)
    return Rows(
        relation=rows.relation,
        values=[v.filter(mask) for v in rows.values],
        unchanged=[None if u is None else u[keep] for u in rows.unchanged],
        op=rows.op[keep], deleted=rows.deleted[keep], final_lsn=rows.final_lsn[keep], seq=rows.seq[keep],
        committed_us=rows.committed_us[keep],
    )


def _unchanged_lists(names: list[str], unchanged: list[np.ndarray | None], n: int) -> pa.Array:
    """Per row, the names of the columns whose values were not sent; null where all were."""
    marked = [(name, u) for name, u in zip(names, unchanged, strict=True) if u is not None and u.any()]
    if not marked:
        return pa.nulls(n, pa.list_(pa.string()))
    matrix = np.stack([u for _, u in marked], axis=1)  # rows x marked columns
    counts = matrix.sum(axis=1)
    offsets = np.zeros(n + 1, np.int32)
    np.cumsum(counts, out=offsets[1:])
    _, column = np.nonzero(matrix)
    values = pa.array([name for name, _ in marked], pa.string()).take(pa.array(column))
    return pa.ListArray.from_arrays(pa.array(offsets), values, mask=pa.array(counts == 0))


def _to_batch(con: duckdb.DuckDBPyConnection, table: CdcTable, rows: Rows) -> pa.RecordBatch:
    """Cast the text values to their lake types in DuckDB and add the change columns."""
    import duckdb

    names = lake_names(table, rows.relation.columns)
    raw: dict[str, pa.Array] = {f"c{i}": v.cast(pa.string()) for i, v in enumerate(rows.values)}
    raw.update({
        "_sf_op": pa.array(OPS, pa.string()).take(pa.array(rows.op)),
        "_sf_lsn": pa.array(rows.final_lsn, pa.int64()),
        "_sf_seq": pa.array(rows.seq, pa.int64()),
        DELETED: pa.array(rows.deleted, pa.bool_()),
        "_sf_committed_at": pa.array(rows.committed_us, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        UNCHANGED_COLUMN: _unchanged_lists(names, rows.unchanged, len(rows)),
    })
    values = ", ".join(
        f"{lake_type(c.type_oid, c.typmod).from_text(f'c{i}')} AS {quote_identifier(name)}"
        for i, (c, name) in enumerate(zip(rows.relation.columns, names, strict=True))
    )
    sql = (f"SELECT {values}{', ' if values else ''}_sf_op, {change_columns_sql('_sf_lsn', '_sf_seq')}, "
           f"{DELETED}, _sf_committed_at, {UNCHANGED_COLUMN} FROM _sf_cdc_raw")
    con.register("_sf_cdc_raw", pa.Table.from_pydict(raw))
    try:
        result = con.execute(sql).to_arrow_table()
    except duckdb.Error as exc:
        raise SourceError(f"a change of {table.qualified} does not fit its column type: {exc}",
                          fix="report the column's PostgreSQL type; the slot did not advance",
                          table=table.name) from exc
    finally:
        con.unregister("_sf_cdc_raw")
    batches = result.combine_chunks().to_batches()
    return batches[0] if batches else pa.RecordBatch.from_pylist([], schema=result.schema)
