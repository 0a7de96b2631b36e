"""`shopflow airflow export`: the DAG file read with ast (Airflow is not installed here), its commands run for real.

.ci/airflow_check loads the same files in a real Airflow 3 and runs `airflow dags test`.
"""

from __future__ import annotations

import ast
import itertools
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from shopflow.cli.main import app
from shopflow.config import load_config
from shopflow.errors import ConfigError
from shopflow.orchestrate.airflow_export import airflow_alert, render_dag
from shopflow.orchestrate.ledger import Ledger
from shopflow.pipeline.selection import select_tables
from tests.conftest import ROOT
from tests.helpers import csv_bytes, query
from tests.orchestrate.conftest import Webhook, runs_of, write_yaml

runner = CliRunner()
SHOPFLOW = str(Path(sys.executable).parent / "shopflow")
GLOSSIER = ROOT / "examples" / "glossier" / "shopflow.yml"
TOTESYS = ROOT / "examples" / "totesys" / "shopflow.yml"


class Dag:
    """What the generated file declares, read from its syntax tree."""

    def __init__(self, source: str) -> None:
        self.tree = ast.parse(source)
        compile(source, "dag.py", "exec")
        block = next(n for n in self.tree.body if isinstance(n, ast.With))
        call = block.items[0].context_expr
        assert isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "DAG"
        self.kwargs = {k.arg: k.value for k in call.keywords}
        constants = {n.targets[0].id: ast.literal_eval(n.value) for n in self.tree.body  # type: ignore[attr-defined]
                     if isinstance(n, ast.Assign)}
        self.dag_id = constants[ast.unparse(self.kwargs["dag_id"])]
        self.tasks: dict[str, dict[str, Any]] = {}
        variables: dict[str, str] = {}
        self.edges: set[tuple[str, str]] = set()
        for node in block.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                options = {k.arg: ast.literal_eval(k.value) for k in node.value.keywords}
                self.tasks[options["task_id"]] = options
                variables[node.targets[0].id] = options["task_id"]  # type: ignore[attr-defined]
            elif isinstance(node, ast.Expr):
                self._edges(node.value, variables)

    def _edges(self, expr: ast.expr, variables: dict[str, str]) -> list[str]:
        """The task ids of `expr` (a name, a list, or a >> chain), adding each >> as an edge."""
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.RShift):
            left, right = self._edges(expr.left, variables), self._edges(expr.right, variables)
            self.edges |= {(a, b) for a in left for b in right}
            return right
        if isinstance(expr, ast.List):
            return [variables[e.id] for e in expr.elts]  # type: ignore[attr-defined]
        assert isinstance(expr, ast.Name)
        return [variables[expr.id]]

    def arg(self, name: str) -> str:
        return ast.unparse(self.kwargs[name])

    def default(self, name: str) -> str | None:
        defaults = self.kwargs["default_args"]
        assert isinstance(defaults, ast.Dict)
        found = {ast.literal_eval(k): ast.unparse(v) for k, v in zip(defaults.keys, defaults.values, strict=True)
                 if k is not None}
        return found.get(name)


def test_glossier_dag_has_its_schedule_retries_and_a_chain_of_tasks() -> None:
    dag = Dag(render_dag(load_config(GLOSSIER), GLOSSIER, shopflow="/opt/sf/bin/shopflow"))

    assert dag.dag_id == "shopflow_glossier"
    assert dag.arg("schedule") == "'0 6 * * *'"
    assert dag.arg("catchup") == "False" and dag.arg("max_active_runs") == "1"
    # retries: {attempts: 2, backoff: 5 minutes}, doubling (the default factor) up to 30 minutes.
    assert dag.default("retries") == "2"
    assert dag.default("retry_delay") == "timedelta(seconds=300)"
    assert dag.default("retry_exponential_backoff") == "2.0"
    assert dag.default("max_retry_delay") == "timedelta(seconds=1800)"
    assert dag.default("on_failure_callback") is None and "on_success_callback" not in dag.kwargs  # no alerts:

    assert list(dag.tasks) == ["extract_load.glossier.orders", "transform", "fail_if_a_step_failed"]
    assert dag.tasks["extract_load.glossier.orders"]["bash_command"] == (
        f"/opt/sf/bin/shopflow run -c {GLOSSIER} --table glossier.orders --no-transform --trigger airflow"
        " || [ $? -eq 3 ]")
    assert dag.tasks["transform"]["bash_command"] == f"/opt/sf/bin/shopflow transform -c {GLOSSIER}"
    assert dag.tasks["transform"]["trigger_rule"] == "all_done"
    assert dag.tasks["fail_if_a_step_failed"]["trigger_rule"] == "one_failed"
    assert dag.edges == {("extract_load.glossier.orders", "transform"),
                         ("extract_load.glossier.orders", "fail_if_a_step_failed"),
                         ("transform", "fail_if_a_step_failed")}


