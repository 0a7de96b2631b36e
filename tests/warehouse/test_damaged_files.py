"""A damaged warehouse file or a lost lake file: the message names the real cause and the fix.

A truncated or overwritten DuckDB file is not "held by another run": shopflow says it is
damaged, and that deleting it lets `shopflow run` rebuild it from the lake, which it does,
row for row. A lake Parquet file deleted by hand is named, with how to restore or drop it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

ORDERS = 3_000


def write_pipeline(folder: Path, lake: Path, warehouse: Path, drop: Path) -> Path:
    config = {"pipeline": "shop", "lake": str(lake), "warehouse": {"path": str(warehouse)},
              "sources": [{"name": "shop", "type": "files", "location": str(drop),
                           "tables": [{"name": "orders", "files": "*.jsonl", "primary_key": "id",
                                       "write_disposition": "merge"}]}]}
    path = folder / f"{warehouse.stem}.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def shopflow(*args: str, cwd: Path) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPFLOW_")}
    env.update(COLUMNS="200", NO_COLOR="1", TERM="dumb")
    done = subprocess.run([sys.executable, "-m", "shopflow.cli.main", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    return done.returncode, " ".join((done.stdout + done.stderr).split())


def orders(warehouse: Path) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute("SELECT id, qty FROM raw.orders ORDER BY id").fetchall()
    finally:
        con.close()


@pytest.fixture
def loaded(tmp_path: Path) -> Path:
    """A pipeline run once over two files: its pipeline file."""
    drop = tmp_path / "drop"
    drop.mkdir()
    for f in range(2):
        rows = (json.dumps({"id": f * ORDERS + i, "qty": i % 9}) for i in range(ORDERS))
        (drop / f"orders-{f}.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    config = write_pipeline(tmp_path, tmp_path / "lake", tmp_path / "warehouse.duckdb", drop)
    code, out = shopflow("run", "-c", str(config), cwd=tmp_path)
    assert code == 0, out
    return config


def damage(path: Path, how: str) -> None:
    if how == "truncated":
        os.truncate(path, 4096)
    else:  # overwritten from the start, as by a stray copy
        with path.open("r+b") as f:
            f.write(b"\0" * 8192)


@pytest.mark.parametrize("how", ["truncated", "overwritten"])
def test_a_damaged_warehouse_file_is_called_damaged_and_a_run_rebuilds_it_from_the_lake(
    loaded: Path, tmp_path: Path, how: str
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    before = orders(warehouse)
    assert len(before) == 2 * ORDERS
    damage(warehouse, how)

    for command in ("run", "status"):
        code, out = shopflow(command, "-c", str(loaded), cwd=tmp_path)
        assert code == 1, out
        assert f"the DuckDB warehouse {warehouse} is damaged" in out, out
        assert "another" not in out, out  # not blamed on a run or client holding it
        assert f"delete {warehouse}" in out and "shopflow run" in out and "rebuilds it from the lake" in out, out

    warehouse.unlink()
    warehouse.with_name(warehouse.name + ".wal").unlink(missing_ok=True)
    code, out = shopflow("run", "-c", str(loaded), cwd=tmp_path)
    assert code == 0, out
    assert orders(warehouse) == before


def test_a_deleted_lake_file_is_named_with_the_fix(loaded: Path, tmp_path: Path) -> None:
    lake_files = sorted((tmp_path / "lake" / "raw" / "shop" / "orders").rglob("*.parquet"))
    assert lake_files
    lake_files[0].unlink()
    # a second warehouse fed from the same lake must load every lake version, the lost file's too
    second = write_pipeline(tmp_path, tmp_path / "lake", tmp_path / "second.duckdb", tmp_path / "drop")

    code, out = shopflow("run", "-c", str(second), cwd=tmp_path)

    assert code == 1, out
    assert "Current transaction is aborted" not in out, out
    assert f"lake table orders is missing 1 of its data files: {lake_files[0]}" in out, out
    assert "restore the file" in out and ".repair()" in out, out
