"""The five pipelines `shopflow demo` builds: what data each one gets, round after round, and where.

Round 0 writes each source's starting data with the generators; every later round delivers
what a live system would have produced since: new Glossier day files, a round of inserts and
updates in the shop and totesys databases, the retailer's next dump, the CRM's next export
(customers who signed up, and customers who moved). Each pipeline keeps its files under
`<demo folder>/<pipeline>/`; the two database sources live in the demo's embedded PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from shopflow.errors import ShopflowError

if TYPE_CHECKING:
    from shopflow.demo.generators.core import Summary
    from shopflow.demo.showcase.embedded_pg import EmbeddedPostgres


@dataclass(frozen=True)
class DemoContext:
    """Where the demo works and the knobs of its data.

    Attributes:
        folder: The demo folder.
        seed: Same seed, same data.
        scale: Size factor of every data set.
        postgres: The running embedded PostgreSQL, for the database sources (None if not started).
    """

    folder: Path
    seed: int
    scale: float
    postgres: EmbeddedPostgres | None = None

    def home(self, pipeline: str) -> Path:
        """The folder of one pipeline: its buckets, lake, warehouse and shopflow.yml."""
        return self.folder / pipeline

    def database_url(self, database: str) -> str:
        """The URL of `database` on the embedded PostgreSQL."""
        if self.postgres is None:
            raise ShopflowError("the demo's embedded PostgreSQL is not running", fix="run shopflow demo again")
        return self.postgres.url(database)


@dataclass(frozen=True)
class Prepared:
    """What one round of data preparation delivered.

    Attributes:
        summary: The generator's or simulator's summary: rows, files, exact totals.
        what: One line for people, e.g. `3 daily order files, 600 orders`.
    """

    summary: Summary
    what: str


def sized(base: int, scale: float) -> int:
    """`base` times `scale`, at least 1."""
    return max(1, round(base * scale))


Prepare = Callable[[DemoContext, int], Prepared | None]
"""Writes round `round_no`'s data (0: the starting data); None if there is nothing new to deliver."""


@dataclass(frozen=True)
class DemoPipeline:
    """One example pipeline as the demo runs it: one row of `PIPELINES`.

    Attributes:
        name: The example's folder name, and the pipeline's folder in the demo.
        title: What it moves, in a few words.
        query: A query worth trying on its warehouse.
        inputs: The `${VARS}` of the example's shopflow.yml that name its inputs -> where they are
            in the demo: a folder below the pipeline's bucket (`bucket`, `bucket/customers`), or
            `postgres` for the connection settings of `database` on the embedded PostgreSQL.
        prepare: Writes a round's data.
        database: The embedded PostgreSQL database it reads, for a database source.
    """

    name: str
    title: str
    query: str
    inputs: dict[str, str]
    prepare: Prepare
    database: str | None = None

    def settings(self, ctx: DemoContext) -> dict[str, str]:
        """Values for the example's input `${VARS}`."""
        values: dict[str, str] = {}
        for variable, where in self.inputs.items():
            if where != "postgres":
                values[variable] = str(ctx.home(self.name) / where)
            elif self.database is not None:
                values.update(_postgres_settings(ctx, variable, self.database))
        return values


def _postgres_settings(ctx: DemoContext, variable: str, database: str) -> dict[str, str]:
    """`SHOP_DATABASE_URL` gets a URL; a `TOTESYS` prefix gets `_HOST`, `_PORT`, `_USER`, `_DATABASE`."""
    if variable.endswith("_URL"):
        return {variable: ctx.database_url(database)}
    if ctx.postgres is None:
        raise ShopflowError("the demo's embedded PostgreSQL is not running", fix="run shopflow demo again")
    return {f"{variable}_HOST": "127.0.0.1", f"{variable}_PORT": str(ctx.postgres.port),
            f"{variable}_USER": "postgres", f"{variable}_DATABASE": database}


