"""A changed file that cannot be read never removes the rows its last good version loaded.

With `on_file_change: replace`, a file rewritten in place replaces its earlier rows. When the
new version cannot be read at all, it goes to quarantine, the earlier rows stay, and the run
exits 1 for that table, naming the file; the next good version replaces them as usual.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Store
from tests.helpers import csv_bytes, query, run, write_pipeline


def _rows(first: int, last: int) -> list[tuple[int, str, Decimal]]:
    return [(i, f"Customer {i}", Decimal(f"{i}.50")) for i in range(first, last + 1)]


def _csv(rows: list[tuple[int, str, Decimal]], newline: str = "\n", header: bool = True) -> bytes:
    return csv_bytes(rows, ["id", "name", "amount"] if header else None, newline)


def _json(rows: list[tuple[int, str, Decimal]]) -> bytes:
    return json.dumps([{"id": i, "name": n, "amount": str(a)} for i, n, a in rows]).encode()


# Per format: a good version, and a rewrite none of whose rows can be read.
FORMATS: dict[str, tuple[Any, bytes]] = {
    "csv": (_csv, b'"id,name,amount\n1,"Customer 1,1.50\n'),  # the header's quote never closes
    "json": (_json, b'[{"id": 1, "name": "Customer 1", "amount": "1.50"}, {"id": 2, "na'),  # cut short
}
SELECT = "SELECT id, name, amount FROM raw.orders ORDER BY id"


def _table(fmt: str, disposition: str) -> dict[str, Any]:
    return {"name": "orders", "files": f"*.{fmt}", "primary_key": "id", "write_disposition": disposition,
            "on_file_change": "replace", "columns": {"amount": "decimal(10,2)"}}


# Every case on a folder; one per object store.
CASES = [("folder", f, d) for f in FORMATS for d in ("append", "merge")] + [("s3", "csv", "append"),
                                                                           ("azure", "json", "merge")]


@pytest.mark.parametrize(("store", "fmt", "disposition"), CASES, indirect=["store"])
def test_unreadable_new_version_keeps_the_rows_of_the_last_good_one(
    store: Store, tmp_path: Path, fmt: str, disposition: str
) -> None:
    write, unreadable = FORMATS[fmt]
    store.put(f"other.{fmt}", write(_rows(10, 11)))
    url = store.put(f"daily.{fmt}", write(_rows(1, 3)))
    config = write_pipeline(tmp_path, store.url, [_table(fmt, disposition)], storage=store.storage)
    assert run(config).exit_code == 0

    store.put(f"daily.{fmt}", unreadable)
    report = run(config)

    assert report.exit_code == 1, report
    [table] = report.tables
    assert table.error is not None and url in table.error
    assert "the 3 rows of its last good version stay" in table.error, table.error
    assert query(config, SELECT) == [*_rows(1, 3), *_rows(10, 11)]
    assert query(config, "SELECT file FROM raw._quarantine") == [(url,)]

    again = run(config)  # the bad version counts as read: nothing to do, nothing lost
    assert again.exit_code == 0, again
    assert query(config, SELECT) == [*_rows(1, 3), *_rows(10, 11)]

    store.put(f"daily.{fmt}", write(_rows(1, 2)))  # the corrected version replaces the old rows
    fixed = run(config)
    assert fixed.exit_code == 0, fixed
    assert query(config, SELECT) == [*_rows(1, 2), *_rows(10, 11)]


def test_crlf_export_with_lf_lines_appended_replaces_its_rows(store: Store, tmp_path: Path) -> None:
    first = _csv(_rows(1, 300), "\r\n")
    url = store.put("daily.csv", first)
    config = write_pipeline(tmp_path, store.url, [_table("csv", "append")], storage=store.storage)
    assert run(config).exit_code == 0

    store.put("daily.csv", first + _csv(_rows(301, 304), "\n", header=False))
    report = run(config)

    assert report.exit_code == 0, report
    assert query(config, SELECT) == _rows(1, 304)
    assert query(config, f"SELECT count(DISTINCT _sf_batch) FROM raw.orders WHERE _sf_file = '{url}'") == [(1,)]
