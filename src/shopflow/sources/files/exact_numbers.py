"""Whole numbers a double cannot hold never pass through one.

DuckDB types a JSON or CSV integer beyond 64 bits as DOUBLE, where 99999999999999999999999
and 99999999999999999999998 are both 1e+23 (and a column of fractions turns any integer past
2**53 into a double). A whole double past 2**53 may be such a number, so a column holding
one is read again as text and typed from its values, so that no digit is lost:

* DOUBLE when no value is a whole number a double rounds (1e23 written so, 2.5);
* else DECIMAL(38,0) when every value is a whole number of at most 38 digits;
* else text (fractions and such whole numbers mixed, or more than 38 digits).

JSON is read in one streaming query, which such a value fails with a marker naming its leaf
(see `json_double`); the caller reads again with the leaf a step further. A CSV file or an
Excel sheet is staged in a table first, so its columns are checked there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shopflow.sql import quote_identifier, quote_literal

if TYPE_CHECKING:
    import duckdb

EXACT_TYPE = "DECIMAL(38,0)"
# Every whole number up to this magnitude is a double exactly.
_EXACT_DOUBLES = 2**53
_WHOLE = "[-+]?[0-9]+"
_FITS_EXACT = "[-+]?0*[0-9]{1,38}"
# A double holds every whole number of up to 15 digits: longer text is checked further.
_SHORT = 15

# Markers of the errors that make the caller read a JSON leaf again (see `json_read.not_iso_leaf`).
ROUNDED = "shopflow: a whole number a double may not hold exactly: "
NOT_WHOLE = "shopflow: a value is not a whole number of at most 38 digits: "
# The caller's `text` set holds a leaf's path to keep it text, or the path behind one of these.
CHECK_LEAF = "checked:"  # read as text, to tell rounded whole numbers from large doubles
EXACT_LEAF = "decimal:"  # read as text, typed DECIMAL(38,0)


def rounded_by_double(text: str) -> str:
    """SQL true when the text `text` is a whole number that a DOUBLE rounds."""
    whole = f"TRY_CAST({text} AS HUGEINT)"
    return (
        f"(length({text}) > {_SHORT} AND regexp_full_match({text}, '{_WHOLE}') AND "
        f"({whole} IS NULL OR {whole} IS DISTINCT FROM TRY_CAST(TRY_CAST({text} AS DOUBLE) AS HUGEINT)))"
    )


def _suspect(double: str) -> str:
    """SQL true when the DOUBLE `double` is whole and past 2**53: it may be a rounded whole number."""
    return f"(abs({double}) >= {_EXACT_DOUBLES} AND {double} = trunc({double}))"


def json_read_type(path: str, text: frozenset[str]) -> str:
    """The type a JSON leaf detected as DOUBLE is read as (see `json_double`)."""
    return "VARCHAR" if path in text or EXACT_LEAF + path in text or CHECK_LEAF + path in text else "DOUBLE"


def json_double_type(path: str, text: frozenset[str]) -> str:
    """The type a JSON leaf detected as DOUBLE has once converted (see `json_double`)."""
    if path in text:
        return "VARCHAR"
    return EXACT_TYPE if EXACT_LEAF + path in text else "DOUBLE"


def json_double(expr: str, path: str, text: frozenset[str], marker_end: str) -> str | None:
    """SQL converting a JSON leaf detected as DOUBLE (`expr`, of `json_read_type`); None to keep it.

    By what `text` holds for the leaf, in the order a leaf goes through them:

    * nothing: read as DOUBLE; a whole value past 2**53 fails the query (`CHECK_LEAF` next);
    * `CHECK_LEAF + path`: read as text, a DOUBLE unless a whole number it rounds fails the
      query (`EXACT_LEAF` next);
    * `EXACT_LEAF + path`: read as text, DECIMAL(38,0) unless a value that is not a whole
      number of up to 38 digits fails the query (the path itself next);
    * the path: text.

    The failures name the leaf to read otherwise, in an error's marker followed by `marker_end`.
    """
    if path in text:
        return None
    if EXACT_LEAF + path in text:
        fail = quote_literal(f"{NOT_WHOLE}{path}{marker_end}")
        return (
            f"CASE WHEN {expr} IS NULL THEN NULL WHEN regexp_full_match({expr}, '{_FITS_EXACT}') "
            f"THEN CAST({expr} AS {EXACT_TYPE}) ELSE error({fail}) END"
        )
    if CHECK_LEAF + path in text:
        fail = quote_literal(f"{ROUNDED}{EXACT_LEAF}{path}{marker_end}")
        return f"CASE WHEN {rounded_by_double(expr)} THEN error({fail}) ELSE CAST({expr} AS DOUBLE) END"
    fail = quote_literal(f"{ROUNDED}{CHECK_LEAF}{path}{marker_end}")
    return f"CASE WHEN {_suspect(expr)} THEN error({fail}) ELSE {expr} END"


def suspect_doubles(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The DOUBLE columns of `table` holding a whole value past 2**53, which may be a rounded integer."""
    relation = con.table(table)
    doubles = [c for c, t in zip(relation.columns, relation.types, strict=True) if str(t) == "DOUBLE"]
    if not doubles:
        return []
    checks = ", ".join(f"bool_or({_suspect(quote_identifier(c))})" for c in doubles)
    found = con.execute(f"SELECT {checks} FROM {table}").fetchone()
    assert found is not None
    return [c for c, suspect in zip(doubles, found, strict=True) if suspect]


def column_checks(column: str) -> list[str]:
    """Two SQL aggregates over the text `column` for `column_type`: every value whole, some value rounded."""
    return [f"bool_and({column} IS NULL OR regexp_full_match({column}, '{_FITS_EXACT}'))",
            f"coalesce(bool_or({rounded_by_double(column)}), false)"]


def column_type(all_whole: bool | None, rounded: bool | None) -> str:
    """The type of a column of numbers as text, from its `column_checks`: see the module docstring."""
    if rounded and all_whole:
        return EXACT_TYPE
    return "VARCHAR" if rounded else "DOUBLE"


def typed_columns(con: duckdb.DuckDBPyConnection, table: str, columns: list[str]) -> str:
    """A query of `table` with its text `columns` (numbers DuckDB had read as DOUBLE) typed exactly."""
    checks = [check for column in columns for check in column_checks(quote_identifier(column))]
    found = con.execute(f"SELECT {', '.join(checks)} FROM {table}").fetchone()
    assert found is not None  # an aggregate without GROUP BY has one row
    replaced = []
    for i, column in enumerate(columns):
        kind = column_type(found[2 * i], found[2 * i + 1])
        if kind != "VARCHAR":
            replaced.append(f"CAST({quote_identifier(column)} AS {kind}) AS {quote_identifier(column)}")
    return f"SELECT * REPLACE ({', '.join(replaced)}) FROM {table}" if replaced else f"SELECT * FROM {table}"
