"""A file rewritten in place: replace its rows (children too) or keep both versions; deletes remove nothing."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.conftest import Store
from tests.helpers import query, run, write_pipeline


def _order(order_id: int, name: str, total: str, items: list[tuple[str, int]]) -> dict[str, Any]:
    return {"id": order_id, "name": name, "total": total,
            "line_items": [{"sku": sku, "quantity": qty} for sku, qty in items]}


FIRST = [
    _order(1, "Ada Lovelace", "10.00", [("BOY-BROW", 1), ("CLOUD-PAINT", 2)]),
    _order(2, "Grace Hopper", "20.00", [("MILKY-JELLY", 1)]),
]
SECOND = [
    _order(2, "Grace Hopper", "22.50", [("MILKY-JELLY", 3)]),
    _order(3, "Katherine Johnson", "7.25", [("BALM-DOTCOM", 1), ("LASH-SLICK", 1), ("FUTURE-DEW", 4)]),
    _order(4, "Hedy Lamarr", "1.00", []),
]


def _doc(orders: list[dict[str, Any]]) -> bytes:
    return json.dumps({"orders": orders}).encode()


def _table(on_file_change: str) -> dict[str, Any]:
    return {"name": "orders", "files": "*.json", "records": "orders", "primary_key": "id",
            "on_file_change": on_file_change, "columns": {"total": "decimal(10,2)"}}


def test_rewritten_file_replaces_its_rows_and_children(store: Store, tmp_path: Path) -> None:
    store.put("other.json", _doc([_order(9, "Other Shop", "99.00", [("OTHER", 9)])]))
    url = store.put("daily.json", _doc(FIRST))
    config = write_pipeline(tmp_path, store.url, [_table("replace")], storage=store.storage)
    assert run(config).exit_code == 0
    assert query(config, f"SELECT count(*) FROM raw.orders WHERE _sf_file = '{url}'") == [(2,)]

    store.put("daily.json", _doc(SECOND))
    report = run(config)

    assert report.exit_code == 0, report
    assert report.tables[0].files_new == 1
    assert query(config, "SELECT id, name, total FROM raw.orders ORDER BY id") == [
        (2, "Grace Hopper", Decimal("22.50")),
        (3, "Katherine Johnson", Decimal("7.25")),
        (4, "Hedy Lamarr", Decimal("1.00")),
        (9, "Other Shop", Decimal("99.00")),
    ]
    assert query(config, "SELECT order_id, sku, quantity FROM raw.orders__line_items ORDER BY order_id, _sf_idx") == [
        (2, "MILKY-JELLY", 3),
        (3, "BALM-DOTCOM", 1), (3, "LASH-SLICK", 1), (3, "FUTURE-DEW", 4),
        (9, "OTHER", 9),
    ]
    # nothing changes on a rerun
    again = run(config)
    assert again.tables[0].files_new == 0
    assert query(config, "SELECT count(*) FROM raw.orders") == [(4,)]
    assert query(config, "SELECT count(*) FROM raw.orders__line_items") == [(5,)]


def test_rewritten_file_with_same_size_is_noticed(store: Store, tmp_path: Path) -> None:
    url = store.put("daily.json", _doc([_order(1, "Ada Lovelace", "10.00", [("AAAA", 1)])]))
    config = write_pipeline(tmp_path, store.url, [_table("replace")], storage=store.storage)
    assert run(config).exit_code == 0

    new = _doc([_order(1, "Ada Lovelace", "12.00", [("BBBB", 2)])])
    assert len(new) == len(_doc([_order(1, "Ada Lovelace", "10.00", [("AAAA", 1)])]))
    store.put("daily.json", new)
    report = run(config)

    assert report.tables[0].files_new == 1
    assert query(config, "SELECT id, total, _sf_file FROM raw.orders") == [(1, Decimal("12.00"), url)]
    assert query(config, "SELECT order_id, sku, quantity FROM raw.orders__line_items") == [(1, "BBBB", 2)]


def test_rewritten_file_with_append_keeps_both_versions(store: Store, tmp_path: Path) -> None:
    store.put("daily.json", _doc(FIRST))
    config = write_pipeline(tmp_path, store.url, [_table("append")], storage=store.storage)
    assert run(config).exit_code == 0

    store.put("daily.json", _doc(SECOND))
    report = run(config)

    assert report.exit_code == 0, report
    assert report.tables[0].files_new == 1
    assert query(config, "SELECT id, name, total FROM raw.orders ORDER BY id, total") == [
        (1, "Ada Lovelace", Decimal("10.00")),
        (2, "Grace Hopper", Decimal("20.00")),
        (2, "Grace Hopper", Decimal("22.50")),
        (3, "Katherine Johnson", Decimal("7.25")),
        (4, "Hedy Lamarr", Decimal("1.00")),
    ]
    assert query(config, "SELECT count(*), sum(quantity) FROM raw.orders__line_items") == [(7, 13)]
    assert query(config, "SELECT count(DISTINCT _sf_batch) FROM raw.orders") == [(2,)]


def test_deleted_file_keeps_its_rows(store: Store, tmp_path: Path) -> None:
    store.put("day-1.json", _doc(FIRST))
    store.put("day-2.json", _doc(SECOND[1:]))
    config = write_pipeline(tmp_path, store.url, [_table("replace")], storage=store.storage)
    assert run(config).exit_code == 0
    assert query(config, "SELECT count(*) FROM raw.orders") == [(4,)]

    store.delete("day-1.json")
    report = run(config)

    assert report.exit_code == 0, report
    assert report.tables[0].files_new == 0
    assert query(config, "SELECT id, name FROM raw.orders ORDER BY id") == [
        (1, "Ada Lovelace"), (2, "Grace Hopper"), (3, "Katherine Johnson"), (4, "Hedy Lamarr"),
    ]
    assert query(config, "SELECT count(*) FROM raw.orders__line_items") == [(6,)]
