"""Casts of text to DECIMAL that are exact and fast.

DuckDB parses text into a DECIMAL of more than 18 digits (a 128-bit integer) some 25 times
slower than into one of up to 18 digits (a 64-bit one). Plain decimal text (an optional minus,
digits, an optional point and digits) that fits the type is built here from its integer and
fraction parts, each parsed as 64-bit; other text goes to TRY_CAST, whose result this equals.
"""

from __future__ import annotations

from shopflow.column_types import ColumnType

# The scale of the exact parse a lossy cast is compared with.
EXACT_SCALE = 18
EXACT = f"DECIMAL(38,{EXACT_SCALE})"
_INT64_DIGITS = 18


def decimal_cast(source: str, column_type: ColumnType, text: bool) -> str:
    """SQL of `TRY_CAST(source AS <decimal type>)`; `text` says `source` is VARCHAR."""
    precision, scale = column_type.precision or 38, column_type.scale or 0
    plain = _plain(precision, scale)
    if not text or precision <= _INT64_DIGITS or plain is None:
        return f"TRY_CAST({source} AS {column_type.sql})"
    integer = f"CAST(CAST(split_part({source}, '.', 1) AS BIGINT) AS {column_type.sql})"
    # '0.<fraction>0': a missing fraction gives 0.0; 18 + 1 digits round their final 0 away.
    fraction = f"CAST(CAST('0.' || split_part({source}, '.', 2) || '0' AS DECIMAL(18,18)) AS {column_type.sql})"
    return (
        f"CASE WHEN regexp_full_match({source}, '{plain}') THEN CAST(CASE WHEN starts_with({source}, '-') "
        f"THEN {integer} - {fraction} ELSE {integer} + {fraction} END AS {column_type.sql}) "
        f"ELSE TRY_CAST({source} AS {column_type.sql}) END"
    )


def lossy(source: str, cast: str, column_type: ColumnType, text: bool) -> str | None:
    """SQL that is true when casting `source` to the type (`cast`, rounded) lost digits; None if it cannot."""
    scale = column_type.scale or 0
    if scale >= EXACT_SCALE:
        return None
    exact = f"TRY_CAST({source}::VARCHAR AS {EXACT}) <> {cast}"
    if not text:
        return exact
    # Text with at most `scale` fraction digits loses none: skip the slow exact parse.
    few = rf"-?\d+(\.\d{{0,{scale}}})?" if scale else r"-?\d+"
    return f"(NOT regexp_full_match({source}, '{few}') AND {exact})"


def _plain(precision: int, scale: int) -> str | None:
    """The pattern of plain decimal text that fits DECIMAL(precision, scale) and int64 parts."""
    integer_digits = min(precision - scale, _INT64_DIGITS)
    if integer_digits < 1:
        return None
    fraction = rf"(\.\d{{1,{min(scale, _INT64_DIGITS)}}})?" if scale else ""
    return rf"-?\d{{1,{integer_digits}}}{fraction}"
