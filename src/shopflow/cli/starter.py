"""The commented starter pipeline file that `shopflow init` writes."""

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
