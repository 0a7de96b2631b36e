"""Read back what a tool loaded and compare it with the source's truth."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sources import Truth


def _rows(destination: dict[str, Any], sql: str) -> tuple[Any, ...]:
    if destination["kind"] == "duckdb":
        import duckdb

        con = duckdb.connect(destination["path"], read_only=True)
        try:
            row = con.execute(sql).fetchone()
        finally:
            con.close()
    else:
        import psycopg

        with psycopg.connect(destination["url"]) as pg:
            row = pg.execute(sql).fetchone()
    assert row is not None
    return tuple(row)


def check(
    destination: dict[str, Any], tables: dict[str, str], truth: Truth, money: str, main: str = "orders"
) -> str | None:
    """None if the tool loaded exactly the truth's rows and sum; else what differs."""
    missing = [name for name in (main, *(n for n, _ in truth.extra)) if name not in tables]
    if missing:
        return f"the tool did not say where it put {', '.join(missing)}"
    # Summed as DECIMAL(38,2): exact at any size (a double drifts by cents over 10M rows).
    sql = f"SELECT count(*), sum(CAST({money} AS DECIMAL(38,2))) FROM {tables[main]}"
    try:
        count, total = _rows(destination, sql)
    except Exception as exc:  # any failure to read back is the tool's failure
        return f"cannot read {tables[main]}: {str(exc).splitlines()[0]}"
    problems = []
    if int(count) != truth.rows:
        problems.append(f"{count} rows, expected {truth.rows}")
    if total is None or Decimal(str(total)) != Decimal(truth.amount):
        problems.append(f"sum {total}, expected {truth.amount}")
    for name, expected in truth.extra:
        (got,) = _rows(destination, f"SELECT count(*) FROM {tables[name]}")
        if int(got) != expected:
            problems.append(f"{name}: {got} rows, expected {expected}")
    return "; ".join(problems) or None
