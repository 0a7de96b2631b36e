"""Nested records: lists become child tables, objects are flattened or kept as JSON, merges replace children."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.conftest import Store
from tests.helpers import query, run, write_pipeline

ORDERS = [
    {
        "id": 101, "updated_at": "2024-05-01T10:00:00", "total": "30.00",
        "shippingAddress": {"city": "Brooklyn", "zip": "11201", "geo": {"lat": 40.69, "lng": -73.99}},
        "billing_address": {"city": "New York", "zip": "10001", "geo": {"lat": 40.75, "lng": -73.99}},
        "tags": ["gift", "vip"],
        "line_items": [
            {"sku": "BOY-BROW", "quantity": 1, "price": "18.00"},
            {"sku": "CLOUD-PAINT", "quantity": 2, "price": "6.00"},
        ],
    },
    {
        "id": 102, "updated_at": "2024-05-01T11:00:00", "total": "14.00",
        "shippingAddress": None,
        "billing_address": {"city": "Austin", "zip": "73301", "geo": {"lat": 30.27, "lng": -97.74}},
        "tags": [],
        "line_items": [{"sku": "MILKY-JELLY", "quantity": 1, "price": "14.00"}],
    },
]


def _doc(orders: list[dict[str, Any]]) -> bytes:
    return json.dumps({"orders": orders}).encode()


def _table(**extra: Any) -> dict[str, Any]:
    return {"name": "orders", "files": "*.json", "records": "orders", "primary_key": "id",
            "columns": {"total": "decimal(10,2)"}, **extra}


def _columns(config: Path, table: str) -> list[str]:
    rows = query(config, "SELECT column_name FROM information_schema.columns "
                         f"WHERE table_schema = 'raw' AND table_name = '{table}' ORDER BY ordinal_position")
    return [r[0] for r in rows]


def test_list_of_records_becomes_child_table_with_parent_key_and_position(store: Store, tmp_path: Path) -> None:
    store.put("orders.json", _doc(ORDERS))
    config = write_pipeline(tmp_path, store.url, [_table()], storage=store.storage)

    assert run(config).exit_code == 0
    assert query(config, "SELECT id, total FROM raw.orders ORDER BY id") == [
        (101, Decimal("30.00")), (102, Decimal("14.00")),
    ]
    assert query(config, "SELECT order_id, _sf_idx, sku, quantity, price FROM raw.orders__line_items "
                         "ORDER BY order_id, _sf_idx") == [
        (101, 0, "BOY-BROW", 1, "18.00"),
        (101, 1, "CLOUD-PAINT", 2, "6.00"),
        (102, 0, "MILKY-JELLY", 1, "14.00"),
    ]
    assert "line_items" not in _columns(config, "orders")
    # every child row joins to its parent
    assert query(config, "SELECT count(*) FROM raw.orders__line_items li JOIN raw.orders o ON o.id = li.order_id") \
        == [(3,)]


def test_list_of_scalars_becomes_child_table_with_value(store: Store, tmp_path: Path) -> None:
    store.put("orders.json", _doc(ORDERS))
    config = write_pipeline(tmp_path, store.url, [_table()], storage=store.storage)

    assert run(config).exit_code == 0
    assert query(config, "SELECT order_id, _sf_idx, value FROM raw.orders__tags ORDER BY order_id, _sf_idx") == [
        (101, 0, "gift"), (101, 1, "vip"),
    ]


def test_objects_are_flattened_by_default(store: Store, tmp_path: Path) -> None:
    store.put("orders.json", _doc(ORDERS))
    config = write_pipeline(tmp_path, store.url, [_table()], storage=store.storage)

    assert run(config).exit_code == 0
    columns = _columns(config, "orders")
    assert {"shipping_address__city", "shipping_address__zip", "shipping_address__geo__lat",
            "billing_address__city", "billing_address__geo__lng"} <= set(columns)
    assert "shipping_address" not in columns
    assert query(config, "SELECT id, shipping_address__city, shipping_address__zip, shipping_address__geo__lat, "
                         "billing_address__city FROM raw.orders ORDER BY id") == [
        (101, "Brooklyn", "11201", 40.69, "New York"),
        (102, None, None, None, "Austin"),  # a null object gives null fields
    ]


def test_objects_json_keeps_every_object_as_json_text(store: Store, tmp_path: Path) -> None:
    store.put("orders.json", _doc(ORDERS))
    config = write_pipeline(tmp_path, store.url, [_table(nested={"objects": "json"})], storage=store.storage)

    assert run(config).exit_code == 0
    columns = _columns(config, "orders")
    assert "shipping_address" in columns and "billing_address" in columns
    assert not [c for c in columns if "__" in c]
    rows = query(config, "SELECT id, shipping_address, billing_address FROM raw.orders ORDER BY id")
    assert json.loads(rows[0][1]) == ORDERS[0]["shippingAddress"]
    assert json.loads(rows[0][2]) == ORDERS[0]["billing_address"]
    assert rows[1][1] is None
    assert json.loads(rows[1][2])["city"] == "Austin"
    # lists still become child tables
    assert query(config, "SELECT count(*) FROM raw.orders__line_items") == [(3,)]


def test_one_column_as_json_others_flattened(store: Store, tmp_path: Path) -> None:
    store.put("orders.json", _doc(ORDERS))
    table = _table(nested={"columns": {"shipping_address": "json"}})
    config = write_pipeline(tmp_path, store.url, [table], storage=store.storage)

    assert run(config).exit_code == 0
    columns = _columns(config, "orders")
    assert "shipping_address" in columns
    assert not [c for c in columns if c.startswith("shipping_address__")]
    assert "billing_address__city" in columns
    [(shipping, billing_city)] = query(config, "SELECT shipping_address, billing_address__city FROM raw.orders "
                                               "WHERE id = 101")
    assert json.loads(shipping) == {"city": "Brooklyn", "zip": "11201", "geo": {"lat": 40.69, "lng": -73.99}}
    assert billing_city == "New York"


def test_lists_json_keeps_lists_in_the_parent(store: Store, tmp_path: Path) -> None:
    store.put("orders.json", _doc(ORDERS))
    config = write_pipeline(tmp_path, store.url, [_table(nested={"lists": "json"})], storage=store.storage)

    assert run(config).exit_code == 0
    [(items, tags)] = query(config, "SELECT line_items, tags FROM raw.orders WHERE id = 101")
    assert [i["sku"] for i in json.loads(items)] == ["BOY-BROW", "CLOUD-PAINT"]
    assert json.loads(tags) == ["gift", "vip"]
    assert not query(config, "SELECT 1 FROM information_schema.tables WHERE table_schema = 'raw' "
                             "AND table_name = 'orders__line_items'")


def test_merge_replaces_the_line_items_of_an_updated_order(store: Store, tmp_path: Path) -> None:
    store.put("2024-05-01.json", _doc(ORDERS))
    table = _table(write_disposition="merge", cursor="updated_at")
    config = write_pipeline(tmp_path, store.url, [table], storage=store.storage)
    assert run(config).exit_code == 0
    assert query(config, "SELECT count(*) FROM raw.orders__line_items WHERE order_id = 101") == [(2,)]

    updated = {**ORDERS[0], "updated_at": "2024-05-02T09:00:00", "total": "6.00", "tags": ["refund"],
               "line_items": [{"sku": "CLOUD-PAINT", "quantity": 1, "price": "6.00"}]}
    store.put("2024-05-02.json", _doc([updated]))
    report = run(config)

    assert report.exit_code == 0, report
    assert query(config, "SELECT id, total FROM raw.orders ORDER BY id") == [
        (101, Decimal("6.00")), (102, Decimal("14.00")),
    ]
    assert query(config, "SELECT order_id, _sf_idx, sku, quantity FROM raw.orders__line_items "
                         "ORDER BY order_id, _sf_idx") == [
        (101, 0, "CLOUD-PAINT", 1),
        (102, 0, "MILKY-JELLY", 1),
    ]
    assert query(config, "SELECT order_id, value FROM raw.orders__tags ORDER BY order_id") == [(101, "refund")]


def test_merge_keeps_the_latest_version_within_one_run(store: Store, tmp_path: Path) -> None:
    updated = {**ORDERS[0], "updated_at": "2024-05-02T09:00:00", "total": "6.00",
               "line_items": [{"sku": "CLOUD-PAINT", "quantity": 1, "price": "6.00"}]}
    # the later file sorts first by name: the cursor, not the file order, decides
    store.put("a-2024-05-02.json", _doc([updated]))
    store.put("b-2024-05-01.json", _doc(ORDERS))
    table = _table(write_disposition="merge", cursor="updated_at")
    config = write_pipeline(tmp_path, store.url, [table], storage=store.storage)

    assert run(config).exit_code == 0
    assert query(config, "SELECT id, total FROM raw.orders ORDER BY id") == [
        (101, Decimal("6.00")), (102, Decimal("14.00")),
    ]
    assert query(config, "SELECT order_id, sku FROM raw.orders__line_items ORDER BY order_id, _sf_idx") == [
        (101, "CLOUD-PAINT"), (102, "MILKY-JELLY"),
    ]


def test_table_without_primary_key_links_children_by_row_id(store: Store, tmp_path: Path) -> None:
    store.put("orders.json", _doc(ORDERS))
    table = {"name": "orders", "files": "*.json", "records": "orders"}
    config = write_pipeline(tmp_path, store.url, [table], storage=store.storage)

    assert run(config).exit_code == 0
    assert query(config, "SELECT o.id, li.sku FROM raw.orders__line_items li "
                         "JOIN raw.orders o ON o._sf_row_id = li._sf_parent_id ORDER BY o.id, li._sf_idx") == [
        (101, "BOY-BROW"), (101, "CLOUD-PAINT"), (102, "MILKY-JELLY"),
    ]
