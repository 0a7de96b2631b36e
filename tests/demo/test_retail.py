"""Online Retail invoice dumps (seed 003): the Kaggle columns and quirks, as hourly CSV or daily Excel."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl

from shopflow.demo import generate_online_retail
from shopflow.demo.generators.retail import COLUMNS
from tests.services import S3Server

KAGGLE_TIME = re.compile(r"^\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}$")


def read_csv(path: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(Path(path).read_text(encoding="utf-8"))))


def test_hourly_csv_dumps_have_the_kaggle_shape_and_quirks(tmp_path: Path) -> None:
    summary = generate_online_retail(str(tmp_path), days=7, lines_per_day=2_000, every="hour", seed=1,
                                     start_date=date(2011, 5, 9))

    assert all(re.search(r"/hourly/2011-05-\d\d/\d\d00\.csv$", f) for f in summary.files)
    assert not any("2011-05-14" in f for f in summary.files)  # a Saturday: nothing sent
    rows = [r for f in summary.files for r in read_csv(f)]
    assert list(rows[0]) == list(COLUMNS)
    assert len(rows) == summary.rows["lines"] > 10_000
    assert all(KAGGLE_TIME.match(r["InvoiceDate"]) for r in rows)
    for path in summary.files:  # each hourly dump holds only its hour
        hour = int(Path(path).stem[:2])
        assert {int(r["InvoiceDate"].split(" ")[1].split(":")[0]) for r in read_csv(path)} == {hour}
    cancelled = [r for r in rows if r["InvoiceNo"].startswith("C")]
    assert cancelled and all(int(r["Quantity"]) < 0 for r in cancelled)
    assert len(cancelled) == summary.totals["cancellation_lines"]
    no_customer = sum(1 for r in rows if not r["CustomerID"])
    assert no_customer == summary.totals["lines_without_customer"]
    assert 0.2 < no_customer / len(rows) < 0.3  # about a quarter, as in the real data
    adjustments = [r for r in rows if int(r["Quantity"]) < 0 and not r["InvoiceNo"].startswith("C")]
    assert adjustments and all(float(r["UnitPrice"]) == 0 and not r["CustomerID"] for r in adjustments)
    assert any(r["StockCode"] == "POST" for r in rows)
    revenue = sum(int(r["Quantity"]) * Decimal(r["UnitPrice"]) for r in rows)
    assert revenue == summary.totals["revenue"]
    invoices = [int(r["InvoiceNo"].lstrip("C")) for r in rows]
    assert invoices == sorted(invoices) and len(set(invoices)) == summary.rows["invoices"]
    # A customer keeps one country.
    countries: dict[str, set[str]] = {}
    for r in rows:
        if r["CustomerID"]:
            countries.setdefault(r["CustomerID"], set()).add(r["Country"])
    assert all(len(c) == 1 for c in countries.values())


def test_daily_excel_dumps_hold_typed_cells(tmp_path: Path) -> None:
    summary = generate_online_retail(str(tmp_path), days=2, lines_per_day=300, seed=2)

    assert [Path(f).name for f in summary.files] == ["2010-12-01.xlsx", "2010-12-02.xlsx"]
    sheet = openpyxl.load_workbook(summary.files[0], read_only=True).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == COLUMNS
    body = rows[1:]
    assert all(isinstance(r[0], str) and isinstance(r[3], int) and isinstance(r[4], datetime) for r in body)
    assert all(r[6] is None or isinstance(r[6], int) for r in body)
    assert rows[1][0] == "536365"  # the real data set's first invoice, on its first day
    csv_summary = generate_online_retail(str(tmp_path / "csv"), days=2, lines_per_day=300, seed=2,
                                         file_format="csv")
    assert csv_summary.rows == summary.rows and csv_summary.totals == summary.totals


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    one = generate_online_retail(str(tmp_path / "a"), days=3, lines_per_day=500, seed=3, file_format="csv")
    two = generate_online_retail(str(tmp_path / "b"), days=3, lines_per_day=500, seed=3, file_format="csv")
    other = generate_online_retail(str(tmp_path / "c"), days=3, lines_per_day=500, seed=4, file_format="csv")

    assert list(one.checksums.values()) == list(two.checksums.values())
    assert list(one.checksums.values()) != list(other.checksums.values())


def test_plain_fsspec_storage_options_reach_s3(s3_server: S3Server) -> None:
    s3_server.client().create_bucket(Bucket="retail-dumps")
    options = {"key": s3_server.key, "secret": s3_server.secret, "endpoint_url": s3_server.endpoint,
               "client_kwargs": {"region_name": s3_server.region}}

    summary = generate_online_retail("s3://retail-dumps/in", days=1, lines_per_day=200, seed=5, every="hour",
                                     storage=options)

    listed = s3_server.client().list_objects_v2(Bucket="retail-dumps", Prefix="in/hourly/")["Contents"]
    assert sorted(f"s3://retail-dumps/{o['Key']}" for o in listed) == sorted(summary.files)
