"""Seed 003: the UK online retailer's invoice lines, as daily (Excel) or hourly (CSV) dumps.

Columns InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID,
Country, with the real data's quirks: invoices numbered from 536365 (2010-12-01) in time
order; cancellations carry a `C` prefix and negative quantities; stock adjustments have a
negative quantity, price 0, no customer and a blank or terse description; about a quarter of
the lines have no CustomerID (guest invoices, larger on average); a customer keeps one
country; invoices abroad carry a POSTAGE line; nothing on Saturdays; trading hours 7 to 20.
Products, prices, countries, hours and quantities follow the real data set. CSV dumps use the
Kaggle export's spelling of the time (`12/1/2010 8:26`), Excel dumps a date cell.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopflow.demo.generators import retail_catalog as catalog
from shopflow.demo.generators.core import (
    US,
    Summary,
    decimal_of_cents,
    epoch_us,
    hashed_weighted,
    int_text,
    join,
    pick,
    prefetch,
    rng_for,
    scaled,
    text,
    ts_array,
    weighted,
)
from shopflow.demo.generators.target import StorageOptions, Target
from shopflow.demo.generators.textio import csv_pieces

log = logging.getLogger(__name__)

DATASET = 3
BASE_LINES_PER_DAY = 1_800  # the real data set: 541,909 lines over 305 trading days
FIRST_DAY = date(2010, 12, 1)
_MEAN_LINES = 19.7  # per invoice, over all invoice kinds below

_CODE = text([p[0] for p in catalog.PRODUCTS] + [catalog.POSTAGE[0], catalog.DOTCOM_POSTAGE[0], catalog.MANUAL[0]])
_DESCRIPTION = text([p[1] for p in catalog.PRODUCTS] + [catalog.POSTAGE[1], catalog.DOTCOM_POSTAGE[1],
                                                        catalog.MANUAL[1]])
_PRICE = np.array([p[2] for p in catalog.PRODUCTS] + [catalog.POSTAGE[2], catalog.DOTCOM_POSTAGE[2],
                                                      catalog.MANUAL[2]], dtype=np.int64)
_POPULARITY = np.array([p[3] for p in catalog.PRODUCTS], dtype=np.float64)
_POST, _DOT, _MANUAL = len(catalog.PRODUCTS), len(catalog.PRODUCTS) + 1, len(catalog.PRODUCTS) + 2
_COUNTRY = text([c[0] for c in catalog.COUNTRIES])
_COUNTRY_WEIGHT = np.array([c[1] for c in catalog.COUNTRIES], dtype=np.float64)
_UK = 0
_DAMAGE = text([d for d in catalog.DAMAGES if d])
# Invoice kinds: customer, guest (no CustomerID), cancellation, stock adjustment.
_KIND_WEIGHTS = (0.68, 0.15, 0.14, 0.03)
_CUSTOMER, _GUEST, _CANCEL, _ADJUST = range(4)
COLUMNS = ("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country")


def day_lines(seed: int, day: date, lines_per_day: int) -> pa.Table:
    """One day's invoice lines in time order (none on a Saturday), `InvoiceDate` as a timestamp."""
    invoices = 0 if day.weekday() == 5 else max(1, round(lines_per_day / _MEAN_LINES))
    rng = rng_for(seed, DATASET, day.toordinal())
    hours = np.array([h for h, _ in catalog.HOURS], dtype=np.int64)
    minute = np.sort(hours[weighted(rng, [c for _, c in catalog.HOURS], invoices)] * 60
                     + rng.integers(0, 60, invoices))
    number = catalog.FIRST_INVOICE + (day - FIRST_DAY).days * invoices + np.arange(invoices, dtype=np.int64)
    kind = weighted(rng, list(_KIND_WEIGHTS), invoices)
    customer = catalog.FIRST_CUSTOMER + (rng.random(invoices) ** 1.7 * catalog.CUSTOMERS).astype(np.int64)
    country = np.where(kind == _GUEST, weighted(rng, _COUNTRY_WEIGHT, invoices),
                       hashed_weighted(seed, customer, 1, _COUNTRY_WEIGHT))
    country = np.where(kind == _ADJUST, _UK, country)
    count = np.select(
        [kind == _CUSTOMER, kind == _GUEST, kind == _CANCEL],
        [rng.geometric(1 / 21, invoices), rng.geometric(1 / 32, invoices), rng.integers(1, 5, invoices)], 1)
    count = np.minimum(count, 300)
    postage = (kind == _CUSTOMER) & (country != _UK)
    dotcom = (kind == _GUEST) & (rng.random(invoices) < 0.3)
    count = count + postage + dotcom

    starts = np.concatenate([[0], np.cumsum(count)]).astype(np.int64)
    owner = np.repeat(np.arange(invoices), count)
    rows = len(owner)
    last = np.zeros(rows, dtype=bool)
    last[starts[1:] - 1] = True
    line_kind = kind[owner]
    product = weighted(rng, _POPULARITY, rows)
    product = np.where(rng.random(rows) < 0.001, _MANUAL, product)
    product = np.where(last & postage[owner], _POST, np.where(last & dotcom[owner], _DOT, product))
    quantity = np.array([q for q, _ in catalog.QUANTITIES], dtype=np.int64)[
        weighted(rng, [c for _, c in catalog.QUANTITIES], rows)]
    quantity = np.where(product == _POST, rng.integers(1, 4, rows), np.where(product == _DOT, 1, quantity))
    price = _PRICE[product]
    price = np.where(quantity >= 12, price * 85 // 100, price)  # bulk price
    price = np.where(product == _DOT, rng.integers(2_000, 60_000, rows), price)
    price = np.where(product == _MANUAL, rng.integers(50, 5_000, rows), price)
    price = np.where(rng.random(rows) < 0.004, 0, price)  # free samples and gifts
    quantity = np.where(line_kind == _CANCEL, -np.minimum(quantity, 24), quantity)
    adjust = line_kind == _ADJUST
    quantity = np.where(adjust, -rng.integers(1, 200, rows), quantity)
    price = np.where(adjust, 0, price)
    # A stock adjustment's description is blank or terse ("damaged", "?").
    terse = pick(_DAMAGE, rng.integers(0, len(_DAMAGE), rows))
    damaged = pc.if_else(pa.array(rng.random(rows) < 0.6), pa.scalar(None, pa.string()), terse)
    description = pc.if_else(pa.array(adjust), damaged, pick(_DESCRIPTION, product))
    invoice = int_text(number[owner])
    invoice = pc.if_else(pa.array(line_kind == _CANCEL), join("C", invoice), invoice)
    return pa.table({
        "InvoiceNo": invoice,
        "StockCode": pick(_CODE, product),
        "Description": description,
        "Quantity": pa.array(quantity, pa.int64()),
        "InvoiceDate": ts_array(epoch_us(day) + minute[owner] * 60 * US, None),
        "UnitPrice": pa.array(price / 100, pa.float64()),
        "CustomerID": pa.array(customer[owner], pa.int64(), mask=(line_kind == _GUEST) | adjust),
        "Country": pick(_COUNTRY, country[owner]),
        "_pence": pa.array(price * quantity, pa.int64()),
    })


def kaggle_time(stamps: pa.Array) -> pa.Array:
    """Timestamps the way the Kaggle CSV writes them: `12/1/2010 8:26` (no leading zeros)."""
    def part(unit: str) -> pa.Array:
        return getattr(pc, unit)(stamps).cast(pa.string())

    minute = pc.utf8_lpad(part("minute"), 2, "0")
    return join(part("month"), "/", part("day"), "/", part("year"), " ", part("hour"), ":", minute)


def generate_online_retail(
    target: str,
    days: int = 7,
    *,
    lines_per_day: int | None = None,
    scale: float = 1.0,
    seed: int = 0,
    start_date: date = FIRST_DAY,
    every: Literal["day", "hour"] = "day",
    file_format: Literal["csv", "xlsx"] | None = None,
    storage: StorageOptions = None,
) -> Summary:
    """Write invoice-line dumps: `daily/<day>.<ext>` or `hourly/<day>/<HH>00.<ext>`.

    Args:
        target: A folder, `s3://bucket/prefix`, `az://container/prefix` or another fsspec URL.
        days: Days of trading from `start_date` (Saturdays have no dump).
        lines_per_day: About this many lines per trading day (default 1,800 times `scale`).
        scale: Size factor when `lines_per_day` is not given.
        seed: Same seed and sizes, same bytes.
        start_date: The first day.
        every: One dump per `day` or per `hour` with lines.
        file_format: `csv` or `xlsx`; by default Excel for daily and CSV for hourly dumps, as the
            retailer's exporters wrote them. Excel is slow to write: use CSV at scale.
        storage: fsspec storage options, or shopflow `storage:` settings, for `target`.

    Returns:
        Rows `lines` and `invoices`, the files, and totals: `revenue` (exact sum of quantity
        times unit price), `cancellation_lines`, `lines_without_customer`.
    """
    per_day = lines_per_day if lines_per_day is not None else scaled(BASE_LINES_PER_DAY, scale)
    fmt = file_format or ("xlsx" if every == "day" else "csv")
    if fmt not in ("csv", "xlsx") or every not in ("day", "hour"):
        raise ValueError("file_format must be csv or xlsx, every day or hour")
    out = Target(target, storage)
    summary = Summary("online_retail")
    summary.totals.update({"revenue": Decimal(0), "cancellation_lines": 0, "lines_without_customer": 0})
    work = ((start_date + timedelta(days=i), day_lines(seed, start_date + timedelta(days=i), per_day))
            for i in range(days))
    for day, table in prefetch(work, depth=1):
        if table.num_rows == 0:
            continue
        summary.add_rows("lines", table.num_rows)
        summary.add_rows("invoices", len(pc.unique(table["InvoiceNo"])))
        summary.totals["revenue"] += decimal_of_cents(pc.sum(table["_pence"]).as_py() or 0)
        summary.totals["cancellation_lines"] += pc.sum(pc.starts_with(table["InvoiceNo"], "C").cast(pa.int64())).as_py()
        summary.totals["lines_without_customer"] += table["CustomerID"].null_count
        for name, part in _dumps(table, day, every, fmt):
            data = _encode(part.drop(["_pence"]), fmt)
            summary.add_file(out.write(name, data), data)
    log.info("wrote %s days of online retail dumps to %s", days, target)
    return summary.finish()


def _dumps(table: pa.Table, day: date, every: str, fmt: str) -> list[tuple[str, pa.Table]]:
    if every == "day":
        return [(f"daily/{day.isoformat()}.{fmt}", table)]
    hours = pc.hour(table["InvoiceDate"]).to_numpy()
    bounds = np.flatnonzero(np.diff(hours)) + 1
    starts, ends = np.concatenate([[0], bounds]), np.concatenate([bounds, [len(hours)]])
    return [(f"hourly/{day.isoformat()}/{int(hours[s]):02d}00.{fmt}", table.slice(s, e - s))
            for s, e in zip(starts, ends, strict=True)]


def _encode(table: pa.Table, fmt: str) -> bytes | list[bytes]:
    if fmt == "csv":
        price = pa.array(table["UnitPrice"].to_numpy(), pa.float64()).cast(pa.string())
        return csv_pieces(table.set_column(4, "InvoiceDate", kaggle_time(table["InvoiceDate"].combine_chunks()))
                          .set_column(5, "UnitPrice", price))
    return _xlsx(table)


def _xlsx(table: pa.Table) -> bytes:
    """An Excel workbook of `table` (one sheet), written by DuckDB's excel extension."""
    import tempfile
    from pathlib import Path

    from shopflow.engine import connect

    con = connect(extensions=("excel",))
    try:
        with tempfile.TemporaryDirectory(prefix="shopflow-demo-") as folder:
            path = Path(folder) / "dump.xlsx"
            con.register("dump", table)
            con.execute(f"COPY dump TO '{path}' (FORMAT xlsx, HEADER true)")
            return path.read_bytes()
    finally:
        con.close()
