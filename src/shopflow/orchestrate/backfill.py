"""`shopflow backfill`: one table, a range of dates, through a normal run (merge, exactly once, rerun-safe).

- A file table: the files whose path holds a date in the range (the `date_pattern`, by
  default `YYYY-MM-DD`, `YYYYMMDD`, `YYYY/MM/DD` or `year=YYYY/month=MM/day=DD`), each
  consumed once like any file: a file already in the lake is not read again.
- A database table: the rows whose cursor lies in the range, read in full mode and merged by
  key (an append table merges by key and cursor: one row per version), beside the
  incremental watermark, which the backfill never moves. Rerunning merges the same rows again
  and changes nothing.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import PurePosixPath

from shopflow.config.database import DatabaseSource, DatabaseTable
from shopflow.config.model import FileSource, FileTable, PipelineConfig
from shopflow.errors import ConfigError
from shopflow.sql import quote_identifier, quote_literal

DEFAULT_PATTERNS = (
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})",
    r"year=(?P<year>\d{4})/month=(?P<month>\d{1,2})/day=(?P<day>\d{1,2})",
    r"(?P<year>\d{4})/(?P<month>\d{2})/(?P<day>\d{2})",
    r"(?<!\d)(?P<year>\d{4})(?P<month>\d{2})(?P<day>\d{2})(?!\d)",
)
_STRFTIME = {"%Y": r"(?P<year>\d{4})", "%m": r"(?P<month>\d{1,2})", "%d": r"(?P<day>\d{1,2})"}


def date_regex(pattern: str) -> re.Pattern[str]:
    """A strftime-like pattern (`%Y-%m-%d`, `orders_%Y%m%d`) or a regex with year, month, day groups.

    Raises:
        ConfigError: It cannot find a year, a month and a day.
    """
    if "%" in pattern:
        regex = re.escape(pattern)
        for directive, group in _STRFTIME.items():
            regex = regex.replace(re.escape(directive), group).replace(directive, group)
    else:
        regex = pattern
    try:
        compiled = re.compile(regex)
    except re.error as exc:
        raise ConfigError(f"--date-pattern {pattern!r} is not a valid pattern: {exc}",
                          fix="use e.g. %Y-%m-%d, orders_%Y%m%d, or a regex with (?P<year>..)(?P<month>..)(?P<day>..)",
                          ) from None
    if not {"year", "month", "day"} <= set(compiled.groupindex):
        raise ConfigError(f"--date-pattern {pattern!r} does not name a year, a month and a day",
                          fix="use %Y, %m and %d (e.g. %Y-%m-%d), or regex groups year, month and day")
    return compiled


def date_in(path: str, patterns: list[re.Pattern[str]]) -> date | None:
    """The first date a pattern finds in `path`, or None."""
    for pattern in patterns:
        for match in pattern.finditer(path):
            try:
                return date(int(match["year"]), int(match["month"]), int(match["day"]))
            except ValueError:
                continue
    return None


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def file_backfill(
    config: PipelineConfig, source: FileSource, table: FileTable, first: date, last: date, pattern: str | None,
) -> tuple[PipelineConfig, list[str]]:
    """The pipeline narrowed to the files of `table` dated `first`..`last`, and their URLs."""
    from shopflow.storage import Location

    patterns = [date_regex(pattern)] if pattern else [re.compile(p) for p in DEFAULT_PATTERNS]
    location = Location(source.location, config.storage)
    chosen = []
    root = location.path.rstrip("/")
    for file in location.list_files(table.files):
        relative = file.url.split("://", 1)[-1]
        relative = relative[len(root):].lstrip("/") if relative.startswith(root) else PurePosixPath(relative).name
        found = date_in(relative, patterns)
        if found is not None and first <= found <= last:
            chosen.append(relative)
    # One entry per file, each a glob matching that file alone: the run consumes exactly these, once each.
    tables = [table.model_copy(update={"files": _glob_escape(path)}) for path in chosen]
    return config.model_copy(update={"sources": [source.model_copy(update={"tables": tables})]}), chosen


def database_backfill(
    config: PipelineConfig, source: DatabaseSource, table: str, first: str, last: str,
) -> PipelineConfig:
    """The pipeline narrowed to `table`, read in full between cursor values `first` and `last`, merged by key."""
    from shopflow.sources.database.catalog import resolve_tables
    from shopflow.sources.database.session import SourceSession

    if source.cdc is not None:
        raise ConfigError(f"source {source.name!r} captures changes (cdc); its tables have no cursor to backfill by",
                          fix="`shopflow cdc drop` then run again takes a fresh snapshot of every captured table")
    session = SourceSession(source, [table])
    try:
        resolved, errors = resolve_tables(session)
    finally:
        session.close()
    found = next((t for t in resolved if t.source_table == table or t.name == table), None)
    if found is None:
        reason = errors.get(table)
        because = f": {reason}" if reason else ""
        raise ConfigError(f"source {source.name!r} has no table {table!r} to backfill{because}",
                          fix="pass --table with a table the source reads (see `shopflow status`)")
    if found.cursor is None:
        raise ConfigError(f"table {table!r} has no cursor, so rows cannot be chosen by date",
                          fix="set cursor: (e.g. updated_at) on the table, or run it in full with `shopflow run`")
    cursor = quote_identifier(found.cursor.name)
    low, high = _bounds(first, last)
    where = f"{cursor} >= {low} AND {cursor} < {high}"
    if found.settings.filter:
        where = f"({found.settings.filter}) AND {where}"
    key = [c.name for c in found.key]
    if found.settings.write_disposition == "append" or found.config.write_disposition == "append":
        key = [*key, found.cursor.name]  # every version stays: a version is a key and a cursor value
    if not key:
        raise ConfigError(f"table {table!r} has no primary key to merge a backfill by",
                          fix="set primary_key: on the table in shopflow.yml")
    entry = DatabaseTable(name=found.source_table, mode="full", write_disposition="merge", reconcile="off",
                          primary_key=key, filter=where, soft_delete=found.settings.soft_delete,
                          exclude_columns=list(found.settings.exclude_columns))
    narrowed = source.model_copy(update={"include": [found.source_table], "exclude": [], "tables": [entry]})
    return config.model_copy(update={"sources": [narrowed]})


def _bounds(first: str, last: str) -> tuple[str, str]:
    """SQL literals: `first` inclusive, the day after `last` (or `last` + 1 for integers) exclusive."""
    if first.lstrip("-").isdigit() and last.lstrip("-").isdigit():
        return str(int(first)), str(int(last) + 1)
    try:
        low, high = date.fromisoformat(first), date.fromisoformat(last)
    except ValueError:
        raise ConfigError(f"--from {first!r} and --to {last!r} must be dates (2024-11-14) or whole numbers",
                          fix="pass e.g. --from 2024-11-01 --to 2024-11-14") from None
    return quote_literal(str(datetime.combine(low, datetime.min.time()))), quote_literal(
        str(datetime.combine(high + timedelta(days=1), datetime.min.time())))


def backfill_config(
    config: PipelineConfig, table: str, first: str, last: str, date_pattern: str | None = None,
) -> tuple[PipelineConfig, str]:
    """The pipeline narrowed to the backfill of `table`, and a line saying what it covers.

    Raises:
        ConfigError: No such table, bad dates, or a table that cannot be backfilled.
    """
    for source in config.sources:
        if isinstance(source, FileSource):
            match = next((t for t in source.tables if t.name == table), None)
            if match is None:
                continue
            low, high = _dates(first, last)
            narrowed, files = file_backfill(config, source, match, low, high, date_pattern)
            return narrowed, f"{len(files)} file(s) of {table} dated {low}..{high}"
    for source in config.sources:
        if isinstance(source, DatabaseSource) and (
            any(t.name == table or source.table_name(t.name) == table for t in source.tables)
            or not source.tables or any(t.is_pattern for t in source.tables) or source.include
        ):
            what = f"rows of {table} with cursor in {first}..{last}"
            return database_backfill(config, source, table, first, last), what
    raise ConfigError(f"the pipeline has no table {table!r}",
                      fix="pass --table with one of the tables `shopflow status` lists")


def _dates(first: str, last: str) -> tuple[date, date]:
    try:
        low, high = date.fromisoformat(first), date.fromisoformat(last)
    except ValueError:
        raise ConfigError(f"--from {first!r} and --to {last!r} must be dates such as 2024-11-14",
                          fix="pass e.g. --from 2024-11-01 --to 2024-11-14") from None
    if high < low:
        raise ConfigError(f"--to {last} is before --from {first}", fix="swap them")
    return low, high