def _changes(rows: dict[str, int], *tables: str) -> str:
    """`users +20 new, 20 changed; ...` from a simulator's `<table>.inserted` / `<table>.updated` counts."""
    return "; ".join(f"{t} +{rows.get(f'{t}.inserted', 0):,} new, {rows.get(f'{t}.updated', 0):,} changed"
                     for t in tables)


# Sizes at scale 1.
GLOSSIER_FIRST_DAYS, GLOSSIER_ORDERS_PER_DAY = 3, 200
SHOP_USERS, SHOP_CHANGE_FRACTION = 1_000, 0.02
TOTESYS_SNAPSHOT, TOTESYS_ORDERS, TOTESYS_UPDATES = "2024-11-15", 30, 10
RETAIL_FIRST_DAYS, RETAIL_LINES_PER_DAY = 3, 300
CUSTOMERS, CUSTOMER_EXPORTS = 2_000, 24


def _glossier(ctx: DemoContext, round_no: int) -> Prepared:
    """Seed 000: daily order files; round 0 three days, each later round the next day."""
    from shopflow.demo.generators.glossier import FIRST_DAY, generate_glossier_orders

    first = 0 if round_no == 0 else GLOSSIER_FIRST_DAYS + round_no - 1
    summary = generate_glossier_orders(
        str(ctx.home("glossier") / "bucket"), days=GLOSSIER_FIRST_DAYS if round_no == 0 else 1, seed=ctx.seed,
        orders_per_day=sized(GLOSSIER_ORDERS_PER_DAY, ctx.scale), start_date=FIRST_DAY + timedelta(days=first),
    )
    files = len(summary.files)
    return Prepared(summary, f"{files} daily order file{'s' if files > 1 else ''}, {summary.rows['orders']:,} orders")


def _shop(ctx: DemoContext, round_no: int) -> Prepared:
    """Seed 001: the shop's users and transactions; later rounds insert and update rows."""
    from shopflow.demo.generators.core import Summary
    from shopflow.demo.generators.shop import generate_shop
    from shopflow.demo.generators.shop_changes import simulate_changes

    url = ctx.database_url("shop")
    if round_no == 0:
        summary = generate_shop(url, users=sized(SHOP_USERS, ctx.scale), seed=ctx.seed, replace=True)
        return Prepared(summary, f"{summary.rows['users']:,} users and {summary.rows['transactions']:,} "
                                 "transactions in PostgreSQL")
    changes = simulate_changes(url, fraction=SHOP_CHANGE_FRACTION, seed=ctx.seed)
    assert isinstance(changes, Summary)  # not held
    return Prepared(changes, _changes(changes.rows, "users", "transactions"))


def _totesys(ctx: DemoContext, round_no: int) -> Prepared:
    """Seed 002: the real totesys snapshot of 2024-11-15; later rounds add and update orders and payments."""
    from shopflow.demo.generators.totesys import generate_totesys
    from shopflow.demo.generators.totesys_changes import simulate_totesys

    url = ctx.database_url("totesys")
    if round_no == 0:
        summary = generate_totesys(url, scale=max(1.0, ctx.scale), seed=ctx.seed, snapshot=TOTESYS_SNAPSHOT)
        return Prepared(summary, f"the totesys snapshot of {TOTESYS_SNAPSHOT}: {summary.total_rows:,} rows "
                                 f"in {len(summary.rows)} tables")
    changes = simulate_totesys(url, rounds=1, seed=ctx.seed, orders=sized(TOTESYS_ORDERS, ctx.scale),
                               updates=sized(TOTESYS_UPDATES, ctx.scale))
    rows = changes.rows
    inserted = sum(n for key, n in rows.items() if key.endswith(".inserted"))
    updated = sum(n for key, n in rows.items() if key.endswith(".updated"))
    return Prepared(changes, f"{rows.get('sales_order.inserted', 0):,} sales and "
                             f"{rows.get('purchase_order.inserted', 0):,} purchase orders: {inserted:,} rows new, "
                             f"{updated:,} updated")


