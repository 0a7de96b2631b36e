"""The real `shopflow` command, run as a subprocess: help, init, run, status and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from shopflow.config import load_config

SHOPFLOW = str(Path(sys.executable).with_name("shopflow"))


def shopflow(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPFLOW_", "SHOP_FILES"))}
    environ.update({"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"})
    environ.update(env or {})
    return subprocess.run([SHOPFLOW, *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=300)


def write_config(folder: Path, **table: Any) -> Path:
    config = {
        "pipeline": "cli_test",
        "lake": "lake",
        "warehouse": {"path": "warehouse.duckdb"},
        "sources": [{
            "name": "drop", "type": "files", "location": "data",
            "tables": [{"name": "orders", "files": "*.jsonl", "primary_key": "id", "cursor": "updated_at",
                        "write_disposition": "merge", **table}],
        }],
    }
    path = folder / "shopflow.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def write_orders(folder: Path, name: str, orders: list[dict[str, Any]], extra: str = "") -> None:
    data = folder / "data"
    data.mkdir(exist_ok=True)
    (data / name).write_text("".join(json.dumps(o) + "\n" for o in orders) + extra, encoding="utf-8")


ORDERS = [
    {"id": 1, "updated_at": "2024-05-01T10:00:00", "total": 10},
    {"id": 2, "updated_at": "2024-05-01T11:00:00", "total": 20},
    {"id": 3, "updated_at": "2024-05-01T12:00:00", "total": 30},
]


def test_help_lists_the_commands(tmp_path: Path) -> None:
    done = shopflow("--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for command in ("init", "run", "status"):
        assert command in done.stdout


def test_no_arguments_shows_help(tmp_path: Path) -> None:
    done = shopflow(cwd=tmp_path)
    assert "init" in done.stdout + done.stderr
    assert done.returncode in (0, 2)


def test_init_writes_a_valid_file_and_refuses_to_overwrite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    done = shopflow("init", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    path = tmp_path / "shopflow.yml"
    assert path.is_file()
    for name in ("SHOPFLOW_LAKE", "SHOPFLOW_WAREHOUSE", "SHOP_FILES"):
        monkeypatch.delenv(name, raising=False)
    config = load_config(path)
    assert config.pipeline == "my_shop"
    assert {t.name for s in config.sources for t in s.tables} == {"orders", "customers"}
    assert config.warehouse.path == str((tmp_path / ".shopflow/warehouse.duckdb").resolve())

    path.write_text("# mine\n", encoding="utf-8")
    again = shopflow("init", cwd=tmp_path)
    assert again.returncode == 2
    assert "--force" in again.stderr
    assert path.read_text(encoding="utf-8") == "# mine\n"

    forced = shopflow("init", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert load_config(path).pipeline == "my_shop"


def test_init_to_a_named_path(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    done = shopflow("init", "conf/pipe.yml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert load_config(tmp_path / "conf" / "pipe.yml").pipeline == "my_shop"


def test_run_without_a_config_exits_2_with_a_fix(tmp_path: Path) -> None:
    done = shopflow("run", "-c", "missing.yml", cwd=tmp_path)
    assert done.returncode == 2
    assert "missing.yml" in done.stderr
    assert "fix:" in done.stderr
    assert "Traceback" not in done.stderr


def test_run_with_an_invalid_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    config = write_config(tmp_path, write_disposition="upsert")
    done = shopflow("run", "-c", str(config), cwd=tmp_path)
    assert done.returncode == 2
    assert "write_disposition" in done.stderr
    assert "fix:" in done.stderr
    assert "Traceback" not in done.stderr


def test_run_with_a_missing_variable_exits_2(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    text = config.read_text(encoding="utf-8").replace("location: data", "location: ${SF_CLI_UNSET_VAR}")
    config.write_text(text, encoding="utf-8")
    done = shopflow("run", "-c", str(config), cwd=tmp_path)
    assert done.returncode == 2
    assert "SF_CLI_UNSET_VAR" in done.stderr
    assert "fix:" in done.stderr


def test_run_loads_good_files_then_status_shows_them(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    write_orders(tmp_path, "a.jsonl", ORDERS[:2])
    write_orders(tmp_path, "b.jsonl", ORDERS[2:])

    done = shopflow("run", "-c", str(config), cwd=tmp_path / "data")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "orders" in done.stdout
    assert "ok" in done.stdout
    assert "raw._quarantine" not in done.stdout

    from tests.helpers import query

    assert query(config, "SELECT id, total FROM raw.orders ORDER BY id") == [(1, 10), (2, 20), (3, 30)]

    status = shopflow("status", "-c", str(config), cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    row = next(line for line in status.stdout.splitlines() if "orders" in line)
    cells = row.split()
    assert cells[0] == "orders"
    assert cells[1] == "0"  # lake version
    assert cells[2] == "0"  # applied
    assert cells[3] == "3"  # warehouse rows
    assert "2" in cells  # files consumed

    # a second run finds nothing new and changes nothing
    again = shopflow("run", "-c", str(config), cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert query(config, "SELECT count(*) FROM raw.orders") == [(3,)]


def test_status_before_any_run(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    done = shopflow("status", "-c", str(config), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "orders" in done.stdout


def test_run_with_a_malformed_file_exits_3_and_points_to_the_quarantine(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    write_orders(tmp_path, "good.jsonl", ORDERS)
    write_orders(tmp_path, "bad.jsonl", [{"id": 4, "updated_at": "2024-05-02T00:00:00", "total": 40}],
                 extra='{"id": 5, "updated_at": \n')

    done = shopflow("run", "-c", str(config), cwd=tmp_path)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "raw._quarantine" in done.stdout

    from tests.helpers import query

    assert query(config, "SELECT count(*) FROM raw._quarantine")[0][0] >= 1
    assert query(config, "SELECT count(*) FROM raw.orders WHERE id IN (1, 2, 3)") == [(3,)]
