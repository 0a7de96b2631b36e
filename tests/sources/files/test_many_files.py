"""Many JSON files read together: every file's rows land once, counted per file; a bad file never stops the others."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.conftest import Store
from tests.helpers import query, run, write_pipeline

from shopflow.config import load_config
from shopflow.pipeline.layout import LakeLayout


def _order(order_id: int, total: str = "10.00", items: int = 1) -> dict[str, Any]:
    return {"id": order_id, "total": total, "created_at": "2024-05-01T10:00:00-04:00",
            "line_items": [{"sku": f"SKU-{order_id}-{i}", "quantity": i + 1} for i in range(items)]}


def _doc(orders: list[dict[str, Any]] | None, key: str = "orders") -> bytes:
    return json.dumps({"shop": "glossier", key: orders}).encode()


ORDERS = {"name": "orders", "files": "**/*.json", "records": "orders", "primary_key": "id",
          "columns": {"total": "decimal(10,2)"}}


def _ledger(config: Path) -> dict[str, int]:
    layout = LakeLayout(load_config(config), "shop", "orders")
    return {entry.url: entry.rows for commit in layout.main.commits() for entry in commit.files}


def test_every_file_lands_once_and_the_ledger_counts_each_files_rows(store: Store, tmp_path: Path) -> None:
    urls = {
        "a/day.json": store.put("a/day.json", _doc([_order(1, items=2), _order(2)])),
        "b/day.json": store.put("b/day.json", _doc([_order(3, items=3)])),  # same name, other folder
        "c.json": store.put("c.json", _doc([])),
        "d.json": store.put("d.json", _doc(None)),
        "e.json": store.put("e.json", _doc([_order(i) for i in range(10, 15)])),
    }
    config = write_pipeline(tmp_path, store.url, [ORDERS], storage=store.storage)

    report = run(config)

    assert report.exit_code == 0, report
    assert report.tables[0].files_new == 5
    assert report.tables[0].rows_extracted == 8
    assert query(config, "SELECT _sf_file, count(*) FROM raw.orders GROUP BY 1 ORDER BY 1") == sorted([
        (urls["a/day.json"], 2), (urls["b/day.json"], 1), (urls["e.json"], 5),
    ])
    assert query(config, "SELECT order_id, count(*) FROM raw.orders__line_items GROUP BY 1 ORDER BY 1") == [
        (1, 2), (2, 1), (3, 3), (10, 1), (11, 1), (12, 1), (13, 1), (14, 1),
    ]
    assert _ledger(config) == {
        urls["a/day.json"]: 2, urls["b/day.json"]: 1, urls["c.json"]: 0, urls["d.json"]: 0, urls["e.json"]: 5,
    }
    again = run(config)
    assert again.tables[0].files_new == 0
    assert query(config, "SELECT count(*) FROM raw.orders") == [(8,)]


def test_bad_files_among_many_are_quarantined_whole_and_the_others_load(store: Store, tmp_path: Path) -> None:
    urls = {
        "1.json": store.put("1.json", _doc([_order(1), _order(2)])),
        "2.json": store.put("2.json", b'{"orders": [{"id": 3, "total": "1.00"}, {"id'),
        "3.json": store.put("3.json", _doc([_order(4)])),
        "4.json": store.put("4.json", _doc([_order(5)], key="customers")),
        "5.json": store.put("5.json", _doc([_order(6, total="lots"), _order(7, total="7.50")])),
    }
    config = write_pipeline(tmp_path, store.url, [ORDERS], storage=store.storage)

    report = run(config)

    assert report.exit_code == 3, report
    assert report.quarantined == 3
    assert query(config, "SELECT id, total FROM raw.orders ORDER BY id") == [
        (1, Decimal("10.00")), (2, Decimal("10.00")), (4, Decimal("10.00")), (7, Decimal("7.50")),
    ]
    quarantined = query(config, 'SELECT file, reason, key FROM raw._quarantine ORDER BY file')
    assert [(file, key) for file, _, key in quarantined] == [
        (urls["2.json"], None), (urls["4.json"], None), (urls["5.json"], "[6]"),
    ]
    reasons = [reason for _, reason, _ in quarantined]
    assert "cannot read as json" in reasons[0]
    assert "orders" in reasons[1]
    assert "total: cannot cast lots" in reasons[2]
    failed = report.tables[0].failed_files
    assert len(failed) == 2
    assert any(f.startswith(urls["2.json"]) for f in failed) and any(f.startswith(urls["4.json"]) for f in failed)
    assert _ledger(config) == {urls["1.json"]: 2, urls["2.json"]: 0, urls["3.json"]: 1, urls["4.json"]: 0,
                               urls["5.json"]: 1}


def test_rows_without_primary_key_link_children_across_files(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "1.json").write_bytes(_doc([_order(1, items=2), _order(2)]))
    (drop / "2.json").write_bytes(_doc([_order(3, items=3)]))
    table = {"name": "orders", "files": "*.json", "records": "orders"}
    config = write_pipeline(tmp_path, str(drop), [table])

    assert run(config).exit_code == 0
    assert query(config, "SELECT count(DISTINCT _sf_row_id) FROM raw.orders") == [(3,)]
    assert query(config, "SELECT o.id, li.sku FROM raw.orders__line_items li "
                         "JOIN raw.orders o ON o._sf_row_id = li._sf_parent_id ORDER BY o.id, li._sf_idx") == [
        (1, "SKU-1-0"), (1, "SKU-1-1"), (2, "SKU-2-0"), (3, "SKU-3-0"), (3, "SKU-3-1"), (3, "SKU-3-2"),
    ]


def test_iso_dates_and_timestamps_are_typed_and_others_stay_text(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    iso = [{"id": 1, "at": "2024-05-01T10:00:00-04:00", "day": "2024-05-01", "shipped": {"at": "2024-05-02 08:30:00"},
            "events": [{"at": "2024-05-03T00:00:00Z", "day": "2024-05-03"}]}]
    (drop / "iso.json").write_bytes(json.dumps(iso).encode())
    # not ISO: two-digit years, day first
    (drop / "other.json").write_bytes(json.dumps([{"id": 2, "day": "24-05-01", "dmy": "05-01-2024"}]).encode())
    tables = [{"name": "iso", "files": "iso.json", "primary_key": "id"},
              {"name": "other", "files": "other.json", "primary_key": "id"}]
    config = write_pipeline(tmp_path, str(drop), tables)

    assert run(config).exit_code == 0
    assert query(config, 'SELECT "at", "day", shipped__at FROM raw.iso') == [
        (datetime(2024, 5, 1, 14, 0), date(2024, 5, 1), datetime(2024, 5, 2, 8, 30)),
    ]
    assert query(config, 'SELECT "at", "day" FROM raw.iso__events') == [(datetime(2024, 5, 3), date(2024, 5, 3))]
    # DuckDB would guess these as dates (2024-05-01, 2024-01-05): kept as written instead
    assert query(config, 'SELECT "day", dmy FROM raw.other') == [("24-05-01", "05-01-2024")]