def _online_retail(ctx: DemoContext, round_no: int) -> Prepared:
    """Seed 003: round 0 three daily Excel dumps, each later round the next trading day's hourly CSV dumps."""
    from shopflow.demo.generators.retail import FIRST_DAY, generate_online_retail

    bucket = str(ctx.home("online_retail") / "bucket")
    days = _trading_days(FIRST_DAY, RETAIL_FIRST_DAYS + round_no)
    per_day = sized(RETAIL_LINES_PER_DAY, ctx.scale)
    if round_no == 0:
        summary = generate_online_retail(bucket, days=(days[-1] - days[0]).days + 1, start_date=days[0],
                                         lines_per_day=per_day, seed=ctx.seed, every="day")
        what = f"{len(summary.files)} daily Excel dumps"
    else:
        summary = generate_online_retail(bucket, days=1, start_date=days[-1], lines_per_day=per_day, seed=ctx.seed,
                                         every="hour")
        what = f"{len(summary.files)} hourly CSV dumps of {days[-1].isoformat()}"
    return Prepared(summary, f"{what}, {summary.rows.get('lines', 0):,} invoice lines")


def _trading_days(first: date, count: int) -> list[date]:
    """The first `count` days from `first` the retailer trades on (not Saturdays)."""
    days: list[date] = []
    day = first
    while len(days) < count:
        if day.weekday() != 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def _customers(ctx: DemoContext, round_no: int) -> Prepared | None:
    """Seed 004: a plan of monthly CRM and payment exports; each round delivers the next pair."""
    from shopflow.demo.generators.customers import generate_customers

    if round_no >= CUSTOMER_EXPORTS:
        return None
    bucket = ctx.home("customers") / "bucket"
    summary = generate_customers(
        str(bucket / "customers"), transactions_target=str(bucket / "transactions"),
        customers=sized(CUSTOMERS, ctx.scale), exports=CUSTOMER_EXPORTS, only=round_no, seed=ctx.seed,
    )
    changed = "new and changed customers" if round_no else "customers"
    return Prepared(summary, f"export {round_no + 1}: {summary.rows['customers']:,} {changed}, "
                             f"{summary.rows['transactions']:,} transactions")


PIPELINES: tuple[DemoPipeline, ...] = (
    DemoPipeline(
        "glossier", "Glossier: daily order files (JSON) into orders, users and line items",
        "SELECT * FROM analytics.users_table ORDER BY number_of_orders DESC LIMIT 5",
        {"GLOSSIER_INPUT": "bucket"}, _glossier,
    ),
    DemoPipeline(
        "shop_db", "Shop database: users and transactions, incremental by updated_at",
        "SELECT status, count(*) AS transactions, sum(amount) AS amount FROM analytics.transactions GROUP BY 1",
        {"SHOP_DATABASE_URL": "postgres"}, _shop, database="shop",
    ),
    DemoPipeline(
        "totesys", "Totesys: 11 OLTP tables into a galaxy star schema",
        "SELECT d.year, d.month, count(*) AS sales_order_versions, sum(f.units_sold * f.unit_price) AS value "
        "FROM analytics.fact_sales_order f JOIN analytics.dim_date d ON d.date_id = f.created_date "
        "GROUP BY 1, 2 ORDER BY 1 DESC, 2 DESC LIMIT 5",
        {"TOTESYS": "postgres"}, _totesys, database="totesys",
    ),
    DemoPipeline(
        "online_retail", "Online Retail: Excel and CSV invoice dumps into an invoice star",
        "SELECT * FROM analytics.daily_revenue ORDER BY 1",
        {"ONLINE_RETAIL_INPUT": "bucket"}, _online_retail,
    ),
    DemoPipeline(
        "customers", "Customers: CRM exports (CSV) and payments (JSON), cleaned, with address history",
        "SELECT version AS address_versions, count(*) AS customers FROM analytics.dim_customer_addresses "
        "WHERE is_current GROUP BY 1 ORDER BY 1",
        {"CUSTOMERS_INPUT": "bucket/customers", "TRANSACTIONS_INPUT": "bucket/transactions"}, _customers,
    ),
)
"""The demo's pipelines, in the order it runs them: name, title, query, inputs, data per round."""
