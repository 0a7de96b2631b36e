from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

from tests.conftest import GLOSSIER_DATA, GLOSSIER_MORE, Store
from tests.helpers import query, run, write_pipeline

ORDERS = {
    "name": "orders", "files": "*.json", "records": "orders", "primary_key": "id", "cursor": "updated_at",
    "write_disposition": "merge", "columns": {"total_price": "decimal(38,18)"},
}


def _expected(files: list[Path]) -> tuple[int, int, Decimal]:
    orders = [o for f in files for o in json.loads(f.read_text())["orders"]]
    latest = {o["id"]: o for o in sorted(orders, key=lambda o: o["updated_at"])}
    return (len(latest), sum(len(o["line_items"]) for o in latest.values()),
            sum(Decimal(o["total_price"]) for o in latest.values()))


def test_glossier_files_load_orders_and_line_items_once(store: Store, tmp_path: Path) -> None:
    files = sorted(GLOSSIER_DATA.glob("*.json"))
    for f in files:
        store.put(f.name, f.read_bytes())
    config = write_pipeline(tmp_path, store.url, [ORDERS], storage=store.storage)

    report = run(config)

    orders, items, total = _expected(files)
    assert report.exit_code == 0
    assert query(config, "SELECT count(*), sum(total_price) FROM raw.orders") == [(orders, total)]
    assert query(config, "SELECT count(*) FROM raw.orders__line_items") == [(items,)]
    # a second run finds nothing new
    again = run(config)
    assert again.tables[0].files_new == 0
    assert query(config, "SELECT count(*) FROM raw.orders") == [(orders,)]
    # the next day's file loads alone
    extra = sorted(GLOSSIER_MORE.glob("*.json"))[0]
    store.put(extra.name, extra.read_bytes())
    third = run(config)
    assert third.tables[0].files_new == 1
    orders, items, total = _expected([*files, extra])
    assert query(config, "SELECT count(*), sum(total_price) FROM raw.orders") == [(orders, total)]
    assert query(config, "SELECT count(*) FROM raw.orders__line_items") == [(items,)]


def test_example_folder_is_self_contained(tmp_path: Path) -> None:
    shutil.copytree(GLOSSIER_DATA, tmp_path / "data")
    assert len(list((tmp_path / "data").glob("*.json"))) == 4
