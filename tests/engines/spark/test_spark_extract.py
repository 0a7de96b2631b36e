"""`engine: spark` on the Online Retail CSV dumps: the warehouse equals the DuckDB path's, row for row.

Both engines run the example pipeline over the same copied dumps (one file with bad rows), then
over a new dump and a dump re-sent with corrections; the warehouse tables and the quarantine
are compared in full. Lineage that differs by nature (batch ids, load times, row ids that
embed the batch) is compared by shape only.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import yaml
from pyspark.sql import SparkSession

from shopflow.config import load_config
from shopflow.errors import ConfigError
from shopflow.pipeline.layout import LakeLayout
from tests.engines.spark.conftest import HOURLY, retail_dumps, retail_pipeline
from tests.helpers import query, run

PER_RUN = ("_sf_batch", "_sf_loaded_at", "_sf_row_id")


def warehouse_rows(config: Path, table: str = "raw.invoice_lines") -> list[tuple[Any, ...]]:
    return query(config, f"SELECT * EXCLUDE ({', '.join(PER_RUN)}) FROM {table} ORDER BY ALL")


def columns(config: Path) -> list[tuple[str, str]]:
    return [(str(n), str(t)) for n, t in query(
        config, "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'raw' AND table_name = 'invoice_lines' ORDER BY ordinal_position")]


def quarantine_rows(config: Path) -> list[tuple[Any, ...]]:
    return query(config, "SELECT file, reason, raw FROM raw._quarantine ORDER BY raw")


@dataclass
class Pair:
    """The same dumps through both engines."""

    dumps: Path
    duckdb: Path
    spark: Path
    exit_codes: dict[str, int]


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, spark: SparkSession) -> Iterator[Pair]:
    root = tmp_path_factory.mktemp("spark_pair")
    dumps = retail_dumps(root / "dumps")
    result = Pair(dumps, retail_pipeline(root / "duckdb", dumps, "duckdb"),
                  retail_pipeline(root / "spark", dumps, "spark"), {})
    for engine in ("duckdb", "spark"):
        result.exit_codes[engine] = run(getattr(result, engine)).exit_code
    yield result


def test_warehouse_equals_the_duckdb_paths_row_for_row(pair: Pair) -> None:
    assert pair.exit_codes == {"duckdb": 3, "spark": 3}  # done, with quarantined rows
    assert columns(pair.spark) == columns(pair.duckdb)
    expected = warehouse_rows(pair.duckdb)
    assert len(expected) == 161 - 12 + 1  # the example's lines without headers, and the bad dump's good line
    assert warehouse_rows(pair.spark) == expected
    # Row ids are unique and name their batch and file, as on the DuckDB path.
    ids = query(pair.spark, "SELECT _sf_row_id, _sf_batch, _sf_file FROM raw.invoice_lines")
    assert len({i for i, _, _ in ids}) == len(ids)
    assert all(i.startswith(f"{b}:{f}:") for i, b, f in ids)


def test_bad_rows_are_quarantined_as_on_the_duckdb_path(pair: Pair) -> None:
    bad = str(pair.dumps / "2011-05-12" / "2100.csv")
    spark_rows = quarantine_rows(pair.spark)
    duckdb_rows = quarantine_rows(pair.duckdb)
    assert [r for r in spark_rows if r[2].startswith("{")] == [r for r in duckdb_rows if r[2].startswith("{")]
    assert [(f, raw) for f, _, raw in spark_rows] == [(f, raw) for f, _, raw in duckdb_rows]
    reasons = sorted(reason for _, reason, _ in spark_rows)
    assert reasons == [
        "malformed CSV line: its fields do not match the header's columns",
        "quantity: 6.5 is not a whole number; declare round: true to round it; "
        "unit_price: 2.5555 has more than 3 decimal places; declare round: true to round it",
        "quantity: cannot cast abc to BIGINT",
    ]
    assert {f for f, _, _ in spark_rows} == {bad}
    # The quoted description with doubled quotes loads whole.
    assert query(pair.spark, "SELECT description FROM raw.invoice_lines WHERE invoice_no = '999004'") == [
        ('PACK OF 72 "RETRO" CASES',)]


def test_ledger_commit_names_the_files_and_rows(pair: Pair) -> None:
    config = load_config(pair.spark)
    commits = LakeLayout(config, "online_retail", "invoice_lines").main.commits()
    assert len(commits) == 1
    files = {Path(f.url).name: f.rows for f in commits[0].files}
    assert len(files) == 13 and files["2100.csv"] == 1 and sum(files.values()) == 150
    assert commits[0].quarantined == 3


def test_new_and_resent_dumps_replace_as_on_the_duckdb_path(pair: Pair) -> None:
    # The second round (last of the tests on `pair`): a new dump, and one re-sent with a correction.
    day = pair.dumps / "2011-05-12"
    (pair.dumps / "2011-05-13").mkdir()
    shutil.copy(HOURLY / "2011-05-12" / "0900.csv", pair.dumps / "2011-05-13" / "0900.csv")
    (day / "0800.csv").write_text((day / "0800.csv").read_text().replace(",6,", ",60,"))
    assert {e: run(getattr(pair, e)).exit_code for e in ("duckdb", "spark")} == {"duckdb": 0, "spark": 0}
    expected = warehouse_rows(pair.duckdb)
    assert len(expected) == 150 + 12
    assert warehouse_rows(pair.spark) == expected
    corrected = "SELECT count(*) FROM raw.invoice_lines WHERE quantity = 60 AND _sf_file LIKE '%/0800.csv'"
    assert query(pair.spark, corrected) == [(2,)]


def _as_other_formats(tmp_path: Path) -> Path:
    """The example's CSV lines as JSON lines and Parquet files (declared columns as text, as exporters write)."""
    folder = tmp_path / "formats"
    folder.mkdir()
    for i, path in enumerate(sorted(HOURLY.rglob("*.csv"))):
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in ("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate",
                                                  "UnitPrice", "CustomerID", "Country")},
            strings_can_be_null=True))
        if i % 2:
            pq.write_table(table, folder / f"{path.stem}.parquet")
        else:
            with open(folder / f"{path.stem}.jsonl", "w", encoding="utf-8") as out:
                for row in table.to_pylist():
                    typed = {**row, "Quantity": int(row["Quantity"]), "UnitPrice": float(row["UnitPrice"])}
                    out.write(json.dumps(typed) + "\n")
    return folder


