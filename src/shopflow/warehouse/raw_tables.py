"""What the warehouse knows about its raw tables: each one's key and how it is loaded.

Every load records, in the same transaction, the primary key, write disposition and cursor of
the table it loaded (and of its child tables) in `_shopflow.raw_tables`. The key a database
table is merged by may come from the source database's catalog rather than `shopflow.yml`, so
this is the one place that knows it after the run; the dbt `raw` source reads it to give each
key its tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shopflow.naming import normalize_name, singular
from shopflow.sql import qualified, quote_literal

if TYPE_CHECKING:
    from shopflow.config.model import TableConfig
    from shopflow.warehouse.base import Warehouse
    from shopflow.warehouse.session import LoadSession

TABLE = "raw_tables"
CHILD_INDEX = "_sf_idx"


@dataclass(frozen=True)
class RawTable:
    """How one raw table is loaded.

    Attributes:
        name: The table in schema `raw`.
        primary_key: Its key columns (a child table: the parent's key and `_sf_idx`).
        write_disposition: `append`, `replace` or `merge` (a child table: its parent's).
        cursor: The cursor column of a merge, if any.
        parent: The parent table of a child table (`orders` for `orders__line_items`).
    """

    name: str
    primary_key: tuple[str, ...]
    write_disposition: str
    cursor: str | None = None
    parent: str | None = None

    @property
    def unique(self) -> bool:
        """The key is unique in the table: it is merged by it."""
        return self.write_disposition == "merge" and bool(self.primary_key)


def describe(table: TableConfig, children: list[str]) -> list[RawTable]:
    """The raw tables a load of `table` fills: the table, then its child tables."""
    keys = tuple(normalize_name(k) for k in table.primary_key)
    cursor = normalize_name(table.cursor) if table.cursor else None
    main = RawTable(table.name, keys, table.write_disposition, cursor)
    child_keys = tuple(f"{singular(table.name)}_{k}" for k in keys) + ((CHILD_INDEX,) if keys else ())
    return [main, *(RawTable(c, child_keys, table.write_disposition, None, table.name) for c in children)]


def record_keys(session: LoadSession, table: TableConfig, children: list[str]) -> None:
    """Record how `table` and `children` are loaded, inside the load's transaction."""
    from shopflow.warehouse.base import STATE_SCHEMA

    target = qualified(STATE_SCHEMA, TABLE)
    session.execute(
        f"CREATE TABLE IF NOT EXISTS {target} (table_name VARCHAR NOT NULL, parent VARCHAR, "
        "primary_key VARCHAR NOT NULL, write_disposition VARCHAR NOT NULL, cursor_column VARCHAR)"
    )
    for raw in describe(table, children):
        session.execute(f"DELETE FROM {target} WHERE table_name = {quote_literal(raw.name)}")
        session.execute(
            f"INSERT INTO {target} VALUES ({quote_literal(raw.name)}, {_literal(raw.parent)}, "
            f"{quote_literal(json.dumps(list(raw.primary_key)))}, {quote_literal(raw.write_disposition)}, "
            f"{_literal(raw.cursor)})"
        )


def read_keys(warehouse: Warehouse) -> dict[str, RawTable]:
    """Raw table name -> how it is loaded, for every table a load recorded; {} before the first load."""
    from shopflow.warehouse.base import STATE_SCHEMA

    if not warehouse.table_exists(STATE_SCHEMA, TABLE):
        return {}
    rows = warehouse.query(
        "SELECT table_name, parent, primary_key, write_disposition, cursor_column "
        f"FROM {qualified(STATE_SCHEMA, TABLE)}"
    )
    return {
        str(name): RawTable(str(name), tuple(json.loads(str(keys))), str(disposition),
                            None if cursor is None else str(cursor), None if parent is None else str(parent))
        for name, parent, keys, disposition, cursor in rows
    }


def _literal(value: str | None) -> str:
    return "NULL" if value is None else quote_literal(value)
