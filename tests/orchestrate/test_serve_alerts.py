"""`shopflow serve` as a real process: two pipelines (a PostgreSQL table, a file drop) on 2-second schedules.

Alerts go to a real SMTP server (aiosmtpd) and an HTTP webhook on loopback: a failing source
(its database renamed away), retried, sends one failure alert per target however many runs fail,
survives a kill -9 of serve without a second alert, and sends one recovery when the database is
back. A quarantined file and a stale file table each open one incident.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import duckdb
import psycopg

from tests.orchestrate.conftest import Mailbox, Serve, Webhook, runs_of, wait_until, write_yaml
from tests.services import PostgresServer


def make_source(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("CREATE TABLE orders (id serial PRIMARY KEY, amount integer NOT NULL, "
                    "updated_at timestamptz NOT NULL DEFAULT clock_timestamp())")


def insert(url: str, count: int) -> None:
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("INSERT INTO orders (amount) SELECT g FROM generate_series(1, %s) g", [count])


def rename(server: PostgresServer, old: str, new: str) -> None:
    """Rename a database, ending the sessions a run may have open on it."""
    with psycopg.connect(server.url(), autocommit=True) as con:
        for _ in range(50):
            con.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [old])
            try:
                con.execute(f'ALTER DATABASE "{old}" RENAME TO "{new}"')
                return
            except psycopg.errors.ObjectInUse:
                time.sleep(0.1)
    raise AssertionError(f"could not rename {old}")


def pipelines(tmp: Path, source_url: str, webhook: Webhook, mailbox: Mailbox) -> tuple[Path, Path]:
    database = write_yaml(tmp / "db" / "shopflow.yml", {
        "pipeline": "orders_db", "lake": str(tmp / "db" / "lake"),
        "warehouse": {"path": str(tmp / "db" / "warehouse.duckdb")},
        "schedule": {"every": "2 seconds"},
        "retries": {"attempts": 1, "backoff": "1 second"},
        "alerts": [
            {"type": "webhook", "url": f"{webhook.url}/hook", "events": ["failure", "recovery"]},
            {"type": "slack", "url": f"{webhook.url}/slack", "events": ["failure", "recovery"]},
            {"type": "email", "host": "127.0.0.1", "port": mailbox.port, "security": "none",
             "from": "shopflow@test.local", "to": ["data@test.local"], "events": ["failure", "recovery"]},
        ],
        "sources": [{"name": "shop", "type": "postgres", "url": source_url,
                     "tables": [{"name": "orders", "mode": "incremental", "cursor": "updated_at",
                                 "write_disposition": "merge"}]}],
    })
    drops = write_yaml(tmp / "files" / "shopflow.yml", {
        "pipeline": "drops", "lake": str(tmp / "files" / "lake"),
        "warehouse": {"path": str(tmp / "files" / "warehouse.duckdb")},
        "schedule": "every 2 seconds",
        "freshness": {"error_after": "1 hour"},
        "alerts": [{"type": "webhook", "url": f"{webhook.url}/drops"}],
        "sources": [{"name": "drop", "type": "files", "location": str(tmp / "in"),
                     "tables": [{"name": "events", "files": "*.jsonl", "primary_key": "id",
                                 "write_disposition": "merge", "columns": {"id": "bigint"}}]}],
    })
    (tmp / "in").mkdir()
    return database, drops


def warehouse_rows(config: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(config.parent / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def states(posts: list[dict[str, object]]) -> Counter[tuple[object, object, object]]:
    return Counter((p["event"], p["state"], p["incident"]) for p in posts)


def test_serve_alerts_once_per_incident_across_a_kill(
    tmp_path: Path, postgres_server: PostgresServer, postgres_database: str, webhook: Webhook, mailbox: Mailbox,
    serve_process: Callable[..., Serve],
) -> None:
    make_source(postgres_database)
    insert(postgres_database, 50)
    database, drops = pipelines(tmp_path, postgres_database, webhook, mailbox)
    (tmp_path / "in" / "a.jsonl").write_text("".join(json.dumps({"id": i, "v": i}) + "\n" for i in range(10)))
    serve = serve_process(database, drops).start()

    # Both pipelines run on their schedule, each into its own warehouse.
    wait_until(lambda: sum(r.rows_loaded for r in runs_of(database)) >= 50, 60, "the first load of orders_db", serve)
    wait_until(lambda: sum(r.rows_loaded for r in runs_of(drops)) >= 10, 30, "the first load of drops", serve)
    health = serve.get("/v1/health")
    assert {p["pipeline"] for p in health["pipelines"]} == {"orders_db", "drops"}
    assert serve.get("/v1/runs?pipeline=drops&last=1")[0]["trigger"] == "schedule"

    # A quarantined line opens one incident; the next clean run closes it.
    (tmp_path / "in" / "b.jsonl").write_text('{"id": 10, "v": 1}\nnot json\n')
    wait_until(lambda: states(webhook.bodies("/drops")).get(("recovery", "recovered", 1)), 30,
               "the quarantine incident to open and close", serve)

    # The source goes away: the run fails, its retry fails, one alert per target.
    name = postgres_database.rsplit("/", 1)[1]
    rename(postgres_server, name, f"{name}_away")
    try:
        wait_until(lambda: len(webhook.bodies("/hook")) == 1 and len(mailbox.messages) == 1, 60,
                   "the failure alert", serve)
        failed = wait_until(lambda: [r for r in runs_of(database) if r.status == "failed"][3:], 30,
                            "more failing runs", serve)
        assert {r.trigger for r in failed} <= {"schedule", "retry"}
        assert any(r.trigger == "retry" and r.attempt == 2 for r in runs_of(database))
        serve.kill()  # kill -9 while the incident is open
        serve.start()
        wait_until(lambda: [r for r in runs_of(database) if r.status == "failed" and r.pid == serve.proc.pid], 30,
                   "a failing run after the restart", serve)
    finally:
        rename(postgres_server, f"{name}_away", name)
    insert(postgres_database, 5)
    wait_until(lambda: len(webhook.bodies("/hook")) == 2, 60, "the recovery alert", serve)
    wait_until(lambda: [r for r in runs_of(database) if r.status != "skipped"][-1].status == "ok" and sum(
        r.rows_loaded for r in runs_of(database) if r.status == "ok") >= 55, 30, "the last rows", serve)
    assert serve.terminate() == 0

    hook, slack = webhook.bodies("/hook"), webhook.bodies("/slack")
    assert [(p["event"], p["state"]) for p in hook] == [("failure", "opened"), ("recovery", "recovered")]
    assert hook[0]["pipeline"] == "orders_db" and "run failed" in hook[0]["summary"]
    assert [p["text"].split(":")[0] for p in slack] == ["[shopflow] orders_db"] * 2
    assert len(mailbox.messages) == 2
    assert "run failed" in mailbox.subjects()[0] and "recovered" in mailbox.subjects()[1]
    assert mailbox.messages[0]["To"] == "data@test.local"
    # The file pipeline: one alert per incident and state, never repeated by later runs or checks.
    assert all(count == 1 for count in states(webhook.bodies("/drops")).values())
    assert ("quarantine", "opened", 1) in states(webhook.bodies("/drops"))

    assert warehouse_rows(database, "SELECT count(*), count(DISTINCT id), sum(amount) FROM raw.orders") == [
        (55, 55, sum(range(1, 51)) + sum(range(1, 6)))]
    assert warehouse_rows(drops, "SELECT count(*) FROM raw.events") == [(11,)]
    assert warehouse_rows(drops, "SELECT count(*) FROM raw._quarantine") == [(1,)]