def test_totesys_dag_has_a_task_per_table_in_order_and_alert_callbacks() -> None:
    config = load_config(TOTESYS)
    dag = Dag(render_dag(config, TOTESYS))

    tables = [t.name for t in config.sources[0].tables]
    steps = [f"extract_load.totesys.{t}" for t in tables] + ["transform"]
    assert list(dag.tasks) == [*steps, "fail_if_a_step_failed"]
    assert set(itertools.pairwise(steps)) <= dag.edges
    assert {(s, "fail_if_a_step_failed") for s in steps} <= dag.edges
    assert len(dag.edges) == 2 * len(steps) - 1
    assert dag.arg("schedule") == "'*/10 * * * *'"
    assert dag.default("retry_delay") == "timedelta(seconds=60)"
    # Its mail target is disabled unless TOTESYS_ALERTS=true where the tasks run: the callbacks are there.
    assert dag.default("on_failure_callback") == "_alert('failure')"
    assert dag.arg("on_success_callback") == "_alert('recovery')"


def _pipeline(tmp_path: Path, **extra: Any) -> Path:
    return write_yaml(tmp_path / "shopflow.yml", {
        "pipeline": "p", "lake": str(tmp_path / "lake"), "warehouse": {"path": str(tmp_path / "w.duckdb")},
        **extra,
        "sources": [{"name": "files", "type": "files", "location": str(tmp_path / "in"), "tables": [
            {"name": "a", "files": "a*.csv", "columns": {"id": "bigint"}},
            {"name": "b", "files": "b*.csv", "columns": {"id": "bigint"}}]}],
    })


@pytest.mark.parametrize(("schedule", "expected"), [
    ({"every": "10 minutes"}, "timedelta(seconds=600)"),
    ("manual", "None"),
    ("@hourly", "'@hourly'"),
])
def test_schedules_become_airflow_schedules(tmp_path: Path, schedule: object, expected: str) -> None:
    path = _pipeline(tmp_path, schedule=schedule)
    assert Dag(render_dag(load_config(path), path)).arg("schedule") == expected


def test_continuous_and_per_table_schedules_are_refused_with_a_fix(tmp_path: Path) -> None:
    path = _pipeline(tmp_path, schedule={"continuous": True, "interval": "2 seconds"})
    refused = runner.invoke(app, ["airflow", "export", "-c", str(path), "-o", str(tmp_path / "dags")])
    assert isinstance(refused.exception, ConfigError) and refused.exception.exit_code == 2
    assert "continuous schedule" in refused.exception.message and "--continuous-every" in str(refused.exception.fix)
    assert not (tmp_path / "dags" / "shopflow_p.py").exists()

    polled = runner.invoke(app, ["airflow", "export", "-c", str(path), "-o", str(tmp_path / "dags"),
                                 "--continuous-every", "1 minute"])
    assert polled.exit_code == 0, polled.output
    assert Dag((tmp_path / "dags" / "shopflow_p.py").read_text()).arg("schedule") == "timedelta(seconds=60)"

    path = _pipeline(tmp_path, schedule={"cron": "0 * * * *", "tables": {"files.a": {"every": "5 minutes"}}})
    with pytest.raises(ConfigError, match=r"schedule\.tables"):
        render_dag(load_config(path), path)


def test_sources_found_at_run_time_or_captured_together_get_one_task(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "shopflow.yml", {
        "pipeline": "db", "lake": "lake", "warehouse": {"path": "w.duckdb"},
        "sources": [
            {"name": "shop", "type": "postgres", "host": "h", "database": "d", "tables": [{"name": "user*"}]},
            {"name": "crm", "type": "postgres", "host": "h", "database": "d"},
            {"name": "cap", "type": "postgres", "host": "h", "database": "d", "cdc": {},
             "tables": [{"name": "orders"}, {"name": "items"}]},
        ],
    })
    dag = Dag(render_dag(load_config(path), path))
    assert list(dag.tasks) == ["extract_load.shop", "extract_load.crm", "extract_load.cap", "fail_if_a_step_failed"]


