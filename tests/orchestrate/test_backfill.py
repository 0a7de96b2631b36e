"""`shopflow backfill`: files by the date in their names, database rows by cursor range; a rerun changes nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import psycopg
from typer.testing import CliRunner

from shopflow.cli.main import app
from shopflow.errors import ConfigError
from tests.conftest import GLOSSIER_DATA
from tests.helpers import query
from tests.orchestrate.conftest import runs_of, write_yaml

runner = CliRunner()


def orders_in(name: str) -> int:
    return len(json.loads((GLOSSIER_DATA / name).read_text())["orders"])


def test_file_backfill_takes_the_dated_files_once(tmp_path: Path) -> None:
    drop = tmp_path / "in"
    shutil.copytree(GLOSSIER_DATA, drop)
    config = write_yaml(tmp_path / "shopflow.yml", {
        "pipeline": "glossier", "lake": str(tmp_path / "lake"), "warehouse": {"path": str(tmp_path / "w.duckdb")},
        "sources": [{"name": "glossier", "type": "files", "location": str(drop), "tables": [
            {"name": "orders", "files": "*.json", "records": "orders", "primary_key": "id",
             "write_disposition": "merge"}]}],
    })
    args = ["backfill", "-c", str(config), "--table", "orders", "--from", "2017-10-31", "--to", "2017-11-01"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "2 file(s) of orders dated 2017-10-31..2017-11-01" in first.output
    backfilled = orders_in("2017-10-31.json") + orders_in("2017-11-01.json")
    assert query(config, "SELECT count(*) FROM raw.orders") == [(backfilled,)]

    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert query(config, "SELECT count(*) FROM raw.orders") == [(backfilled,)]
    assert [r.trigger for r in runs_of(config)] == ["backfill", "backfill"]
    children = query(config, "SELECT count(*) FROM raw.orders__line_items")[0][0]
    assert [r.rows_loaded for r in runs_of(config)] == [backfilled + children, 0]

    # The next run takes the other days; together: every order once.
    assert runner.invoke(app, ["run", "-c", str(config)]).exit_code == 0
    total = sum(orders_in(p.name) for p in GLOSSIER_DATA.glob("*.json"))
    assert query(config, "SELECT count(*), count(DISTINCT id) FROM raw.orders") == [(total, total)]
    assert runs_of(config)[-1].trigger == "manual"

    pattern = runner.invoke(app, [*args[:-4], "--from", "2017-10-30", "--to", "2017-10-30", "--date-pattern", "%Y"])
    assert isinstance(pattern.exception, ConfigError) and pattern.exception.exit_code == 2
    assert "does not name a year, a month and a day" in pattern.exception.message


def test_database_backfill_merges_a_cursor_range_without_moving_the_watermark(
    tmp_path: Path, postgres_database: str,
) -> None:
    with psycopg.connect(postgres_database, autocommit=True) as con:
        con.execute("CREATE TABLE users (id int PRIMARY KEY, name text, updated_at timestamptz NOT NULL)")
        con.execute("INSERT INTO users SELECT g, 'u' || g, timestamptz '2024-11-01 00:00+00' + g * interval '1 hour' "
                    "FROM generate_series(1, 72) g")  # three days, 24 rows a day
    config = write_yaml(tmp_path / "shopflow.yml", {
        "pipeline": "shop", "lake": str(tmp_path / "lake"), "warehouse": {"path": str(tmp_path / "w.duckdb")},
        "sources": [{"name": "shop", "type": "postgres", "url": postgres_database,
                     "defaults": {"mode": "incremental", "cursor": "updated_at", "write_disposition": "merge"},
                     "tables": [{"name": "users"}]}],
    })
    assert runner.invoke(app, ["run", "-c", str(config)]).exit_code == 0
    # Rows written behind the watermark (a restore of old data): an incremental run never sees them.
    with psycopg.connect(postgres_database, autocommit=True) as con:
        con.execute("INSERT INTO users VALUES (100, 'late', '2024-11-02 12:30+00'), "
                    "(101, 'later', '2024-11-05 00:00+00')")
        con.execute("UPDATE users SET name = 'renamed' WHERE id = 30")  # 2024-11-02 06:00, cursor unchanged
    args = ["backfill", "-c", str(config), "--table", "users", "--from", "2024-11-02", "--to", "2024-11-02"]
    for _ in range(2):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert query(config, "SELECT count(*), count(DISTINCT id) FROM raw.users") == [(73, 73)]
        names = query(config, "SELECT name FROM raw.users WHERE id IN (30, 100) ORDER BY id")
        assert names == [("renamed",), ("late",)]
    # The watermark did not move: the next incremental run reads the row past it, and only that one.
    assert runner.invoke(app, ["run", "-c", str(config)]).exit_code == 0
    assert query(config, "SELECT count(*) FROM raw.users") == [(74,)]
    assert [r.trigger for r in runs_of(config)] == ["manual", "backfill", "backfill", "manual"]
    assert runs_of(config)[-1].rows_loaded == 1
