"""JSON lines: a bad line is quarantined with its number and raw text, and the file's good lines still load."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.conftest import Store
from tests.helpers import query, run, write_pipeline

TABLE = {"name": "orders", "files": "*.jsonl", "primary_key": "id", "columns": {"amount": "decimal(10,2)"}}


def _line(order_id: int, amount: str = "1.00", **extra: Any) -> bytes:
    return json.dumps({"id": order_id, "amount": amount, **extra}).encode() + b"\n"


def test_bad_lines_are_quarantined_with_their_number_and_the_good_lines_load(store: Store, tmp_path: Path) -> None:
    store.put("orders-1.jsonl", _line(1) + _line(2))
    url = store.put("orders-2.jsonl", b"".join([
        _line(3, "3.00"),
        b'{"id": 4, "amount": "4.00"\n',  # not JSON
        b"\n",  # blank lines are no records
        b'{"id": 5, "name": "Hedy \xff Lamarr", "amount": "5.00"}\n',  # not UTF-8
        b"[6, 7]\n",  # not an object
        _line(8, "8.00"),
    ]))
    config = write_pipeline(tmp_path, store.url, [TABLE], storage=store.storage)

    report = run(config)

    assert report.exit_code == 3, report
    assert report.quarantined == 3
    assert report.tables[0].failed_files == []
    assert query(config, "SELECT id, amount FROM raw.orders ORDER BY id") == [
        (1, Decimal("1.00")), (2, Decimal("1.00")), (3, Decimal("3.00")), (8, Decimal("8.00")),
    ]
    assert query(config, "SELECT file, line, reason, raw FROM raw._quarantine ORDER BY line") == [
        (url, 2, "line is not valid JSON", '{"id": 4, "amount": "4.00"'),
        (url, 4, "line is not valid UTF-8", '{"id": 5, "name": "Hedy \\xff Lamarr", "amount": "5.00"}'),
        (url, 5, "line is not a JSON object", "[6, 7]"),
    ]
    again = run(config)
    assert again.tables[0].files_new == 0
    assert query(config, "SELECT count(*) FROM raw.orders") == [(4,)]


def test_a_value_past_the_sampled_lines_that_changes_type_loses_nothing(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    # DuckDB types a JSON-lines file from its first 20,480 lines: `qty` looks like a number there
    lines = [_line(i, qty=i % 7) for i in range(1, 21_001)] + [_line(21_001, qty="lots")]
    (drop / "orders.jsonl").write_bytes(b"".join(lines))
    config = write_pipeline(tmp_path, str(drop), [TABLE])

    report = run(config)

    assert report.exit_code == 0, report
    assert query(config, "SELECT count(*), count(DISTINCT id) FROM raw.orders") == [(21_001, 21_001)]
    assert query(config, "SELECT qty FROM raw.orders WHERE id IN (7, 8, 21001) ORDER BY id") == [
        ("0",), ("1",), ("lots",),
    ]


def test_a_file_with_no_good_line_is_quarantined_whole(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "orders-1.jsonl").write_bytes(_line(1))
    (drop / "orders-2.jsonl").write_bytes(b"this is not json\nnor is this\n")
    config = write_pipeline(tmp_path, str(drop), [TABLE])

    report = run(config)

    assert report.exit_code == 3, report
    assert query(config, "SELECT id FROM raw.orders") == [(1,)]
    [(file, line, reason, raw)] = query(config, "SELECT file, line, reason, raw FROM raw._quarantine")
    assert file == str(drop / "orders-2.jsonl")
    assert line is None
    assert "no line is a JSON record" in reason and "line 1" in reason
    assert raw == "this is not json\nnor is this\n"