def test_the_task_commands_run_one_table_and_count_quarantine_as_done(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_bytes(csv_bytes([[1], [2]], ["id"]))
    (tmp_path / "in" / "b.csv").write_bytes(csv_bytes([[1], ["not a number"]], ["id"]))
    path = _pipeline(tmp_path)
    assert runner.invoke(app, ["airflow", "export", "-c", str(path), "-o", str(tmp_path / "dags"),
                               "--shopflow", SHOPFLOW]).exit_code == 0
    dag = Dag((tmp_path / "dags" / "shopflow_p.py").read_text())

    task = subprocess.run(["bash", "-c", dag.tasks["extract_load.files.b"]["bash_command"]], capture_output=True,
                          text=True, timeout=120)
    assert task.returncode == 0, task.stdout + task.stderr  # `shopflow run` exits 3: one record quarantined
    assert query(path, "SELECT id FROM raw.b") == [(1,)]
    assert query(path, "SELECT count(*) FROM raw._quarantine") == [(1,)]
    assert query(path, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'a'") == [(0,)]
    assert [(r.trigger, r.status) for r in runs_of(path)] == [("airflow", "quarantined")]


def test_run_table_narrows_database_sources_listed_by_name() -> None:
    config = load_config(TOTESYS)
    only = select_tables(config, ["sales_order", "totesys.payment"]).sources[0]
    assert [t.name for t in only.tables] == ["payment", "sales_order"]  # type: ignore[union-attr]
    reads = [t for t in ("address", "sales_order", "payment", "staff") if only.selects(t)]  # type: ignore[union-attr]
    assert reads == ["sales_order", "payment"]

    with pytest.raises(ConfigError) as missing:
        select_tables(config, ["sales_orders"])
    assert "no source of the pipeline lists a table 'sales_orders'" in missing.value.message
    assert "totesys.sales_order" in str(missing.value.fix)


def test_run_table_reads_one_table_of_a_source_that_finds_its_tables(tmp_path: Path, postgres_database: str) -> None:
    with psycopg.connect(postgres_database, autocommit=True) as con:
        for table in ("users", "orders"):
            con.execute(f"CREATE TABLE {table} AS SELECT g AS id FROM generate_series(1, 3) g")
    path = write_yaml(tmp_path / "shopflow.yml", {
        "pipeline": "db", "lake": str(tmp_path / "lake"), "warehouse": {"path": str(tmp_path / "w.duckdb")},
        "sources": [{"name": "shop", "type": "postgres", "url": postgres_database,
                     "tables": [{"name": "*", "primary_key": "id"}]}],
    })
    done = runner.invoke(app, ["run", "-c", str(path), "--table", "shop.orders", "--trigger", "airflow"])
    assert done.exit_code == 0, done.output
    assert query(path, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw' "
                       "AND table_name IN ('users', 'orders')") == [("orders",)]
    assert query(path, "SELECT count(*) FROM raw.orders") == [(3,)]

    wrong = runner.invoke(app, ["run", "-c", str(path), "--table", "crm.orders"])
    assert isinstance(wrong.exception, ConfigError) and wrong.exception.exit_code == 2
    assert "the pipeline has no source 'crm'" in wrong.exception.message


def test_airflow_alert_opens_once_and_recovers(tmp_path: Path, webhook: Webhook) -> None:
    path = _pipeline(tmp_path, alerts=[{"type": "webhook", "url": f"{webhook.url}/hook"}])
    config = load_config(path)
    for attempt in (1, 2):  # the second failure is part of the same incident: no second alert
        airflow_alert(config, "failure", dag="shopflow_p", run="r1", task="transform", attempt=attempt,
                      error="Bash command failed. The command returned a non-zero exit code 1.")
    assert airflow_alert(config, "recovery", dag="shopflow_p", run="r2") == 1
    assert airflow_alert(config, "recovery", dag="shopflow_p", run="r3") == 0  # nothing open any more
    posts = webhook.bodies("/hook")
    assert [(p["event"], p["state"]) for p in posts] == [("failure", "opened"), ("recovery", "recovered")]
    assert posts[0]["summary"] == ("Airflow task transform of shopflow_p failed: Bash command failed. "
                                   "The command returned a non-zero exit code 1.")
    assert posts[0]["details"]["task_id"] == "transform" and posts[0]["details"]["dag_run"] == "r1"


def test_the_dag_failure_callback_sends_the_alert_through_shopflow(tmp_path: Path, webhook: Webhook) -> None:
    """The generated `_alert` callback, run with the context Airflow passes, without Airflow itself."""
    path = _pipeline(tmp_path, alerts=[{"type": "webhook", "url": f"{webhook.url}/hook"}])
    tree = ast.parse(render_dag(load_config(path), path, shopflow=SHOPFLOW))
    kept = [n for n in tree.body if isinstance(n, ast.Assign | ast.FunctionDef)
            or (isinstance(n, ast.Import) and n.names[0].name == "subprocess")]
    scope: dict[str, Any] = {}
    exec(compile(ast.Module(body=kept, type_ignores=[]), "dag.py", "exec"), scope)

    context = {"ti": SimpleNamespace(task_id="extract_load.files.a", try_number=3),
               "dag_run": SimpleNamespace(run_id="scheduled__2024-11-15"), "exception": RuntimeError("exit code 1")}
    scope["_alert"]("failure")(context)
    posts = webhook.bodies("/hook")
    assert len(posts) == 1, posts
    assert posts[0]["details"] == {"dag_id": "shopflow_p", "dag_run": "scheduled__2024-11-15",
                                   "task_id": "extract_load.files.a", "try_number": 3, "error": "exit code 1"}
    assert Ledger.of(load_config(path)).open_incident("failure:airflow:shopflow_p") is not None
