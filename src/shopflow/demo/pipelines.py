"""The five pipelines `shopflow demo` builds: what data each one gets, round after round, and where.

Round 0 writes each source's starting data with the generators; every later round delivers
what a live system would have produced since: new Glossier day files, a round of inserts and
updates in the shop and totesys databases, the retailer's next dump, the CRM's next export
(customers who signed up, and customers who moved). Each pipeline keeps its files under
`<demo folder>/<pipeline>/`; the two database sources live in the demo's embedded PostgreSQL.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from shopflow.errors import ShopflowError

if TYPE_CHECKING:
    from shopflow.demo.core import Summary
    from shopflow.demo.embedded_pg import EmbeddedPostgres


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


class DemoPipeline(ABC):
    """One example pipeline as the demo runs it."""

    name: ClassVar[str]
    """The example's folder under `examples/`, and the pipeline's folder in the demo."""
    title: ClassVar[str]
    """What it moves, in a few words."""
    database: ClassVar[str | None] = None
    """The embedded PostgreSQL database it reads, for a database source."""
    query: ClassVar[str]
    """A query worth trying on its warehouse."""

    @abstractmethod
    def settings(self, ctx: DemoContext) -> dict[str, str]:
        """Values for the `${VARS}` of the example's shopflow.yml that name its inputs."""

    @abstractmethod
    def prepare(self, ctx: DemoContext, round_no: int) -> Prepared | None:
        """Write round `round_no`'s data (0: the starting data); None if there is nothing new to deliver."""

    def bucket(self, ctx: DemoContext) -> Path:
        """The local folder standing in for the pipeline's bucket."""
        return ctx.home(self.name) / "bucket"


class Glossier(DemoPipeline):
    """Seed 000: daily order files; round 0 three days, each later round the next day."""

    name = "glossier"
    title = "Glossier: daily order files (JSON) into orders, users and line items"
    query = "SELECT * FROM analytics.users_table ORDER BY number_of_orders DESC LIMIT 5"
    first_days = 3
    orders_per_day = 200

    def settings(self, ctx: DemoContext) -> dict[str, str]:  # noqa: D102
        return {"GLOSSIER_INPUT": str(self.bucket(ctx))}

    def prepare(self, ctx: DemoContext, round_no: int) -> Prepared:  # noqa: D102
        from shopflow.demo.glossier import FIRST_DAY, generate_glossier_orders

        first = 0 if round_no == 0 else self.first_days + round_no - 1
        summary = generate_glossier_orders(
            str(self.bucket(ctx)), days=self.first_days if round_no == 0 else 1, seed=ctx.seed,
            orders_per_day=sized(self.orders_per_day, ctx.scale), start_date=FIRST_DAY + timedelta(days=first),
        )
        files = len(summary.files)
        return Prepared(summary, f"{files} daily order file{'s' if files > 1 else ''}, "
                                 f"{summary.rows['orders']:,} orders")


class ShopDatabase(DemoPipeline):
    """Seed 001: the shop's users and transactions; later rounds insert and update rows."""

    name = "shop_db"
    title = "Shop database: users and transactions, incremental by updated_at"
    database = "shop"
    query = "SELECT status, count(*) AS transactions, sum(amount) AS amount FROM analytics.transactions GROUP BY 1"
    users = 1_000
    change_fraction = 0.02

    def settings(self, ctx: DemoContext) -> dict[str, str]:  # noqa: D102
        return {"SHOP_DATABASE_URL": ctx.database_url("shop")}

    def prepare(self, ctx: DemoContext, round_no: int) -> Prepared:  # noqa: D102
        from shopflow.demo.core import Summary
        from shopflow.demo.shop import generate_shop
        from shopflow.demo.shop_changes import simulate_changes

        url = ctx.database_url("shop")
        if round_no == 0:
            summary = generate_shop(url, users=sized(self.users, ctx.scale), seed=ctx.seed, replace=True)
            return Prepared(summary, f"{summary.rows['users']:,} users and {summary.rows['transactions']:,} "
                                     "transactions in PostgreSQL")
        changes = simulate_changes(url, fraction=self.change_fraction, seed=ctx.seed)
        assert isinstance(changes, Summary)  # not held
        rows = changes.rows
        return Prepared(changes, f"users +{rows.get('users.inserted', 0):,} new, {rows.get('users.updated', 0):,} "
                                 f"changed; transactions +{rows.get('transactions.inserted', 0):,} new, "
                                 f"{rows.get('transactions.updated', 0):,} changed")


