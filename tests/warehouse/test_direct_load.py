"""Appends and replaces written straight into raw.<table> (no stage), and when they are not."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pyarrow as pa
import pytest

from shopflow.config.model import TableConfig
from shopflow.warehouse.base import LoadJob, LoadResult, Warehouse
from shopflow.warehouse.direct import load_direct
from tests.warehouse.test_contract import LAKE_KEY, Lake, load_pending, rows, warehouse, warehouse_factory

__all__ = ["warehouse", "warehouse_factory"]  # the fixtures, over both warehouses

ORDERS = TableConfig(name="orders")
MONEY = pa.schema([("id", pa.int64()), ("amount", pa.decimal128(12, 2)), ("note", pa.string())])


def direct(warehouse: Warehouse, job: LoadJob) -> tuple[bool, LoadResult]:
    """Run only the direct load of `job`'s batches, in a transaction of its own."""
    result = LoadResult(job.table.name, job.commits[-1].version)
    done = warehouse._transaction(lambda s: load_direct(s, job, [c.batch for c in job.commits], result))
    return done, result


def test_a_first_append_creates_the_table_and_writes_its_rows_once(warehouse: Warehouse) -> None:
    lake = Lake()
    lake.commit(
        "r1",
        {"orders": [{"id": i, "amount": Decimal(f"{i}.25"), "note": f"n{i}"} for i in range(5)]},
        schemas={"orders": MONEY},
    )
    done, result = direct(warehouse, lake.job(ORDERS))
    assert done and result.rows == {"orders": 5}
    assert rows(warehouse, "SELECT id, amount, note, _sf_batch FROM raw.orders ORDER BY id") == [
        (i, Decimal(f"{i}.25"), f"n{i}", "b0000") for i in range(5)
    ]


def test_loads_through_the_warehouse_land_the_same_rows_as_before(warehouse: Warehouse) -> None:
    lake = Lake()
    lake.commit("r1", {"orders": [{"id": 1, "amount": Decimal("1.50"), "note": "a"}]}, schemas={"orders": MONEY})
    first = warehouse.load(lake.job(ORDERS))
    lake.commit(
        "r2",
        {
            "orders": [
                {"id": 2, "amount": Decimal("2.50"), "note": None},
                {"id": 3, "amount": Decimal("-0.01"), "note": "c"},
            ]
        },
        schemas={"orders": MONEY},
    )
    second = load_pending(warehouse, lake, ORDERS)
    assert (first.rows, second.rows) == ({"orders": 1}, {"orders": 2})
    assert rows(warehouse, "SELECT id, amount, note FROM raw.orders ORDER BY id") == [
        (1, Decimal("1.50"), "a"),
        (2, Decimal("2.50"), None),
        (3, Decimal("-0.01"), "c"),
    ]
    assert rows(warehouse, "SELECT CAST(sum(amount) AS VARCHAR) FROM raw.orders") == [("3.99",)]
    assert warehouse.applied_version(LAKE_KEY) == 1


def test_a_replace_goes_straight_in_and_keeps_only_the_new_rows(warehouse: Warehouse) -> None:
    table = TableConfig(name="orders", write_disposition="replace")
    lake = Lake()
    lake.commit("r1", {"orders": [{"id": 1, "amount": Decimal("1.00"), "note": "old"}]}, schemas={"orders": MONEY})
    warehouse.load(lake.job(table))
    lake.commit("r2", {"orders": [{"id": 7, "amount": Decimal("7.00"), "note": "new"}]}, schemas={"orders": MONEY})
    done, result = direct(warehouse, lake.job(table, since=0))
    assert done and result.rows == {"orders": 1}
    assert rows(warehouse, "SELECT id, note FROM raw.orders") == [(7, "new")]


