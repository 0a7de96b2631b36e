"""One file's type change (qty: 5, then qty: "five") blocks neither the other files nor later runs.

A column keeps the type it got first (in the lake, or from the first file of a commit). Values
of a later file that fit it load ("7" becomes 7); values that do not go to quarantine with the
column, the value and the fix, and the file counts as read, so the next run goes on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Store
from tests.helpers import query, run, write_pipeline

TABLE = {"name": "orders", "files": "*.jsonl", "primary_key": "id"}


def _jsonl(*rows: dict[str, Any]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def _quarantined(config: Path) -> list[tuple[Any, ...]]:
    return query(config, "SELECT file, key, reason, raw FROM raw._quarantine ORDER BY key")


def test_type_change_in_one_file_of_a_commit_quarantines_only_its_misfits(store: Store, tmp_path: Path) -> None:
    # CSV files are read one by one, each with its own sniffed types: bigint, then text.
    store.put("orders-1.csv", b"id,qty\n1,5\n2,6\n")
    bad = store.put("orders-2.csv", b"id,qty\n3,five\n4,7\n")
    store.put("orders-3.csv", b"id,qty\n5,8\n")
    config = write_pipeline(tmp_path, store.url, [{**TABLE, "files": "*.csv"}], storage=store.storage)

    report = run(config)

    assert report.exit_code == 3, report
    assert report.tables[0].error is None
    assert query(config, "SELECT id, qty FROM raw.orders ORDER BY id") == [(1, 5), (2, 6), (4, 7), (5, 8)]
    [(file, key, reason, raw)] = _quarantined(config)
    assert (file, key) == (bad, "[3]")
    assert "qty: 'five' does not fit bigint, the type earlier files of this run gave qty" in reason, reason
    assert "declare qty: text under columns: of table 'orders'" in reason, reason
    assert json.loads(raw) == {"id": 3, "qty": "five"}

    store.put("orders-4.csv", b"id,qty\n6,9\n")
    later = run(config)
    assert later.exit_code == 0, later
    assert later.tables[0].files_new == 1
    assert query(config, "SELECT count(*), sum(qty) FROM raw.orders") == [(5, 35)]


def test_json_files_read_together_keep_every_value_as_text(tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "orders-1.jsonl").write_bytes(_jsonl({"id": 1, "qty": 5}))
    (folder / "orders-2.jsonl").write_bytes(_jsonl({"id": 2, "qty": "five"}))
    config = write_pipeline(tmp_path, str(folder), [TABLE])

    assert run(config).exit_code == 0
    assert query(config, "SELECT id, qty FROM raw.orders ORDER BY id") == [(1, "5"), (2, "five")]


@pytest.mark.parametrize("store", ["folder"], indirect=True)
def test_type_change_in_a_later_run_does_not_stick(store: Store, tmp_path: Path) -> None:
    store.put("orders-1.jsonl", _jsonl({"id": 1, "qty": 5}))
    config = write_pipeline(tmp_path, store.url, [TABLE], storage=store.storage)
    assert run(config).exit_code == 0
    bad = store.put("orders-2.jsonl", _jsonl({"id": 2, "qty": "five"}, {"id": 3, "qty": "six"}))
    store.put("orders-3.jsonl", _jsonl({"id": 4, "qty": 7}))

    report = run(config)

    assert report.exit_code == 3, report
    assert report.quarantined == 2
    assert query(config, "SELECT id, qty FROM raw.orders ORDER BY id") == [(1, 5), (4, 7)]
    assert [(f, k) for f, k, _, _ in _quarantined(config)] == [(bad, "[2]"), (bad, "[3]")]
    assert all("the type qty has in the lake" in reason for _, _, reason, _ in _quarantined(config))

    for _ in range(2):
        again = run(config)
        assert again.exit_code == 0, again
        assert again.tables[0].error is None
    store.put("orders-4.jsonl", _jsonl({"id": 5, "qty": 8}))
    assert run(config).exit_code == 0
    assert query(config, "SELECT id, qty FROM raw.orders ORDER BY id") == [(1, 5), (4, 7), (5, 8)]


@pytest.mark.parametrize("store", ["folder"], indirect=True)
def test_type_change_in_a_file_with_nested_rows_quarantines_that_file(store: Store, tmp_path: Path) -> None:
    def doc(order_id: int, qty: Any) -> bytes:
        return json.dumps([{"id": order_id, "qty": qty, "items": [{"sku": "A", "n": 1}]}]).encode()

    store.put("orders-1.json", doc(1, 5))
    config = write_pipeline(tmp_path, store.url, [{**TABLE, "files": "*.json"}], storage=store.storage)
    assert run(config).exit_code == 0
    bad = store.put("orders-2.json", doc(2, "five"))
    store.put("orders-3.json", doc(3, 7))

    report = run(config)

    assert report.exit_code == 3, report
    assert query(config, "SELECT id, qty FROM raw.orders ORDER BY id") == [(1, 5), (3, 7)]
    assert query(config, "SELECT order_id FROM raw.orders__items ORDER BY 1") == [(1,), (3,)]
    [(file, _, reason, _)] = _quarantined(config)
    assert file == bad
    assert "qty: 'five' does not fit bigint" in reason and "nested" in reason, reason
