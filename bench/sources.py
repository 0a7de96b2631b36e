"""The benchmark's source data: a PostgreSQL orders table, its changed copy, order files, totesys."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import psycopg


@dataclass(frozen=True)
class Truth:
    """What every tool must have loaded: the main table's rows and money sum, and other tables' rows."""

    rows: int
    amount: str
    extra: tuple[tuple[str, int], ...] = ()


# Every database of one run is named `sfbench_<pid>_...`: runs by different people (or CI) on the
# same PostgreSQL then never drop each other's databases.
PREFIX = f"sfbench_{os.getpid()}_"


def database_name(name: str) -> str:
    """This run's name for database `name`."""
    return PREFIX + name


def server_url(database: str) -> str:
    return f"postgresql://postgres@127.0.0.1:5432/{database}"


def check_server() -> None:
    """Exit with a clear message if the benchmark's PostgreSQL is not there."""
    try:
        psycopg.connect(server_url("postgres"), connect_timeout=5).close()
    except psycopg.Error as exc:
        raise SystemExit(
            f"the benchmark needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust authentication): {exc}"
        ) from exc


def recreate_database(name: str, template: str | None = None) -> str:
    """Drop and create `name` (optionally as a copy of `template`); return its URL."""
    with psycopg.connect(server_url("postgres"), autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        suffix = f' TEMPLATE "{template}"' if template else ""
        con.execute(f'CREATE DATABASE "{name}"{suffix}')
    return server_url(name)


def create_orders(url: str, rows: int) -> Truth:
    """An orders table of `rows` rows with numeric, text and timestamptz columns, made by the demo generator."""
    from shopflow.demo import generate_orders_table

    generate_orders_table(url, rows=rows, seed=42)
    return orders_truth(url)


def orders_truth(url: str) -> Truth:
    with psycopg.connect(url) as con:
        row = con.execute("SELECT count(*), sum(amount)::text FROM orders").fetchone()
    assert row is not None
    return Truth(rows=int(row[0]), amount=str(row[1]))


def change_orders(url: str, update_share: float, insert_share: float) -> tuple[int, int]:
    """Update `update_share` of the rows and insert `insert_share` more, bumping updated_at."""
    with psycopg.connect(url) as con:
        total = con.execute("SELECT count(*), max(id) FROM orders").fetchone()
        assert total is not None
        count, top = int(total[0]), int(total[1])
        step = max(1, round(1 / update_share))
        updated = con.execute(
            "UPDATE orders SET amount = amount + 1, status = 'updated', updated_at = now() WHERE id %% %s = 0",
            [step],
        ).rowcount
        inserts = int(count * insert_share)
        con.execute(
            "INSERT INTO orders SELECT id, customer_id, amount, status, note, now(), now() FROM "
            "(SELECT %s + g AS id, (g %% 5000) AS customer_id, round((g %% 10000) / 100.0 + 1, 2) AS amount, "
            "'new' AS status, 'inserted by the benchmark' AS note FROM generate_series(1, %s) g) s",
            [top, inserts],
        )
    return updated, inserts


def glossier_files(folder: Path, orders: int, days: int) -> Truth:
    """Glossier-shaped daily order files from the demo generator, and its own exact truth.

    The generator counts orders and line items and sums the `total_price` strings exactly as it
    writes them, so reading 3 GB of JSON back here is not needed. The money has float noise
    (`"130.64999999999998"`); every tool's value is cast to DECIMAL(38,2) per row when checked.
    """
    from decimal import Decimal

    from shopflow.demo import generate_glossier_orders

    summary = generate_glossier_orders(str(folder), days=days, orders_per_day=max(1, orders // days), seed=7)
    total = Decimal(summary.totals["total_price"]).quantize(Decimal("0.01"))
    return Truth(rows=summary.rows["orders"], amount=str(total), extra=(("line_items", summary.rows["line_items"]),))


# The real Glossier order files (see shared/data/SOURCES.md), beside the clone.
GLOSSIER_FILES = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "glossier_orders"


def real_glossier_truth(folder: Path) -> Truth:
    """The orders, the sum of `total_price` (each rounded to cents, as the check casts it) and the line items."""
    import json
    from decimal import ROUND_HALF_UP, Decimal

    rows = items = 0
    total = Decimal(0)
    for path in sorted(folder.glob("*.json")):
        for order in json.loads(path.read_bytes())["orders"]:
            rows += 1
            items += len(order.get("line_items") or [])
            if order.get("total_price") is not None:
                total += Decimal(str(order["total_price"])).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return Truth(rows=rows, amount=str(total), extra=(("line_items", items),))


TOTESYS_FACTS = {"sales_order": "fact_sales_order", "purchase_order": "fact_purchase_order", "payment": "fact_payment"}


def create_totesys(url: str, scale: float) -> tuple[Truth, int]:
    """The totesys database at `scale` times the real snapshot; the truth of its facts, and the fact rows.

    A first load of the star schema has one fact row per sales order, purchase order and payment:
    the truth is the payments' count and amount, plus the other two facts' counts.
    """
    from shopflow.demo import generate_totesys

    generate_totesys(url, scale=scale, seed=3)
    with psycopg.connect(url) as con:
        counts = {t: int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0])  # type: ignore[index]
                  for t in TOTESYS_FACTS}
        amount = con.execute("SELECT sum(payment_amount)::text FROM payment").fetchone()
        con.execute("ANALYZE")
    assert amount is not None
    extra = tuple((fact, counts[t]) for t, fact in TOTESYS_FACTS.items() if t != "payment")
    return Truth(rows=counts["payment"], amount=str(amount[0]), extra=extra), sum(counts.values())


def source_rows(url: str) -> int:
    """Rows in every table of the public schema (what a tool reads from the source)."""
    with psycopg.connect(url) as con:
        tables = [r[0] for r in con.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()]
        total = 0
        for table in tables:
            row = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()
            assert row is not None
            total += int(row[0])
        return total


def drop_database(name: str) -> None:
    """Drop one database (a tool's PostgreSQL warehouse, once checked)."""
    with psycopg.connect(server_url("postgres"), autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def drop_databases(prefix: str = PREFIX) -> None:
    """Drop the databases this run made (sources and warehouses)."""
    with psycopg.connect(server_url("postgres"), autocommit=True) as con:
        names = [r[0] for r in con.execute("SELECT datname FROM pg_database").fetchall()]
        for name in (n for n in names if n.startswith(prefix)):  # not LIKE: `_` is a wildcard there
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
