"""The Glossier models, checked against values computed here from the example's JSON files.

The data is the example's four days, plus a fifth file written here with a later version of one
order (new total, one line item fewer) and a test order, so merges and the test filter show.
"""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from shopflow.config import load_config
from shopflow.pipeline.run import run_pipeline
from shopflow.transform import run_transform
from tests.services import PostgresServer
from tests.transform.conftest import POSTGRES_WAREHOUSE_BUILT, Target

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "glossier"
CENT = Decimal("0.01")


def _when(text: str) -> datetime:
    """An ISO time with offset as a naive UTC datetime."""
    return datetime.fromisoformat(text).astimezone(UTC).replace(tzinfo=None)


def _cents(text: str) -> Decimal:
    return Decimal(text).quantize(CENT, rounding=ROUND_HALF_UP)


def expected_orders(folder: Path) -> dict[int, dict[str, Any]]:
    """Orders by id as the files say: the latest updated_at wins; test orders left out."""
    latest: dict[int, dict[str, Any]] = {}
    for path in sorted(folder.glob("*.json")):
        for order in json.loads(path.read_text(encoding="utf-8"))["orders"]:
            seen = latest.get(order["id"])
            if seen is None or _when(order["updated_at"]) >= _when(seen["updated_at"]):
                latest[order["id"]] = order
    return {i: o for i, o in latest.items() if not o["test"]}


def write_fifth_day(data: Path) -> tuple[int, int]:
    """A later version of one order with two line items and a new test order; returns their ids."""
    first_day = json.loads((data / "2017-10-30.json").read_text(encoding="utf-8"))["orders"]
    changed = dict(next(o for o in first_day if len(o["line_items"]) >= 2))
    changed["updated_at"] = "2017-11-04T09:30:00-04:00"
    changed["total_price"] = "99.99499999999999"  # rounds to 99.99
    changed["gateway"] = ""
    changed["line_items"] = changed["line_items"][:-1]
    test_order = dict(first_day[0], id=1, name="GLO-TEST-1", test=True, user_id=424242,
                      updated_at="2017-11-04T10:00:00-04:00",
                      line_items=[{"id": 1, "variant_id": 1, "quantity": 1, "product_id": 1}])
    (data / "2017-11-04.json").write_text(json.dumps({"orders": [changed, test_order]}), encoding="utf-8")
    return int(changed["id"]), 1


@dataclass
class Loaded:
    target: Target
    data: Path
    changed_id: int
    test_id: int


def glossier_config(target: Target, data: Path) -> Path:
    """The example's shopflow.yml, pointed at `data` and at `target`'s warehouse."""
    config = yaml.safe_load((EXAMPLE / "shopflow.yml").read_text(encoding="utf-8"))
    config["lake"] = str(target.folder / "lake")
    config["warehouse"] = target.warehouse()
    config["transform"]["project"] = str(EXAMPLE / "dbt")
    config["sources"][0]["location"] = str(data)
    path = target.folder / "shopflow.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def loaded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """The example's data plus a fifth day, loaded into each warehouse in turn, then transformed."""
    folder = tmp_path_factory.mktemp(f"glossier_{request.param}")
    server: PostgresServer | None = None
    database = ""
    if request.param == "duckdb":
        target = Target("duckdb", folder)
    else:
        if not POSTGRES_WAREHOUSE_BUILT:
            pytest.skip("the PostgreSQL warehouse (shopflow.warehouse.postgres) is not built yet")
        server = request.getfixturevalue("postgres_server")
        database = server.create_database()
        target = Target("postgres", folder, server.url(database))
    data = folder / "data"
    shutil.copytree(EXAMPLE / "data", data)
    ids = write_fifth_day(data)
    config = load_config(glossier_config(target, data))
    assert run_pipeline(config).exit_code == 0
    report = run_transform(config)
    failed = [(t.name, t.status, t.failures) for t in report.tests if t.status not in ("pass", "warn")]
    assert report.ok, ([(m.name, m.message) for m in report.models if m.status != "success"], failed)
    assert sorted(m.name for m in report.models) == ["order_details", "orders_table", "users_table"]
    yield Loaded(target, data, *ids)
    if server is not None:
        server.drop_database(database)


