"""Read an Excel sheet so that a column mixing numbers and text loads whole.

DuckDB's `read_xlsx` types each column from its first data row and fails the whole file on a
later cell of another kind (invoice 536365, then C536379). So the sheet is read as text
(`all_varchar`, which gives each cell as stored: numbers as written, date cells as Excel
serial numbers, booleans as 1 and 0) into a temporary table, and each column is typed from
all its values:

- a declared column stays text, for `casting` to cast and to quarantine what does not fit;
- an undeclared column becomes BIGINT, DOUBLE, BOOLEAN or its date type when every value
  fits, else text.

An empty cell is NULL, whether the sheet omits it or stores it as empty text.

A date cell differs from a number only by its style, which `all_varchar` drops, so the types
`read_xlsx` sniffs from the first data row tell which columns hold dates.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from shopflow.config.model import FileTable
from shopflow.naming import normalize_name
from shopflow.sources.files import exact_numbers
from shopflow.sql import quote_identifier, quote_literal

if TYPE_CHECKING:
    import duckdb

# A number as a spreadsheet stores it; an exponent has a sign (1E+20), so that a code such
# as 1E5 stays text.
_NUMBER = r"-?(0|[1-9][0-9]*)(\.[0-9]+)?(E[-+][0-9]+)?"
_SERIAL = r"(0|[1-9][0-9]*)(\.[0-9]+)?(E[-+][0-9]+)?"
_LAST_SERIAL = 2958466  # 10000-01-01: Excel has no later date
_DATE_TYPES = ("DATE", "TIMESTAMP", "TIME")
# Excel writes a double's 17 significant digits (0.57999999999999996) and shows 15 (0.58).
_NOISY = r"-?[0-9]{1,15}\.[0-9]+(E[-+][0-9]+)?"
_NOISY_LENGTH = 17


@dataclass(frozen=True)
class Sheet:
    """A sheet staged in a temporary table and the query typing its columns.

    Attributes:
        sql: The query of the sheet's records.
        staged: The temporary table `sql` reads, to drop once it has run.
    """

    sql: str
    staged: str


def read_sheet(con: duckdb.DuckDBPyConnection, path: Path, table: FileTable) -> Sheet:
    """Stage the configured sheet of `path` as text and type its columns from all their values.

    Raises:
        duckdb.Error: The file is not a workbook or has no such sheet.
    """
    from shopflow.engine import load_extension

    load_extension(con, "excel")
    source = _source(path, table)
    sniffed = con.sql(f"SELECT * FROM {source})")  # binding reads the first data row only
    first_row = dict(zip(sniffed.columns, (str(t) for t in sniffed.types), strict=True))
    staged = f"_sf_xlsx_{uuid.uuid4().hex}"
    # read_xlsx stops at the first empty row by default: every row after a blank line in the
    # sheet would be lost. Read to the sheet's end and drop only the rows with no value at all.
    text = f"{source}, all_varchar=true, stop_at_empty=false)"
    # An empty text cell (`<c t="inlineStr"></c>`, as exporters write a blank customer) reads as
    # '': Excel shows it blank and openpyxl reads None, so it is NULL, never a value to cast.
    names = [quote_identifier(c) for c in con.sql(f"SELECT * FROM {text}").columns]
    blanks = ", ".join(f"nullif({c}, '') AS {c}" for c in names)
    any_value = " OR ".join(f"nullif({c}, '') IS NOT NULL" for c in names)
    con.execute(f"CREATE TEMP TABLE {staged} AS SELECT {blanks} FROM {text} WHERE {any_value}")
    try:
        columns = con.table(staged).columns
        declared = {normalize_name(c) for c in table.columns}
        undeclared = [c for c in columns if normalize_name(c) not in declared]
        kinds = _kinds(con, staged, undeclared, first_row)
        select = ", ".join(
            f"{_typed(quote_identifier(c), kinds.get(c, 'VARCHAR'), first_row.get(c, 'VARCHAR'))} "
            f"AS {quote_identifier(c)}"
            for c in columns
        )
    except BaseException:
        con.execute(f"DROP TABLE IF EXISTS {staged}")
        raise
    return Sheet(f"SELECT {select} FROM {staged}", staged)


def _source(path: Path, table: FileTable) -> str:
    """`read_xlsx(...` with the table's options, left open for more."""
    opts = table.xlsx
    sheet = f", sheet={quote_literal(opts.sheet)}" if opts.sheet else ""
    return f"read_xlsx({quote_literal(str(path))}, header={str(opts.header).lower()}{sheet}"


