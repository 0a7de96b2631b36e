# mypy: disable-error-code="import-not-found,import-untyped"
# (this script runs in bench/.venv-competitors: dlt, pandas and SQLAlchemy are not in shopflow's venv)
"""The seed systems' way: pandas.read_sql or json_normalize per file, appended into the warehouse.

Spec keys: case (db | files), source_url, table, files, destination (duckdb | postgres),
destination_path / destination_url.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import pandas as pd
from protocol import read_spec, report

CHUNK = 100_000


class _Sink:
    """Append DataFrames to a DuckDB file or, with DataFrame.to_sql, to PostgreSQL."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.kind = spec["destination"]
        if self.kind == "duckdb":
            import duckdb

            self.con = duckdb.connect(spec["destination_path"])
        else:
            import sqlalchemy

            self.engine = sqlalchemy.create_engine(spec["destination_url"].replace("postgresql://", "postgresql+psycopg2://"))
        self.created: set[str] = set()

    def append(self, name: str, frame: pd.DataFrame) -> None:
        if self.kind == "duckdb":
            self.con.register("frame", frame)
            if name in self.created:
                self.con.execute(f"INSERT INTO {name} SELECT * FROM frame")
            else:
                self.con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM frame")
            self.con.unregister("frame")
        else:
            frame.to_sql(name, self.engine, if_exists="append" if name in self.created else "replace",
                         index=False, method="multi", chunksize=5_000)
        self.created.add(name)


def _database(spec: dict[str, Any], sink: _Sink) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(spec["source_url"].replace("postgresql://", "postgresql+psycopg2://"))
    with engine.connect().execution_options(stream_results=True) as con:
        for frame in pd.read_sql(f"SELECT * FROM {spec['table']}", con, chunksize=CHUNK):
            sink.append("orders", frame)


def _files(spec: dict[str, Any], sink: _Sink) -> None:
    for path in sorted(Path(spec["files"]).glob("*.json")):
        orders = json.loads(path.read_text())["orders"]
        items = pd.json_normalize(orders, record_path="line_items", meta=["id"], meta_prefix="order_")
        frame = pd.json_normalize([{k: v for k, v in o.items() if k != "line_items"} for o in orders])
        # Types differ from file to file (a column null in one file, text in the next): the seed
        # scripts crashed on that, so every column goes in as text, money cast back on query.
        sink.append("orders", frame.astype("string"))
        sink.append("line_items", items.astype("string"))


def main() -> None:
    spec = read_spec()
    sink = _Sink(spec)
    if spec["case"] == "db":
        _database(spec, sink)
        report(tables={"orders": "orders"})
    else:
        _files(spec, sink)
        report(tables={"orders": "orders", "line_items": "line_items"})


if __name__ == "__main__":
    main()
