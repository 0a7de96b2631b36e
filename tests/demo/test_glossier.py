"""Glossier daily order files (seed 000): the real export's shape, deterministic, on every store."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from shopflow.demo import generate_glossier_orders
from tests.conftest import Store, make_store
from tests.helpers import query, run, write_pipeline

# The 51 fields of an order in the real export, in its order (bramsay3/glossier-json-etl).
REAL_FIELDS = [
    "id", "email", "closed_at", "created_at", "updated_at", "number", "note", "token", "gateway", "test",
    "total_price", "subtotal_price", "total_weight", "total_tax", "taxes_included", "currency", "financial_status",
    "confirmed", "total_discounts", "total_line_items_price", "cart_token", "buyer_accepts_marketing", "name",
    "referring_site", "landing_site", "cancelled_at", "cancel_reason", "total_price_usd", "checkout_token",
    "reference", "user_id", "location_id", "source_identifier", "source_url", "processed_at", "device_id", "phone",
    "customer_locale", "app_id", "browser_ip", "landing_site_ref", "order_number", "processing_method",
    "checkout_id", "source_name", "fulfillment_status", "tags", "contact_email", "order_status_url", "line_items",
    "total_discount",
]
ALWAYS_NULL = ["closed_at", "referring_site", "landing_site", "cancelled_at", "cancel_reason", "source_url",
               "customer_locale", "landing_site_ref", "total_discount"]
MONEY = ["total_price", "subtotal_price", "total_tax", "total_discounts", "total_line_items_price", "total_price_usd"]
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}-0[45]:00$")


def orders_of(path: str | Path) -> list[dict[str, Any]]:
    return list(json.loads(Path(path).read_text())["orders"])


def test_files_have_the_real_exports_fields_types_and_layout(tmp_path: Path) -> None:
    # 2017-11-05 is the day New York leaves daylight time: offsets change from -04:00 to -05:00.
    summary = generate_glossier_orders(str(tmp_path), days=3, orders_per_day=300, seed=1,
                                       start_date=date(2017, 11, 4), test_order_rate=0.01)

    assert [Path(f).name for f in summary.files] == ["2017-11-04.json", "2017-11-05.json", "2017-11-06.json"]
    first = Path(summary.files[0]).read_text()
    assert json.dumps(json.loads(first), indent=2) == first  # laid out like the real files
    days = [orders_of(f) for f in summary.files]
    orders = [o for day in days for o in day]
    assert len(orders) == 900 == summary.rows["orders"]
    assert all(list(o) == REAL_FIELDS for o in orders)
    assert all(o[name] is None for o in orders for name in ALWAYS_NULL)
    assert {o["created_at"][-6:] for o in days[0]} == {"-04:00"}
    assert {o["created_at"][-6:] for o in days[1] + days[2]} == {"-05:00"}
    assert all(TIMESTAMP.match(str(o[k])) for o in orders for k in ("created_at", "updated_at", "processed_at"))
    for o in orders:
        assert all(isinstance(o[k], str) and Decimal(str(o[k])) >= 0 for k in MONEY)
        assert isinstance(o["id"], int) and isinstance(o["test"], bool) and isinstance(o["total_weight"], int)
        assert o["order_number"] == o["number"] + 1000
        items = o["line_items"]
        assert isinstance(items, list) and items
        assert all(list(item) == ["id", "variant_id", "quantity", "product_id"] for item in items)
    # Money carries the float noise of the real export ("52.260000000000005").
    assert any(len(str(o["total_price"]).split(".")[1]) > 2 for o in orders)
    assert all(o["total_price"] == o["total_price_usd"] for o in orders)
    # Newest order first in each file, ids growing with time.
    for day in days:
        stamps = [str(o["created_at"]) for o in day]
        assert stamps == sorted(stamps, reverse=True)
        assert [o["id"] for o in day] == sorted((o["id"] for o in day), reverse=True)
    tests = [o for o in orders if o["test"]]
    assert len(tests) == summary.totals["test_orders"] > 0
    assert all(o["total_price"] == "0.0" and o["gateway"] == "" for o in tests)
    assert all(item["product_id"] is None for o in tests for item in o["line_items"])


def test_summary_totals_are_the_files_own_figures(tmp_path: Path) -> None:
    summary = generate_glossier_orders(str(tmp_path), days=2, orders_per_day=250, seed=3)

    orders = [o for f in summary.files for o in orders_of(f)]
    assert summary.rows["line_items"] == sum(len(o["line_items"]) for o in orders)
    assert summary.totals["total_price"] == sum(Decimal(str(o["total_price"])) for o in orders)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    first = generate_glossier_orders(str(tmp_path / "a"), days=2, orders_per_day=100, seed=5)
    again = generate_glossier_orders(str(tmp_path / "b"), days=2, orders_per_day=100, seed=5)
    other = generate_glossier_orders(str(tmp_path / "c"), days=2, orders_per_day=100, seed=6)

    assert [Path(f).read_bytes() for f in first.files] == [Path(f).read_bytes() for f in again.files]
    assert list(first.checksums.values()) == list(again.checksums.values())
    assert list(first.checksums.values()) != list(other.checksums.values())


def test_compact_layout_holds_the_same_orders(tmp_path: Path) -> None:
    pretty = generate_glossier_orders(str(tmp_path / "p"), days=1, orders_per_day=50, seed=2)
    compact = generate_glossier_orders(str(tmp_path / "c"), days=1, orders_per_day=50, seed=2, pretty=False)

    text = Path(compact.files[0]).read_text()
    assert "\n" not in text and json.dumps(json.loads(text)) == text
    assert orders_of(compact.files[0]) == orders_of(pretty.files[0])


@pytest.mark.parametrize("kind", ["s3", "azure"])
def test_writes_to_object_stores(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    store: Store = make_store(kind, tmp_path, request)
    local = generate_glossier_orders(str(tmp_path / "local"), days=2, orders_per_day=40, seed=9)

    remote = generate_glossier_orders(store.url, days=2, orders_per_day=40, seed=9, storage=store.storage)

    assert remote.files == [f"{store.url}/2017-10-30.json", f"{store.url}/2017-10-31.json"]
    assert list(remote.checksums.values()) == list(local.checksums.values())
    bucket, _, prefix = store.url.split("://", 1)[1].partition("/")
    if kind == "s3":
        assert store._s3 is not None
        body = store._s3.client().get_object(Bucket=bucket, Key=f"{prefix}/2017-10-30.json")["Body"].read()
    else:
        assert store._azure is not None
        body = store._azure.container_client(bucket).download_blob(f"{prefix}/2017-10-30.json").readall()
    assert body == Path(local.files[0]).read_bytes()


def test_the_glossier_pipeline_loads_generated_files(tmp_path: Path) -> None:
    summary = generate_glossier_orders(str(tmp_path / "drop"), days=2, orders_per_day=120, seed=4)
    config = write_pipeline(tmp_path, str(tmp_path / "drop"), [{
        "name": "orders", "files": "*.json", "format": "json", "records": "orders", "primary_key": "id",
        "cursor": "updated_at", "write_disposition": "merge",
        "columns": {"total_price": "decimal(38,18)", "created_at": "timestamptz", "updated_at": "timestamptz"},
    }])

    report = run(config)

    assert report.exit_code == 0
    rows = query(config, "SELECT count(*), sum(total_price) FROM raw.orders")
    assert rows[0][0] == summary.rows["orders"]
    assert Decimal(rows[0][1]) == summary.totals["total_price"]
    items = query(config, "SELECT count(*) FROM raw.orders__line_items")
    assert items[0][0] == summary.rows["line_items"]
