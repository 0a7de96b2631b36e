"""Every page of every example in a real browser: Debian's chromium, driven by Playwright.

Chromium opens each page that `shopflow dashboard` serves over the demo's warehouses, waits
until plotly has drawn every chart, and checks what a person would see: the KPIs and chart
points equal what SQL in the warehouse gives, a filter changes them to what SQL with that
filter gives, no chart failed, the browser logged no error, and the page fits a narrow screen.
With SHOPFLOW_SCREENSHOTS=<folder> it saves the main pages there (docs/screenshots in the repo).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.serve.dashboard.conftest import PIPELINES, Dashboard, Demo
from tests.serve.dashboard.pages import page_names

CHROMIUM = Path("/usr/bin/chromium")
# The flags that run Debian's chromium headless here (DESIGN.md, the always-on half).
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]
WIDE, NARROW = {"width": 1280, "height": 800}, {"width": 390, "height": 844}
SCREENSHOTS = [("index", ""), ("glossier-orders", "glossier/orders.html"), ("totesys-sales", "totesys/sales.html"),
               ("online-retail-revenue", "online_retail/revenue.html"), ("customers-addresses",
               "customers/addresses.html"), ("shop-db-transactions", "shop_db/transactions.html"),
               ("glossier-health", "glossier/health.html")]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless chromium for the whole session."""
    if not CHROMIUM.exists():
        message = "the browser tests need Debian's chromium at /usr/bin/chromium: apt-get install -y chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield launched
        launched.close()


@dataclass
class Tab:
    """A browser page, and every console error and page error it has seen."""

    page: Any
    base: str
    problems: list[str] = field(default_factory=list)

    def open(self, address: str) -> float:
        """Go to `address` (relative to the dashboard) and wait until every chart is drawn; seconds taken."""
        clock = time.perf_counter()
        self.page.goto(self.base + address)
        self.page.wait_for_selector("html[data-ready=true]", state="attached", timeout=15_000)
        return time.perf_counter() - clock

    def submit(self, action: Any) -> None:
        """Do `action` (which submits the filter form) and wait for the new page's charts."""
        with self.page.expect_navigation():
            action()
        self.page.wait_for_selector("html[data-ready=true]", state="attached", timeout=15_000)

    def kpi(self, title: str) -> str:
        return str(self.page.locator(f'.kpi:has(> h2:text-is("{title}"))').get_attribute("data-value"))

    def traces(self, title: str) -> list[dict[str, Any]]:
        """The traces plotly drew in the chart titled `title`."""
        plot = self.page.locator(f'.chart:has(> h2:text-is("{title}")) .plot')
        return list(plot.evaluate("el => el.data.map(t => ({name: t.name, x: t.x, y: t.y}))"))


@pytest.fixture
def tab(browser: Any, dashboard: Dashboard) -> Iterator[Tab]:
    context = browser.new_context(viewport=WIDE)
    page = context.new_page()
    opened = Tab(page, dashboard.url)
    page.on("console", lambda m: opened.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: opened.problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: opened.problems.append(f"request failed: {r.url}"))
    yield opened
    context.close()


def total(traces: list[dict[str, Any]]) -> float:
    return sum(float(v) for t in traces for v in t["y"])


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_every_page_draws_every_chart_without_a_browser_error(tab: Tab, pipeline: str) -> None:
    timings = {}
    for name in page_names(pipeline):
        timings[name] = tab.open(f"{pipeline}/{name}.html")
        assert tab.page.locator(".chart-error, .problem").count() == 0, name
        plots = tab.page.locator(".plot")
        for n in range(plots.count()):
            drawn = plots.nth(n).evaluate("el => [el.classList.contains('js-plotly-plot'), el.data.length, "
                                          "el.querySelectorAll('.main-svg').length]")
            assert drawn[0] and drawn[1] > 0 and drawn[2] > 0, (name, n, drawn)
        values = tab.page.locator(".kpi .value").all_inner_texts()
        assert values and all(v.strip() for v in values), name
        fits = tab.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert fits, f"{name} is wider than 1280 px"
    assert tab.problems == []
    # The first page of a fresh browser also fetches and parses plotly.min.js (4.8 MB) once.
    later = {name: seconds for name, seconds in list(timings.items())[1:]}
    assert all(seconds < 1.0 for seconds in later.values()), timings


