"""The engines' own floor for B1, no lake and no ledger: what a load of the same table costs at the least.

- into DuckDB: `CREATE TABLE raw.orders AS SELECT * FROM postgres_scan(...)` straight into the
  warehouse file (DuckDB's PostgreSQL scanner, parallel by page ranges);
- into PostgreSQL: `COPY (SELECT * FROM orders) TO STDOUT (FORMAT binary)` from the source piped
  into `COPY raw.orders FROM STDIN (FORMAT binary)` on the warehouse, one transaction.

Spec keys: destination (duckdb | postgres), source_url, table, destination_path / destination_url.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).parent))

from protocol import read_spec, report


def _libpq(url: str) -> str:
    """`postgresql://user@host:port/db` as a libpq key=value string (postgres_scan's first argument)."""
    parts = urlsplit(url)
    values = {
        "host": parts.hostname,
        "port": parts.port or 5432,
        "user": parts.username,
        "password": parts.password,
        "dbname": parts.path.lstrip("/"),
    }
    return " ".join(f"{k}={v}" for k, v in values.items() if v is not None)


def into_duckdb(spec: dict[str, Any]) -> None:
    import duckdb

    from shopflow.engine import load_extension

    con = duckdb.connect(spec["destination_path"])
    load_extension(con, "postgres_scanner")
    con.execute("CREATE SCHEMA raw")
    dsn = _libpq(spec["source_url"]).replace("'", "''")
    con.execute(
        f"CREATE TABLE raw.{spec['table']} AS SELECT * FROM postgres_scan('{dsn}', 'public', '{spec['table']}')"
    )
    con.close()


def into_postgres(spec: dict[str, Any]) -> None:
    import psycopg

    table = spec["table"]
    with psycopg.connect(spec["source_url"]) as source, psycopg.connect(spec["destination_url"]) as target:
        columns = source.execute(
            "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            [table],
        ).fetchall()
        body = ", ".join(f'"{name}" {sql_type}' for name, sql_type in columns)
        target.execute("CREATE SCHEMA raw")
        target.execute(f'CREATE TABLE raw."{table}" ({body})')
        with (
            source.cursor().copy(f'COPY (SELECT * FROM "{table}") TO STDOUT (FORMAT binary)') as out,
            target.cursor().copy(f'COPY raw."{table}" FROM STDIN (FORMAT binary)') as into,
        ):
            for chunk in out:
                into.write(chunk)


def main() -> None:
    spec = read_spec()
    if spec["destination"] == "duckdb":
        into_duckdb(spec)
    else:
        into_postgres(spec)
    report(tables={"orders": f"raw.{spec['table']}"})


if __name__ == "__main__":
    main()
