"""The totesys OLTP database (the Northcoders teaching data set) in PostgreSQL, from two real snapshots.

The package holds two snapshots of the 11 tables as Parquet: 2024-11-14 (without `payment`) and
2024-11-15, one day later, with added rows (and a few changed `design` rows). `load_snapshot`
creates the schema, typed like the real totesys (serial ids, numeric money, timestamp
`created_at`/`last_updated`, dates as text), and loads a snapshot; `apply_snapshot` then brings a
loaded database to a later snapshot: it inserts the new rows, updates the changed ones, and can
touch some existing rows (a new value and a fresh `last_updated`), the way the live database
changes between two extracts.

A quirk of the real data: three `design` rows differ between the snapshots with the same
`last_updated`. The live database stamps every update, so `apply_snapshot` gives an updated row
the current time unless the snapshot's own `last_updated` is later.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

DATA = Path(__file__).parent / "data" / "totesys"
SNAPSHOTS = ("2024-11-14", "2024-11-15")

_ID = "serial PRIMARY KEY"
_TS = "timestamp NOT NULL"
# Table -> its columns and PostgreSQL types, in the order of the snapshot files.
TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "address": (
        ("address_id", _ID), ("address_line_1", "varchar"), ("address_line_2", "varchar"), ("district", "varchar"),
        ("city", "varchar"), ("postal_code", "varchar"), ("country", "varchar"), ("phone", "varchar"),
        ("created_at", _TS), ("last_updated", _TS),
    ),
    "counterparty": (
        ("counterparty_id", _ID), ("counterparty_legal_name", "varchar"), ("legal_address_id", "int"),
        ("commercial_contact", "varchar"), ("delivery_contact", "varchar"), ("created_at", _TS), ("last_updated", _TS),
    ),
    "currency": (("currency_id", _ID), ("currency_code", "varchar(3)"), ("created_at", _TS), ("last_updated", _TS)),
    "department": (
        ("department_id", _ID), ("department_name", "varchar"), ("location", "varchar"), ("manager", "varchar"),
        ("created_at", _TS), ("last_updated", _TS),
    ),
    "design": (
        ("design_id", _ID), ("created_at", _TS), ("design_name", "varchar"), ("file_location", "varchar"),
        ("file_name", "varchar"), ("last_updated", _TS),
    ),
    "payment_type": (("payment_type_id", _ID), ("payment_type_name", "varchar"), ("created_at", _TS),
                     ("last_updated", _TS)),
    "purchase_order": (
        ("purchase_order_id", _ID), ("created_at", _TS), ("last_updated", _TS), ("staff_id", "int"),
        ("counterparty_id", "int"), ("item_code", "varchar"), ("item_quantity", "int"),
        ("item_unit_price", "numeric(10,2)"), ("currency_id", "int"), ("agreed_delivery_date", "varchar"),
        ("agreed_payment_date", "varchar"), ("agreed_delivery_location_id", "int"),
    ),
    "sales_order": (
        ("sales_order_id", _ID), ("created_at", _TS), ("last_updated", _TS), ("design_id", "int"), ("staff_id", "int"),
        ("counterparty_id", "int"), ("units_sold", "int"), ("unit_price", "numeric(10,2)"), ("currency_id", "int"),
        ("agreed_delivery_date", "varchar"), ("agreed_payment_date", "varchar"),
        ("agreed_delivery_location_id", "int"),
    ),
    "staff": (
        ("staff_id", _ID), ("first_name", "varchar"), ("last_name", "varchar"), ("department_id", "int"),
        ("email_address", "varchar"), ("created_at", _TS), ("last_updated", _TS),
    ),
    "transaction": (
        ("transaction_id", _ID), ("transaction_type", "varchar"), ("sales_order_id", "int"),
        ("purchase_order_id", "int"), ("created_at", _TS), ("last_updated", _TS),
    ),
    "payment": (
        ("payment_id", _ID), ("created_at", _TS), ("last_updated", _TS), ("transaction_id", "int"),
        ("counterparty_id", "int"), ("payment_amount", "numeric(10,2)"), ("currency_id", "int"),
        ("payment_type_id", "int"), ("paid", "boolean"), ("payment_date", "varchar"), ("company_ac_number", "int"),
        ("counterparty_ac_number", "int"),
    ),
}
# Rows `apply_snapshot` touches: table -> (column changed, SQL of its new value).
TOUCH: dict[str, tuple[str, str]] = {
    "sales_order": ("units_sold", "units_sold + 1"),
    "purchase_order": ("item_quantity", "item_quantity + 1"),
    "staff": ("email_address", "lower(first_name) || '.' || lower(last_name) || '@terrifictotes.co.uk'"),
    "address": ("phone", "'0161 ' || lpad(address_id::text, 6, '0')"),
    "payment": ("paid", "NOT paid"),
}


@dataclass
class Changes:
    """What `apply_snapshot` did, table by table."""

    inserted: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    touched: dict[str, int] = field(default_factory=dict)


def key_of(table: str) -> str:
    """The primary key column of a totesys table: `<table>_id`."""
    return TABLES[table][0][0]


def snapshot_file(snapshot: str, table: str) -> Path | None:
    """The Parquet file of `table` in `snapshot`, or None if the snapshot lacks the table."""
    if snapshot not in SNAPSHOTS:
        raise ValueError(f"unknown totesys snapshot {snapshot!r}; there are: {', '.join(SNAPSHOTS)}")
    path = DATA / f"snapshot_{snapshot}" / f"{table}.parquet"
    return path if path.is_file() else None


def create_schema(url: str, schema: str = "public") -> None:
    """Create the 11 totesys tables (if missing) in the PostgreSQL database at `url`."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as pg:
        pg.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        for table, columns in TABLES.items():
            spec = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in columns)
            pg.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {}.{} ({})").format(
                sql.Identifier(schema), sql.Identifier(table), spec))