def test_a_type_that_differs_from_the_tables_goes_the_staged_way(warehouse: Warehouse) -> None:
    lake = Lake()
    lake.commit(
        "r1", {"orders": [{"id": 1, "amount": Decimal("1234567890.12"), "note": "a"}]}, schemas={"orders": MONEY}
    )
    warehouse.load(lake.job(ORDERS))
    narrower = pa.schema([("id", pa.int64()), ("amount", pa.decimal128(10, 2)), ("note", pa.string())])
    lake.commit("r2", {"orders": [{"id": 2, "amount": Decimal("1.50"), "note": "b"}]}, schemas={"orders": narrower})

    done, _ = direct(warehouse, lake.job(ORDERS, since=0))
    assert not done
    assert rows(warehouse, "SELECT id FROM raw.orders") == [(1,)]  # nothing written by the refused direct load

    result = load_pending(warehouse, lake, ORDERS)  # the staged path casts into the wider column
    assert result.rows == {"orders": 1} and result.widened == []
    assert rows(warehouse, "SELECT id, amount FROM raw.orders ORDER BY id") == [
        (1, Decimal("1234567890.12")),
        (2, Decimal("1.50")),
    ]


def test_a_new_column_goes_the_staged_way_and_is_added(warehouse: Warehouse) -> None:
    lake = Lake()
    lake.commit("r1", {"orders": [{"id": 1}]})
    warehouse.load(lake.job(ORDERS))
    lake.commit("r2", {"orders": [{"id": 2, "channel": "web"}]})
    assert not direct(warehouse, lake.job(ORDERS, since=0))[0]
    result = load_pending(warehouse, lake, ORDERS)
    assert any("channel" in a for a in result.added)
    assert rows(warehouse, "SELECT id, channel FROM raw.orders ORDER BY id") == [(1, None), (2, "web")]


def test_child_tables_and_merges_are_never_loaded_directly(warehouse: Warehouse) -> None:
    lake = Lake()
    lake.commit("r1", {"orders": [{"id": 1}], "orders__line_items": [{"order_id": 1, "qty": 2}]})
    assert not direct(warehouse, lake.job(ORDERS))[0]
    merge = TableConfig(name="orders", primary_key=["id"], write_disposition="merge")
    assert not direct(warehouse, lake.job(merge))[0]
    assert warehouse.row_count("orders") is None


class _BreakingLake(Lake):
    """A lake whose Arrow stream of `orders` fails after its first batch (a file cut short, a lost disk)."""

    broken = False

    def read(self, output: str, batches: list[str]) -> pa.RecordBatchReader | None:
        reader = super().read(output, batches)
        if reader is None or not self.broken:
            return reader

        def failing() -> Iterator[pa.RecordBatch]:
            stream = iter(reader)
            yield next(stream)
            raise OSError("the lake file ended early")

        return pa.RecordBatchReader.from_batches(reader.schema, failing())


@pytest.mark.parametrize("warehouse_factory", ["postgres"], indirect=True)
def test_a_copy_that_fails_half_way_leaves_raw_as_it_was(warehouse: Warehouse) -> None:
    lake = _BreakingLake()
    lake.commit("r1", {"orders": [{"id": 1, "amount": Decimal("1.00"), "note": "kept"}]}, schemas={"orders": MONEY})
    warehouse.load(lake.job(ORDERS))
    lake.commit(
        "r2",
        {"orders": [{"id": i, "amount": Decimal("2.00"), "note": "lost"} for i in range(2, 9)]},
        schemas={"orders": MONEY},
    )
    lake.broken = True
    with pytest.raises(OSError, match="ended early"):
        load_pending(warehouse, lake, ORDERS)
    assert rows(warehouse, "SELECT id, note FROM raw.orders") == [(1, "kept")]
    assert warehouse.applied_version(LAKE_KEY) == 0

    lake.broken = False  # the next run loads the batch whole
    assert load_pending(warehouse, lake, ORDERS).rows == {"orders": 7}
    assert warehouse.row_count("orders") == 8


@pytest.mark.parametrize("warehouse_factory", ["postgres"], indirect=True)
def test_a_failed_first_copy_creates_no_table(warehouse: Warehouse) -> None:
    lake = _BreakingLake()
    lake.commit(
        "r1",
        {"orders": [{"id": i, "amount": Decimal("1.00"), "note": "x"} for i in range(6)]},
        schemas={"orders": MONEY},
    )
    lake.broken = True
    with pytest.raises(OSError):
        warehouse.load(lake.job(ORDERS))
    assert warehouse.row_count("orders") is None
    assert warehouse.applied_version(LAKE_KEY) == -1