@pytest.mark.parametrize("pattern", ["*.jsonl", "*.parquet"])
def test_jsonl_and_parquet_dumps_equal_the_duckdb_paths(
    spark: SparkSession, tmp_path: Path, pattern: str
) -> None:
    dumps = _as_other_formats(tmp_path)
    configs = {e: retail_pipeline(tmp_path / e, dumps, e, files=pattern) for e in ("duckdb", "spark")}
    codes = {e: run(c).exit_code for e, c in configs.items()}
    assert codes == {"duckdb": 0, "spark": 0}
    expected = warehouse_rows(configs["duckdb"])
    assert len(expected) > 50
    assert warehouse_rows(configs["spark"]) == expected
    assert columns(configs["spark"]) == columns(configs["duckdb"])


def test_xlsx_with_engine_spark_is_a_config_error(spark: SparkSession, tmp_path: Path) -> None:
    # Declared as xlsx: refused when the file is read.
    path = retail_pipeline(tmp_path / "declared", tmp_path, "spark", files="*.xlsx")
    raw = yaml.safe_load(path.read_text())
    raw["sources"][0]["tables"][0]["format"] = "xlsx"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="XLSX files are read by DuckDB only"):
        load_config(path)
    # Found among the files (the example's daily Excel dumps): the table fails and says so.
    daily = Path(HOURLY).parent
    path = retail_pipeline(tmp_path / "found", daily, "spark", files="**/*.*")
    report = run(path)
    assert report.exit_code == 1
    error = report.tables[0].error or ""
    assert "XLSX files are read by DuckDB only" in error and "2011-05-09.xlsx" in error


def test_source_columns_named_like_shopflows_own_load_renamed_as_on_the_duckdb_path(
    spark: SparkSession, tmp_path: Path
) -> None:
    # A dump with a column `_sf_batch` of its own: it must load as src_sf_batch, not overwrite lineage.
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    first = sorted(HOURLY.rglob("*.csv"))[0]
    table = pacsv.read_csv(first)
    table = table.append_column("_sf_batch", pa.array([f"theirs-{i}" for i in range(table.num_rows)]))
    pacsv.write_csv(table, dumps / first.name)
    configs = {e: retail_pipeline(tmp_path / e, dumps, e) for e in ("duckdb", "spark")}
    assert {e: run(c).exit_code for e, c in configs.items()} == {"duckdb": 0, "spark": 0}
    for config in configs.values():
        kept = query(config, "SELECT count(*), count(DISTINCT _sf_batch), min(src_sf_batch) FROM raw.invoice_lines")
        assert kept == [(table.num_rows, 1, "theirs-0")]
    assert warehouse_rows(configs["spark"]) == warehouse_rows(configs["duckdb"])
