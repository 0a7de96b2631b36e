"""Text to DECIMAL: the fast cast gives exactly what DuckDB's TRY_CAST gives, and flags the same lossy values."""

from __future__ import annotations

import duckdb
import pytest

from shopflow.column_types import parse_column_type
from shopflow.sources.files.decimals import decimal_cast, lossy

VALUES = [
    "0", "-0", "-0.5", "0.5", "12.5", "-12.5", "130.64999999999998", "123456789012345678",
    "-123456789012345678.999999999999999999", "1.000000000000000001", "99999999999999999999", "999999999999999999",
    "1e5", " 1.5", "+1.5", ".5", "5.", "abc", "", "1.2345678901234567891", "0.999999999999999999",
    "-0.999999999999999999", "9999999999999999999.5", "00012.50", "-", "1.", "1..2", "0.125", "19.99", "19.990",
    "-19.995", "12345678901234567890.12", None,
]
TYPES = ["decimal(38,18)", "decimal(38,2)", "decimal(20,2)", "decimal(38,0)", "decimal(19,18)", "decimal(38,37)",
         "decimal(38,38)", "decimal(10,2)", "decimal(30,10)"]


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE TABLE v (x VARCHAR)")
    con.executemany("INSERT INTO v VALUES (?)", [[x] for x in VALUES])
    return con


@pytest.mark.parametrize("declared", TYPES)
def test_fast_cast_equals_try_cast(con: duckdb.DuckDBPyConnection, declared: str) -> None:
    column_type = parse_column_type(declared)
    rows = con.execute(
        f"SELECT x, {decimal_cast('x', column_type, True)}, TRY_CAST(x AS {column_type.sql}) FROM v"
    ).fetchall()
    assert [(x, fast) for x, fast, _ in rows] == [(x, slow) for x, _, slow in rows]


@pytest.mark.parametrize("declared", TYPES)
def test_lossy_flags_the_values_the_exact_parse_flags(con: duckdb.DuckDBPyConnection, declared: str) -> None:
    column_type = parse_column_type(declared)
    fast, exact = lossy("x", "c", column_type, True), lossy("x", "c", column_type, False)
    if exact is None:
        assert fast is None
        return
    rows = con.execute(
        f"SELECT x, coalesce({fast}, false), coalesce({exact}, false) "
        f"FROM (SELECT x, TRY_CAST(x AS {column_type.sql}) AS c FROM v)"
    ).fetchall()
    assert [(x, a) for x, a, _ in rows] == [(x, b) for x, _, b in rows]
    assert any(flagged for _, flagged, _ in rows)
