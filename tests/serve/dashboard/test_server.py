"""`shopflow dashboard` as a real process on a loopback port: pages, token, static export, and runs never blocked."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

from tests.serve.dashboard.conftest import PIPELINES, SHOPFLOW, Dashboard, Demo, start_dashboard, stop_dashboard
from tests.serve.dashboard.pages import EXAMPLES, chart_errors, fetch, kpi, page_names


def test_index_lists_every_pipeline_and_every_page_shows_the_warehouse_numbers(
    dashboard: Dashboard, demo: Demo,
) -> None:
    index = fetch(dashboard.url)
    assert index.status == 200
    for name in PIPELINES:
        assert f'href="{name}/{page_names(name)[0]}.html"' in index.body
        for page in page_names(name):
            answer = fetch(f"{dashboard.url}{name}/{page}.html")
            assert answer.status == 200, (name, page)
            assert chart_errors(answer.body) == [], (name, page)
            assert "cdn" not in answer.body.lower() and "https://" not in answer.body
        health = fetch(f"{dashboard.url}{name}/health.html").body
        assert kpi(health, "Runs") == str(demo.scalar(name, "SELECT count(*) FROM _shopflow.runs")) == "2"
        assert kpi(health, "Quarantined records") == str(demo.scalar(name, "SELECT count(*) FROM raw._quarantine")
                                                        if name == "customers" else 0)
    orders = fetch(f"{dashboard.url}glossier/orders.html?dim=cash").body
    assert kpi(orders, "Orders") == str(demo.scalar(
        "glossier", "SELECT count(*) FROM analytics.orders_table WHERE payment_type = 'cash'"))
    assert fetch(f"{dashboard.url}glossier/nope.html").status == 404
    plotly = fetch(f"{dashboard.url}static/plotly.min.js", headers={"Accept-Encoding": "gzip"})
    assert plotly.status == 200 and plotly.headers["content-encoding"] == "gzip"


def test_a_bad_filter_value_is_reported_and_the_whole_range_shown(dashboard: Dashboard, demo: Demo) -> None:
    page = fetch(f"{dashboard.url}glossier/orders.html?from=yesterday").body
    assert "from=&#39;yesterday&#39; is not a date (YYYY-MM-DD)" in page
    assert kpi(page, "Orders") == str(demo.scalar("glossier", "SELECT count(*) FROM analytics.orders_table"))


def test_other_addresses_than_loopback_need_a_token(demo: Demo) -> None:
    done = subprocess.run([SHOPFLOW, "dashboard", "-c", str(demo.config("glossier")), "--host", "0.0.0.0"],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 2
    assert "--host 0.0.0.0 would show every warehouse's data to the network without a token" in done.stderr
    assert "pass --token (or set SHOPFLOW_DASHBOARD_TOKEN)" in done.stderr


def test_a_pipeline_given_twice_and_a_short_token_are_refused(demo: Demo) -> None:
    config = str(demo.config("glossier"))
    twice = subprocess.run([SHOPFLOW, "dashboard", "-c", config, "-c", config], capture_output=True, text=True,
                           timeout=60, env={**os.environ, "COLUMNS": "200"})
    assert twice.returncode == 2 and "pipeline glossier is given twice" in twice.stderr
    short = subprocess.run([SHOPFLOW, "dashboard", "-c", config, "--token", "abc"], capture_output=True, text=True,
                           timeout=60, env={**os.environ, "COLUMNS": "200"})
    assert short.returncode == 2 and "the dashboard token is 3 characters long; it needs at least 8" in short.stderr


def test_a_pipeline_not_run_yet_says_how_to_build_it(tmp_path: Path) -> None:
    from shopflow.serve.dashboard.render import render_page
    from shopflow.serve.dashboard.site import standalone

    config = yaml.safe_load((EXAMPLES / "glossier" / "shopflow.yml").read_text(encoding="utf-8"))
    config.update(lake=str(tmp_path / "lake"), warehouse={"type": "duckdb", "path": str(tmp_path / "w.duckdb")},
                  transform={"project": str(EXAMPLES / "glossier" / "dbt")})
    config["sources"][0]["location"] = str(tmp_path)
    (tmp_path / "shopflow.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    pipeline = standalone(tmp_path / "shopflow.yml")
    for name in ("orders", "health"):
        page = render_page([pipeline], "glossier", name)
        assert f"warehouse {tmp_path / 'w.duckdb'} does not exist yet" in page
        assert "fix: run the pipeline first: shopflow run -c" in page


def test_a_failing_query_shows_the_database_error_in_place(demo: Demo, tmp_path: Path) -> None:
    from shopflow.serve.dashboard.render import render_page
    from shopflow.serve.dashboard.site import standalone

    shutil.copyfile(demo.config("glossier"), tmp_path / "shopflow.yml")
    board = {"title": "t", "pages": [{"name": "p", "title": "P", "charts": [
        {"title": "Fine", "type": "kpi", "sql": "SELECT count(*) FROM analytics.orders_table"},
        {"title": "Broken", "type": "kpi", "sql": "SELECT count(*) FROM analytics.no_such_table"},
        {"title": "Wrong column", "type": "bar", "x": "nope", "sql": "SELECT 1 AS a, 2 AS b"}]}]}
    (tmp_path / "dashboard.yml").write_text(yaml.safe_dump(board), encoding="utf-8")
    pipeline = standalone(tmp_path / "shopflow.yml")
    try:
        page = render_page([pipeline], "glossier", "p")
        errors = chart_errors(page)
        assert errors[0].startswith("the query failed: Catalog Error: Table with name no_such_table does not exist")
        assert errors[1] == "column 'nope' is not in the query's result (its columns: a, b)"
        assert kpi(page, "Fine") == str(demo.scalar("glossier", "SELECT count(*) FROM analytics.orders_table"))

        board["filters"] = {"date": {"label": "Day", "bounds": "SELECT min(x), max(x) FROM analytics.nope"}}
        board["pages"][0]["charts"][0]["sql"] += " WHERE cast(created_at AS date) >= :date_from"  # type: ignore[index]
        (tmp_path / "dashboard.yml").write_text(yaml.safe_dump(board), encoding="utf-8")
        pipeline.close()
        pipeline = standalone(tmp_path / "shopflow.yml")
        page = render_page([pipeline], "glossier", "p")
        assert "the query of filters.date.bounds failed: Catalog Error" in page
        assert "fix: correct filters.date.bounds in the dashboard file" in page
    finally:
        pipeline.close()


def test_a_port_in_use_is_a_clear_error(demo: Demo) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = subprocess.run([SHOPFLOW, "dashboard", "-c", str(demo.config("glossier")), "--port", str(port)],
                              capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in done.stderr


def test_with_a_token_every_page_needs_it(demo: Demo, tmp_path: Path) -> None:
    token = "tok-3f9a61c2"
    running = start_dashboard(["-c", str(demo.config("glossier")), "-c", str(demo.config("customers"))],
                              tmp_path / "out.txt", env={"SHOPFLOW_DASHBOARD_TOKEN": token})
    try:
        page = f"{running.url}glossier/orders.html"
        assert "Dashboard of glossier, customers at" in running.output()
        assert "(pages need the token)" in running.output()
        index = fetch(running.url, headers={"Authorization": f"Bearer {token}"})
        assert 'href="glossier/orders.html"' in index.body and 'href="customers/transactions.html"' in index.body
        locked = fetch(page)
        assert locked.status == 401 and 'name="token"' in locked.body and "Orders" not in locked.body
        assert fetch(f"{running.url}static/plotly.min.js").status == 401
        assert fetch(page, headers={"Authorization": "Bearer wrong-token"}).status == 401
        assert fetch(page, headers={"Authorization": f"Bearer {token}"}).status == 200

        wrong = fetch(f"{running.url}login", data=b"token=nope&next=/glossier/orders.html")
        assert wrong.status == 401 and "That token is not right" in wrong.body
        login = fetch(f"{running.url}login", data=f"token={token}&next=/glossier/orders.html".encode())
        assert login.status == 303 and login.headers["location"] == "/glossier/orders.html"
        cookie = login.headers["set-cookie"].split(";")[0]
        assert token not in cookie and "HttpOnly" in login.headers["set-cookie"]
        opened = fetch(page, headers={"Cookie": cookie})
        assert opened.status == 200 and kpi(opened.body, "Orders") == str(
            demo.scalar("glossier", "SELECT count(*) FROM analytics.orders_table"))
        # Off-site redirects after login are refused: back to the dashboard's root instead.
        away = fetch(f"{running.url}login", data=f"token={token}&next=//evil.example/".encode())
        assert away.headers["location"] == "/"
    finally:
        stop_dashboard(running.process)


def test_export_writes_self_contained_pages(demo: Demo, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = subprocess.run([SHOPFLOW, "dashboard", "--project", str(demo.folder), "--export", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    expected = {"index.html"} | {f"{n}/{p}.html" for n in PIPELINES for p in page_names(n)}
    assert {str(p.relative_to(out)) for p in out.rglob("*.html")} == expected
    for name in expected:
        text = (out / name).read_text(encoding="utf-8")
        assert " src=" not in text and 'rel="stylesheet"' not in text, name  # nothing to fetch: all inline
        assert chart_errors(text) == [], name
    orders = (out / "glossier" / "orders.html").read_text(encoding="utf-8")
    assert "plotly.js v" in orders and '<form class="filters"' not in orders
    assert kpi(orders, "Orders") == str(demo.scalar("glossier", "SELECT count(*) FROM analytics.orders_table"))
    assert '<a href="health.html">' in orders and '<a href="glossier/orders.html">' in (out / "index.html").read_text()


WRITER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("INSERT INTO analytics.orders_table SELECT * REPLACE (transaction_id + 10**12 AS transaction_id) "
            "FROM analytics.orders_table LIMIT 1")
print("holding", flush=True)
sys.stdin.readline()
con.close()
"""


