"""Every supported file format, plain and gzipped, on a folder, S3 and Azure: exact rows and values land."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.conftest import Store
from tests.helpers import query, run, write_pipeline

ORDERS = [
    {"id": 1, "name": "Ada Lovelace", "amount": "19.99"},
    {"id": 2, "name": "Zoë Müller", "amount": "130.65"},
    {"id": 3, "name": "Grace Hopper", "amount": "5.00"},
]
TOTAL = Decimal("155.64")


def _json_array() -> bytes:
    return json.dumps(ORDERS).encode()


def _json_records() -> bytes:
    return json.dumps({"shop": "glossier", "count": 3, "orders": ORDERS}).encode()


def _jsonl() -> bytes:
    return "".join(json.dumps(o) + "\n" for o in ORDERS).encode()


def _csv(delimiter: str = ",", encoding: str = "utf-8") -> bytes:
    lines = [delimiter.join(["id", "name", "amount"])]
    lines += [delimiter.join([str(o["id"]), o["name"], o["amount"]]) for o in ORDERS]
    return ("\n".join(lines) + "\n").encode(encoding)


def _parquet() -> bytes:
    table = pa.table({
        "id": pa.array([o["id"] for o in ORDERS], pa.int32()),
        "name": [o["name"] for o in ORDERS],
        "amount": pa.array([Decimal(o["amount"]) for o in ORDERS], pa.decimal128(10, 2)),
    })
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _xlsx() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Orders"
    sheet.append(["id", "name", "amount"])
    for o in ORDERS:
        sheet.append([o["id"], o["name"], o["amount"]])
    sink = io.BytesIO()
    book.save(sink)
    return sink.getvalue()


# name -> (file name, bytes maker, extra table options)
CASES: dict[str, tuple[str, Callable[[], bytes], dict[str, Any]]] = {
    "json_array": ("orders.json", _json_array, {}),
    "json_records_key": ("orders.json", _json_records, {"records": "orders"}),
    "jsonl": ("orders.jsonl", _jsonl, {}),
    "ndjson": ("orders.ndjson", _jsonl, {}),
    "csv_semicolon": ("orders.csv", lambda: _csv(";"), {"csv": {"delimiter": ";", "header": True}}),
    "csv_latin1": ("orders.csv", lambda: _csv(encoding="latin-1"), {"csv": {"encoding": "latin-1"}}),
    "parquet": ("orders.parquet", _parquet, {}),
    "xlsx": ("orders.xlsx", _xlsx, {"xlsx": {"sheet": "Orders"}}),
}
GZIPPED = ["json_array", "json_records_key", "jsonl", "csv_semicolon", "parquet", "xlsx"]


def _table(extra: dict[str, Any]) -> dict[str, Any]:
    return {"name": "orders", "files": "orders*", "primary_key": "id",
            "columns": {"amount": "decimal(10,2)"}, **extra}


def _assert_orders(config: Path) -> None:
    assert query(config, "SELECT count(*), sum(amount) FROM raw.orders") == [(3, TOTAL)]
    assert query(config, "SELECT id, name, amount FROM raw.orders ORDER BY id") == [
        (1, "Ada Lovelace", Decimal("19.99")),
        (2, "Zoë Müller", Decimal("130.65")),
        (3, "Grace Hopper", Decimal("5.00")),
    ]
    if _has_quarantine(config):
        assert query(config, "SELECT count(*) FROM raw._quarantine") == [(0,)]


def _has_quarantine(config: Path) -> bool:
    return bool(query(config, "SELECT 1 FROM information_schema.tables WHERE table_schema = 'raw' "
                              "AND table_name = '_quarantine'"))


@pytest.mark.parametrize("case", list(CASES))
def test_format_loads_exact_rows(store: Store, tmp_path: Path, case: str) -> None:
    name, make, extra = CASES[case]
    url = store.put(name, make())
    config = write_pipeline(tmp_path, store.url, [_table(extra)], storage=store.storage)

    report = run(config)

    assert report.exit_code == 0, report
    assert report.tables[0].files_new == 1
    _assert_orders(config)
    assert query(config, "SELECT DISTINCT _sf_file FROM raw.orders") == [(url,)]
    again = run(config)
    assert again.tables[0].files_new == 0
    assert query(config, "SELECT count(*) FROM raw.orders") == [(3,)]


@pytest.mark.parametrize("case", GZIPPED)
def test_gzipped_format_loads_exact_rows(store: Store, tmp_path: Path, case: str) -> None:
    name, make, extra = CASES[case]
    store.put(f"{name}.gz", gzip.compress(make()))
    config = write_pipeline(tmp_path, store.url, [_table(extra)], storage=store.storage)

    report = run(config)

    assert report.exit_code == 0, report
    _assert_orders(config)


def test_format_setting_overrides_extension(store: Store, tmp_path: Path) -> None:
    store.put("orders.txt", _jsonl())
    config = write_pipeline(tmp_path, store.url, [_table({"format": "jsonl"})], storage=store.storage)

    assert run(config).exit_code == 0
    _assert_orders(config)


def test_several_files_of_one_format_load_together(store: Store, tmp_path: Path) -> None:
    store.put("orders-1.csv", _csv())
    more = "id,name,amount\n4,Katherine Johnson,0.01\n5,Hedy Lamarr,1000.00\n"
    store.put("orders-2.csv", more.encode())
    config = write_pipeline(tmp_path, store.url, [_table({})], storage=store.storage)

    report = run(config)

    assert report.exit_code == 0
    assert report.tables[0].files_new == 2
    assert query(config, "SELECT count(*), sum(amount) FROM raw.orders") == [(5, TOTAL + Decimal("1000.01"))]
    assert query(config, "SELECT name FROM raw.orders WHERE id = 5") == [("Hedy Lamarr",)]
