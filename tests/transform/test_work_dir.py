"""dbt's work folder (profile, target/, logs/) belongs to one warehouse, not to a pipeline name.

Two pipeline files named alike, with a warehouse each in one folder, run at the same time:
the first is held inside its models while the second runs to the end. Each run's dbt must
build and test in its own warehouse only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import yaml

from shopflow.config import load_config
from shopflow.transform.profile import work_dir
from tests.pipeline.test_run_lock import DUCKDB_HOLD

WAIT = 120.0
TESTED = """\
version: 2
models:
  - name: count_a
    columns:
      - name: n
        data_tests: [not_null]
"""


def write_pipeline(folder: Path, side: str, models: dict[str, str]) -> Path:
    """`<side>.yml` of pipeline `same`, its warehouse `<side>.duckdb` and dbt project `dbt_<side>` in `folder`."""
    project = folder / f"dbt_{side}"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(
        f"name: shop_{side}\nversion: '1.0'\nconfig-version: 2\nprofile: shopflow\n"
        f"models:\n  shop_{side}:\n    +materialized: table\n", encoding="utf-8")
    (project / "models" / "sources.yml").write_text(
        "version: 2\nsources:\n  - name: raw\n    schema: raw\n    tables:\n      - name: orders\n", encoding="utf-8")
    for name, text in models.items():
        (project / "models" / name).write_text(text, encoding="utf-8")
    config: dict[str, Any] = {
        "pipeline": "same", "lake": str(folder / f"lake_{side}"), "warehouse": {"path": str(folder / f"{side}.duckdb")},
        "transform": {"project": f"dbt_{side}"},
        "sources": [{"name": "shop", "type": "files", "location": str(folder / "in"),
                     "tables": [{"name": "orders", "files": "*.jsonl"}]}],
    }
    path = folder / f"{side}.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def models(warehouse: Path) -> set[str]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'analytics'")
        return {str(r[0]) for r in rows.fetchall()}
    finally:
        con.close()


def test_two_warehouses_of_one_pipeline_name_each_get_their_own_models(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "orders.jsonl").write_text('{"id": 1}\n{"id": 2}\n', encoding="utf-8")
    count = "select count(*) as n from {{ source('raw', 'orders') }}\n"
    a = write_pipeline(tmp_path, "a", {"held.py": DUCKDB_HOLD, "count_a.sql": count, "schema.yml": TESTED})
    b = write_pipeline(tmp_path, "b", {"count_b.sql": count})
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPFLOW_")}
    env.update(SF_TEST_ENTERED=str(tmp_path / "entered"), SF_TEST_HOLD=str(tmp_path / "hold"))
    (tmp_path / "hold").touch()

    def start(config: Path) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "shopflow.cli.main", "run", "-c", str(config)], cwd=tmp_path,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    first = start(a)
    try:
        deadline = time.monotonic() + WAIT
        while not (tmp_path / "entered").exists():  # a's dbt is building its models
            assert first.poll() is None, first.communicate()[0]
            assert time.monotonic() < deadline, "run a did not reach its models"
            time.sleep(0.1)
        second = start(b)
        out_b, _ = second.communicate(timeout=WAIT)
        (tmp_path / "hold").unlink()
        out_a, _ = first.communicate(timeout=WAIT)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()

    assert second.returncode == 0, out_b
    assert first.returncode == 0, out_a  # its data test ran in its own warehouse, where count_a is
    assert "1 passed" in " ".join(out_a.split()), out_a
    assert models(tmp_path / "a.duckdb") == {"held", "count_a"}
    assert models(tmp_path / "b.duckdb") == {"count_b"}
    assert work_dir(load_config(a)) != work_dir(load_config(b))


def test_postgres_warehouses_get_a_work_folder_each(tmp_path: Path) -> None:
    def config(database: str, host: str = "db.internal") -> Any:
        path = tmp_path / f"{database}-{host}.yml"
        path.write_text(yaml.safe_dump({
            "pipeline": "same", "lake": str(tmp_path / "lake"), "sources": [],
            "warehouse": {"type": "postgres", "host": host, "database": database},
        }), encoding="utf-8")
        return load_config(path)

    folders = {work_dir(config("sales")), work_dir(config("sales", "db2.internal")), work_dir(config("ops"))}

    assert len(folders) == 3
    assert all(f.parent == tmp_path for f in folders)  # next to the local lake
    assert work_dir(config("sales")) == work_dir(config("sales"))  # the same warehouse, the same folder
