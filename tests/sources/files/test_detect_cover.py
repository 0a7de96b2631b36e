"""JSON documents read together detect their types over the few files whose shapes cover the others."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.helpers import query, run, write_pipeline

from shopflow.sources.files import json_read
from shopflow.sources.files.shapes import covering

ORDERS = {"name": "orders", "files": "*.json", "records": "orders", "primary_key": "id",
          "columns": {"total": "decimal(10,2)"}}


def _order(order_id: int, **extra: Any) -> dict[str, Any]:
    return {"id": order_id, "total": "10.50", "created_at": "2024-05-01T10:00:00-04:00", "note": None,
            "line_items": [{"sku": f"SKU-{order_id}", "quantity": 1}, {"sku": "GIFT", "quantity": 2}], **extra}


def _write(folder: Path, files: list[list[dict[str, Any]]]) -> Path:
    folder.mkdir()
    for i, orders in enumerate(files):
        (folder / f"{i}.json").write_text(json.dumps({"orders": orders}, indent=2), encoding="utf-8")
    return folder


@pytest.fixture
def detected_over(monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[list[str]]]:
    """The file names each type detection read, in order."""
    calls: list[list[str]] = []
    detect = json_read.detect

    def counted(con: Any, paths: list[Path], *args: Any, **kwargs: Any) -> Any:
        calls.append([p.name for p in paths])
        return detect(con, paths, *args, **kwargs)

    monkeypatch.setattr(json_read, "detect", counted)
    return lambda: calls


def test_the_greedy_cover_takes_each_shape_that_adds_a_type() -> None:
    first = {"id": "UBIGINT", "note": "NULL", "items": [{"sku": "VARCHAR"}]}
    noted = {**first, "note": "VARCHAR"}
    assert covering([first, first, noted, noted, first]) == [0, 2]
    assert covering([first, {**first, "gift": "VARCHAR"}]) is None  # a key the first lacks: no file covers it


def test_files_of_one_shape_are_detected_over_the_first_and_every_row_lands_once(
    tmp_path: Path, detected_over: Callable[[], list[list[str]]]
) -> None:
    drop = _write(tmp_path / "drop", [[_order(10 * f + i) for i in range(5)] for f in range(4)])
    config = write_pipeline(tmp_path, str(drop), [ORDERS])

    assert run(config).exit_code == 0
    assert detected_over() == [["0.json"]]
    assert query(config, "SELECT count(*), count(DISTINCT id), sum(total) FROM raw.orders") == [
        (20, 20, pytest.approx(210))]
    assert query(config, "SELECT count(*), count(DISTINCT (order_id, _sf_idx)) FROM raw.orders__line_items") == [
        (40, 40)]


def test_a_later_file_with_values_where_the_first_had_nulls_joins_the_detection(
    tmp_path: Path, detected_over: Callable[[], list[list[str]]]
) -> None:
    drop = _write(tmp_path / "drop", [[_order(1)], [_order(2)], [_order(3, note="leave at door")], [_order(4)]])
    config = write_pipeline(tmp_path, str(drop), [ORDERS])

    assert run(config).exit_code == 0
    assert detected_over() == [["0.json", "2.json"]]
    assert query(config, "SELECT id, note FROM raw.orders ORDER BY id") == [
        (1, None), (2, None), (3, "leave at door"), (4, None)]


def test_a_column_only_a_later_file_has_is_detected_over_every_file(
    tmp_path: Path, detected_over: Callable[[], list[list[str]]]
) -> None:
    drop = _write(tmp_path / "drop", [[_order(1)], [_order(2, gift=True)]])
    config = write_pipeline(tmp_path, str(drop), [ORDERS])

    assert run(config).exit_code == 0
    assert detected_over()[0] == ["0.json", "1.json"]  # then each alone: a record without "gift" fails the query
    assert query(config, "SELECT id, gift FROM raw.orders ORDER BY id") == [(1, None), (2, True)]


def test_text_the_first_file_types_as_uuid_is_detected_again_over_every_file(
    tmp_path: Path, detected_over: Callable[[], list[list[str]]]
) -> None:
    uuid = "9925E904-4A8D-4520-9F2F-46B847BDE46D"
    drop = _write(tmp_path / "drop", [[_order(1, ref=uuid)], [_order(2, ref="GLO-2")]])
    config = write_pipeline(tmp_path, str(drop), [ORDERS])

    result = run(config)
    assert result.exit_code == 0
    assert detected_over() == [["0.json"], ["0.json", "1.json"]]
    assert query(config, "SELECT id, ref FROM raw.orders ORDER BY id") == [(1, uuid), (2, "GLO-2")]
    assert query(config, "SELECT count(*) FROM raw.orders__line_items") == [(4,)]
    assert query(config, "SELECT count(*) FROM raw._quarantine") == [(0,)]
