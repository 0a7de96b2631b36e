"""The starter `shopflow init` writes: a commented pipeline file and a dbt project skeleton next to it."""

from __future__ import annotations

from pathlib import Path

STARTER = """\
# shopflow pipeline file. Every value may use ${VAR} or ${VAR:-default} from the environment;
# put secrets there, never in this file.
pipeline: my_shop

# The lake: an immutable Delta table per source table. A folder, s3://bucket/prefix or az://container/prefix.
lake: ${SHOPFLOW_LAKE:-.shopflow/lake}

# The warehouse that analysts query. DuckDB (a file) by default.
warehouse:
  type: duckdb
  path: ${SHOPFLOW_WAREHOUSE:-.shopflow/warehouse.duckdb}

# Credentials for s3:// and az:// locations (sources and lake). Unset values fall back to
# AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_ENDPOINT_URL and AZURE_STORAGE_CONNECTION_STRING.
# storage:
#   s3:
#     endpoint_url: ${AWS_ENDPOINT_URL:-}
#     region: eu-west-1
#   azure:
#     connection_string: ${AZURE_STORAGE_CONNECTION_STRING}

# Models: SQL over the raw tables, built by dbt in the warehouse after each run (only the models
# downstream of the tables that changed). Models read {{ source('raw', '<table>') }}: shopflow
# writes that source for you from the tables it loads, and adds its dbt package (`shopflow.`
# macros and tests). Remove this block to load the raw tables only.
transform:
  project: dbt                         # the dbt project folder, next to this file
  schema: analytics                    # where the models are built

sources:
  - name: shop_files
    type: files
    location: ${SHOP_FILES:-./data}        # a folder, s3://bucket/prefix or az://container/prefix
    tables:
      - name: orders
        files: "orders/*.json"             # glob below location; .gz files are read too
        format: json                       # json | jsonl | csv | parquet | xlsx (default: from the extension)
        records: orders                    # JSON documents like {"orders": [...]}: the key of the array
        primary_key: id
        cursor: updated_at                 # with merge: the row with the latest cursor wins
        write_disposition: merge           # append | replace | merge
        on_file_change: replace            # a file rewritten in place replaces its earlier rows (or: append)
        columns:                           # types where inference is not enough
          total_price: {type: "decimal(12,2)", round: true}
        nested:
          lists: table                     # a list becomes a child table orders__line_items (or: json)
          objects: flatten                 # an object becomes columns a__b (or: json)
      - name: customers
        files: "customers/*.csv"
        csv: {delimiter: ",", header: true, encoding: utf-8}
        write_disposition: append
"""

DBT_PROJECT = """\
# The pipeline's models. shopflow runs this project with a profile it writes from shopflow.yml
# (profile: shopflow), on the pipeline's warehouse; nothing else to configure.
name: my_shop
version: "1.0.0"
config-version: 2
profile: shopflow

model-paths: ["models"]

models:
  my_shop:
    +materialized: table
"""

FIRST_MODEL = """\
-- A first model: orders per day. It reads raw.orders through the source `raw`, which shopflow
-- generates from the tables it loads (no sources.yml to write). Add your models next to it.
select
    cast(updated_at as date) as day,
    count(*) as orders
from {{ source('raw', 'orders') }}
group by 1
"""

FIRST_MODEL_TESTS = """\
version: 2

models:
  - name: orders_per_day
    description: How many orders were last updated on each day.
    columns:
      - name: day
        data_tests: [unique, not_null]
"""


def write_starter(path: Path, *, force: bool = False) -> list[Path] | None:
    """Write the starter pipeline file at `path` and its dbt project in `dbt/` beside it.

    Returns:
        The files written, or None if `path` exists and `force` is not set. The dbt project's
        files are written only where missing, unless `force`.
    """
    if path.exists() and not force:
        return None
    project = path.parent / "dbt"
    files = {
        path: STARTER,
        project / "dbt_project.yml": DBT_PROJECT,
        project / "models" / "orders_per_day.sql": FIRST_MODEL,
        project / "models" / "orders_per_day.yml": FIRST_MODEL_TESTS,
    }
    written = []
    for target, text in files.items():
        if target != path and target.exists() and not force:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written