def load_snapshot(url: str, snapshot: str = SNAPSHOTS[0], schema: str = "public") -> dict[str, int]:
    """Create the schema and load every table of `snapshot` into empty tables; return rows per table."""
    create_schema(url, schema)
    loaded = {}
    with _attached(url) as con:
        for table in TABLES:
            path = snapshot_file(snapshot, table)
            if path is None:
                continue
            con.execute(f"INSERT INTO pg.{_q(schema)}.{_q(table)} SELECT * FROM read_parquet(?)", [str(path)])
            loaded[table] = _count(con, f"SELECT count(*) FROM read_parquet('{_lit(str(path))}')")
    _reset_sequences(url, schema)
    return loaded


def apply_snapshot(
    url: str, snapshot: str = SNAPSHOTS[1], *, touch: int = 0, now: datetime | None = None, schema: str = "public"
) -> Changes:
    """Bring a loaded database to `snapshot`: insert its new rows and update the rows it changed.

    Args:
        url: The PostgreSQL database holding an earlier snapshot.
        snapshot: The snapshot to apply.
        touch: Also change this many existing rows of each table in `TOUCH` (those with the
            lowest keys) and set their `last_updated` to `now`.
        now: The `last_updated` of touched rows; the database's current time by default.
        schema: The schema the tables are in.
    """
    import psycopg
    from psycopg import sql

    changes = Changes()
    create_schema(url, schema)
    with _attached(url) as con:
        for table in TABLES:
            path = snapshot_file(snapshot, table)
            if path is not None:
                con.execute(f"DROP TABLE IF EXISTS pg.{_q(schema)}.{_q('_totesys_next_' + table)}")
                con.execute(f"CREATE TABLE pg.{_q(schema)}.{_q('_totesys_next_' + table)} AS "
                            "SELECT * FROM read_parquet(?)", [str(path)])
    with psycopg.connect(url, autocommit=True) as pg:
        for table, columns in TABLES.items():
            if snapshot_file(snapshot, table) is None:
                continue
            target, staged = sql.Identifier(schema, table), sql.Identifier(schema, "_totesys_next_" + table)
            key = sql.Identifier(key_of(table))
            names = [c for c, _ in columns]
            col_list = sql.SQL(", ").join(sql.Identifier(c) for c in names)
            stamp = sql.Literal(now.replace(tzinfo=None)) if now is not None else sql.SQL("localtimestamp")
            changed = sql.SQL(", ").join(
                sql.SQL("{c} = n.{c}").format(c=sql.Identifier(c)) if c != "last_updated"
                else sql.SQL("last_updated = greatest(n.last_updated, {now})").format(now=stamp)
                for c in names[1:])
            differs = sql.SQL(" OR ").join(
                sql.SQL("t.{c} IS DISTINCT FROM n.{c}").format(c=sql.Identifier(c)) for c in names[1:])
            updated = pg.execute(sql.SQL("UPDATE {t} AS t SET {s} FROM {n} AS n WHERE t.{k} = n.{k} AND ({d})").format(
                t=target, s=changed, n=staged, k=key, d=differs))
            changes.updated[table] = updated.rowcount
            inserted = pg.execute(sql.SQL(
                "INSERT INTO {t} ({cols}) SELECT {cols} FROM {n} AS n "
                "WHERE NOT EXISTS (SELECT 1 FROM {t} AS t WHERE t.{k} = n.{k})").format(
                t=target, cols=col_list, n=staged, k=key))
            changes.inserted[table] = inserted.rowcount
            pg.execute(sql.SQL("DROP TABLE {}").format(staged))
        if touch:
            for table, (column, value) in TOUCH.items():
                target, key = sql.Identifier(schema, table), sql.Identifier(key_of(table))
                stamp = sql.Literal(now.replace(tzinfo=None)) if now is not None else sql.SQL("localtimestamp")
                touched = pg.execute(sql.SQL(
                    "UPDATE {t} SET {c} = {v}, last_updated = {now} "
                    "WHERE {k} IN (SELECT {k} FROM {t} ORDER BY {k} LIMIT {n})").format(
                    t=target, c=sql.Identifier(column), v=sql.SQL(value), now=stamp, k=key, n=sql.Literal(touch)))
                changes.touched[table] = touched.rowcount
    _reset_sequences(url, schema)
    return changes


def _reset_sequences(url: str, schema: str) -> None:
    """Point each serial's sequence past the largest key, as a live database's would be."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as pg:
        for table in TABLES:
            key = key_of(table)
            pg.execute(sql.SQL(
                "SELECT setval(pg_get_serial_sequence({name}, {key}), "
                "coalesce((SELECT max({k}) FROM {t}), 0) + 1, false)"
            ).format(name=sql.Literal(f'{schema}."{table}"'), key=sql.Literal(key), k=sql.Identifier(key),
                     t=sql.Identifier(schema, table)))


@contextmanager
def _attached(url: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection with the PostgreSQL database at `url` attached read-write as `pg`."""
    from shopflow.engine import connect

    con = connect(extensions=("postgres_scanner",))
    try:
        con.execute(f"ATTACH '{_lit(url)}' AS pg (TYPE postgres)")
        yield con
    finally:
        con.close()


def _count(con: duckdb.DuckDBPyConnection, query: str) -> int:
    row = con.execute(query).fetchone()
    return int(row[0]) if row else 0


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return text.replace("'", "''")
