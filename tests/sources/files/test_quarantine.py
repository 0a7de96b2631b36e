"""Malformed files and rows go to raw._quarantine with why, where and the raw text; good rows still load."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import Store
from tests.helpers import query, run, write_pipeline

GOOD = [
    {"id": 1, "name": "Ada Lovelace", "amount": "19.99"},
    {"id": 2, "name": "Grace Hopper", "amount": "5.00"},
]
GOOD_ROWS = [(1, "Ada Lovelace", Decimal("19.99")), (2, "Grace Hopper", Decimal("5.00"))]
GOOD_CSV = b"id,name,amount\n1,Ada Lovelace,19.99\n2,Grace Hopper,5.00\n"


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


@dataclass
class Case:
    """One malformed input next to a good file."""

    files: dict[str, bytes]
    bad: str  # the file whose row or whole content is quarantined
    reason: str  # a fragment the quarantine reason must hold (case-insensitive)
    raw: str  # a fragment the quarantined raw text must hold
    rows: list[tuple[Any, ...]]  # (id, name, amount) loaded into raw.orders
    table: dict[str, Any] = field(default_factory=dict)
    key: str | None = None  # the quarantined row's primary key, as stored
    line: int | None = None  # the quarantined line of a CSV file (the header is line 1)


CASES: dict[str, Case] = {
    "truncated_json": Case(
        files={"orders-1.json": json.dumps(GOOD).encode(),
               "orders-2.json": b'[{"id": 3, "name": "Katherine Johnson", "amount": "1.00"}, {"id": 4, "na'},
        bad="orders-2.json", reason="cannot read as json", raw='{"id": 4, "na', rows=GOOD_ROWS,
    ),
    "csv_too_many_fields": Case(
        files={"orders-1.csv": GOOD_CSV,
               "orders-2.csv": b"id,name,amount\n3,Katherine Johnson,1.00\n4,Hedy Lamarr,2.00,surprise\n"},
        bad="orders-2.csv", reason="too many columns", raw="4,Hedy Lamarr,2.00,surprise",
        rows=[*GOOD_ROWS, (3, "Katherine Johnson", Decimal("1.00"))], line=3,
    ),
    "csv_invalid_utf8": Case(
        files={"orders-1.csv": GOOD_CSV,
               "orders-2.csv": b"id,name,amount\n3,Katherine Johnson,1.00\n4,Hedy \xff\xfe Lamarr,2.00\n"},
        bad="orders-2.csv", reason="unicode", raw="Hedy",
        rows=[*GOOD_ROWS, (3, "Katherine Johnson", Decimal("1.00"))], line=3,
    ),
    "jsonl_invalid_utf8": Case(
        files={"orders-1.jsonl": _jsonl(GOOD),
               "orders-2.jsonl": b'{"id": 4, "name": "Hedy \xff\xfe Lamarr", "amount": "2.00"}\n'},
        bad="orders-2.jsonl", reason="utf-8", raw="Hedy", rows=GOOD_ROWS,
    ),
    "string_in_decimal_column": Case(
        files={"orders-1.jsonl": _jsonl(GOOD),
               "orders-2.jsonl": _jsonl([{"id": 3, "name": "Katherine Johnson", "amount": "1.00"},
                                         {"id": 4, "name": "Hedy Lamarr", "amount": "twelve"}])},
        bad="orders-2.jsonl", reason="amount: cannot cast twelve to DECIMAL(10,2)", raw='"twelve"',
        rows=[*GOOD_ROWS, (3, "Katherine Johnson", Decimal("1.00"))], key="[4]",
    ),
    "string_in_bigint_column": Case(
        files={"orders-1.csv": b"id,name,amount,quantity\n1,Ada Lovelace,19.99,1\n2,Grace Hopper,5.00,2\n",
               "orders-2.csv": b"id,name,amount,quantity\n3,Katherine Johnson,1.00,3\n4,Hedy Lamarr,2.00,lots\n"},
        bad="orders-2.csv", reason="quantity: cannot cast lots to BIGINT", raw="lots",
        rows=[*GOOD_ROWS, (3, "Katherine Johnson", Decimal("1.00"))], key="[4]",
        table={"columns": {"amount": "decimal(10,2)", "quantity": "bigint"}},
    ),
    "empty_file": Case(
        files={"orders-1.jsonl": _jsonl(GOOD), "orders-2.jsonl": b""},
        bad="orders-2.jsonl", reason="file is empty (0 bytes)", raw="", rows=GOOD_ROWS,
    ),
    "null_primary_key_merge": Case(
        files={"orders-1.jsonl": _jsonl(GOOD),
               "orders-2.jsonl": _jsonl([{"id": 3, "name": "Katherine Johnson", "amount": "1.00"},
                                         {"id": None, "name": "Nobody", "amount": "2.00"}])},
        bad="orders-2.jsonl", reason="primary key id is null", raw='"Nobody"',
        rows=[*GOOD_ROWS, (3, "Katherine Johnson", Decimal("1.00"))],
        table={"write_disposition": "merge"},
    ),
    "too_many_decimals_without_round": Case(
        files={"orders-1.jsonl": _jsonl(GOOD),
               "orders-2.jsonl": _jsonl([{"id": 3, "name": "Katherine Johnson", "amount": "1.00"},
                                         {"id": 4, "name": "Hedy Lamarr", "amount": "130.64999999999998"}])},
        bad="orders-2.jsonl", reason="130.64999999999998 has more than 2 decimal places; declare round: true",
        raw="130.64999999999998", rows=[*GOOD_ROWS, (3, "Katherine Johnson", Decimal("1.00"))], key="[4]",
    ),
}


def _table(case: Case) -> dict[str, Any]:
    pattern = "orders-*" + Path(case.bad).suffix
    return {"name": "orders", "files": pattern, "primary_key": "id",
            "columns": {"amount": "decimal(10,2)"}, **case.table}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_quarantined_and_good_rows_load(store: Store, tmp_path: Path, name: str) -> None:
    case = CASES[name]
    urls = {f: store.put(f, data) for f, data in case.files.items()}
    config = write_pipeline(tmp_path, store.url, [_table(case)], storage=store.storage)

    report = run(config)

    assert report.exit_code == 3, report
    assert report.quarantined == 1
    assert query(config, "SELECT id, name, amount FROM raw.orders ORDER BY id") == case.rows
    quarantined = query(config, "SELECT \"table\", file, reason, raw, key, line FROM raw._quarantine")
    assert len(quarantined) == 1, quarantined
    table, file, reason, raw, key, line = quarantined[0]
    assert table == "orders"
    assert file == urls[case.bad]
    assert case.reason.lower() in reason.lower(), reason
    assert case.raw in raw, raw
    if case.key is not None:
        assert key == case.key
    if case.line is not None:
        assert line == case.line

    again = run(config)

    assert again.exit_code == 0, again
    assert again.tables[0].files_new == 0
    assert query(config, "SELECT id, name, amount FROM raw.orders ORDER BY id") == case.rows
    assert query(config, "SELECT count(*) FROM raw._quarantine") == [(1,)]


def test_invalid_utf8_raw_text_keeps_the_bad_bytes_visible(store: Store, tmp_path: Path) -> None:
    store.put("orders-1.jsonl", _jsonl(GOOD))
    store.put("orders-2.jsonl", b'{"id": 4, "name": "Hedy \xff Lamarr", "amount": "2.00"}\n')
    config = write_pipeline(tmp_path, store.url, [_table(CASES["jsonl_invalid_utf8"])], storage=store.storage)

    assert run(config).exit_code == 3
    [(raw,)] = query(config, "SELECT raw FROM raw._quarantine")
    assert "Hedy \\xff Lamarr" in raw


def test_round_true_rounds_half_up_instead_of_quarantining(store: Store, tmp_path: Path) -> None:
    store.put("orders-1.jsonl", _jsonl([
        {"id": 1, "name": "Ada Lovelace", "amount": "130.64999999999998"},
        {"id": 2, "name": "Grace Hopper", "amount": "0.125"},
        {"id": 3, "name": "Katherine Johnson", "amount": "2.50"},
    ]))
    table = {"name": "orders", "files": "*.jsonl", "primary_key": "id",
             "columns": {"amount": {"type": "decimal(10,2)", "round": True}}}
    config = write_pipeline(tmp_path, store.url, [table], storage=store.storage)

    report = run(config)

    assert report.exit_code == 0, report
    assert query(config, "SELECT id, amount FROM raw.orders ORDER BY id") == [
        (1, Decimal("130.65")), (2, Decimal("0.13")), (3, Decimal("2.50")),
    ]


def test_first_run_with_only_bad_files_on_a_merge_table(store: Store, tmp_path: Path) -> None:
    bad = store.put("orders-1.jsonl", b'{"id": 1, "name": "Ada')
    table = {"name": "orders", "files": "orders-*.jsonl", "primary_key": "id", "write_disposition": "merge",
             "columns": {"amount": "decimal(10,2)"}}
    config = write_pipeline(tmp_path, store.url, [table], storage=store.storage)

    report = run(config)

    assert report.exit_code == 3, report
    assert query(config, "SELECT file FROM raw._quarantine") == [(bad,)]
    store.put("orders-2.jsonl", _jsonl(GOOD))
    later = run(config)
    assert later.exit_code == 0, later
    assert later.tables[0].files_new == 1
    assert query(config, "SELECT id, name, amount FROM raw.orders ORDER BY id") == GOOD_ROWS
    assert query(config, "SELECT count(*) FROM raw._quarantine") == [(1,)]
