"""Change data capture end to end: a PostgreSQL table's inserts, updates and deletes reach the warehouse.

Each test changes the source between runs and compares the warehouse (loaded through the real
load path, merge by key with the change position as cursor) with the source, row for row.
"""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from typing import Any

import pytest

from shopflow.errors import SourceError

Capture = Any  # the `capture` fixture's class lives in conftest.py


def seed(cap: Capture, n: int = 50) -> None:
    cap.execute(
        "INSERT INTO orders SELECT g, g * 1.25, timestamptz '2024-03-01 12:00:00+00' + g * interval '1 hour', "
        f"'order ' || g, g % 2 = 0, jsonb_build_object('n', g, 'tags', jsonb_build_array('a', g)) "
        f"FROM generate_series(1, {n}) g"
    )


def test_first_run_copies_the_table_and_types_round_trip_exactly(capture: Capture) -> None:
    capture.execute(
        "INSERT INTO orders VALUES (1, 1234567890.12, '2024-02-29 23:59:59.123456+05:30', 'héllo, \"world\"', true, "
        "'{\"b\": [1, 2.50, null], \"a\": {\"x\": \"y\"}}'), (2, -0.01, NULL, '', false, 'null'), "
        "(9223372036854775807, NULL, '1970-01-01 00:00:00+00', NULL, NULL, NULL)"
    )
    run = capture.sync()

    assert run.tables["orders"].snapshot_rows == 3
    assert run.tables["orders"].primary_key == ["id"]
    rows = capture.warehouse_orders()
    assert rows == capture.source_orders()
    first = rows[0]
    assert first[1] == Decimal("1234567890.12")
    assert first[2] == dt.datetime(2024, 2, 29, 18, 29, 59, 123456, tzinfo=dt.UTC)
    assert first[5] == '{"a": {"x": "y"}, "b": [1, 2.50, null]}'
    assert rows[1][3] == "" and rows[2][3] is None
    types = dict(capture.warehouse(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'orders'"))
    assert types["amount"] == "DECIMAL(12,2)" and types["placed_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["id"] == "BIGINT" and types["paid"] == "BOOLEAN" and types["doc"] == "VARCHAR"


def test_inserts_updates_and_deletes_across_runs_end_equal_to_the_source(capture: Capture) -> None:
    seed(capture)
    capture.sync()

    capture.execute("UPDATE orders SET amount = amount + 100, doc = doc || '{\"v\": 2}' WHERE id <= 10")
    capture.execute("DELETE FROM orders WHERE id BETWEEN 41 AND 50")
    capture.execute("INSERT INTO orders VALUES (100, 9.99, now(), 'new', true, '[]')")
    run = capture.sync()
    assert run.tables["orders"].changes == 21
    assert capture.warehouse_orders() == capture.source_orders()

    capture.execute("UPDATE orders SET note = NULL, paid = NULL WHERE id = 100")
    capture.execute("DELETE FROM orders WHERE id = 1")
    capture.execute("INSERT INTO orders VALUES (1, 1, now(), 'back again', false, '{}')")
    capture.sync()
    assert capture.warehouse_orders() == capture.source_orders()
    assert len(capture.warehouse_orders()) == 41

    # the lake holds every change once, with its operation and position
    lake = capture.lake().to_pylist()
    ops = sorted((r["_sf_op"], r["id"]) for r in lake if r["id"] in (1, 100))
    assert ops == [("delete", 1), ("insert", 1), ("insert", 100), ("snapshot", 1), ("update", 1), ("update", 100)]
    deletes = [r for r in lake if r["_sf_deleted"]]
    assert len(deletes) == 11 and all(r["note"] is None for r in deletes)


def test_a_run_without_changes_commits_nothing_and_still_confirms_the_slot(capture: Capture) -> None:
    seed(capture, 5)
    capture.sync()
    before = capture.slot_position()
    capture.execute("CREATE TABLE unrelated (x int)")  # WAL the publication does not cover
    capture.execute("INSERT INTO unrelated SELECT generate_series(1, 1000)")

    run = capture.sync()

    assert run.tables["orders"].commits == 0
    assert capture.slot_position() != before
    assert capture.warehouse_orders() == capture.source_orders()


def test_several_changes_to_one_row_in_one_batch_end_at_the_last(capture: Capture) -> None:
    seed(capture, 3)
    capture.sync()
    capture.execute("UPDATE orders SET amount = 1 WHERE id = 2")
    capture.execute("UPDATE orders SET amount = 2 WHERE id = 2")
    capture.execute(
        "BEGIN; UPDATE orders SET amount = 3 WHERE id = 2; UPDATE orders SET amount = 4, note = 'last' WHERE id = 2; "
        "INSERT INTO orders VALUES (7, 1, now(), 'short-lived', true, '{}'); DELETE FROM orders WHERE id = 7; COMMIT"
    )

    capture.sync()

    assert capture.warehouse("SELECT amount, note FROM raw.orders WHERE id = 2") == [(Decimal("4.00"), "last")]
    assert capture.warehouse("SELECT count(*) FROM raw.orders WHERE id = 7") == [(0,)]
    assert capture.warehouse_orders() == capture.source_orders()


def test_a_rolled_back_transaction_never_shows(capture: Capture) -> None:
    seed(capture, 3)
    capture.sync()
    capture.execute("BEGIN; INSERT INTO orders VALUES (50, 1, now(), 'ghost', true, '{}'); "
                    "UPDATE orders SET note = 'ghost' WHERE id = 1; DELETE FROM orders WHERE id = 2; ROLLBACK")
    capture.execute("UPDATE orders SET note = 'real' WHERE id = 3")

    run = capture.sync()

    assert run.tables["orders"].changes == 1
    assert "ghost" not in {r["note"] for r in capture.lake().to_pylist()}
    assert capture.warehouse_orders() == capture.source_orders()


def test_an_update_of_the_key_deletes_the_old_key(capture: Capture) -> None:
    seed(capture, 3)
    capture.sync()
    capture.execute("UPDATE orders SET id = 30 WHERE id = 3")

    capture.sync()

    assert [r[0] for r in capture.warehouse_orders()] == [1, 2, 30]
    assert capture.warehouse_orders() == capture.source_orders()


@pytest.mark.parametrize("identity", ["DEFAULT", "FULL"])
def test_an_update_that_leaves_a_large_value_alone_keeps_it(capture: Capture, identity: str) -> None:
    # Incompressible text past 2 kB is stored out of line (TOAST); an update that does not touch it
    # does not log it again, so the capture must fill it from what it already holds.
    big = os.urandom(6000).hex()
    capture.execute(f"ALTER TABLE orders REPLICA IDENTITY {identity}")
    capture.execute("INSERT INTO orders VALUES (1, 1, now(), %s, true, '{}'), (2, 2, now(), 'small', true, '{}')",
                    [big])
    capture.sync()
    capture.execute("UPDATE orders SET amount = 5 WHERE id = 1")
    capture.execute("UPDATE orders SET amount = 6 WHERE id = 1")
    capture.sync()
    capture.execute("UPDATE orders SET paid = false WHERE id = 1")

    capture.sync()

    assert capture.warehouse("SELECT note, amount, paid FROM raw.orders WHERE id = 1") == [
        (big, Decimal("6.00"), False)]
    assert all(r["note"] == big for r in capture.lake().to_pylist() if r["id"] == 1)
    assert capture.warehouse_orders() == capture.source_orders()


def test_small_batches_make_several_commits_with_the_same_result(capture: Capture) -> None:
    capture.options = {"max_changes_per_batch": 10, "batch_rows": 7}
    seed(capture, 20)
    capture.sync()
    for i in range(1, 21):
        capture.execute(f"UPDATE orders SET amount = amount * 2 WHERE id = {i}")
    capture.execute("DELETE FROM orders WHERE id > 15")

    run = capture.sync()

    assert run.tables["orders"].commits > 1
    assert run.tables["orders"].changes == 25
    assert capture.warehouse_orders() == capture.source_orders()


def test_a_new_column_flows_into_the_lake_and_warehouse(capture: Capture) -> None:
    seed(capture, 3)
    capture.sync()
    capture.execute("UPDATE orders SET amount = 10 WHERE id = 1")
    capture.execute("ALTER TABLE orders ADD COLUMN channel text")
    capture.execute("UPDATE orders SET channel = 'web' WHERE id = 2")

    capture.sync()

    assert capture.warehouse("SELECT id, amount, channel FROM raw.orders ORDER BY id") == [
        (1, Decimal("10.00"), None), (2, Decimal("2.50"), "web"), (3, Decimal("3.75"), None)]


def test_a_truncate_stops_the_capture_with_the_way_out(capture: Capture) -> None:
    seed(capture, 3)
    capture.sync()
    capture.execute("TRUNCATE orders")

    with pytest.raises(SourceError, match="truncated") as error:
        capture.extract()
    assert error.value.fix is not None and "cdc drop" in error.value.fix


def test_every_type_lands_alike_from_the_copy_and_from_the_changes(capture: Capture) -> None:
    capture.execute("CREATE TYPE mood AS ENUM ('ok', 'sad')")
    capture.execute(
        "CREATE TABLE kinds (id int PRIMARY KEY, small smallint, ratio float8, tiny real, plain numeric, "
        "wide numeric(40,2), day date, at timestamp, clock time, span interval, code char(3), name varchar(10), "
        "uid uuid, tags text[], raw bytea, feeling mood, data json)"
    )
    values = ("1, 3.14159, 2.5, 12345678901234567890.123456789, 123456789012345678901234567890123456.78, "
              "'2024-02-29', '2024-02-29 10:11:12.5', '23:59:59', '1 day 02:03:04', 'ab', 'varchar', "
              "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{a,\"b c\",NULL}', '\\x00ff10', 'sad', '{\"k\": [1, 2]}'")
    capture.execute(f"INSERT INTO kinds VALUES (1, {values})")
    capture.tables = ["public.kinds"]
    capture.sync({"kinds": ["id"]})
    capture.execute(f"INSERT INTO kinds VALUES (2, {values})")
    capture.sync({"kinds": ["id"]})

    lake = sorted(capture.lake("kinds").to_pylist(), key=lambda r: r["id"])
    copied, changed = ({k: v for k, v in r.items() if not k.startswith("_sf_") and k != "id"} for r in lake)
    assert [r["_sf_op"] for r in lake] == ["snapshot", "insert"]
    assert copied == changed
    assert copied["small"] == 1 and copied["plain"] == pytest.approx(12345678901234567890.123456789)
    assert copied["wide"] == "123456789012345678901234567890123456.78"
    assert copied["day"] == dt.date(2024, 2, 29) and copied["at"] == dt.datetime(2024, 2, 29, 10, 11, 12, 500000)
    assert copied["raw"] == b"\x00\xff\x10"
    assert (copied["code"], copied["clock"], copied["span"]) == ("ab", "23:59:59", "1 day 02:03:04")
    assert (copied["tags"], copied["feeling"], copied["data"]) == ('{a,"b c",NULL}', "sad", '{"k": [1, 2]}')
    assert copied["uid"] == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    assert capture.warehouse("SELECT count(*) FROM raw.kinds") == [(2,)]


def test_a_partitioned_table_is_captured_under_its_own_name(capture: Capture) -> None:
    capture.execute("CREATE TABLE events (id int, day date, what text, PRIMARY KEY (id, day)) PARTITION BY RANGE (day)")
    capture.execute("CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')")
    capture.execute("CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')")
    capture.execute("INSERT INTO events VALUES (1, '2024-05-01', 'copied'), (2, '2025-05-01', 'copied')")
    capture.tables = ["public.events"]
    capture.sync({"events": ["id", "day"]})
    capture.execute("INSERT INTO events VALUES (3, '2025-06-01', 'new')")
    capture.execute("UPDATE events SET what = 'changed' WHERE id = 1")
    capture.execute("DELETE FROM events WHERE id = 2")

    capture.sync({"events": ["id", "day"]})

    assert capture.warehouse("SELECT id, what FROM raw.events ORDER BY id") == [(1, "changed"), (3, "new")]
