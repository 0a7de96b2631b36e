"""Merges on both warehouses: a first load of distinct keys goes in as it is, repeated keys still
fold to the latest row once, and the new, updated and deleted counts come from the merge's own
statements (not from counting the whole table before and after)."""

from __future__ import annotations

import pyarrow as pa

from shopflow.config.model import TableConfig
from shopflow.warehouse.base import RowChanges, Warehouse
from tests.warehouse.test_contract import ORDERS_MERGE, Lake, load_pending, rows, warehouse, warehouse_factory

__all__ = ["warehouse", "warehouse_factory"]  # the fixtures, over both warehouses

WITH_DELETES = TableConfig(
    name="orders", primary_key=["id"], cursor="updated_at", write_disposition="merge", delete_column="deleted"
)
FLAGGED = pa.schema([("id", pa.int64()), ("updated_at", pa.int64()), ("deleted", pa.bool_())])


def test_a_first_merge_of_distinct_keys_lands_every_row_once(warehouse: Warehouse) -> None:
    lake = Lake()
    lake.commit("r1", {"orders": [{"id": i, "updated_at": 1, "status": f"s{i}"} for i in range(1, 6)]})

    result = warehouse.load(lake.job(ORDERS_MERGE))

    assert rows(warehouse, "SELECT id, status FROM raw.orders ORDER BY id") == [(i, f"s{i}") for i in range(1, 6)]
    assert result.rows == {"orders": 5}
    assert result.changes("orders") == RowChanges(new=5)


def test_a_first_merge_with_a_key_in_two_commits_keeps_the_latest_row_and_its_children(warehouse: Warehouse) -> None:
    lake = Lake()
    lake.commit(
        "r1",
        {
            "orders": [{"id": 1, "updated_at": 1}, {"id": 2, "updated_at": 1}],
            "orders__line_items": [{"order_id": 1, "sku": "old"}, {"order_id": 2, "sku": "b"}],
        },
    )
    lake.commit(
        "r2",
        {
            "orders": [{"id": 1, "updated_at": 2}],
            "orders__line_items": [{"order_id": 1, "sku": "new"}],
        },
    )

    result = warehouse.load(lake.job(ORDERS_MERGE))

    assert rows(warehouse, "SELECT id, updated_at FROM raw.orders ORDER BY id") == [(1, 2), (2, 1)]
    assert rows(warehouse, "SELECT order_id, sku FROM raw.orders__line_items ORDER BY order_id") == [
        (1, "new"),
        (2, "b"),
    ]
    assert result.changes("orders") == RowChanges(new=2)
    assert result.changes("orders__line_items") == RowChanges(new=2)


def test_a_first_merge_leaves_hard_deleted_rows_and_their_children_out(warehouse: Warehouse) -> None:
    lake = Lake()
    lake.commit(
        "r1",
        {
            "orders": [
                {"id": 1, "updated_at": 1, "deleted": False},
                {"id": 2, "updated_at": 1, "deleted": True},
                {"id": 3, "updated_at": 1, "deleted": None},
            ],
            "orders__line_items": [{"order_id": 1, "sku": "a"}, {"order_id": 2, "sku": "gone"}],
        },
        schemas={"orders": FLAGGED},
    )

    result = warehouse.load(lake.job(WITH_DELETES))

    assert rows(warehouse, "SELECT id FROM raw.orders ORDER BY id") == [(1,), (3,)]
    assert rows(warehouse, "SELECT order_id, sku FROM raw.orders__line_items") == [(1, "a")]
    assert result.rows == {"orders": 2, "orders__line_items": 1}


def test_a_merge_counts_new_updated_and_deleted_rows(warehouse: Warehouse) -> None:
    lake = Lake()
    lake.commit(
        "r1", {"orders": [{"id": i, "updated_at": 1, "deleted": False} for i in (1, 2, 3)]}, schemas={"orders": FLAGGED}
    )
    warehouse.load(lake.job(WITH_DELETES))

    lake.commit(
        "r2",
        {
            "orders": [
                {"id": 1, "updated_at": 2, "deleted": False},  # updated
                {"id": 2, "updated_at": 2, "deleted": True},  # deleted
                {"id": 3, "updated_at": 0, "deleted": False},  # older than the table's row: no change
                {"id": 4, "updated_at": 2, "deleted": False},  # new
            ]
        },
        schemas={"orders": FLAGGED},
    )
    result = load_pending(warehouse, lake, WITH_DELETES)

    assert rows(warehouse, "SELECT id, updated_at FROM raw.orders ORDER BY id") == [(1, 2), (3, 1), (4, 2)]
    assert result.changes("orders", tombstones=1) == RowChanges(new=1, updated=1, deleted=1)
    assert result.before == {} and result.after == {}  # the table itself was never counted


def test_a_merge_counts_the_child_rows_it_replaced(warehouse: Warehouse) -> None:
    lake = Lake()
    lake.commit(
        "r1",
        {
            "orders": [{"id": 1, "updated_at": 1}, {"id": 2, "updated_at": 1}],
            "orders__line_items": [
                {"order_id": 1, "sku": "a"},
                {"order_id": 1, "sku": "b"},
                {"order_id": 2, "sku": "c"},
            ],
        },
    )
    warehouse.load(lake.job(ORDERS_MERGE))
    lake.commit("r2", {"orders": [{"id": 1, "updated_at": 2}], "orders__line_items": [{"order_id": 1, "sku": "a2"}]})

    result = load_pending(warehouse, lake, ORDERS_MERGE)

    assert rows(warehouse, "SELECT order_id, sku FROM raw.orders__line_items ORDER BY order_id, sku") == [
        (1, "a2"),
        (2, "c"),
    ]
    assert result.changes("orders") == RowChanges(updated=1)
    assert result.changes("orders__line_items") == RowChanges(updated=1, deleted=1)


def test_an_append_counts_only_its_rows(warehouse: Warehouse) -> None:
    lake = Lake()
    table = TableConfig(name="orders")
    lake.commit("r1", {"orders": [{"id": 1}, {"id": 2}]})
    warehouse.load(lake.job(table))
    lake.commit("r2", {"orders": [{"id": 3}]})

    result = load_pending(warehouse, lake, table)

    assert result.changes("orders") == RowChanges(new=1)
    assert warehouse.row_count("orders") == 3
