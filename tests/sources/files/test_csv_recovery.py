"""CSV files DuckDB's sniffer refuses whole still load every row Python's csv reads.

Mixed line breaks (a CRLF export with LF lines appended, an LF file with one CRLF line) load
whole; an unbalanced quote loads the rows before it and quarantines the rest with the line
and the fix; only a file with no readable row is quarantined whole, its raw text capped.
"""

from __future__ import annotations

import csv
import gzip
import io
from decimal import Decimal
from pathlib import Path

import pytest
from tests.conftest import Store
from tests.helpers import csv_bytes, query, run, write_pipeline

TABLE = {"name": "orders", "files": "*.csv", "primary_key": "id", "columns": {"amount": "decimal(10,2)"}}
SELECT = "SELECT id, name, amount FROM raw.orders ORDER BY id"


def _rows(first: int, last: int) -> list[tuple[int, str, Decimal]]:
    return [(i, f"Customer {i}", Decimal(f"{i}.50")) for i in range(first, last + 1)]


def _csv(rows: list[tuple[int, str, Decimal]], newline: str = "\n", header: bool = True) -> bytes:
    return csv_bytes(rows, ["id", "name", "amount"] if header else None, newline)


def _python_csv(data: bytes) -> list[tuple[int, str, Decimal]]:
    """What Python's csv reads from `data`: the reference for every row."""
    reader = csv.reader(io.StringIO(data.decode(), newline=""))
    next(reader)
    return [(int(i), name, Decimal(amount)) for i, name, amount in reader]


def test_crlf_file_with_lf_lines_appended_loads_every_row(store: Store, tmp_path: Path) -> None:
    data = _csv(_rows(1, 300), "\r\n") + _csv(_rows(301, 305), "\n", header=False)
    store.put("orders.csv", data)
    config = write_pipeline(tmp_path, store.url, [TABLE], storage=store.storage)

    report = run(config)

    assert report.exit_code == 0, report
    assert query(config, SELECT) == _python_csv(data) == _rows(1, 305)
    assert query(config, "SELECT count(*) FROM raw.orders WHERE contains(name, chr(13))") == [(0,)]


@pytest.mark.parametrize("store", ["folder"], indirect=True)
def test_one_crlf_line_in_an_lf_file_loads(store: Store, tmp_path: Path) -> None:
    data = _csv(_rows(1, 3), "\n") + _csv(_rows(4, 4), "\r\n", header=False) + _csv(_rows(5, 9), "\n", header=False)
    store.put("orders.csv.gz", gzip.compress(data))
    config = write_pipeline(tmp_path, store.url, [{**TABLE, "files": "*.csv.gz"}], storage=store.storage)

    report = run(config)

    assert report.exit_code == 0, report
    assert query(config, SELECT) == _python_csv(data) == _rows(1, 9)


@pytest.mark.parametrize("store", ["folder"], indirect=True)
def test_mixed_file_keeps_quoted_values_and_refuses_only_the_bad_line(store: Store, tmp_path: Path) -> None:
    data = (b'id,name,amount\r\n1,"Ada, Countess",1.50\r\n2,"Grace ""Amazing"" Hopper",2.50\r\n'
            b"3,Katherine Johnson,3.50,surprise\n4,Hedy Lamarr,4.50\n")
    store.put("orders.csv", data)
    config = write_pipeline(tmp_path, store.url, [TABLE], storage=store.storage)

    report = run(config)

    assert report.exit_code == 3, report
    assert query(config, SELECT) == [
        (1, "Ada, Countess", Decimal("1.50")), (2, 'Grace "Amazing" Hopper', Decimal("2.50")),
        (4, "Hedy Lamarr", Decimal("4.50")),
    ]
    assert query(config, "SELECT line, reason, raw FROM raw._quarantine") == [
        (4, "TOO MANY COLUMNS: Expected Number of Columns: 3 Found: 4", "3,Katherine Johnson,3.50,surprise"),
    ]


@pytest.mark.parametrize("store", ["folder"], indirect=True)
def test_unbalanced_quote_loads_the_rows_before_it_and_names_the_cause(store: Store, tmp_path: Path) -> None:
    data = _csv(_rows(1, 3000), "\n") + b'3001,"Hedy Lamarr,3001.50\n3002,Ada,3002.50\n'
    url = store.put("orders.csv", data)
    config = write_pipeline(tmp_path, store.url, [TABLE], storage=store.storage)

    report = run(config)

    assert report.exit_code == 3, report
    assert query(config, SELECT) == _rows(1, 3000)
    [(file, line, reason, raw)] = query(config, "SELECT file, line, reason, raw FROM raw._quarantine")
    assert file == url
    assert line == 3002  # the header is line 1
    assert "unbalanced quote" in reason and "opens on line 3002 and never closes" in reason, reason
    assert "double a quote inside a quoted value" in reason, reason
    assert "sniffing" not in reason
    assert raw.startswith('3001,"Hedy Lamarr') and "3002,Ada" in raw


@pytest.mark.parametrize("store", ["folder"], indirect=True)
def test_undoubled_quote_in_a_quoted_value_quarantines_that_line(store: Store, tmp_path: Path) -> None:
    data = b'id,name,amount\n1,Ada,1.50\n2,"5" nails",2.50\n3,Grace,3.50\n'
    store.put("orders.csv", data)
    config = write_pipeline(tmp_path, store.url, [TABLE], storage=store.storage)

    report = run(config)

    assert report.exit_code == 3, report
    assert query(config, "SELECT id FROM raw.orders ORDER BY id") == [(1,), (3,)]
    [(line, reason, raw)] = query(config, "SELECT line, reason, raw FROM raw._quarantine")
    assert (line, raw) == (3, '2,"5" nails",2.50')
    assert "is not doubled" in reason, reason


@pytest.mark.parametrize("store", ["folder", "s3"], indirect=True)
def test_file_with_no_readable_row_is_quarantined_whole_with_capped_raw(store: Store, tmp_path: Path) -> None:
    good = store.put("orders-1.csv", _csv(_rows(1, 2), "\n"))
    # A header whose quote never closes: nothing of this 3 MB file can be read as rows.
    data = b'"id,name,amount\r\n' + _csv(_rows(3, 100_000), "\n", header=False)
    assert len(data) > 2 << 20
    bad = store.put("orders-2.csv", data)
    config = write_pipeline(tmp_path, store.url, [TABLE], storage=store.storage)

    report = run(config)

    assert report.exit_code == 3, report
    assert query(config, "SELECT DISTINCT _sf_file FROM raw.orders") == [(good,)]
    [(file, reason, raw)] = query(config, "SELECT file, reason, raw FROM raw._quarantine")
    assert file == bad
    assert "line 1 (the header)" in reason and "quoted with" in reason, reason
    assert f"{len(data):,} bytes" in reason and bad in reason, reason
    assert len(raw.encode()) <= 64 << 10
    assert raw.startswith('"id,name,amount')
