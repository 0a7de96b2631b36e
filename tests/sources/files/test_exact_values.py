"""Whole numbers past what a double holds exactly never become floats: they load exactly or are quarantined.

DuckDB types a JSON or CSV integer beyond 64 bits as DOUBLE: 99999999999999999999999 and
99999999999999999999998 both become 1e+23, and under merge one of the two orders vanished.
shopflow reads such a column as DECIMAL(38,0) (as text when it also holds fractions or more
than 38 digits), in a DuckDB and a PostgreSQL warehouse alike; a declared integer column
quarantines the value with the reason.
"""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import openpyxl
import pytest
import yaml
from tests.helpers import query, run, write_pipeline

from shopflow.config import load_config
from shopflow.warehouse.factory import open_warehouse

BIG = 99999999999999999999999  # 23 digits: a double holds it as 1e+23
BIGGER = BIG - 1
IDS = [BIG, BIGGER, 5]


def _pipeline(tmp_path: Path, files: dict[str, bytes], pattern: str, **table: Any) -> Path:
    folder = tmp_path / "drop"
    folder.mkdir(exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    spec = {"name": "orders", "files": pattern, "primary_key": "id", "write_disposition": "merge", **table}
    return write_pipeline(tmp_path, str(folder), [spec])


def _on_postgres(config: Path, url: str) -> Path:
    parts = urlsplit(url)
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["warehouse"] = {"type": "postgres", "host": parts.hostname, "port": parts.port, "user": parts.username,
                         "database": parts.path.lstrip("/")}
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return config


def _rows(config: Path, sql: str) -> list[tuple[Any, ...]]:
    if load_config(config).warehouse.type == "duckdb":
        return query(config, sql)
    with open_warehouse(load_config(config).warehouse, read_only=True) as warehouse:
        return [tuple(r) for r in warehouse.query(sql)]


def _jsonl(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


CSV = b"id,amount\n" + b"".join(f"{i},{n}.5\n".encode() for n, i in enumerate(IDS))
RECORDS = [{"id": i, "amount": n + 0.5} for n, i in enumerate(IDS)]
FORMATS = {
    "csv": ({"orders.csv": CSV}, "*.csv"),
    "jsonl": ({"orders.jsonl": _jsonl(RECORDS)}, "*.jsonl"),
    "json": ({"orders.json": json.dumps(RECORDS).encode()}, "*.json"),
    "json_documents": ({f"orders-{n}.json": json.dumps([r]).encode() for n, r in enumerate(RECORDS)}, "*.json"),
}
EXPECTED = [(Decimal(5), 2.5), (Decimal(BIGGER), 1.5), (Decimal(BIG), 0.5)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_integers_past_64_bits_load_exactly_as_decimals(tmp_path: Path, fmt: str) -> None:
    files, pattern = FORMATS[fmt]
    config = _pipeline(tmp_path, files, pattern)

    report = run(config)

    assert report.exit_code == 0, report
    assert query(config, "SELECT id, amount FROM raw.orders ORDER BY id") == EXPECTED
    assert query(config, "SELECT data_type FROM information_schema.columns "
                         "WHERE table_name = 'orders' AND column_name = 'id'") == [("DECIMAL(38,0)",)]


def test_into_postgres_the_ids_stay_exact_and_merge_apart(tmp_path: Path, postgres_database: str) -> None:
    files, pattern = FORMATS["jsonl"]
    config = _on_postgres(_pipeline(tmp_path, files, pattern), postgres_database)

    assert run(config).exit_code == 0
    (tmp_path / "drop" / "more.jsonl").write_bytes(_jsonl([{"id": BIG, "amount": 9.5}]))  # updates one order
    assert run(config).exit_code == 0

    assert _rows(config, "SELECT id, amount FROM raw.orders ORDER BY id") == [
        (Decimal(5), 2.5), (Decimal(BIGGER), 1.5), (Decimal(BIG), 9.5)]


def test_csv_into_postgres_keeps_every_digit(tmp_path: Path, postgres_database: str) -> None:
    config = _on_postgres(_pipeline(tmp_path, {"orders.csv": CSV}, "*.csv"), postgres_database)

    assert run(config).exit_code == 0
    assert _rows(config, "SELECT id::text FROM raw.orders ORDER BY id") == [("5",), (str(BIGGER),), (str(BIG),)]


def test_nested_big_integers_stay_exact(tmp_path: Path) -> None:
    records = [{"id": 1, "customer": {"account": BIG}, "lines": [{"sku": BIGGER}, {"sku": 7}]}]
    config = _pipeline(tmp_path, {"orders.json": json.dumps(records).encode()}, "*.json")

    assert run(config).exit_code == 0
    assert query(config, "SELECT customer__account FROM raw.orders") == [(Decimal(BIG),)]
    assert query(config, "SELECT sku FROM raw.orders__lines ORDER BY _sf_idx") == [(Decimal(BIGGER),), (Decimal(7),)]


def test_xlsx_text_cells_of_big_ids_stay_exact(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in [["id", "amount"], *([str(i), n + 0.5] for n, i in enumerate(IDS))]:
        sheet.append(row)
    sink = io.BytesIO()
    book.save(sink)
    config = _pipeline(tmp_path, {"orders.xlsx": sink.getvalue()}, "*.xlsx")

    assert run(config).exit_code == 0
    assert query(config, "SELECT id, amount FROM raw.orders ORDER BY id") == EXPECTED


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_column_of_fractions_and_big_integers_becomes_exact_text(tmp_path: Path, fmt: str) -> None:
    records: list[dict[str, Any]] = [{"id": 1, "ref": 1.5}, {"id": 2, "ref": BIG}, {"id": 3, "ref": 12345678901234567}]
    data = _jsonl(records) if fmt == "jsonl" else b"id,ref\n" + b"".join(
        f"{r['id']},{r['ref']}\n".encode() for r in records)
    config = _pipeline(tmp_path, {f"orders.{fmt}": data}, f"*.{fmt}")

    assert run(config).exit_code == 0
    assert query(config, "SELECT id, ref FROM raw.orders ORDER BY id") == [
        (1, "1.5"), (2, str(BIG)), (3, "12345678901234567")]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_real_floats_stay_doubles(tmp_path: Path, fmt: str) -> None:
    data = b"id,size\n1,1e23\n2,2.5\n" if fmt == "csv" else b'{"id": 1, "size": 1e23}\n{"id": 2, "size": 2.5}\n'
    config = _pipeline(tmp_path, {f"orders.{fmt}": data}, f"*.{fmt}")

    assert run(config).exit_code == 0
    assert query(config, "SELECT id, size FROM raw.orders ORDER BY id") == [(1, 1e23), (2, 2.5)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_declared_bigint_column_quarantines_what_it_cannot_hold(tmp_path: Path, fmt: str) -> None:
    files, pattern = FORMATS[fmt]
    config = _pipeline(tmp_path, files, pattern, columns={"id": "bigint"})

    report = run(config)

    assert report.exit_code == 3, report
    assert query(config, "SELECT id FROM raw.orders") == [(5,)]
    reasons = query(config, "SELECT reason FROM raw._quarantine ORDER BY raw")
    assert reasons == [
        (f"id: {value} does not fit BIGINT; declare id: decimal(38,0) or text",) for value in sorted([BIGGER, BIG])
    ]
    raws = [r for (r,) in query(config, "SELECT raw FROM raw._quarantine")]
    assert all(str(BIG) in r or str(BIGGER) in r for r in raws)


def test_a_declared_decimal_38_0_column_holds_them(tmp_path: Path) -> None:
    files, pattern = FORMATS["csv"]
    config = _pipeline(tmp_path, files, pattern, columns={"id": "decimal(38,0)"})

    assert run(config).exit_code == 0
    assert query(config, "SELECT id FROM raw.orders ORDER BY id") == [
        (Decimal(5),), (Decimal(BIGGER),), (Decimal(BIG),)]


@pytest.mark.parametrize("together", [True, False], ids=["many_documents", "one_document"])
def test_records_of_a_document_key_stay_exact(tmp_path: Path, together: bool) -> None:
    # Documents are read together the fast way (json_transform), one alone by read_json.
    halves = [RECORDS[:1], RECORDS[1:]] if together else [RECORDS]
    files = {f"orders-{n}.json": json.dumps({"orders": half}).encode() for n, half in enumerate(halves)}
    config = _pipeline(tmp_path, files, "*.json", records="orders")

    assert run(config).exit_code == 0
    assert query(config, "SELECT id, amount FROM raw.orders ORDER BY id") == EXPECTED
