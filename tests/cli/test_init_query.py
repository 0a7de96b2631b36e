"""`shopflow init` (a starter, or a copy of an example) and `shopflow query`, run as the real command.

A new user's first steps: copy an example into a folder of their own and run it there; write a
starter pipeline, drop order files in, run it, and query the model it built: no sources.yml and
no profile written by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from tests.cli.test_cli import shopflow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_init_example_copies_a_pipeline_that_runs_where_it_lands(tmp_path: Path) -> None:
    done = shopflow("init", "--example", "glossier", "mine", cwd=tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "cd mine && shopflow run" in done.stdout
    copy = tmp_path / "mine"
    expected = sorted(str(p.relative_to(EXAMPLES / "glossier")) for p in (EXAMPLES / "glossier").rglob("*")
                      if ".shopflow" not in p.parts)
    assert sorted(str(p.relative_to(copy)) for p in copy.rglob("*")) == expected

    ran = shopflow("run", cwd=copy)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "models: 3 built, 0 failed, 0 skipped" in ran.stdout
    orders = shopflow("query", "SELECT count(*) AS orders FROM analytics.orders_table", cwd=copy)
    assert orders.returncode == 0, orders.stderr
    assert "1 row" in orders.stdout and "orders" in orders.stdout
    real = {o["id"] for f in (copy / "data").glob("*.json")
            for o in json.loads(f.read_text(encoding="utf-8"))["orders"] if not o["test"]}
    assert f"{len(real)}" in orders.stdout

    again = shopflow("init", "--example", "glossier", "mine", cwd=tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr


def test_init_with_an_unknown_example_lists_the_examples(tmp_path: Path) -> None:
    done = shopflow("init", "--example", "glosier", cwd=tmp_path)

    assert done.returncode == 2
    assert "no example named 'glosier'" in done.stderr
    for name in ("customers", "glossier", "online_retail", "shop_db", "totesys"):
        assert name in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_starter_pipeline_builds_its_model_over_the_raw_tables_and_query_prints_it(tmp_path: Path) -> None:
    done = shopflow("init", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "dbt" / "dbt_project.yml").is_file()
    assert not (tmp_path / "dbt" / "models" / "sources.yml").exists()
    (tmp_path / "data" / "orders").mkdir(parents=True)
    (tmp_path / "data" / "customers").mkdir()
    orders = [{"id": i, "updated_at": f"2024-05-0{1 + i % 2}T10:00:00", "total_price": "9.99",
               "line_items": [{"sku": "a", "quantity": 1}]} for i in range(1, 6)]
    (tmp_path / "data" / "orders" / "day.json").write_text(json.dumps({"orders": orders}), encoding="utf-8")
    (tmp_path / "data" / "customers" / "crm.csv").write_text("id,name\n1,ann\n", encoding="utf-8")

    ran = shopflow("run", cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "models: 1 built, 0 failed, 0 skipped" in ran.stdout
    days = shopflow("query", "SELECT day, orders FROM analytics.orders_per_day ORDER BY day", cwd=tmp_path)
    assert days.returncode == 0, days.stderr
    assert [line.split()[1:4:2] for line in days.stdout.splitlines() if "2024-05-0" in line] == [
        ["2024-05-01", "2"], ["2024-05-02", "3"]]


def test_query_is_read_only_and_says_when_a_run_holds_the_warehouse(tmp_path: Path) -> None:
    (tmp_path / "shopflow.yml").write_text(
        "pipeline: q\nlake: lake\nwarehouse: {path: warehouse.duckdb}\nsources: []\n", encoding="utf-8")
    missing = shopflow("query", "SELECT 1", cwd=tmp_path)
    assert missing.returncode == 1 and "does not exist yet" in missing.stderr

    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES (1, 'a', NULL), (2, 'b', 2.5)) v(id, name, price)")
    held = shopflow("query", "SELECT * FROM t", cwd=tmp_path)  # this process holds the file, as a run does
    con.close()
    assert held.returncode == 1
    assert "while another process writes to it" in held.stderr and "fix:" in held.stderr

    rows = shopflow("query", "SELECT * FROM t ORDER BY id", "--limit", "1", cwd=tmp_path)
    assert rows.returncode == 0, rows.stderr
    assert [line.split("│")[1:4] for line in rows.stdout.splitlines() if line.startswith("│")] == [
        ["  1 ", " a    ", "  NULL "]]
    assert "1 row (more not shown: --limit)" in rows.stdout
    write = shopflow("query", "DROP TABLE t", cwd=tmp_path)
    assert write.returncode == 1 and "read-only" in write.stderr
    assert duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True).execute(
        "SELECT count(*) FROM t").fetchone() == (2,)