def test_glossier_orders_and_the_payment_type_filter(tab: Tab, demo: Demo) -> None:
    tab.open("glossier/orders.html")
    orders = demo.scalar("glossier", "SELECT count(*) FROM analytics.orders_table")
    assert tab.kpi("Orders") == str(orders)
    assert total(tab.traces("Orders per day")) == orders
    revenue = demo.scalar("glossier", "SELECT sum(total_price) FROM analytics.orders_table")
    assert tab.kpi("Revenue (USD)") == str(revenue)
    assert round(total(tab.traces("Revenue per day (USD)")), 2) == float(revenue)

    tab.submit(lambda: tab.page.select_option("select[name=dim]", "cash"))
    cash = demo.scalar("glossier", "SELECT count(*) FROM analytics.orders_table WHERE payment_type = 'cash'")
    assert 0 < cash < orders
    assert tab.kpi("Orders") == str(cash) and total(tab.traces("Orders per day")) == cash
    assert "dim=cash" in tab.page.url and tab.page.locator("select[name=dim]").input_value() == "cash"
    assert tab.problems == []


def test_shop_db_transactions_by_status(tab: Tab, demo: Demo) -> None:
    tab.open("shop_db/transactions.html")
    by_status = dict(demo.query("shop_db", "SELECT status, count(*) FROM analytics.transactions GROUP BY 1"))
    assert tab.kpi("Transactions") == str(sum(by_status.values()))
    bars = tab.traces("Transactions by status")[0]
    assert dict(zip(bars["x"], bars["y"], strict=True)) == by_status

    tab.submit(lambda: tab.page.select_option("select[name=dim]", "failed"))
    assert tab.kpi("Transactions") == str(by_status["failed"])
    assert tab.traces("Transactions by status")[0]["x"] == ["failed"]
    assert tab.problems == []


def test_totesys_sales_by_currency_and_the_currency_filter(tab: Tab, demo: Demo) -> None:
    tab.open("totesys/sales.html")
    assert tab.kpi("Sales orders") == str(demo.scalar(
        "totesys", "SELECT count(DISTINCT sales_order_id) FROM analytics.fact_sales_order"))
    latest = ("SELECT c.currency_code, sum(s.units_sold * s.unit_price) FROM analytics.fact_sales_order AS s "
              "JOIN analytics.dim_currency AS c USING (currency_id) WHERE s.sales_record_id IN ("
              "SELECT max(sales_record_id) FROM analytics.fact_sales_order GROUP BY sales_order_id) GROUP BY 1")
    bars = tab.traces("Sales by currency")[0]
    assert {k: round(v, 2) for k, v in zip(bars["x"], bars["y"], strict=True)} == {
        code: float(value) for code, value in demo.query("totesys", latest)}

    tab.submit(lambda: tab.page.select_option("select[name=dim]", "EUR"))
    assert tab.kpi("Sales orders") == str(demo.scalar(
        "totesys", "SELECT count(DISTINCT sales_order_id) FROM analytics.fact_sales_order AS s "
        "JOIN analytics.dim_currency AS c USING (currency_id) WHERE c.currency_code = 'EUR'"))
    assert tab.traces("Sales by currency")[0]["x"] == ["EUR"]
    assert tab.problems == []


