"""A declared integer column never rounds a fraction silently: 6.5 is quarantined, 7 and 7.0 load as 7.

DuckDB's TRY_CAST('6.5' AS BIGINT) gives 7; shopflow quarantines the row instead, with the
column and the value, unless the column says `round: true`.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import pytest
from tests.helpers import query, run, write_pipeline

BIG = 9223372036854775807  # the largest BIGINT; doubles cannot tell it from BIG - 1


def _pipeline(tmp_path: Path, files: dict[str, bytes], column: Any, pattern: str) -> Path:
    folder = tmp_path / "drop"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    table = {"name": "lines", "files": pattern, "primary_key": "id", "columns": {"quantity": column}}
    return write_pipeline(tmp_path, str(folder), [table])


def _loaded(config: Path) -> list[tuple[Any, ...]]:
    return query(config, "SELECT id, quantity FROM raw.lines ORDER BY id")


def _quarantined(config: Path) -> list[tuple[Any, ...]]:
    return query(config, "SELECT key, reason FROM raw._quarantine ORDER BY key")


def _not_whole(value: str) -> str:
    return f"quantity: {value} is not a whole number; declare round: true to round it"


CSV = (
    "id,quantity\n"
    "1,7\n"
    "2,7.0\n"
    "3,6.5\n"
    "4,-6.5\n"
    f"5,{BIG}\n"
    f"6,{BIG - 1}.5\n"  # rounds to BIG: a double comparison would miss it
    "7,1.5e1\n"  # 15, written with an exponent
    "8,0.00000000000000000001\n"  # more fraction digits than any exact decimal parse keeps
    "9,\n"
    "10,0.4\n"
    "11,15e-1\n"  # 1.5
)


def test_csv_fractions_in_a_bigint_column_are_quarantined(tmp_path: Path) -> None:
    config = _pipeline(tmp_path, {"lines.csv": CSV.encode()}, "bigint", "*.csv")

    report = run(config)

    assert report.exit_code == 3, report
    assert report.quarantined == 6
    assert _loaded(config) == [(1, 7), (2, 7), (5, BIG), (7, 15), (9, None)]
    assert _quarantined(config) == [
        ("[10]", _not_whole("0.4")),
        ("[11]", _not_whole("15e-1")),
        ("[3]", _not_whole("6.5")),
        ("[4]", _not_whole("-6.5")),
        ("[6]", _not_whole(f"{BIG - 1}.5")),
        ("[8]", _not_whole("0.00000000000000000001")),
    ]


@pytest.mark.parametrize("declared", ["integer", "int", "smallint"])
def test_csv_fractions_in_smaller_integer_columns_are_quarantined(tmp_path: Path, declared: str) -> None:
    config = _pipeline(tmp_path, {"lines.csv": b"id,quantity\n1,7\n2,7.00\n3,6.5\n"}, declared, "*.csv")

    assert run(config).exit_code == 3
    assert _loaded(config) == [(1, 7), (2, 7)]
    assert _quarantined(config) == [("[3]", _not_whole("6.5"))]


def test_a_value_out_of_range_is_still_a_cast_error(tmp_path: Path) -> None:
    config = _pipeline(tmp_path, {"lines.csv": b"id,quantity\n1,7\n2,40000.5\n"}, "smallint", "*.csv")

    assert run(config).exit_code == 3
    assert _quarantined(config) == [("[2]", "quantity: cannot cast 40000.5 to SMALLINT")]


JSON = (
    b'[{"id": 1, "quantity": 7}, {"id": 2, "quantity": 7.0}, {"id": 3, "quantity": 6.5},'
    b' {"id": 4, "quantity": "6.5"}, {"id": 5, "quantity": 9223372036854775807}, {"id": 6, "quantity": 1e2},'
    b' {"id": 7, "quantity": "7"}, {"id": 8, "quantity": -0.5}]'
)


@pytest.mark.parametrize("name", ["lines.json", "lines.jsonl"])
def test_json_fractions_in_a_bigint_column_are_quarantined(tmp_path: Path, name: str) -> None:
    records = json.loads(JSON)
    data = JSON if name.endswith(".json") else "".join(json.dumps(r) + "\n" for r in records).encode()
    config = _pipeline(tmp_path, {name: data}, "bigint", name)

    report = run(config)

    assert report.exit_code == 3, report
    assert report.quarantined == 3
    assert _loaded(config) == [(1, 7), (2, 7), (5, BIG), (6, 100), (7, 7)]
    assert _quarantined(config) == [("[3]", _not_whole("6.5")), ("[4]", _not_whole("6.5")),
                                    ("[8]", _not_whole("-0.5"))]
    [(raw,)] = query(config, "SELECT raw FROM raw._quarantine WHERE key = '[8]'")
    assert "-0.5" in raw


def test_many_json_documents_read_together_quarantine_fractions(tmp_path: Path) -> None:
    files = {f"lines-{i}.json": json.dumps([{"id": i, "quantity": q}]).encode()
             for i, q in enumerate([7, 7.0, 6.5, 12], start=1)}
    config = _pipeline(tmp_path, files, "bigint", "lines-*.json")

    assert run(config).exit_code == 3
    assert _loaded(config) == [(1, 7), (2, 7), (4, 12)]
    assert _quarantined(config) == [("[3]", _not_whole("6.5"))]


def test_xlsx_fractions_in_a_bigint_column_are_quarantined(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in [["id", "quantity"], [1, 7], [2, 7.0], [3, 6.5], [4, "6.5"], [5, "7"]]:
        sheet.append(row)
    sink = io.BytesIO()
    book.save(sink)
    config = _pipeline(tmp_path, {"lines.xlsx": sink.getvalue()}, "bigint", "*.xlsx")

    assert run(config).exit_code == 3
    assert _loaded(config) == [(1, 7), (2, 7), (5, 7)]
    assert _quarantined(config) == [("[3]", _not_whole("6.5")), ("[4]", _not_whole("6.5"))]


@pytest.mark.parametrize("stored", ["DOUBLE", "DECIMAL(10,2)"])
def test_parquet_fractions_in_a_bigint_column_are_quarantined(tmp_path: Path, stored: str) -> None:
    path = tmp_path / "lines.parquet"
    duckdb.sql(
        f"COPY (SELECT * FROM (VALUES (1, 7.0::{stored}), (2, 6.5::{stored}), (3, 2.5::{stored}))"
        f" AS t(id, quantity)) TO '{path}' (FORMAT parquet)"
    )
    config = _pipeline(tmp_path, {"lines.parquet": path.read_bytes()}, "bigint", "*.parquet")

    assert run(config).exit_code == 3
    assert _loaded(config) == [(1, 7)]
    assert [key for key, _ in _quarantined(config)] == ["[2]", "[3]"]
    assert _quarantined(config)[0][1].startswith("quantity: 6.5")


def test_round_true_lets_an_integer_column_round(tmp_path: Path) -> None:
    data = b"id,quantity\n1,7\n2,6.5\n3,-6.5\n4,2.4\n"
    config = _pipeline(tmp_path, {"lines.csv": data}, {"type": "bigint", "round": True}, "*.csv")

    report = run(config)

    assert report.exit_code == 0, report
    assert report.quarantined == 0
    assert _loaded(config) == [(1, 7), (2, 7), (3, -7), (4, 2)]
