"""Bad input: unreachable hosts, refused credentials, missing tables and columns, types the
scanner cannot map. Each error names the host and the table and says how to fix it, and the
password never shows, in the report or the logs."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import psycopg
import pytest
from tests.services import PostgresServer, free_port
from tests.sources.database.conftest import MARIADB, Pipeline, postgres_source, table_report

from shopflow.pipeline.run import EXIT_FAILED

PASSWORD = "pw-Zq8!never-shown"


def only_error(pipeline: Pipeline) -> str:
    report = pipeline.run(ok=False)
    assert report.exit_code == EXIT_FAILED
    errors = [t.error for t in report.tables if t.error]
    assert len(errors) == 1, errors
    return errors[0]


def assert_secret_kept(text: str, caplog: pytest.LogCaptureFixture) -> None:
    assert PASSWORD not in text
    assert all(PASSWORD not in record.getMessage() for record in caplog.records)


def test_an_unreachable_host_is_named_with_the_fix(pipeline: Pipeline, caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    pipeline.source = {"name": "shop", "type": "postgres", "host": "127.0.0.1", "port": port, "user": "app",
                       "password": PASSWORD, "database": "shop", "tables": [{"name": "orders"}]}
    with caplog.at_level(logging.INFO):
        error = only_error(pipeline)

    assert f"cannot reach the postgres server at 127.0.0.1:{port}" in error
    assert "table=orders" in error and "host=127.0.0.1" in error
    assert "fix: check host: and port:" in error
    assert_secret_kept(error, caplog)


def test_refused_credentials_name_the_user_and_the_fix(pipeline: Pipeline, postgres_server: PostgresServer,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    url = f"postgresql://no_such_user_sf:{PASSWORD}@{postgres_server.host}:{postgres_server.port}/postgres"
    pipeline.source = postgres_source(url, tables=[{"name": "orders"}])
    with caplog.at_level(logging.INFO):
        error = only_error(pipeline)

    assert "refused user 'no_such_user_sf'" in error
    assert "fix: check user: and password:" in error
    assert_secret_kept(error, caplog)


def test_a_missing_database_is_named(pipeline: Pipeline, postgres_server: PostgresServer) -> None:
    pipeline.source = postgres_source(postgres_server.url("no_such_db_sf"), tables=[{"name": "orders"}])

    error = only_error(pipeline)

    assert "database 'no_such_db_sf' does not exist" in error and "fix: check database:" in error


def test_mariadb_refusing_a_password_keeps_it_secret(pipeline: Pipeline, mariadb: str,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    pipeline.source = {"name": "shop", "type": "mysql", **MARIADB, "password": PASSWORD, "database": mariadb,
                       "tables": [{"name": "orders"}]}
    with caplog.at_level(logging.INFO):
        error = only_error(pipeline)

    assert "refused user 'root'" in error and "host=127.0.0.1" in error
    assert_secret_kept(error, caplog)


def test_a_missing_table_fails_alone_with_a_suggestion(pipeline: Pipeline, pg: psycopg.Connection[Any],
                                                       postgres_database: str) -> None:
    pg.execute("CREATE TABLE customers (id int PRIMARY KEY)")
    pg.execute("INSERT INTO customers VALUES (1)")
    pipeline.source = postgres_source(postgres_database, tables=[{"name": "customer"}, {"name": "customers"}])

    error = only_error(pipeline)

    assert "table 'customer' does not exist in schema 'public'" in error
    assert "did you mean 'customers'?" in error and "table=customer" in error
    assert pipeline.query("SELECT count(*) FROM raw.customers") == [(1,)]


def test_a_misspelt_excluded_column_stops_the_table(pipeline: Pipeline, pg: psycopg.Connection[Any],
                                                    postgres_database: str) -> None:
    pg.execute("CREATE TABLE customers (id int PRIMARY KEY, email text)")
    pipeline.source = postgres_source(postgres_database, tables=[{"name": "customers", "exclude_columns": "emial"}])

    error = only_error(pipeline)

    assert "exclude_columns names column 'emial'" in error and "did you mean 'email'?" in error


def test_a_table_that_cannot_be_read_does_not_stop_the_others(pipeline: Pipeline, pg: psycopg.Connection[Any],
                                                              postgres_database: str) -> None:
    pg.execute("CREATE TABLE a_events (id int PRIMARY KEY, seen boolean)")
    pg.execute("CREATE TABLE b_orders (id int PRIMARY KEY)")
    pg.execute("INSERT INTO b_orders VALUES (1), (2)")
    pipeline.source = postgres_source(postgres_database, tables=[
        {"name": "a_events", "mode": "incremental", "cursor": "seen"}, {"name": "b_orders"}])

    error = only_error(pipeline)

    assert "cursor 'seen' is BOOLEAN, which cannot order changes" in error
    assert pipeline.query("SELECT count(*) FROM raw.b_orders") == [(2,)]


def test_types_the_scanner_cannot_map_arrive_as_text_with_a_warning(
    pipeline: Pipeline, pg: psycopg.Connection[Any], postgres_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    pg.execute("CREATE TYPE mood AS ENUM ('sad', 'ok')")
    pg.execute("CREATE DOMAIN positive AS int CHECK (VALUE > 0)")
    pg.execute("""CREATE TABLE odd (id int PRIMARY KEY, price money, spot point, range int4range, addr inet,
                  qty positive, feeling mood, at time, took interval, uid uuid)""")
    pg.execute("""INSERT INTO odd VALUES (1, 12.5, point(1, 2), int4range(1, 5), '10.0.0.1', 3, 'ok',
                  '12:34:56', '1 day 02:00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')""")
    pipeline.source = postgres_source(postgres_database, tables=[{"name": "odd"}])
    with caplog.at_level(logging.WARNING):
        report = pipeline.run()

    as_text = {note.split(":")[0] for note in table_report(report, "odd").text_columns}
    assert as_text == {"price", "range", "addr", "qty"}
    assert any("read as text" in r.getMessage() and "price" in r.getMessage() for r in caplog.records)
    row = pipeline.query('SELECT price, spot, "range", addr, qty, feeling, "at", took, uid FROM raw.odd')[0]
    assert row == ("$12.50", {"x": 1.0, "y": 2.0}, "[1,5)", "10.0.0.1/32", "3", "ok", "12:34:56", "1 day 02:00:00",
                   "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")


def test_a_numeric_without_precision_keeps_every_digit_as_text(
    pipeline: Pipeline, pg: psycopg.Connection[Any], postgres_database: str
) -> None:
    pg.execute("CREATE TABLE amounts (id int PRIMARY KEY, exact numeric, price numeric(12,2), at timestamptz)")
    pg.execute("INSERT INTO amounts VALUES (1, 3.14159265358979323846264338327950288, 9.99, '2024-01-01 10:00+00')")
    pipeline.source = postgres_source(postgres_database, tables=[{"name": "amounts"}])

    report = pipeline.run()

    assert [n.split(":")[0] for n in table_report(report, "amounts").text_columns] == ["exact"]
    assert pipeline.query("SELECT exact, CAST(price AS VARCHAR), CAST(\"at\" AS VARCHAR) FROM raw.amounts") == [
        ("3.14159265358979323846264338327950288", "9.99", "2024-01-01 10:00:00+00")]


def test_a_missing_sqlite_file_is_named(pipeline: Pipeline, tmp_path: Path) -> None:
    pipeline.source = {"name": "local", "type": "sqlite", "path": str(tmp_path / "nope.db"), "tables": [{"name": "t"}]}

    error = only_error(pipeline)

    assert "SQLite database file" in error and "nope.db" in error and "fix: check path:" in error
