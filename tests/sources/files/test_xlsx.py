"""Excel sheets whose columns mix numbers and text load whole, with the types the cells hold.

DuckDB's read_xlsx types a column from its first data row; the UCI Online Retail data has
invoice numbers 536365 (numbers) and C536379 (text) in one column, stock codes 85123A next
to 22423, date cells and numbers. Every row must load: mixed columns as text, exactly as
the cells read ('536365', never '536365.0'), numbers as numbers and dates as dates.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
from tests.helpers import query, run, write_pipeline

HEADER = ["InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "Day", "UnitPrice", "CustomerID"]
# Cancellations (C...) and text stock codes come after the first rows, as in the real data.
ROWS: list[list[Any]] = [
    [536365, "85123A", 6, datetime(2010, 12, 1, 8, 26), date(2010, 12, 1), 2.55, 17850],
    [536365, 71053, 6, datetime(2010, 12, 1, 8, 26), date(2010, 12, 1), 3.39, 17850],
    [536366, 22423, 12, datetime(2010, 12, 1, 8, 28), date(2010, 12, 1), 12.75, None],
    [536367, "84406B", 8, datetime(2010, 12, 1, 8, 34), date(2010, 12, 1), 2.75, 13047],
    [536368, "POST", 1, datetime(2010, 12, 1, 8, 34, 30), date(2010, 12, 1), 18, 13047],
    ["C536379", "D", -1, datetime(2010, 12, 1, 9, 41), date(2010, 12, 1), 27.5, 14527],
    ["C536383", 35004, -1, datetime(2010, 12, 1, 9, 49), date(2010, 12, 1), 4.65, 15311],
    [536384, 22423, 24, datetime(2010, 12, 1, 9, 53), date(2010, 12, 2), 10.95, 18074],
]
EXPECTED = [
    ("536365", "85123A", 6, datetime(2010, 12, 1, 8, 26), date(2010, 12, 1), 2.55, 17850),
    ("536365", "71053", 6, datetime(2010, 12, 1, 8, 26), date(2010, 12, 1), 3.39, 17850),
    ("536366", "22423", 12, datetime(2010, 12, 1, 8, 28), date(2010, 12, 1), 12.75, None),
    ("536367", "84406B", 8, datetime(2010, 12, 1, 8, 34), date(2010, 12, 1), 2.75, 13047),
    ("536368", "POST", 1, datetime(2010, 12, 1, 8, 34, 30), date(2010, 12, 1), 18.0, 13047),
    ("C536379", "D", -1, datetime(2010, 12, 1, 9, 41), date(2010, 12, 1), 27.5, 14527),
    ("C536383", "35004", -1, datetime(2010, 12, 1, 9, 49), date(2010, 12, 1), 4.65, 15311),
    ("536384", "22423", 24, datetime(2010, 12, 1, 9, 53), date(2010, 12, 2), 10.95, 18074),
]
SELECT = "SELECT invoice_no, stock_code, quantity, invoice_date, day, unit_price, customer_id FROM raw.lines"


def _workbook(rows: list[list[Any]], header: list[str] = HEADER) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    sink = io.BytesIO()
    book.save(sink)
    return sink.getvalue()


def _with_raw_values(data: bytes, values: dict[str, str]) -> bytes:
    """`data` with the stored text of numeric cells replaced, e.g. {"F2": "2.5499999999999998"}.

    Excel writes a double's 17 significant digits (0.57999999999999996 for 0.58); openpyxl
    writes the shortest form, so the test puts Excel's spelling into the sheet's XML itself.
    """
    source = zipfile.ZipFile(io.BytesIO(data))
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as out:
        for name in source.namelist():
            content = source.read(name)
            if name == "xl/worksheets/sheet1.xml":
                xml = content.decode()
                for cell, value in values.items():
                    xml = re.sub(rf'(<c r="{cell}"[^>]*><v>)[^<]*', lambda m, v=value: m.group(1) + v, xml)
                content = xml.encode()
            out.writestr(name, content)
    return sink.getvalue()


def _pipeline(tmp_path: Path, files: dict[str, bytes], **table: Any) -> Path:
    folder = tmp_path / "drop"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return write_pipeline(tmp_path, str(folder), [{"name": "lines", "files": "*.xlsx", **table}])


def _column_types(config: Path) -> dict[str, str]:
    rows = query(config, "SELECT column_name, data_type FROM information_schema.columns "
                         "WHERE table_schema = 'raw' AND table_name = 'lines'")
    return {name: kind for name, kind in rows}


def test_mixed_columns_load_every_row_with_inferred_types(tmp_path: Path) -> None:
    config = _pipeline(tmp_path, {"retail.xlsx": _workbook(ROWS)})

    report = run(config)

    assert report.exit_code == 0, report
    assert report.quarantined == 0
    assert query(config, f"{SELECT} ORDER BY invoice_no, stock_code") == sorted(EXPECTED)
    types = _column_types(config)
    assert {k: types[k] for k in ("invoice_no", "stock_code", "quantity", "invoice_date", "day")} == {
        "invoice_no": "VARCHAR", "stock_code": "VARCHAR", "quantity": "BIGINT", "invoice_date": "TIMESTAMP",
        "day": "DATE",
    }
    assert (types["unit_price"], types["customer_id"]) == ("DOUBLE", "BIGINT")


def test_mixed_columns_load_with_declared_types(tmp_path: Path) -> None:
    columns = {"invoice_no": "text", "stock_code": "text", "quantity": "bigint", "invoice_date": "timestamp",
               "day": "date", "unit_price": "decimal(10,2)", "customer_id": "bigint"}
    config = _pipeline(tmp_path, {"retail.xlsx": _workbook(ROWS)}, columns=columns)

    report = run(config)

    assert report.exit_code == 0, report
    assert query(config, f"{SELECT} ORDER BY invoice_no, stock_code") == [
        (*row[:5], Decimal(str(row[5])).quantize(Decimal("0.01")), row[6]) for row in sorted(EXPECTED)
    ]


def test_date_cells_declared_as_text_read_as_before(tmp_path: Path) -> None:
    columns = {"invoice_no": "text", "invoice_date": "text", "day": "text", "quantity": "text"}
    config = _pipeline(tmp_path, {"retail.xlsx": _workbook(ROWS[:1])}, columns=columns)

    assert run(config).exit_code == 0
    assert query(config, "SELECT invoice_no, invoice_date, day, quantity FROM raw.lines") == [
        ("536365", "2010-12-01 08:26:00", "2010-12-01", "6"),
    ]


def test_a_cell_that_does_not_fit_its_declared_type_is_quarantined(tmp_path: Path) -> None:
    rows = [*ROWS[:3], [536385, 22423, "lots", datetime(2010, 12, 1, 10, 0), date(2010, 12, 1), 1.25, None]]
    config = _pipeline(tmp_path, {"retail.xlsx": _workbook(rows)}, columns={"quantity": "bigint"})

    report = run(config)

    assert report.exit_code == 3, report
    assert query(config, "SELECT invoice_no, quantity FROM raw.lines ORDER BY invoice_no, quantity") == [
        (536365, 6), (536365, 6), (536366, 12),
    ]
    [(reason, raw)] = query(config, "SELECT reason, raw FROM raw._quarantine")
    assert "quantity: cannot cast lots to BIGINT" in reason
    assert '"lots"' in raw and "536385" in raw


def test_excel_float_spelling_is_read_as_excel_shows_it(tmp_path: Path) -> None:
    rows = [[1, 2.55, "a"], [2, 0.0796, 3.5], [3, 0.58, "x1"]]
    data = _with_raw_values(
        _workbook(rows, ["id", "price", "mixed"]),
        {"B2": "2.5499999999999998", "B3": "7.9600000000000004E-2", "B4": "0.57999999999999996",
         "C3": "3.4999999999999996"},
    )
    config = _pipeline(tmp_path, {"floats.xlsx": data}, columns={"price": "decimal(10,4)"})

    report = run(config)

    assert report.exit_code == 0, report
    assert query(config, "SELECT id, price, mixed FROM raw.lines ORDER BY id") == [
        (1, Decimal("2.5500"), "a"), (2, Decimal("0.0796"), "3.5"), (3, Decimal("0.5800"), "x1"),
    ]


def test_text_cells_of_numbers_are_numbers_unless_they_would_change(tmp_path: Path) -> None:
    rows = [["007", "1.50", "1E5", True, "1.50"], ["042", "2.25", "2E5", False, "2.25"], ["100", "3", "3E5", True, "3"]]
    data = _workbook(rows, ["zip", "version", "code", "flag", "amount"])
    config = _pipeline(tmp_path, {"codes.xlsx": data}, columns={"version": "text"})

    assert run(config).exit_code == 0
    assert query(config, "SELECT zip, version, code, flag, amount FROM raw.lines ORDER BY zip") == [
        ("007", "1.50", "1E5", True, 1.5), ("042", "2.25", "2E5", False, 2.25), ("100", "3", "3E5", True, 3.0),
    ]


def test_an_empty_column_and_a_header_only_sheet_load(tmp_path: Path) -> None:
    files = {"a.xlsx": _workbook([[1, None], [2, None]], ["id", "note"]), "b.xlsx": _workbook([], ["id", "note"])}
    config = _pipeline(tmp_path, files)

    report = run(config)

    assert report.exit_code == 0, report
    assert query(config, "SELECT id, note FROM raw.lines ORDER BY id") == [(1, None), (2, None)]


def test_rows_after_blank_lines_in_the_sheet_load(tmp_path: Path) -> None:
    # read_xlsx stops at the first empty row unless told not to: the rows after it were lost.
    blank: list[Any] = [None] * len(HEADER)
    config = _pipeline(tmp_path, {"retail.xlsx": _workbook([*ROWS[:3], blank, blank, *ROWS[3:]])})

    report = run(config)

    assert report.exit_code == 0, report
    assert query(config, f"{SELECT} ORDER BY invoice_no, stock_code") == sorted(EXPECTED)


def test_date_cells_and_text_dates_in_one_column_load_with_a_format(tmp_path: Path) -> None:
    rows = [[1, datetime(2010, 12, 1, 8, 26)], [2, "12/1/2010 9:41"], [3, datetime(2010, 12, 2, 10, 0, 30)]]
    columns = {"invoice_date": {"type": "timestamp", "format": "%m/%d/%Y %H:%M"}}
    config = _pipeline(tmp_path, {"dates.xlsx": _workbook(rows, ["id", "InvoiceDate"])}, columns=columns)

    assert run(config).exit_code == 0
    assert query(config, "SELECT id, invoice_date FROM raw.lines ORDER BY id") == [
        (1, datetime(2010, 12, 1, 8, 26)), (2, datetime(2010, 12, 1, 9, 41)), (3, datetime(2010, 12, 2, 10, 0, 30)),
    ]
