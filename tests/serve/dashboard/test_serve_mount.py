"""The dashboard mounted in `shopflow serve`'s app, reading the warehouses that process owns."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.serve.dashboard.conftest import Demo
from tests.serve.dashboard.pages import chart_errors, fetch, kpi, page_names

MOUNT = "shopflow.serve.dashboard.serve_mount:mount"


@pytest.fixture
def served(demo: Demo) -> Iterator[tuple[str, object]]:
    """serve's HTTP app over glossier and customers, with the dashboard mounted, on a loopback port."""
    import uvicorn

    from shopflow.orchestrate.scheduler import Scheduler
    from shopflow.serve.api import ServeContext
    from shopflow.serve.server import build_app, load_pipelines

    handles = load_pipelines([demo.config("glossier"), demo.config("customers")])
    stop = threading.Event()
    context = ServeContext({h.name: h for h in handles}, Scheduler(handles, stop), stop=stop)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(build_app(context, mounts=[MOUNT]), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", context
    server.should_exit = True
    thread.join(10)
    listener.close()


def test_serve_shows_the_same_pages_under_dashboard(served: tuple[str, object], demo: Demo) -> None:
    url, _ = served
    index = fetch(f"{url}/dashboard/")
    assert index.status == 200 and 'href="glossier/orders.html"' in index.body
    for name in ("glossier", "customers"):
        for page in page_names(name):
            answer = fetch(f"{url}/dashboard/{name}/{page}.html")
            assert answer.status == 200 and chart_errors(answer.body) == [], (name, page)
    orders = fetch(f"{url}/dashboard/glossier/orders.html?dim=cash").body
    assert kpi(orders, "Orders") == str(demo.scalar(
        "glossier", "SELECT count(*) FROM analytics.orders_table WHERE payment_type = 'cash'"))
    assert 'href="../static/dashboard.css"' in orders
    assert fetch(f"{url}/dashboard/static/dashboard.css").status == 200
    assert fetch(f"{url}/v1/health").status == 200  # serve's own routes are still there


def test_a_page_waits_for_the_run_holding_the_warehouse(served: tuple[str, object], demo: Demo) -> None:
    url, context = served
    lock = context.pipelines["glossier"].warehouse_lock  # type: ignore[attr-defined]
    lock.acquire()  # as a run does
    released = threading.Timer(1.0, lock.release)
    released.start()
    clock = time.perf_counter()
    page = fetch(f"{url}/dashboard/glossier/orders.html")
    assert time.perf_counter() - clock >= 0.9  # it waited for the "run" instead of reading beside it
    assert page.status == 200 and kpi(page.body, "Orders") == str(
        demo.scalar("glossier", "SELECT count(*) FROM analytics.orders_table"))
