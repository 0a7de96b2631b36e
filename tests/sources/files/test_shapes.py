"""Later JSON documents reuse the types detected in earlier ones only when detecting theirs would give the same."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from tests.helpers import query, run, write_pipeline

from shopflow.sources.files import chunks, json_read
from shopflow.sources.files.shapes import MIXED, fits, merge

VALUES = ['1', '-1', '1.5', '18446744073709551616', 'true', '"a"', 'null', '[]', '[1]', '[-2.5]', '["a"]',
          '{"a": 1}', '{"a": -1, "b": "x"}', '{"a": {"c": [1, 2]}}', '[{"a": 1}]', '[{"b": true}]']


def _structure(con: duckdb.DuckDBPyConnection, value: str) -> Any:
    return json.loads(con.execute("SELECT json_structure(?)", [value]).fetchone()[0])  # type: ignore[index]


@pytest.mark.parametrize("a", VALUES)
@pytest.mark.parametrize("b", VALUES)
def test_merge_is_duckdbs_own(a: str, b: str) -> None:
    con = duckdb.connect()
    together = _structure(con, f"[{a}, {b}]")[0]
    assert merge(_structure(con, a), _structure(con, b)) == together


def test_a_shape_fits_only_what_detecting_over_both_would_keep() -> None:
    known = {"id": "UBIGINT", "price": "DOUBLE", "note": "NULL", "any": MIXED, "items": [{"sku": "VARCHAR"}]}
    assert fits({**known, "any": "NULL", "items": "NULL"}, known)
    assert fits({**known, "price": "UBIGINT", "any": "NULL", "items": ["NULL"]}, known)
    assert not fits({**known, "gift": "VARCHAR"}, known)  # a new column
    assert not fits({k: v for k, v in known.items() if k != "note"}, known)  # a missing key
    assert not fits({**known, "items": [{"sku": "VARCHAR", "qty": "UBIGINT"}]}, known)  # new in a child
    assert not fits({**known, "id": "DOUBLE"}, known)  # 2.5 in an integer column
    assert not fits({**known, "id": "BIGINT"}, known)  # negative ids: detected as HUGEINT
    assert not fits({**known, "note": "VARCHAR"}, known)  # a value where there were only nulls
    assert not fits({**known, "any": "VARCHAR"}, known)  # mixed values may be typed otherwise
    assert not fits(known, known)  # ... and so may `{}`, whose shape is the same


def _order(order_id: int, **extra: Any) -> dict[str, Any]:
    return {"id": order_id, "total": "10.00", "created_at": "2024-05-01T10:00:00-04:00",
            "line_items": [{"sku": f"SKU-{order_id}", "quantity": 1}], **extra}


ORDERS = {"name": "orders", "files": "*.json", "records": "orders", "primary_key": "id",
          "columns": {"total": "decimal(10,2)"}}


@pytest.fixture
def one_file_per_run(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """Read every file in its own query; returns how many times types were detected so far."""
    monkeypatch.setattr(chunks, "CHUNK_BYTES", 1)
    detected = [0]
    detect = json_read.detect

    def counted(*args: Any, **kwargs: Any) -> Any:
        detected[0] += 1
        return detect(*args, **kwargs)

    monkeypatch.setattr(json_read, "detect", counted)
    return lambda: detected[0]


def _write(folder: Path, docs: list[bytes]) -> Path:
    folder.mkdir()
    for i, doc in enumerate(docs):
        (folder / f"{i}.json").write_bytes(doc)
    return folder


def _doc(orders: list[dict[str, Any]]) -> bytes:
    return json.dumps({"orders": orders}, indent=2).encode()


def test_files_of_one_shape_are_detected_once(tmp_path: Path, one_file_per_run: Callable[[], int]) -> None:
    drop = _write(tmp_path / "drop", [_doc([_order(3 * i + j) for j in range(3)]) for i in range(4)])
    config = write_pipeline(tmp_path, str(drop), [ORDERS])

    assert run(config).exit_code == 0
    assert one_file_per_run() == 1
    assert query(config, "SELECT count(*), count(DISTINCT id) FROM raw.orders") == [(12, 12)]
    assert query(config, "SELECT count(*) FROM raw.orders__line_items") == [(12,)]


def test_a_column_first_seen_in_a_later_file_is_loaded(tmp_path: Path, one_file_per_run: Callable[[], int]) -> None:
    later = _order(3, gift_note="for mum")
    later["line_items"][0]["engraving"] = "M"
    drop = _write(tmp_path / "drop", [_doc([_order(1)]), _doc([_order(2)]), _doc([later])])
    config = write_pipeline(tmp_path, str(drop), [ORDERS])

    assert run(config).exit_code == 0
    assert one_file_per_run() == 2
    assert query(config, "SELECT id, gift_note FROM raw.orders ORDER BY id") == [(1, None), (2, None), (3, "for mum")]
    assert query(config, "SELECT order_id, engraving FROM raw.orders__line_items ORDER BY order_id") == [
        (1, None), (2, None), (3, "M"),
    ]


def test_later_values_of_another_type_are_not_forced_into_the_earlier_type(
    tmp_path: Path, one_file_per_run: Callable[[], int]
) -> None:
    first = _order(1, weight=3, gift=None)
    later = _order(2, weight=2.5, gift={"wrap": "red", "tags": ["a", "b"]})
    drop = _write(tmp_path / "drop", [_doc([first]), _doc([later])])
    config = write_pipeline(tmp_path, str(drop), [ORDERS])

    assert run(config).exit_code == 0
    assert one_file_per_run() == 2
    assert query(config, "SELECT id, weight, gift__wrap FROM raw.orders ORDER BY id") == [(1, 3, None), (2, 2.5, "red")]
    assert query(config, "SELECT order_id, value FROM raw.orders__gift__tags ORDER BY _sf_idx") == [
        (2, "a"), (2, "b"),
    ]


def test_a_later_file_missing_a_key_loads(tmp_path: Path, one_file_per_run: Callable[[], int]) -> None:
    later = _order(2)
    del later["created_at"]
    drop = _write(tmp_path / "drop", [_doc([_order(1)]), _doc([later])])
    config = write_pipeline(tmp_path, str(drop), [ORDERS])

    assert run(config).exit_code == 0
    assert query(config, "SELECT id, created_at IS NULL FROM raw.orders ORDER BY id") == [(1, False), (2, True)]


def test_reused_types_that_do_not_fit_the_text_are_detected_afresh(
    tmp_path: Path, one_file_per_run: Callable[[], int]
) -> None:
    # read_json types UUID-looking text as UUID: a shape does not show that the next file's text is not.
    first = _order(1, token="6f1c2a1e-8d4b-4c47-9b0e-2f4a1d6c9e10")
    drop = _write(tmp_path / "drop", [_doc([first]), _doc([_order(2, token="censored")])])
    config = write_pipeline(tmp_path, str(drop), [ORDERS])

    report = run(config)

    assert report.exit_code == 0, report
    assert one_file_per_run() == 2
    assert query(config, "SELECT id, token FROM raw.orders ORDER BY id") == [
        (1, "6f1c2a1e-8d4b-4c47-9b0e-2f4a1d6c9e10"), (2, "censored"),
    ]


def test_documents_json_cannot_read_as_text_load_with_the_others(tmp_path: Path) -> None:
    bom = b"\xef\xbb\xbf" + _doc([_order(2)])
    two = _doc([_order(3)]) + b"\n" + _doc([_order(4)])
    drop = _write(tmp_path / "drop", [_doc([_order(1)]), bom, two])
    config = write_pipeline(tmp_path, str(drop), [ORDERS])

    assert run(config).exit_code == 0
    assert query(config, "SELECT id FROM raw.orders ORDER BY id") == [(1,), (2,), (3,), (4,)]
    assert query(config, "SELECT count(*) FROM raw.orders__line_items") == [(4,)]


def test_a_column_with_only_nulls_in_the_first_run_takes_the_later_runs_type(
    tmp_path: Path, one_file_per_run: Callable[[], int]
) -> None:
    # Detected alone, the first file's closed_at is text; the commit holds both files.
    first = [_order(1, closed_at=None, note=None), _order(2, closed_at=None, note=None)]
    later = _order(3, closed_at="2024-05-02T09:00:00Z", note=None)
    drop = _write(tmp_path / "drop", [_doc(first), _doc([later])])
    config = write_pipeline(tmp_path, str(drop), [ORDERS])

    report = run(config)

    assert report.exit_code == 0, report
    assert query(config, "SELECT id, closed_at, note FROM raw.orders ORDER BY id") == [
        (1, None, None), (2, None, None), (3, datetime(2024, 5, 2, 9, 0), None),
    ]
    assert query(config, "SELECT data_type FROM information_schema.columns WHERE table_schema = 'raw' "
                         "AND table_name = 'orders' AND column_name IN ('closed_at', 'note') ORDER BY column_name") == [
        ("TIMESTAMP",), ("VARCHAR",),
    ]
