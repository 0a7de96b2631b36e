"""MariaDB (MySQL) sources through DuckDB's mysql scanner: full and incremental extracts."""

from __future__ import annotations

from typing import Any

import pytest
from tests.sources.database.conftest import MARIADB, Pipeline, differences, mysql_execute, table_report


def source(database: str, **options: Any) -> dict[str, Any]:
    return {"name": "shop", "type": "mysql", **MARIADB, "database": database, **options}


def attach(database: str) -> tuple[str, str]:
    return f"host={MARIADB['host']} port={MARIADB['port']} user={MARIADB['user']} database={database}", "TYPE mysql"


@pytest.fixture
def products(mariadb: str) -> str:
    mysql_execute(
        mariadb,
        """CREATE TABLE products (
            id int unsigned PRIMARY KEY AUTO_INCREMENT, name varchar(100) NOT NULL, price decimal(10,2) NOT NULL,
            stock bigint unsigned, active tinyint(1) NOT NULL DEFAULT 1, kind enum('a','b'), notes text,
            updated_at datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6))""",
        "INSERT INTO products (name, price, stock, kind, notes, updated_at) "
        "SELECT concat('product ', seq), seq * 1.5, seq * 1000, IF(seq % 2, 'a', 'b'), NULL, "
        "NOW(6) - INTERVAL 1 DAY + INTERVAL seq SECOND FROM seq_1_to_50",
    )
    return mariadb


def test_a_full_extract_of_mariadb_equals_the_source(pipeline: Pipeline, products: str) -> None:
    pipeline.source = source(products, tables=[{"name": "products"}])

    report = pipeline.run()

    assert table_report(report, "products").rows_extracted == 50
    assert differences(pipeline, attach(products), f"{products}.products", "products") == (0, 0)
    assert pipeline.query("SELECT typeof(id), typeof(price), typeof(stock), typeof(active) FROM raw.products LIMIT 1") \
        == [("BIGINT", "DECIMAL(10,2)", "DECIMAL(20,0)", "BOOLEAN")]


def test_an_incremental_mariadb_table_reads_only_changes_and_merges_them(pipeline: Pipeline, products: str) -> None:
    pipeline.source = source(products, defaults={"mode": "incremental", "cursor": "updated_at"})
    pipeline.run()

    mysql_execute(products, "UPDATE products SET price = price + 1 WHERE id IN (1, 2)",
                  "INSERT INTO products (name, price) VALUES ('new', 9.99)")
    report = pipeline.run()

    assert table_report(report, "products").rows_extracted == 3
    assert differences(pipeline, attach(products), f"{products}.products", "products") == (0, 0)


def test_a_growing_id_cursor_reads_only_new_rows(pipeline: Pipeline, products: str) -> None:
    pipeline.source = source(products, tables=[{"name": "products", "mode": "incremental", "cursor": "id",
                                                "write_disposition": "append"}])
    pipeline.run()

    mysql_execute(products, "INSERT INTO products (name, price) VALUES ('x', 1), ('y', 2)")
    report = pipeline.run()

    assert table_report(report, "products").rows_extracted == 2
    assert pipeline.query("SELECT count(*), count(DISTINCT id) FROM raw.products") == [(52, 52)]


def test_every_mariadb_table_of_a_run_is_read_in_one_snapshot(pipeline: Pipeline, mariadb: str) -> None:
    from shopflow.config import load_config
    from shopflow.pipeline.run import RunProgress, run_pipeline

    mysql_execute(mariadb, "CREATE TABLE a_orders (id int PRIMARY KEY)", "CREATE TABLE b_payments (id int PRIMARY KEY)",
                  "INSERT INTO a_orders VALUES (1)", "INSERT INTO b_payments VALUES (1)")
    pipeline.source = source(mariadb)

    class WriteWhileReading(RunProgress):
        def rows_done(self, table: str, count: int) -> None:
            if table == "a_orders":
                mysql_execute(mariadb, "INSERT INTO b_payments VALUES (2)")

    run_pipeline(load_config(pipeline.write()), WriteWhileReading())

    assert pipeline.rows("b_payments", "id") == [(1,)]