def test_a_run_is_never_blocked_and_pages_show_the_last_copy_meanwhile(demo: Demo, tmp_path: Path) -> None:
    # A pipeline of its own: the demo's glossier file, pointed at a copy of its warehouse.
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(demo.warehouse("glossier"), warehouse)
    config = yaml.safe_load(demo.config("glossier").read_text(encoding="utf-8"))
    config["warehouse"]["path"] = str(warehouse)
    (tmp_path / "shopflow.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    orders = int(demo.scalar("glossier", "SELECT count(*) FROM analytics.orders_table"))
    running = start_dashboard(["-c", str(tmp_path / "shopflow.yml")], tmp_path / "out.txt")
    page = f"{running.url}glossier/orders.html"
    try:
        only = fetch(running.url)  # one pipeline: its first page is the start page
        assert only.status == 307 and only.headers["location"] == "glossier/orders.html"
        assert kpi(fetch(page).body, "Orders") == str(orders)

        # Pages keep being read while writers open, write and close the warehouse: no open ever fails.
        reading = threading.Event()
        answers: list[int] = []

        def read_pages() -> None:
            while not reading.is_set():
                answers.append(fetch(page).status)

        reader = threading.Thread(target=read_pages)
        reader.start()
        import duckdb

        try:
            for _ in range(10):
                duckdb.connect(str(warehouse)).close()
                time.sleep(0.05)
        finally:
            reading.set()
            reader.join(timeout=30)
        assert answers and set(answers) == {200}

        # A run holds the warehouse: the page shows the copy from before it, and says so.
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(warehouse)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert writer.stdout is not None and writer.stdout.readline().strip() == "holding"
            during = fetch(page)
            assert during.status == 200 and kpi(during.body, "Orders") == str(orders)
            assert "a run is writing the warehouse: showing it as of" in during.body
        finally:
            assert writer.stdin is not None
            writer.stdin.write("done\n")
            writer.stdin.close()
            assert writer.wait(timeout=30) == 0
        after = fetch(page).body
        assert kpi(after, "Orders") == str(orders + 1) and "a run is writing" not in after
    finally:
        stop_dashboard(running.process)
