"""A row stamped by the application before its transaction began commits behind the watermark: lookback reads it.

Real PostgreSQL, two connections: the application takes its `updated_at` from its own clock,
another writer commits a newer row, a run advances the watermark past the application's
stamp, and only then does the application's transaction begin and commit.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from shopflow.errors import ConfigError
from tests.helpers import query, run


def write(folder: Path, url: str, **table: Any) -> Path:
    source = {"name": "shop", "type": "postgres", "url": url,
              "tables": [{"name": "orders", "mode": "incremental", "cursor": "updated_at", **table}]}
    path = folder / "shopflow.yml"
    path.write_text(yaml.safe_dump({"pipeline": "t", "lake": str(folder / "lake"),
                                    "warehouse": {"path": str(folder / "warehouse.duckdb")}, "sources": [source]}))
    return path


def test_lookback_reads_a_row_the_application_stamped_before_its_transaction(tmp_path: Path,
                                                                             postgres_database: str) -> None:
    with psycopg.connect(postgres_database, autocommit=True) as writer:
        writer.execute("CREATE TABLE orders (id int PRIMARY KEY, status text, updated_at timestamptz DEFAULT now())")
        writer.execute("INSERT INTO orders (id, status) VALUES (1, 'a'), (2, 'b')")
        config = write(tmp_path, postgres_database)
        run(config)

        stamped = datetime.now(UTC)  # the application's clock, before it begins its transaction
        time.sleep(0.01)
        writer.execute("INSERT INTO orders (id, status) VALUES (3, 'newer')")
        watermark = run(config).tables[0].watermark
        assert watermark is not None and watermark > f"updated_at > {stamped:%Y-%m-%d %H:%M:%S}"

        with psycopg.connect(postgres_database) as application:  # its transaction begins only now
            application.execute("INSERT INTO orders (id, status, updated_at) VALUES (4, 'late', %s)", [stamped])
        run(config)
        assert query(config, "SELECT id FROM raw.orders ORDER BY id") == [(1,), (2,), (3,)]  # the limit: lost

        write(tmp_path, postgres_database, lookback="5 minutes")
        report = run(config)

    assert report.exit_code == 0
    assert query(config, "SELECT id, status FROM raw.orders ORDER BY id") == [
        (1, "a"), (2, "b"), (3, "newer"), (4, "late")]
    assert query(config, "SELECT count(*), count(DISTINCT id) FROM raw.orders") == [(4, 4)]  # merged, not repeated


def test_lookback_with_append_is_refused(tmp_path: Path, postgres_database: str) -> None:
    config = write(tmp_path, postgres_database, lookback="5 minutes", write_disposition="append")

    with pytest.raises(ConfigError, match="lookback with write_disposition: append"):
        run(config)
