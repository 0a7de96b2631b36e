"""More loads on every warehouse of the contract suite: replaced files, floats meeting whole numbers."""

from __future__ import annotations

import dataclasses

import pyarrow as pa
import pytest

from shopflow.config.model import TableConfig
from shopflow.errors import SchemaDriftError
from shopflow.warehouse.base import Warehouse
from tests.warehouse.test_contract import (  # noqa: F401 - the fixtures run these tests on every warehouse
    LAKE_KEY,
    Lake,
    load_pending,
    rows,
    warehouse,
    warehouse_factory,
)

BIG = 2**53 + 1  # the first whole number a DOUBLE cannot hold


def _lake_with(column_type: pa.DataType, value: object) -> Lake:
    lake = Lake()
    lake.commit("r1", {"orders": [{"id": 1, "amount": value}]},
                schemas={"orders": pa.schema([("id", pa.int64()), ("amount", column_type)])})
    return lake


def test_a_bigint_column_refuses_doubles(warehouse: Warehouse) -> None:  # noqa: F811
    table = TableConfig(name="orders")
    lake = _lake_with(pa.int64(), BIG)
    warehouse.load(lake.job(table))
    lake.commit("r2", {"orders": [{"id": 2, "amount": 0.5}]})

    with pytest.raises(SchemaDriftError, match="amount"):
        load_pending(warehouse, lake, table)

    assert rows(warehouse, "SELECT amount FROM raw.orders") == [(BIG,)]
    assert warehouse.applied_version(LAKE_KEY) == 0


def test_a_double_column_refuses_bigints_it_would_round(warehouse: Warehouse) -> None:  # noqa: F811
    table = TableConfig(name="orders")
    lake = _lake_with(pa.float64(), 0.5)
    warehouse.load(lake.job(table))
    lake.commit("r2", {"orders": [{"id": 2, "amount": BIG}]})

    with pytest.raises(SchemaDriftError, match="amount"):
        load_pending(warehouse, lake, table)
    assert rows(warehouse, "SELECT amount FROM raw.orders") == [(0.5,)]


def test_an_integer_column_widens_to_double(warehouse: Warehouse) -> None:  # noqa: F811
    table = TableConfig(name="orders")
    lake = _lake_with(pa.int32(), 2**31 - 1)
    warehouse.load(lake.job(table))
    lake.commit("r2", {"orders": [{"id": 2, "amount": 0.5}]})

    result = load_pending(warehouse, lake, table)

    assert len(result.widened) == 1 and result.widened[0].startswith("orders.amount")
    assert rows(warehouse, "SELECT id, amount FROM raw.orders ORDER BY id") == [(1, 2**31 - 1), (2, 0.5)]


def test_a_replaced_file_takes_its_old_rows_and_children_with_it(warehouse: Warehouse) -> None:  # noqa: F811
    lake = Lake()
    table = TableConfig(name="orders")
    lake.commit("r1", {"orders": [{"id": 1}, {"id": 2}], "orders__line_items": [{"order_id": 1, "sku": "a"}]},
                file="file:///drop/day1.json")
    lake.commit("r1", {"orders": [{"id": 3}], "orders__line_items": [{"order_id": 3, "sku": "c"}]},
                file="file:///drop/day2.json")
    warehouse.load(lake.job(table))

    # day1.json changed: its new version replaces every row the old one brought, children included
    lake.commit("r2", {"orders": [{"id": 1}], "orders__line_items": [{"order_id": 1, "sku": "b"}]},
                file="file:///drop/day1.json")
    lake.commits[-1] = dataclasses.replace(lake.commits[-1], replaces=("file:///drop/day1.json",))
    load_pending(warehouse, lake, table)

    assert rows(warehouse, "SELECT id, _sf_file FROM raw.orders ORDER BY id") == [
        (1, "file:///drop/day1.json"), (3, "file:///drop/day2.json")
    ]
    assert rows(warehouse, "SELECT order_id, sku FROM raw.orders__line_items ORDER BY order_id") == [(1, "b"), (3, "c")]


@pytest.mark.parametrize("disposition", ["append", "merge"])
def test_a_file_replaced_while_its_first_version_is_pending_lands_once(
    warehouse: Warehouse, disposition: str  # noqa: F811
) -> None:
    """Two runs' commits pending at once, the later replacing a file of the earlier: only the new version lands."""
    lake = Lake()
    table = TableConfig(name="orders", primary_key=["id"], write_disposition=disposition)
    lake.commit("r1", {"orders": [{"id": 1, "v": "old"}, {"id": 2, "v": "old"}],
                       "orders__line_items": [{"order_id": 1, "sku": "a"}, {"order_id": 2, "sku": "b"}]},
                file="file:///drop/day1.json")
    lake.commit("r1", {"orders": [{"id": 3, "v": "other"}]}, file="file:///drop/day2.json")
    # the next run read day1.json again, rewritten, before any of the above was loaded
    lake.commit("r2", {"orders": [{"id": 1, "v": "new"}], "orders__line_items": [{"order_id": 1, "sku": "c"}]},
                file="file:///drop/day1.json")
    lake.commits[-1] = dataclasses.replace(lake.commits[-1], replaces=("file:///drop/day1.json",))

    result = load_pending(warehouse, lake, table)  # all three commits in one load

    assert rows(warehouse, "SELECT id, v FROM raw.orders ORDER BY id") == [(1, "new"), (3, "other")]
    assert rows(warehouse, "SELECT order_id, sku FROM raw.orders__line_items ORDER BY order_id") == [(1, "c")]
    assert result.lake_version == 2
    assert result.rows == {"orders": 2, "orders__line_items": 1}  # what stayed, not the old version's rows too
    assert warehouse.applied_version(LAKE_KEY) == 2
    assert rows(warehouse, "SELECT lake_version FROM _shopflow.loads ORDER BY 1") == [(0,), (1,), (2,)]