def test_orders_table(loaded: Loaded) -> None:
    target, data, changed_id, test_id = loaded.target, loaded.data, loaded.changed_id, loaded.test_id
    expected = expected_orders(data)

    rows = target.query(
        "SELECT transaction_id, order_name, user_id, payment_type, is_online_order, total_price, total_tax, "
        "created_at, processed_at FROM analytics.orders_table"
    )

    assert len(rows) == len(expected) == 784
    assert sum(r[5] for r in rows) == sum(_cents(o["total_price"]) for o in expected.values())
    got = {r[0]: r[1:] for r in rows}
    assert test_id not in got
    for order_id, order in expected.items():
        assert got[order_id] == (
            order["name"], order["user_id"], order["gateway"] or None, order["checkout_id"] is not None,
            _cents(order["total_price"]), _cents(order["total_tax"]),
            _when(order["created_at"]), _when(order["processed_at"]),
        ), order_id
    assert got[changed_id][4] == Decimal("99.99") and got[changed_id][2] is None


def test_users_table(loaded: Loaded) -> None:
    target, data = loaded.target, loaded.data
    by_user: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for order in expected_orders(data).values():
        by_user[order["user_id"]].append(order)
    expected = {}
    for user, orders in by_user.items():
        orders.sort(key=lambda o: (_when(o["created_at"]), o["id"]))
        first, last = orders[0], orders[-1]
        expected[user] = (
            len(orders), _when(first["created_at"]), first["name"], _when(last["created_at"]), last["name"],
            last["email"], last["phone"], last["location_id"], last["buyer_accepts_marketing"],
        )

    rows = target.query(
        "SELECT user_id, number_of_orders, first_order_at, first_order_name, last_order_at, last_order_name, "
        "email, phone, location_id, buyer_accepts_marketing FROM analytics.users_table"
    )

    assert {r[0]: tuple(r[1:]) for r in rows} == expected
    assert 424242 not in expected  # the test order's user has no real order


def test_order_details(loaded: Loaded) -> None:
    target, data, changed_id, test_id = loaded.target, loaded.data, loaded.changed_id, loaded.test_id
    expected = {
        (item["id"], order["id"], item["product_id"], item["variant_id"], item["quantity"])
        for order in expected_orders(data).values()
        for item in order["line_items"]
    }

    rows = target.query("SELECT line_item_id, order_id, product_id, variant_id, quantity FROM analytics.order_details")

    assert len(rows) == len(expected) == 1865 - 1
    assert set(rows) == expected
    assert not any(r[1] == test_id for r in rows)
    assert sum(1 for r in rows if r[1] == changed_id) == sum(1 for e in expected if e[1] == changed_id)


def test_the_raw_tables_are_untouched_by_the_models(loaded: Loaded) -> None:
    target, test_id = loaded.target, loaded.test_id
    assert target.query("SELECT count(*) FROM raw.orders") == [(785,)]
    assert target.query(f"SELECT count(*) FROM raw.orders WHERE id = {test_id}") == [(1,)]
    assert target.tables("analytics") == {"orders_table", "users_table", "order_details"}


def test_load_transform_load_transform_in_one_process(target: Target) -> None:
    """What `shopflow run` does day after day in a long-lived process: no lock or connection is left behind."""
    if target.kind == "postgres" and not POSTGRES_WAREHOUSE_BUILT:
        pytest.skip("the PostgreSQL warehouse (shopflow.warehouse.postgres) is not built yet")
    data = target.folder / "data"
    data.mkdir()
    shutil.copy(EXAMPLE / "data" / "2017-10-30.json", data)
    config = load_config(glossier_config(target, data))

    for day in (EXAMPLE / "data" / "2017-10-31.json", EXAMPLE / "more_data" / "2017-11-03.json", None):
        assert run_pipeline(config).exit_code == 0
        assert run_transform(config).ok
        orders = expected_orders(data)
        assert target.query("SELECT count(*), sum(total_price) FROM analytics.orders_table") == [
            (len(orders), sum(_cents(o["total_price"]) for o in orders.values()))
        ]
        if day is not None:
            shutil.copy(day, data)
