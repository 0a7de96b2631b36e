"""The merge disposition: staged rows into `raw.<table>` by key, the latest row per key exactly once.

Every statement's work follows the rows staged, not the table they go into: the staged keys
are checked for repeats with one hash aggregate (no sort), rows are ranked only when a key
repeats, and the table is only touched where a staged key matches it (PostgreSQL by its key
index, DuckDB by a hash join on the key columns). A first load into an empty table whose keys
are distinct, the usual snapshot of a table with a primary key, inserts the staged rows as they
are: nothing to rank, compare or replace.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shopflow.naming import normalize_name, singular
from shopflow.sql import qualified, quote_identifier
from shopflow.warehouse.base import RAW_SCHEMA, LoadJob
from shopflow.warehouse.session import LoadSession

WINNERS = "_sf_winners"


@dataclass
class Counts:
    """Rows each raw table gained and lost by the statements of one load, as the database counted them."""

    inserted: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)

    def insert(self, session: LoadSession, table: str, sql: str) -> int:
        """Run INSERT `sql` into raw table `table`; count and return its rows."""
        rows = session.changed(sql)
        self.inserted[table] = self.inserted.get(table, 0) + rows
        return rows

    def delete(self, session: LoadSession, table: str, sql: str) -> int:
        """Run DELETE `sql` on raw table `table`; count and return its rows."""
        rows = session.changed(sql)
        self.deleted[table] = self.deleted.get(table, 0) + rows
        return rows


def merge(
    session: LoadSession,
    job: LoadJob,
    stage: str,
    columns: list[str],
    keys: list[str],
    order: str,
    ordinal: str,
    children: list[str],
    counts: Counts,
) -> str:
    """Keep the latest row per key (cursor, commit, file, position in it); drop those older than the table's.

    Removes from `raw.<table>` and from its `children` the rows the winners replace, and returns
    the relation holding the winners (`FROM <it> AS alias`), hard deletes left out, for the caller
    to insert. `order` ranks a row's commit, `ordinal` (a staged column) its place in the commit.
    """
    table = job.table
    target = qualified(RAW_SCHEMA, table.name)
    staged = quote_identifier(stage)
    col_list = ", ".join(quote_identifier(c) for c in columns)
    flag = quote_identifier(normalize_name(table.delete_column)) if table.delete_column else None
    cursor = quote_identifier(normalize_name(table.cursor)) if table.cursor else None
    empty = not has_rows(session, target)
    distinct = distinct_keys(session, stage, keys)
    if empty and distinct:
        for child in children:
            _delete_children(session, table.name, keys, child, staged, counts)
        if flag is None:
            return staged
        # CAST: a delete flag may arrive as 0/1 or 'true'/'false'; PostgreSQL's IS TRUE takes booleans only.
        return f"(SELECT {col_list} FROM {staged} WHERE CAST({flag} AS BOOLEAN) IS NOT TRUE)"

    source, condition = f"{staged} AS w", []
    if not distinct:
        # Ties go to the later commit, then to the source file whose name sorts last (files of one
        # run are read in parallel, so their order in the lake is not the order of their names),
        # then to the later row of that file.
        by_file = ["_sf_file DESC"] if "_sf_file" in columns else []
        ranking = ", ".join(
            [
                *([f"{cursor} DESC NULLS LAST"] if cursor else []),
                f"{order} DESC",
                *by_file,
                f"{quote_identifier(ordinal)} DESC",
            ]
        )
        partition = ", ".join(quote_identifier(k) for k in keys)
        source = (
            f"(SELECT *, row_number() OVER (PARTITION BY {partition} ORDER BY {ranking}) AS _sf_rn FROM {staged}) AS w"
        )
        condition.append("w._sf_rn = 1")
    match = " AND ".join(f"w.{quote_identifier(k)} = r.{quote_identifier(k)}" for k in keys)
    if cursor and not empty:  # a staged row older than the table's loses to it
        condition.append(f"NOT EXISTS (SELECT 1 FROM {target} AS r WHERE {match} AND r.{cursor} > w.{cursor})")
    where = f" WHERE {' AND '.join(condition)}" if condition else ""
    winners = quote_identifier(WINNERS)
    session.unstage(WINNERS)
    select = ", ".join(f"w.{quote_identifier(c)}" for c in columns)
    session.execute(f"CREATE TEMPORARY TABLE {winners} AS SELECT {select} FROM {source}{where}")
    if not empty:
        counts.delete(
            session, table.name, f"DELETE FROM {target} AS r WHERE EXISTS (SELECT 1 FROM {winners} AS w WHERE {match})"
        )
    for child in children:
        _delete_children(session, table.name, keys, child, winners, counts)
    if flag is not None:
        session.execute(f"DELETE FROM {winners} WHERE CAST({flag} AS BOOLEAN) IS TRUE")
    return winners


def has_rows(session: LoadSession, relation: str) -> bool:
    """True if `relation` holds a row (reads one at most)."""
    return bool(session.scalar(f"SELECT count(*) FROM (SELECT 1 FROM {relation} LIMIT 1) AS any_row"))


def distinct_keys(session: LoadSession, stage: str, keys: list[str]) -> bool:
    """True if no two rows of staged relation `stage` share a key: one hash aggregate over the keys, no sort."""
    group = ", ".join(quote_identifier(k) for k in keys)
    return not session.scalar(
        f"SELECT count(*) FROM (SELECT 1 FROM {quote_identifier(stage)} GROUP BY {group} HAVING count(*) > 1 "
        "LIMIT 1) AS repeated"
    )


def insert_children(
    session: LoadSession,
    child: str,
    stage: str,
    columns: list[str],
    keys: list[str],
    parent: str,
    winners: str,
    counts: Counts,
) -> None:
    """Insert the staged rows of child table `child` whose parent row won the merge (same key, batch and file)."""
    col_list = ", ".join(quote_identifier(c) for c in columns)
    match = " AND ".join(
        [f"w.{quote_identifier(k)} = c.{quote_identifier(p)}" for k, p in child_keys(parent, keys)]
        + ["w._sf_batch = c._sf_batch", "w._sf_file = c._sf_file"]
    )
    select = ", ".join(f"c.{quote_identifier(c)}" for c in columns)
    counts.insert(
        session,
        child,
        f"INSERT INTO {qualified(RAW_SCHEMA, child)} ({col_list}) SELECT {select} "
        f"FROM {quote_identifier(stage)} AS c WHERE EXISTS (SELECT 1 FROM {winners} AS w WHERE {match})",
    )


def existing_children(session: LoadSession, table: str, keys: list[str]) -> list[str]:
    """Child tables `raw.<table>__*` in the warehouse that carry the parent's key columns."""
    prefix = f"{table}__"
    found = []
    for name in [t for t in session.tables(RAW_SCHEMA) if t.startswith(prefix)]:
        columns = session.columns(RAW_SCHEMA, name) or {}
        if all(child in columns for _, child in child_keys(table, keys)):
            found.append(name)
    return found


def child_keys(table: str, keys: list[str]) -> list[tuple[str, str]]:
    """(parent column, child column) pairs: `id` of `orders` is `order_id` in its children."""
    return [(k, f"{singular(table)}_{k}") for k in keys]


def _delete_children(
    session: LoadSession, table: str, keys: list[str], child: str, winners: str, counts: Counts
) -> None:
    """Remove the rows of `child` whose parent is among `winners`: they come again with it, or not at all."""
    target = qualified(RAW_SCHEMA, child)
    if not has_rows(session, target):
        return
    match = " AND ".join(f"w.{quote_identifier(k)} = c.{quote_identifier(p)}" for k, p in child_keys(table, keys))
    counts.delete(
        session, child, f"DELETE FROM {target} AS c WHERE EXISTS (SELECT 1 FROM {winners} AS w WHERE {match})"
    )
