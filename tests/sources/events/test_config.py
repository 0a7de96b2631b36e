"""`type: events` in shopflow.yml: what is checked before anything is served, and how tokens are matched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from tests.serve.ingest.conftest import events_pipeline

from shopflow.config import load_config
from shopflow.config.events import EventsSource, digest, token_valid
from shopflow.errors import ConfigError
from shopflow.pipeline.run import run_pipeline
from shopflow.pipeline.selection import select_tables


def _with_stream(folder: Path, **changes: object) -> Path:
    path = events_pipeline(folder)
    document = yaml.safe_load(path.read_text())
    document["sources"][0]["streams"][0].update(changes)
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.mark.parametrize(("changes", "message"), [
    ({"columns": {}}, "declares no columns"),
    ({"idempotency_key": ["store", "till"]}, "idempotency_key names till"),
    ({"write_disposition": "replace"}, "use append or merge"),
    ({"cursor": "sold_at"}, "cursor and delete_column do not apply"),
])
def test_a_wrong_stream_is_a_config_error(tmp_path: Path, changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(_with_stream(tmp_path, **changes))


def test_tokens_are_matched_by_digest() -> None:
    digests = [digest("alpha"), digest("beta")]
    assert token_valid("beta", digests)
    assert not token_valid("gamma", digests)
    assert not token_valid("", digests)


def test_ingest_without_its_token_variable_exits_2_naming_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "INGEST_TOKEN"}
    done = subprocess.run([sys.executable, "-m", "shopflow.cli.main", "ingest", "-c", str(events_pipeline(tmp_path)),
                           "--port", "0"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "INGEST_TOKEN" in done.stderr


def test_a_stream_is_selected_like_a_table(tmp_path: Path) -> None:
    config = load_config(events_pipeline(tmp_path))
    chosen = select_tables(config, ["shop.lines"])
    source = chosen.sources[0]
    assert isinstance(source, EventsSource) and [t.name for t in source.tables] == ["lines"]
    report = run_pipeline(chosen)  # an empty buffer still makes a typed, empty table
    assert report.exit_code == 0 and report.tables[0].rows_loaded == {"lines": 0}
