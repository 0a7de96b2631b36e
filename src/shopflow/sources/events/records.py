"""Check events against their stream's declared columns, and turn checked events into Arrow rows.

The ingest API checks each event as it arrives (the reason of a bad one goes to the buffer with
it, and from there to the quarantine); the micro-batch converts the good ones with the same
converters, so what the API accepted is exactly what the lake gets.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa

from shopflow.column_types import parse_column_type
from shopflow.config.events import EventStream
from shopflow.config.model import ColumnSpec
from shopflow.naming import lake_name

Converter = Callable[[Any], Any]


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ValueError(f"{value!r} is not an integer")
    return int(value)


def _double(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{value!r} is not a number")
    return float(value)


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(f"{value!r} is not true or false")


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise ValueError(f"{value!r} is not text")


def _json_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _decimal(scale: int, precision: int, lossy: bool) -> Converter:
    quantum = Decimal(1).scaleb(-scale)

    def convert(value: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"{value!r} is not a number")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
        fitted = number.quantize(quantum)
        if fitted != number and not lossy:
            raise ValueError(f"{value!r} has more than {scale} digits after the point (set round: true to round)")
        if len(fitted.as_tuple().digits) > precision:
            raise ValueError(f"{value!r} has more than {precision} digits")
        return fitted

    return convert


def _temporal(sql: str, fmt: str | None) -> Converter:
    def convert(value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not a {sql.lower()} text")
        parsed = dt.datetime.strptime(value, fmt) if fmt else None
        if sql == "DATE":
            return parsed.date() if parsed else dt.date.fromisoformat(value)
        stamp = parsed or dt.datetime.fromisoformat(value)
        if sql == "TIMESTAMPTZ":
            return stamp.replace(tzinfo=dt.UTC) if stamp.tzinfo is None else stamp.astimezone(dt.UTC)
        if stamp.tzinfo is not None:
            raise ValueError(f"{value!r} has a time zone; declare the column timestamptz")
        return stamp

    return convert


def _time(value: Any) -> dt.time:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a time text")
    return dt.time.fromisoformat(value)


Check = Callable[[Any], bool]


def _quick_check(sql: str, precision: int | None, scale: int | None) -> Check | None:
    """A cheap test that is True only for values the column's converter surely takes (None: no shortcut).

    The common shapes of each type pass here; anything else goes to the converter, which
    takes it or says why not, so a shortcut never changes what is accepted.
    """
    if sql in ("INTEGER", "BIGINT", "SMALLINT"):
        return lambda value: type(value) is int
    if sql in ("VARCHAR", "UUID"):
        return lambda value: type(value) is str
    if sql == "DOUBLE":
        return lambda value: type(value) is float or type(value) is int
    if sql == "BOOLEAN":
        return lambda value: type(value) is bool
    if precision is not None and scale is not None and precision <= 28:  # beyond: past Decimal's default context
        whole = precision - scale
        plain = re.compile(rf"-?[0-9]{{1,{whole}}}(\.[0-9]{{1,{scale}}})?" if scale else rf"-?[0-9]{{1,{whole}}}")
        match = plain.fullmatch
        return lambda value: (type(value) is str and match(value) is not None) or (
            type(value) is int and -(10**whole) < value < 10**whole)
    return None


def column_plan(spec: ColumnSpec) -> tuple[Converter, pa.DataType]:
    """The converter of a declared column's JSON values and the Arrow type they land as in the lake."""
    kind = parse_column_type(spec.type)
    sql = kind.sql
    if kind.is_decimal:
        assert kind.precision is not None and kind.scale is not None
        return _decimal(kind.scale, kind.precision, spec.round), pa.decimal128(kind.precision, kind.scale)
    simple: dict[str, tuple[Converter, pa.DataType]] = {
        "VARCHAR": (_text, pa.string()), "UUID": (_text, pa.string()), "JSON": (_json_text, pa.string()),
        "INTEGER": (_integer, pa.int64()), "BIGINT": (_integer, pa.int64()), "SMALLINT": (_integer, pa.int64()),
        "DOUBLE": (_double, pa.float64()), "BOOLEAN": (_boolean, pa.bool_()), "TIME": (_time, pa.time64("us")),
        "DATE": (_temporal("DATE", spec.format), pa.date32()),
        "TIMESTAMP": (_temporal("TIMESTAMP", spec.format), pa.timestamp("us")),
        "TIMESTAMPTZ": (_temporal("TIMESTAMPTZ", spec.format), pa.timestamp("us", tz="UTC")),
    }
    return simple[sql]


class StreamSchema:
    """A stream's columns: how to check an event, and how to turn checked events into Arrow columns."""

    def __init__(self, stream: EventStream) -> None:
        self.stream = stream
        self.plans = {name: column_plan(spec) for name, spec in stream.columns.items()}
        self.required = [*stream.primary_key, *(k for k in stream.idempotency_key if k not in stream.primary_key)]
        self._checks: dict[str, tuple[Check | None, Converter]] = {}
        for name, spec in stream.columns.items():
            kind = parse_column_type(spec.type)
            self._checks[name] = (_quick_check(kind.sql, kind.precision, kind.scale), self.plans[name][0])

    def problem(self, event: Any) -> str | None:
        """Why `event` cannot be loaded, or None if it can."""
        if not isinstance(event, dict):
            return f"an event must be a JSON object, not {type(event).__name__}"
        checks = self._checks
        for name in event:
            if name not in checks:
                return f"unknown column {name!r}: stream {self.stream.name!r} declares {', '.join(self.plans)}"
        for key in self.required:
            if event.get(key) is None:
                return f"key column {key!r} is missing or null"
        for name, value in event.items():
            if value is None:
                continue
            quick, convert = checks[name]
            if quick is not None and quick(value):
                continue
            try:
                convert(value)
            except (ValueError, TypeError) as exc:
                return f"column {name!r} ({self.stream.columns[name].type}): {exc}"
        return None

    def key(self, event: dict[str, Any], columns: list[str]) -> str:
        """The values of `columns` in `event` as one text (for duplicate checks and quarantine keys)."""
        return json.dumps([event.get(c) for c in columns], separators=(",", ":"), default=str)

    def arrow(self, events: list[dict[str, Any]]) -> dict[str, pa.Array]:
        """The lake columns (named as the lake names them) of checked events."""
        columns: dict[str, pa.Array] = {}
        for name, (convert, arrow_type) in self.plans.items():
            values = [None if (v := e.get(name)) is None else convert(v) for e in events]
            columns[lake_name(name)] = pa.array(values, type=arrow_type)
        return columns
