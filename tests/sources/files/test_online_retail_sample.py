"""Real Online Retail workbook cells load whole: every line arrives, an empty customer is NULL.

The workbook is a slice of the real sample (see tests/data/online_retail/README.md), read with
the example pipeline's own table declaration; every count and sum is checked against what
openpyxl reads from the same file.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import yaml
from tests.conftest import Store
from tests.helpers import query, run, write_pipeline

ROOT = Path(__file__).resolve().parents[3]
WORKBOOK = ROOT / "tests" / "data" / "online_retail" / "online_retail_2000.xlsx"
EXAMPLE = ROOT / "examples" / "online_retail" / "shopflow.yml"


def _example_table() -> dict[str, Any]:
    """The example's invoice_lines table, as its shopflow.yml declares it."""
    config = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    [table] = config["sources"][0]["tables"]
    assert table["columns"]["customer_id"] == "bigint"
    return dict(table)


def _openpyxl_lines() -> list[tuple[Any, ...]]:
    sheet = openpyxl.load_workbook(WORKBOOK, read_only=True).active
    assert sheet is not None
    return list(sheet.iter_rows(values_only=True))[1:]


@pytest.fixture(scope="module")
def lines() -> list[tuple[Any, ...]]:
    return _openpyxl_lines()


def test_every_line_of_the_real_workbook_loads(store: Store, tmp_path: Path, lines: list[tuple[Any, ...]]) -> None:
    store.put("daily/2011-sample.xlsx", WORKBOOK.read_bytes())
    config = write_pipeline(tmp_path, store.url, [_example_table()], storage=store.storage)

    report = run(config)

    assert report.exit_code == 0, report
    assert report.quarantined == 0
    no_customer = sum(1 for line in lines if line[6] is None)
    cancelled = sum(1 for line in lines if str(line[0]).startswith("C"))
    assert no_customer > 400 and cancelled > 30  # the slice holds what broke the real runs
    [(count, customers, empty, cancellations, quantity)] = query(config, """
        SELECT count(*), count(customer_id), count(*) FILTER (WHERE customer_id IS NULL),
               count(*) FILTER (WHERE invoice_no LIKE 'C%'), sum(quantity)
        FROM raw.invoice_lines""")
    assert count == len(lines)
    assert empty == no_customer
    assert customers == len(lines) - no_customer
    assert cancellations == cancelled
    assert quantity == sum(int(line[3]) for line in lines)


def test_values_match_openpyxl_line_by_line(tmp_path: Path, lines: list[tuple[Any, ...]]) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "2011-sample.xlsx").write_bytes(WORKBOOK.read_bytes())
    config = write_pipeline(tmp_path, str(folder), [_example_table()])

    assert run(config).exit_code == 0
    got = sorted(query(config, """
        SELECT invoice_no, stock_code, coalesce(description, ''), quantity, unit_price, customer_id, country
        FROM raw.invoice_lines"""), key=repr)
    want = sorted(
        ((str(no), str(code), desc or "", int(qty), Decimal(str(price)).quantize(Decimal("0.001")),
          customer, country) for no, code, desc, qty, _at, price, customer, country in lines),
        key=repr,
    )
    assert got == want
    revenue = query(config, "SELECT sum(quantity * unit_price) FROM raw.invoice_lines WHERE customer_id IS NULL")
    assert revenue == [(sum(int(x[3]) * Decimal(str(x[5])) for x in lines if x[6] is None),)]
