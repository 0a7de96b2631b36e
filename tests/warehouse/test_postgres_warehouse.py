"""What only the PostgreSQL warehouse has: faithful types, jsonb, connection errors, the run lock, `?` params.

The behaviour both warehouses share is in test_contract.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import urlsplit

import pyarrow as pa
import pytest
from pydantic import SecretStr

from shopflow.config.model import TableConfig, WarehouseConfig
from shopflow.errors import ConfigError, SchemaDriftError, WarehouseError
from shopflow.warehouse.base import LoadJob, Warehouse
from shopflow.warehouse.factory import open_warehouse
from shopflow.warehouse.postgres_connect import to_pyformat
from tests.services import PostgresServer, embedded_postgres, free_port
from tests.warehouse.test_contract import LAKE_KEY, Lake

PASSWORD = "Corr3ct-Horse_battery"


def config_for(url: str, **overrides: object) -> WarehouseConfig:
    parts = urlsplit(url)
    values: dict[str, object] = {
        "type": "postgres", "host": parts.hostname, "port": parts.port, "user": parts.username,
        "database": parts.path.lstrip("/"),
    }
    return WarehouseConfig.model_validate({**values, **overrides})


@pytest.fixture
def config(postgres_database: str) -> WarehouseConfig:
    return config_for(postgres_database)


@pytest.fixture
def warehouse(config: WarehouseConfig) -> Iterator[Warehouse]:
    with open_warehouse(config) as opened:
        yield opened


def column_types(warehouse: Warehouse, table: str) -> dict[str, str]:
    rows = warehouse.query(
        "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = to_regclass(?) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        [f"raw.{table}"],
    )
    return {str(name): str(sql_type) for name, sql_type in rows}


# ---------------------------------------------------------------- types


def test_numbers_and_timestamps_round_trip_exactly(warehouse: Warehouse) -> None:
    schema = pa.schema([
        ("id", pa.int64()),
        ("price", pa.decimal128(12, 2)),
        ("exact", pa.decimal128(38, 18)),
        ("paid_at", pa.timestamp("us", tz="UTC")),
        ("local_at", pa.timestamp("us", tz="America/New_York")),
        ("naive_at", pa.timestamp("us")),
        ("day", pa.date32()),
        ("ratio", pa.float64()),
        ("big", pa.int64()),
        ("small", pa.int32()),
        ("flag", pa.bool_()),
        ("note", pa.string()),
    ])
    paid = datetime(2024, 5, 1, 23, 59, 58, 123456, tzinfo=UTC)
    values = [
        {"id": 1, "price": Decimal("1234567890.12"), "exact": Decimal("12345678901234567890.123456789012345678"),
         "paid_at": paid, "local_at": paid, "naive_at": datetime(2024, 5, 1, 8, 0, 0, 1), "day": date(2024, 2, 29),
         "ratio": 0.1, "big": 2**63 - 1, "small": -(2**31), "flag": True, "note": 'a "quoted",\nline; é ✓'},
        {"id": 2, "price": Decimal("-0.01"), "exact": Decimal("-0.000000000000000001"),
         "paid_at": datetime(1, 1, 1, tzinfo=UTC), "local_at": None, "naive_at": None, "day": None,
         "ratio": 1e300, "big": -(2**63), "small": None, "flag": False, "note": ""},
        {"id": 3, **{name: None for name in schema.names if name != "id"}},
    ]
    lake = Lake()
    lake.commit("r1", {"orders": values}, schemas={"orders": schema})
    warehouse.load(lake.job(TableConfig(name="orders")))

    types = column_types(warehouse, "orders")
    assert {name: types[name] for name in schema.names} == {
        "id": "bigint", "price": "numeric(12,2)", "exact": "numeric(38,18)",
        "paid_at": "timestamp with time zone", "local_at": "timestamp with time zone",
        "naive_at": "timestamp without time zone", "day": "date", "ratio": "double precision",
        "big": "bigint", "small": "integer", "flag": "boolean", "note": "text",
    }
    got = warehouse.query(f"SELECT {', '.join(schema.names)} FROM raw.orders ORDER BY id")
    assert [dict(zip(schema.names, row, strict=True)) for row in got] == values
    # the instant is kept, whatever zone the lake column was in
    assert warehouse.query("SELECT local_at = paid_at FROM raw.orders WHERE id = 1") == [(True,)]
    # numeric keeps its scale, so money sums come out exact
    assert warehouse.query("SELECT sum(price)::text FROM raw.orders") == [("1234567890.11",)]


def test_nested_values_land_as_jsonb(warehouse: Warehouse) -> None:
    schema = pa.schema([
        ("id", pa.int64()),
        ("tags", pa.list_(pa.string())),
        ("address", pa.struct([("city", pa.string()), ("zip", pa.string())])),
        ("discounts", pa.list_(pa.struct([("code", pa.string()), ("amount", pa.decimal128(10, 2))]))),
    ])
    lake = Lake()
    table = TableConfig(name="orders")
    lake.commit("r1", {"orders": [
        {"id": 1, "tags": ["gift", "vip"], "address": {"city": "Paris", "zip": "75001"},
         "discounts": [{"code": "SPRING", "amount": Decimal("5.50")}]},
        {"id": 2, "tags": [], "address": None, "discounts": None},
    ]}, schemas={"orders": schema})
    warehouse.load(lake.job(table))
    lake.commit("r2", {"orders": [{"id": 3, "tags": ["new"], "address": {"city": "Lyon", "zip": None},
                                   "discounts": []}]}, schemas={"orders": schema})
    result = warehouse.load(lake.job(table, warehouse.applied_version(LAKE_KEY)))

    assert result.added == [] and result.widened == []
    types = column_types(warehouse, "orders")
    assert (types["tags"], types["address"], types["discounts"]) == ("jsonb", "jsonb", "jsonb")
    assert warehouse.query(
        "SELECT id, tags, address->>'city', jsonb_array_length(tags), (discounts->0->>'amount')::numeric "
        "FROM raw.orders ORDER BY id"
    ) == [
        (1, ["gift", "vip"], "Paris", 2, Decimal("5.50")),
        (2, [], None, 0, None),
        (3, ["new"], "Lyon", 1, None),
    ]
    assert warehouse.query("SELECT count(*) FROM raw.orders WHERE address IS NULL") == [(1,)]


# ---------------------------------------------------------------- connection errors


def test_an_unreachable_server_names_it_and_never_the_password(postgres_database: str) -> None:
    port = free_port()  # nothing listens there
    config = config_for(postgres_database, port=port, password=SecretStr(PASSWORD))

    with pytest.raises(WarehouseError) as caught:
        open_warehouse(config)

    text = str(caught.value)
    assert f"127.0.0.1:{port}/{config.database}" in text
    assert caught.value.fix and "warehouse.host" in caught.value.fix and "warehouse.port" in caught.value.fix
    assert PASSWORD not in text and PASSWORD not in repr(caught.value.context)


def test_a_missing_database_says_how_to_create_it(postgres_database: str) -> None:
    config = config_for(postgres_database, database="shopflow_no_such_db")
    with pytest.raises(ConfigError) as caught:  # a configuration problem: exit 2
        open_warehouse(config)
    assert caught.value.exit_code == 2
    assert "shopflow_no_such_db" in caught.value.message
    assert caught.value.fix and "createdb" in caught.value.fix and "CREATE DATABASE" in caught.value.fix


def test_a_user_who_cannot_create_schemas_is_told_what_to_grant(
    config: WarehouseConfig, postgres_server: PostgresServer
) -> None:
    import psycopg

    role = f"shopflow_reader_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
        try:
            with pytest.raises(WarehouseError) as caught:
                open_warehouse(config.model_copy(update={"user": role}))
        finally:
            admin.execute(f'DROP ROLE "{role}"')
    assert "permission denied" in caught.value.message
    assert caught.value.fix and f'GRANT CREATE ON DATABASE "{config.database}" TO "{role}"' in caught.value.fix


@pytest.fixture(scope="module")
def password_server() -> Iterator[PostgresServer]:
    """A PostgreSQL of its own that asks every user but the superuser for a password (scram-sha-256)."""
    import psycopg

    with embedded_postgres() as server, psycopg.connect(server.url(), autocommit=True) as con:
        row = con.execute("SHOW hba_file").fetchone()
        assert row is not None
        with open(str(row[0]), "w", encoding="utf-8") as hba:
            hba.write("local all all trust\nhost all postgres 127.0.0.1/32 trust\n"
                      "host all all 127.0.0.1/32 scram-sha-256\n")
        con.execute("SELECT pg_reload_conf()")
        con.execute(f"CREATE ROLE loader LOGIN PASSWORD '{PASSWORD}'")
        con.execute("CREATE DATABASE shop OWNER loader")
        yield server


def test_a_wrong_password_is_refused_without_echoing_it(password_server: PostgresServer) -> None:
    wrong = "Wr0ng-" + PASSWORD
    config = WarehouseConfig(type="postgres", host=password_server.host, port=password_server.port, user="loader",
                             password=SecretStr(wrong), database="shop")

    with pytest.raises(WarehouseError) as caught:
        open_warehouse(config)

    text = str(caught.value)
    assert "password authentication failed" in text
    assert f"loader@{password_server.host}:{password_server.port}/shop" in text
    assert caught.value.fix and "PGPASSWORD" in caught.value.fix
    assert wrong not in text and PASSWORD not in text

    right = config.model_copy(update={"password": SecretStr(PASSWORD)})
    with open_warehouse(right) as warehouse:
        assert warehouse.applied_version(LAKE_KEY) == -1


# ---------------------------------------------------------------- one run at a time


def test_a_second_run_fails_fast_while_the_first_holds_the_warehouse(config: WarehouseConfig) -> None:
    first = open_warehouse(config)
    try:
        with pytest.raises(WarehouseError) as caught:
            open_warehouse(config)
        assert "another shopflow run" in caught.value.message
        assert config.describe() in caught.value.message
        assert caught.value.fix and "wait" in caught.value.fix
        # status (read-only) still works meanwhile
        with open_warehouse(config, read_only=True) as reader:
            assert reader.applied_version(LAKE_KEY) == -1
    finally:
        first.close()
    # the lock goes with the first run's connection
    with open_warehouse(config) as second:
        assert second.row_count("orders") is None


def test_runs_into_other_databases_do_not_wait(config: WarehouseConfig, postgres_server: PostgresServer) -> None:
    other = postgres_server.create_database()
    try:
        with open_warehouse(config), open_warehouse(config.model_copy(update={"database": other})) as second:
            assert second.applied_version(LAKE_KEY) == -1
    finally:
        postgres_server.drop_database(other)


# ---------------------------------------------------------------- queries and load failures


def test_query_takes_question_mark_parameters(warehouse: Warehouse) -> None:
    warehouse.query("CREATE TABLE raw.notes (id BIGINT, at TIMESTAMP WITH TIME ZONE, body VARCHAR)")
    at = datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert warehouse.query("INSERT INTO raw.notes VALUES (?, ?, ?)", [1, at, "100% sure?"]) == []
    assert warehouse.query(
        "SELECT id, at, body, '?' || ? /* a ? in a comment */ FROM raw.notes WHERE body LIKE '100%' AND id = ?",
        ["x", 1],
    ) == [(1, at, "100% sure?", "?x")]
    assert warehouse.query("SELECT count(*) FROM raw.notes WHERE body LIKE '%sure%'") == [(1,)]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT ?", "SELECT %s"),
        ("SELECT '?', \"a?\", ? -- ?\n", "SELECT '?', \"a?\", %s -- ?\n"),
        ("SELECT E'it\\'s ?', ?", "SELECT E'it\\'s ?', %s"),
        ("SELECT $$ ? $$, $f$ ? $f$, ?", "SELECT $$ ? $$, $f$ ? $f$, %s"),
        ("SELECT 5 % 2, '%', ?", "SELECT 5 %% 2, '%%', %s"),
    ],
)
def test_placeholders_outside_literals_become_psycopg_ones(sql: str, expected: str) -> None:
    assert to_pyformat(sql) == expected


def test_an_error_while_reading_the_lake_rolls_back_and_keeps_its_type(warehouse: Warehouse) -> None:
    lake = Lake()
    table = TableConfig(name="orders")
    lake.commit("r1", {"orders": [{"id": 1}]})
    warehouse.load(lake.job(table))
    lake.commit("r2", {"orders": [{"id": 2}, {"id": 3}]})
    schema = pa.schema([("id", pa.int64()), ("_sf_batch", pa.string())])

    def failing(output: str, batches: list[str]) -> pa.RecordBatchReader:
        def stream() -> Iterator[pa.RecordBatch]:
            yield pa.record_batch([pa.array([2]), pa.array([batches[0]])], schema=schema)
            raise SchemaDriftError("the lake's data changed under the load", table="orders")

        return pa.RecordBatchReader.from_batches(schema, stream())

    with pytest.raises(SchemaDriftError, match="changed under the load"):
        warehouse.load(LoadJob(table, LAKE_KEY, lake.commits[1:], failing))

    assert warehouse.query("SELECT id FROM raw.orders") == [(1,)]
    assert warehouse.applied_version(LAKE_KEY) == 0


def test_a_merged_table_and_its_children_get_a_key_index_so_merges_touch_only_changed_keys(
    warehouse: Warehouse,
) -> None:
    lake = Lake()
    table = TableConfig(name="orders", primary_key=["id"], cursor="updated_at", write_disposition="merge")
    lake.commit("r1", {"orders": [{"id": i, "updated_at": 1} for i in range(1, 2001)],
                       "orders__line_items": [{"order_id": i, "qty": 1} for i in range(1, 2001)]})
    warehouse.load(lake.job(table))
    lake.commit("r2", {"orders": [{"id": 7, "updated_at": 2}], "orders__line_items": [{"order_id": 7, "qty": 5}]})
    warehouse.load(lake.job(table, since=0))

    indexes = dict(warehouse.query("SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = 'raw'"))
    assert indexes["orders"].endswith("(id)")
    assert indexes["orders__line_items"].endswith("(order_id)")
    warehouse.query("ANALYZE raw.orders")
    plan = "\n".join(str(r[0]) for r in warehouse.query(
        "EXPLAIN SELECT 1 FROM raw.orders WHERE id = 7"))
    assert "Index" in plan
    assert warehouse.query("SELECT count(*), sum(updated_at) FROM raw.orders") == [(2000, 2001)]
    assert warehouse.query("SELECT qty FROM raw.orders__line_items WHERE order_id = 7") == [(5,)]
