"""`shopflow quarantine`, `reprocess` and `rebuild` as a user runs them, and the warning for a glob with no file."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.cli.test_cli import shopflow


def write(folder: Path, records: str) -> None:
    document = {"pipeline": "r", "lake": "lake", "warehouse": {"path": "warehouse.duckdb"},
                "sources": [{"name": "drop", "type": "files", "location": "data", "tables": [
                    {"name": "orders", "files": "*.json", "records": records, "primary_key": "id",
                     "write_disposition": "merge"},
                    {"name": "refunds", "files": "refunds/*.csv"},
                ]}]}
    (folder / "shopflow.yml").write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


def test_quarantine_reprocess_and_rebuild_after_a_config_fix(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.json").write_text(json.dumps({"orders": [{"id": 1, "total": 5}, {"id": 2, "total": 7}]}))
    write(tmp_path, "order")  # misspelt: the file is quarantined whole

    done = shopflow("run", cwd=tmp_path)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "refunds" in done.stdout and "no files" in done.stdout
    assert "warning refunds: no file matches 'refunds/*.csv'" in done.stdout

    done = shopflow("quarantine", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "raw.orders: 1 records from 1 file" in done.stdout
    assert "the JSON document has no key 'order'" in done.stdout and "a.json" in done.stdout
    assert "1 of these files loaded no row" in " ".join(done.stdout.split())

    write(tmp_path, "orders")
    done = shopflow("reprocess", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "orders: 1 file to read again:" in done.stdout and str(data / "a.json") in done.stdout
    done = shopflow("reprocess", cwd=tmp_path)
    assert "Nothing to read again" in done.stdout

    done = shopflow("run", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Nothing in quarantine." in shopflow("quarantine", cwd=tmp_path).stdout

    done = shopflow("rebuild", "orders", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # raw._quarantine keeps the record of the first read, as before: the history, not what is in quarantine now.
    assert "Rebuilt from 3 lake commits: raw.orders 2 rows; 1 quarantined records." in done.stdout

    done = shopflow("rebuild", "nope", cwd=tmp_path)
    assert done.returncode == 2
    assert "the pipeline has no table 'nope'" in done.stderr