def test_online_retail_revenue_and_the_date_filter(tab: Tab, demo: Demo) -> None:
    tab.open("online_retail/revenue.html")
    days = demo.query("online_retail", "SELECT invoice_date, invoice_lines, net_revenue FROM analytics.daily_revenue "
                                       "ORDER BY 1")
    assert tab.kpi("Invoice lines") == str(sum(d[1] for d in days))
    net = next(t for t in tab.traces("Revenue by day (GBP)") if t["name"] == "net_revenue")
    assert [round(v, 2) for v in net["y"]] == [float(d[2]) for d in days]

    first = days[0][0].isoformat()
    tab.page.fill("input[name=from]", first)
    tab.page.fill("input[name=to]", first)
    tab.submit(lambda: tab.page.click("form.filters button"))
    assert tab.kpi("Invoice lines") == str(days[0][1])
    assert tab.traces("Revenue by day (GBP)")[0]["x"] == [first]
    assert tab.problems == []


def test_customers_transactions_by_country_and_address_moves(tab: Tab, demo: Demo) -> None:
    tab.open("customers/transactions.html")
    transactions = demo.scalar("customers", "SELECT count(*) FROM analytics.customer_transactions")
    assert tab.kpi("Transactions") == str(transactions)
    assert total(tab.traces("Transactions by country")) == transactions
    tab.submit(lambda: tab.page.select_option("select[name=dim]", "books"))
    assert tab.kpi("Transactions") == str(demo.scalar(
        "customers", "SELECT count(*) FROM analytics.customer_transactions WHERE product_category = 'books'"))

    tab.open("customers/addresses.html")
    moves = demo.scalar("customers", "SELECT count(*) FROM analytics.dim_customer_addresses WHERE version > 1")
    assert moves > 0  # the demo's second round moved some customers
    assert tab.kpi("Moves") == str(moves) and total(tab.traces("Moves per month")) == moves
    assert tab.page.locator("select[name=dim]").count() == 0  # this page has a date filter only
    assert tab.problems == []


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_health_page_shows_the_runs_and_rows_the_warehouse_recorded(tab: Tab, demo: Demo, pipeline: str) -> None:
    tab.open(f"{pipeline}/health.html")
    runs = demo.query(pipeline, "SELECT status, rows_loaded FROM _shopflow.runs ORDER BY started_at")
    assert tab.kpi("Runs") == str(len(runs)) and tab.kpi("Last run") == runs[-1][0]
    assert total(tab.traces("Rows loaded per run")) == sum(r[1] for r in runs)
    tables = tab.page.locator('.chart:has(> h2:text-is("Tables: versions and freshness")) tbody tr')
    assert tables.count() == demo.scalar(pipeline, "SELECT count(DISTINCT lake_key) FROM _shopflow.loads")
    assert tab.problems == []


def test_pages_fit_a_narrow_screen(browser: Any, dashboard: Dashboard) -> None:
    context = browser.new_context(viewport=NARROW)
    page = context.new_page()
    opened = Tab(page, dashboard.url)
    try:
        for address in ("", "glossier/orders.html", "totesys/sales.html", "customers/health.html"):
            opened.open(address)
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), address
            widths = page.locator(".plot").evaluate_all("els => els.map(el => el.getBoundingClientRect().width)")
            assert all(0 < w <= NARROW["width"] for w in widths), (address, widths)
    finally:
        context.close()


def test_screenshots_of_the_main_pages(browser: Any, dashboard: Dashboard, tmp_path: Path) -> None:
    folder = Path(os.environ.get("SHOPFLOW_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=WIDE)
    page = context.new_page()
    opened = Tab(page, dashboard.url)
    try:
        for name, address in SCREENSHOTS:
            opened.open(address)
            page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
        narrow = browser.new_page(viewport=NARROW)
        Tab(narrow, dashboard.url).open("glossier/orders.html")
        narrow.screenshot(path=str(folder / "glossier-orders-narrow.png"), full_page=True)
        narrow.close()
    finally:
        context.close()
    assert all((folder / f"{name}.png").stat().st_size > 10_000 for name, _ in SCREENSHOTS)