def _kinds(
    con: duckdb.DuckDBPyConnection, staged: str, columns: list[str], first_row: dict[str, str]
) -> dict[str, str]:
    """The type of each of `columns` that all its values fit, found in one pass over `staged`."""
    if not columns:
        return {}
    checks: list[str] = []
    for name in columns:
        column, sniffed = quote_identifier(name), first_row.get(name, "VARCHAR")
        checks += [
            f"count({column})",
            _every(column, _is_serial(column)) if sniffed in _DATE_TYPES else "false",
            _every(column, f"{column} IN ('0', '1')") if sniffed == "BOOLEAN" else "false",
            _every(column, f"regexp_full_match({column}, '{_NUMBER}')"),
            # A number without a point or an exponent, short enough for BIGINT.
            _every(column, f"length({column}) <= 18 AND NOT contains({column}, '.') AND NOT contains({column}, 'E')"),
            *exact_numbers.column_checks(column),  # whole numbers a double would round
        ]
    row = con.execute(f"SELECT {', '.join(checks)} FROM {staged}").fetchone()
    assert row is not None  # an aggregate without GROUP BY has one row
    width = len(checks) // len(columns)
    kinds = {}
    for i, name in enumerate(columns):
        count, serial, boolean, number, short_whole, all_whole, rounded = row[width * i: width * (i + 1)]
        kinds[name] = (
            "VARCHAR" if count == 0
            else first_row[name] if serial
            else "BOOLEAN" if boolean
            else "BIGINT" if number and short_whole
            else exact_numbers.column_type(all_whole, rounded) if number
            else "VARCHAR"
        )
    return kinds


def _every(column: str, predicate: str) -> str:
    """SQL aggregate: `predicate` holds for every value of `column` that is not NULL."""
    return f"bool_and(coalesce({predicate}, false)) FILTER (WHERE {column} IS NOT NULL)"


def _typed(column: str, kind: str, sniffed: str) -> str:
    """SQL giving the text `column` the type `kind`; its first cell was of type `sniffed`."""
    if kind in _DATE_TYPES:
        return _from_serial(column, kind)
    if kind == "BOOLEAN":
        return f"({column} = '1')"
    if kind in ("BIGINT", "DOUBLE", exact_numbers.EXACT_TYPE):
        return f"CAST({column} AS {kind})"
    return _text(column, sniffed)


def _text(column: str, sniffed: str) -> str:
    """SQL of `column` as the text the cell shows: a date cell as an ISO date, 0.58 for 0.57999999999999996."""
    noisy = (
        f"WHEN length({column}) >= {_NOISY_LENGTH} AND regexp_full_match({column}, '{_NOISY}') "
        f"THEN format('{{:.15g}}', CAST({column} AS DOUBLE))"
    )
    if sniffed not in _DATE_TYPES:
        return f"CASE {noisy} ELSE {column} END"
    date = f"CAST({_from_serial(column, sniffed)} AS VARCHAR)"
    return f"CASE WHEN {_is_serial(column)} THEN {date} {noisy} ELSE {column} END"


def _is_serial(column: str) -> str:
    """SQL: the text `column` is an Excel date's serial number."""
    return f"(regexp_full_match({column}, '{_SERIAL}') AND TRY_CAST({column} AS DOUBLE) < {_LAST_SERIAL})"


def _from_serial(column: str, kind: str) -> str:
    """SQL of the serial number `column` as a `kind` (DATE, TIMESTAMP or TIME), as read_xlsx converts it.

    Days since 1899-12-30; within a millisecond of a whole second, the second.
    """
    seconds = f"(TRY_CAST({column} AS DOUBLE) * 86400)"
    whole = f"CASE WHEN abs({seconds} - round({seconds})) < 1e-3 THEN round({seconds}) ELSE {seconds} END"
    stamp = f"make_timestamp(CAST(trunc(({whole} - 2209161600) * 1000000) AS BIGINT))"
    return stamp if kind == "TIMESTAMP" else f"CAST({stamp} AS {kind})"
