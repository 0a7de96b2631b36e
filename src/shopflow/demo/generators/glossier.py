"""Seed 000: daily Glossier order files, `{"orders": [...]}`, shaped like the real export.

Each order has the real 51 fields in the real order: money as strings with float noise
(`"52.260000000000005"`, from the same float arithmetic), timestamps in New York time with
the offset that changes at the DST switch (-04:00 / -05:00), the nine always-null fields,
censored contact fields, an occasional `test = true` order (zero totals, a line item without
product), and `line_items` as a list of `{id, variant_id, quantity, product_id}`. Orders in a
file run newest first, as in the export. The JSON text is assembled by Arrow string kernels
(no Python per order) and, by default, laid out exactly like `json.dump(data, indent=2)`.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopflow.demo.generators import glossier_catalog as catalog
from shopflow.demo.generators.core import (
    US,
    Summary,
    cents_text,
    epoch_us,
    float_text,
    hex_text,
    int_text,
    join,
    pick,
    prefetch,
    rng_for,
    scaled,
    text,
    weighted,
)
from shopflow.demo.generators.target import StorageOptions, Target
from shopflow.demo.generators.textio import Template

if TYPE_CHECKING:
    from shopflow.demo.generators.core import Ints

log = logging.getLogger(__name__)

DATASET = 0
BASE_ORDERS_PER_DAY = 400
FIRST_DAY = date(2017, 10, 30)
_EPOCH = date(2015, 1, 1)  # order numbers and ids count days from here

_PRODUCT_ID = np.array([p[0] for p in catalog.PRODUCTS], dtype=np.int64)
_PRICE = np.array([p[1] for p in catalog.PRODUCTS], dtype=np.int64)
_WEIGHT = np.array([p[2] for p in catalog.PRODUCTS], dtype=np.int64)
_POPULARITY = np.array([p[3] for p in catalog.PRODUCTS], dtype=np.float64)
_VARIANTS = np.array([v for p in catalog.PRODUCTS for v in p[4]], dtype=np.int64)
_VARIANT_COUNT = np.array([len(p[4]) for p in catalog.PRODUCTS], dtype=np.int64)
_VARIANT_START = np.concatenate([[0], np.cumsum(_VARIANT_COUNT)[:-1]]).astype(np.int64)
_GATEWAY = text([p[0] for p in catalog.PAYMENTS])
_METHOD = text([p[1] for p in catalog.PAYMENTS])
_HAS_CHECKOUT = np.array([p[2] for p in catalog.PAYMENTS])


def us_dst(day: date) -> bool:
    """Whether New York is on daylight time on `day` (second Sunday of March to first Sunday of November)."""
    march = date(day.year, 3, 8)
    november = date(day.year, 11, 1)
    start = march + timedelta(days=(6 - march.weekday()) % 7)
    end = november + timedelta(days=(6 - november.weekday()) % 7)
    return start <= day < end


class _Layout:
    """The whitespace of the JSON text: `json.dump(indent=2)` or compact (`json.dumps` defaults)."""

    def __init__(self, pretty: bool) -> None:
        def at(level: int) -> str:
            return "\n" + "  " * level if pretty else ""

        self.sep = "," if pretty else ", "
        self.head = "{" + at(1) + '"orders": ['
        self.tail = at(1) + "]" + at(0) + "}"
        self.order_open, self.order_close = at(2) + "{", at(2) + "}"
        self.field = self.sep + at(3)
        self.item_open, self.item_close = at(4) + "{", at(4) + "}"
        self.item_field = self.sep + at(5)
        self.items_close = at(3) + "]"
        self.first_field = at(3)
        self.first_item_field = at(5)


def _local_text(seconds: Ints, offset: str) -> pa.Array:
    """Local wall-clock seconds since the epoch as `2017-11-01T19:56:18-04:00`."""
    naive = pa.array(seconds, type=pa.timestamp("s")).cast(pa.string())
    return join(pc.replace_substring(naive, " ", "T"), offset)


def _nullable(mask: np.ndarray, values: pa.Array, quoted: bool = True) -> pa.Array:
    """`values` (quoted when text) where `mask` is false, JSON null where it is true."""
    return pc.if_else(pa.array(mask), "null", join('"', values, '"') if quoted else values)


def day_file(
    seed: int, day: date, orders: int, test_rate: float, pretty: bool = True,
) -> tuple[list[bytes], dict[str, int], Decimal]:
    """One day's file as pieces of bytes, its counts (`orders`, `line_items`, `test_orders`), the sum of total_price."""
    layout = _Layout(pretty)
    if orders == 0:
        empty = '{\n  "orders": []\n}' if pretty else '{"orders": []}'
        return [empty.encode()], {"orders": 0, "line_items": 0, "test_orders": 0}, Decimal(0)
    rng = rng_for(seed, DATASET, day.toordinal())
    n = orders
    offset = "-04:00" if us_dst(day) else "-05:00"
    hour = np.array([h for h, _ in catalog.HOURS], dtype=np.int64)[weighted(rng, [c for _, c in catalog.HOURS], n)]
    # Everything is laid out in file order: newest order first, as in the export.
    local = np.sort(epoch_us(day) // US + hour * 3600 + rng.integers(0, 3600, n))[::-1]
    seq = (day - _EPOCH).days * n + np.arange(n, dtype=np.int64)[::-1]  # ids and numbers grow with time
    test = rng.random(n) < test_rate

    # Line items: how many per order, which product and variant, how many of each.
    count = weighted(rng, list(catalog.LINE_ITEMS), n) + 1
    count[test] = 1
    starts = np.concatenate([[0], np.cumsum(count)]).astype(np.int64)
    lines = int(starts[-1])
    owner = np.repeat(np.arange(n), count)
    product = weighted(rng, _POPULARITY, lines)
    variant = _VARIANTS[_VARIANT_START[product] + (rng.random(lines) ** 2 * _VARIANT_COUNT[product]).astype(np.int64)]
    quantity = weighted(rng, list(catalog.QUANTITIES), lines) + 1
    line_test = test[owner]
    quantity[line_test] = 1
    line_cents = np.where(line_test, 0, _PRICE[product] * quantity)

    # Money, with the float arithmetic (and noise) of the real export.
    items_cents = np.add.reduceat(line_cents, starts[:-1])
    kind = weighted(rng, [85, 9, 1.5, 2.25, 2.25], n)
    discount = np.minimum(np.choose(kind, [0, 600, 1200, items_cents // 1000 * 100, items_cents // 500 * 100]),
                          items_cents)
    share = np.where(items_cents > 0, discount / np.maximum(items_cents, 1), 0.0)
    line_tax = np.round(line_cents * (1 - share[owner]) * catalog.TAX_RATE) / 100
    items_price = np.add.reduceat(line_cents / 100, starts[:-1])
    subtotal = items_price - discount / 100
    tax = np.add.reduceat(line_tax, starts[:-1])
    total_text = pc.if_else(pa.array(test), "0.0", float_text(subtotal + tax))
    weight = np.add.reduceat(np.where(line_test, 0, _WEIGHT[product] * quantity), starts[:-1])

    payment = weighted(rng, [p[3] for p in catalog.PAYMENTS], n)
    payment[test] = 2  # a test order has no gateway
    checkout = _HAS_CHECKOUT[payment]
    device = weighted(rng, [d[2] for d in catalog.DEVICES], n)
    location_id = int_text(np.array([d[0] for d in catalog.DEVICES], dtype=np.int64)[device])
    device_id = int_text(np.array([d[1] for d in catalog.DEVICES], dtype=np.int64)[device])
    user_id = np.array([u[0] for u in catalog.USERS], dtype=np.int64)[weighted(rng, [u[1] for u in catalog.USERS], n)]
    lag = np.minimum(np.exp(rng.normal(2.6, 0.9, n)), 3600).astype(np.int64)
    early = np.where(rng.random(n) < 0.08, rng.integers(1, 5, n), 0)
    number = 1_000 + seq
    receipt = int_text(10_000 + seq)

    text = Template()

    def field(name: str, *value: str | pa.Array) -> None:
        text.add(layout.first_field if name == "id" else layout.field, f'"{name}": ', *value)

    text.add(layout.order_open)
    field("id", int_text(11_000_000_000 + seq * 1000 + rng.integers(0, 1000, n)))
    field("email", '"censored@censored.com"')
    field("closed_at", "null")
    field("created_at", '"', _local_text(local, offset), '"')
    field("updated_at", '"', _local_text(local + lag, offset), '"')
    field("number", int_text(number))
    field("note", _nullable(rng.random(n) >= 2e-4, pick(_NOTES, rng.integers(0, len(_NOTES), n))))
    field("token", '"censored"')
    field("gateway", '"', _GATEWAY.take(pa.array(payment)), '"')
    field("test", pc.if_else(pa.array(test), "true", "false"))
    field("total_price", '"', total_text, '"')
    field("subtotal_price", '"', pc.if_else(pa.array(test), "0.0", float_text(subtotal)), '"')
    field("total_weight", int_text(weight))
    field("total_tax", '"', pc.if_else(pa.array(test), "0.0", float_text(tax)), '"')
    field("taxes_included", "false")
    field("currency", '"USD"')
    field("financial_status", '"paid"')
    field("confirmed", "true")
    field("total_discounts", '"', cents_text(discount), '"')
    field("total_line_items_price", '"', pc.if_else(pa.array(test), "0.0", float_text(items_price)), '"')
    field("cart_token", '"censored"')
    field("buyer_accepts_marketing", pc.if_else(pa.array((rng.random(n) < 0.645) & ~test), "true", "false"))
    field("name", '"GLO', device_id, "-", receipt, '00000"')
    for name in ("referring_site", "landing_site", "cancelled_at", "cancel_reason"):
        field(name, "null")
    field("total_price_usd", '"', total_text, '"')
    field("checkout_token", '"censored"')
    field("reference", _nullable(checkout, hex_text(rng, n, 16, upper=True, dashes=True)))
    field("user_id", int_text(user_id))
    field("location_id", location_id)
    field("source_identifier", '"', location_id, "-", device_id, "-", receipt, '"')
    field("source_url", "null")
    field("processed_at", '"', _local_text(local - early, offset), '"')
    field("device_id", device_id)
    field("phone", '"555-555-5555"')
    field("customer_locale", "null")
    field("app_id", "129785")
    field("browser_ip", '"127.0.0.1"')
    field("landing_site_ref", "null")
    field("order_number", int_text(number + 1000))
    field("processing_method", '"', _METHOD.take(pa.array(payment)), '"')
    field("checkout_id", _nullable(~checkout, int_text(29_000_000_000 + seq * 100 + rng.integers(0, 100, n)),
                                   quoted=False))
    field("source_name", '"pos"')
    field("fulfillment_status", pc.if_else(pa.array((rng.random(n) < 0.108) & ~test), "null", '"fulfilled"'))
    field("tags", '""')
    field("contact_email", '"censored@censored.com"')
    field("order_status_url", '"https://checkout.shopify.com/censored"')
    field("line_items", "[", _line_items(layout, seq, owner, starts, variant, quantity, product, line_test),
          layout.items_close)
    field("total_discount", "null")
    text.add(layout.order_close, layout.sep)

    body = text.pieces(n)
    body[-1] = body[-1][: -len(layout.sep)]  # no separator after the last order
    data = [layout.head.encode(), *body, layout.tail.encode()]
    total_price = pc.sum(total_text.cast(pa.decimal128(38, 20))).as_py()
    counts = {"orders": n, "line_items": lines, "test_orders": int(test.sum())}
    return data, counts, Decimal(total_price or 0)


_NOTES = text(list(catalog.NOTES))


def _line_items(
    layout: _Layout, seq: Ints, owner: Ints, starts: Ints, variant: Ints, quantity: Ints, product: Ints,
    test: np.ndarray,
) -> pa.Array:
    """Each order's line items as the text inside its JSON list."""
    position = np.arange(len(owner)) - starts[owner]
    items = Template()
    items.add(layout.item_open, layout.first_item_field, '"id": ',
              int_text(20_000_000_000 + seq[owner] * 100 + position),
              layout.item_field, '"variant_id": ', _nullable(test, int_text(variant), quoted=False),
              layout.item_field, '"quantity": ', int_text(quantity),
              layout.item_field, '"product_id": ', _nullable(test, int_text(_PRODUCT_ID[product]), quoted=False),
              layout.item_close)
    lists = pa.ListArray.from_arrays(pa.array(starts.astype(np.int32)), items.render())
    return pc.binary_join(lists, layout.sep)


def generate_glossier_orders(
    target: str,
    days: int = 7,
    orders_per_day: int | None = None,
    seed: int = 0,
    start_date: date = FIRST_DAY,
    *,
    scale: float = 1.0,
    storage: StorageOptions = None,
    test_order_rate: float = 0.0005,
    pretty: bool = True,
) -> Summary:
    """Write `days` daily order files `<target>/<YYYY-MM-DD>.json` in the Glossier export's shape.

    Args:
        target: A folder, `s3://bucket/prefix`, `az://container/prefix` or another fsspec URL.
        days: Files to write, one per day from `start_date`.
        orders_per_day: Orders in each file (default 400 times `scale`).
        seed: Same seed, same bytes.
        start_date: The first day.
        scale: Size factor when `orders_per_day` is not given.
        storage: fsspec storage options, or shopflow `storage:` settings, for `target`.
        test_order_rate: Share of orders marked `test: true`.
        pretty: Lay the JSON out like the real files (`indent=2`); False writes it compactly.

    Returns:
        Rows `orders` and `line_items`, the files with their sha256, and totals: `total_price`
        (the exact sum of the total_price strings) and `test_orders`.
    """
    per_day = orders_per_day if orders_per_day is not None else scaled(BASE_ORDERS_PER_DAY, scale)
    if days < 0 or per_day < 0:
        raise ValueError("days and orders_per_day must not be negative")
    out = Target(target, storage)
    summary = Summary("glossier")
    summary.totals["total_price"] = Decimal(0)
    work = ((start_date + timedelta(days=i), day_file(seed, start_date + timedelta(days=i), per_day, test_order_rate,
                                                      pretty)) for i in range(days))
    for day, (data, counts, total_price) in prefetch(work, depth=1):
        url = out.write(f"{day.isoformat()}.json", data)
        summary.add_file(url, data)
        summary.add_rows("orders", counts["orders"])
        summary.add_rows("line_items", counts["line_items"])
        summary.add_total("test_orders", counts["test_orders"])
        summary.totals["total_price"] += total_price
    log.info("wrote %s Glossier order files to %s", days, target)
    return summary.finish()