class Totesys(DemoPipeline):
    """Seed 002: the real totesys snapshot of 2024-11-15; later rounds add and update orders and payments."""

    name = "totesys"
    title = "Totesys: 11 OLTP tables into a galaxy star schema"
    database = "totesys"
    query = ("SELECT d.year, d.month, count(*) AS sales_order_versions, sum(f.units_sold * f.unit_price) AS value "
             "FROM analytics.fact_sales_order f JOIN analytics.dim_date d ON d.date_id = f.created_date "
             "GROUP BY 1, 2 ORDER BY 1 DESC, 2 DESC LIMIT 5")
    snapshot = "2024-11-15"
    orders = 30
    updates = 10

    def settings(self, ctx: DemoContext) -> dict[str, str]:  # noqa: D102
        assert ctx.postgres is not None
        return {"TOTESYS_HOST": "127.0.0.1", "TOTESYS_PORT": str(ctx.postgres.port), "TOTESYS_USER": "postgres",
                "TOTESYS_DATABASE": "totesys"}

    def prepare(self, ctx: DemoContext, round_no: int) -> Prepared:  # noqa: D102
        from shopflow.demo.totesys import generate_totesys
        from shopflow.demo.totesys_changes import simulate_totesys

        url = ctx.database_url("totesys")
        if round_no == 0:
            summary = generate_totesys(url, scale=max(1.0, ctx.scale), seed=ctx.seed, snapshot=self.snapshot)
            return Prepared(summary, f"the totesys snapshot of {self.snapshot}: {summary.total_rows:,} rows "
                                     f"in {len(summary.rows)} tables")
        changes = simulate_totesys(url, rounds=1, seed=ctx.seed, orders=sized(self.orders, ctx.scale),
                                   updates=sized(self.updates, ctx.scale))
        rows = changes.rows
        inserted = sum(n for key, n in rows.items() if key.endswith(".inserted"))
        updated = sum(n for key, n in rows.items() if key.endswith(".updated"))
        return Prepared(changes, f"{rows.get('sales_order.inserted', 0):,} sales and "
                                 f"{rows.get('purchase_order.inserted', 0):,} purchase orders: {inserted:,} rows new, "
                                 f"{updated:,} updated")


class OnlineRetail(DemoPipeline):
    """Seed 003: round 0 three daily Excel dumps, each later round the next trading day's hourly CSV dumps."""

    name = "online_retail"
    title = "Online Retail: Excel and CSV invoice dumps into an invoice star"
    query = "SELECT * FROM analytics.daily_revenue ORDER BY 1"
    first_days = 3
    lines_per_day = 300

    def settings(self, ctx: DemoContext) -> dict[str, str]:  # noqa: D102
        return {"ONLINE_RETAIL_INPUT": str(self.bucket(ctx))}

    def prepare(self, ctx: DemoContext, round_no: int) -> Prepared:  # noqa: D102
        from shopflow.demo.retail import FIRST_DAY, generate_online_retail

        days = _trading_days(FIRST_DAY, self.first_days + round_no)
        per_day = sized(self.lines_per_day, ctx.scale)
        if round_no == 0:
            summary = generate_online_retail(str(self.bucket(ctx)), days=(days[-1] - days[0]).days + 1,
                                             start_date=days[0], lines_per_day=per_day, seed=ctx.seed, every="day")
            what = f"{len(summary.files)} daily Excel dumps"
        else:
            summary = generate_online_retail(str(self.bucket(ctx)), days=1, start_date=days[-1],
                                             lines_per_day=per_day, seed=ctx.seed, every="hour")
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


class Customers(DemoPipeline):
    """Seed 004: a plan of monthly CRM and payment exports; each round delivers the next pair."""

    name = "customers"
    title = "Customers: CRM exports (CSV) and payments (JSON), cleaned, with address history"
    query = ("SELECT version AS address_versions, count(*) AS customers FROM analytics.dim_customer_addresses "
             "WHERE is_current GROUP BY 1 ORDER BY 1")
    customers = 2_000
    exports = 24

    def settings(self, ctx: DemoContext) -> dict[str, str]:  # noqa: D102
        return {"CUSTOMERS_INPUT": str(self.bucket(ctx) / "customers"),
                "TRANSACTIONS_INPUT": str(self.bucket(ctx) / "transactions")}

    def prepare(self, ctx: DemoContext, round_no: int) -> Prepared | None:  # noqa: D102
        from shopflow.demo.customers import generate_customers

        if round_no >= self.exports:
            return None
        summary = generate_customers(
            str(self.bucket(ctx) / "customers"), transactions_target=str(self.bucket(ctx) / "transactions"),
            customers=sized(self.customers, ctx.scale), exports=self.exports, only=round_no, seed=ctx.seed,
        )
        changed = "new and changed customers" if round_no else "customers"
        return Prepared(summary, f"export {round_no + 1}: {summary.rows['customers']:,} {changed}, "
                                 f"{summary.rows['transactions']:,} transactions")


PIPELINES: tuple[DemoPipeline, ...] = (Glossier(), ShopDatabase(), Totesys(), OnlineRetail(), Customers())
"""The demo's pipelines, in the order it runs them."""
