"""A declared date or timestamp column with `format:` parses text such as '12/1/2010 8:26'."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from tests.helpers import query, run, write_pipeline

CSV = (
    "InvoiceNo,InvoiceDate,Shipped\n"
    "536365,12/1/2010 8:26,02/12/2010\n"
    "536366,12/1/2010 13:05,2010-12-03\n"  # ISO text parses too
    "536367,2010-12-01 17:30:00,\n"
    "536368,12/31/2010 23:59,31/12/2010\n"
    "536369,not a date,03/12/2010\n"
)


def _pipeline(tmp_path: Path, name: str, data: str) -> Path:
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / name).write_text(data, encoding="utf-8")
    columns = {
        "invoice_date": {"type": "timestamp", "format": "%m/%d/%Y %H:%M"},
        "shipped": {"type": "date", "format": "%d/%m/%Y"},
    }
    table = {"name": "lines", "files": "*.csv", "primary_key": "invoice_no", "columns": columns}
    return write_pipeline(tmp_path, str(folder), [table])


def test_csv_text_dates_parse_by_their_format(tmp_path: Path) -> None:
    config = _pipeline(tmp_path, "lines.csv", CSV)

    report = run(config)

    assert report.exit_code == 3, report  # one row has no date
    assert query(config, "SELECT invoice_no, invoice_date, shipped FROM raw.lines ORDER BY invoice_no") == [
        (536365, datetime(2010, 12, 1, 8, 26), date(2010, 12, 2)),
        (536366, datetime(2010, 12, 1, 13, 5), date(2010, 12, 3)),
        (536367, datetime(2010, 12, 1, 17, 30), None),
        (536368, datetime(2010, 12, 31, 23, 59), date(2010, 12, 31)),
    ]
    [(reason, key)] = query(config, "SELECT reason, key FROM raw._quarantine")
    assert reason == "invoice_date: cannot cast not a date to TIMESTAMP with format %m/%d/%Y %H:%M"
    assert key == "[536369]"


def test_a_day_month_swap_is_not_read_as_a_date(tmp_path: Path) -> None:
    config = _pipeline(tmp_path, "lines.csv", "InvoiceNo,InvoiceDate,Shipped\n1,12/1/2010 8:26,12/31/2010\n")

    assert run(config).exit_code == 3
    assert query(config, "SELECT count(*) FROM raw.lines") == [(0,)]
    [(reason,)] = query(config, "SELECT reason FROM raw._quarantine")
    assert reason == "shipped: cannot cast 12/31/2010 to DATE with format %d/%m/%Y"
