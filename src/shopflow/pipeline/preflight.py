"""Before any data moves: do the columns the pipeline file names exist?

A primary key or cursor that names no column is a mistake in the pipeline file, not bad data:
reading on would quarantine every file whole and count it as consumed. So a run first checks
each declared key and cursor

- of a file table, against the lake table's columns, else against the header (or the first
  records) of the first pending files; it is an error only if none of them has it (a single
  file without it is bad data, quarantined as before);
- of a database table named under `tables:`, against the table's columns in the source's
  catalog (its rows are not read).

Any error stops the run with exit code 2 before a file is read or a commit is made, so after
the fix the next run reads every file. `shopflow validate` runs the same checks, and more.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from shopflow.config.database import DatabaseSource
from shopflow.config.model import FileSource, FileTable, PipelineConfig
from shopflow.errors import ConfigError, ShopflowError
from shopflow.naming import normalize_name
from shopflow.pipeline.layout import LakeLayout
from shopflow.storage import FileInfo, Location

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

# How many pending files' headers are read when the first one lacks a declared column.
SAMPLE_FILES = 3
_SHOWN_COLUMNS = 25


@dataclass(frozen=True)
class Finding:
    """One result of a check: an error stops a run (exit 2), a warning is reported, ok is for `validate`."""

    level: Literal["ok", "warning", "error"]
    subject: str
    message: str
    fix: str | None = None


def check_before_run(config: PipelineConfig) -> None:
    """Check every declared key and cursor; raise ConfigError (exit 2) naming each that names no column.

    A database source that cannot be reached is left to the run, which reports it per table.
    """
    from shopflow.engine import connect

    opened: list[duckdb.DuckDBPyConnection] = []

    def connection() -> duckdb.DuckDBPyConnection:  # opened only if a file's header must be read
        if not opened:
            opened.append(connect())
        return opened[0]

    try:
        errors = [f for f in _findings(connection, config, listing=False, reach=False) if f.level == "error"]
    finally:
        for con in opened:
            con.close()
    if errors:
        raise ConfigError(
            "the pipeline file names columns the data does not have:\n  "
            + "\n  ".join(f"{f.subject}: {f.message}" + (f"\n    fix: {f.fix}" if f.fix else "") for f in errors),
            fix="correct the names in the pipeline file and run again; no file was read and no row moved",
        )


def column_findings(
    con: duckdb.DuckDBPyConnection, config: PipelineConfig, *, listing: bool, reach: bool,
) -> list[Finding]:
    """The findings of every table's key and cursor checks.

    Args:
        con: A DuckDB connection to read file headers with.
        config: The pipeline.
        listing: List every file table's files, even when the lake already has its columns, and
            report a location or glob that finds no file (`validate`); a run lists only when needed.
        reach: Report a database source that cannot be reached, or a table it does not have, as
            an error (`validate`); a run leaves both to the extraction.
    """
    return _findings(lambda: con, config, listing=listing, reach=reach)


def _findings(
    connection: Callable[[], duckdb.DuckDBPyConnection], config: PipelineConfig, *, listing: bool, reach: bool,
) -> list[Finding]:
    """`column_findings`, with the DuckDB connection opened by `connection` only when a header is read."""
    findings: list[Finding] = []
    for source in config.sources:
        if isinstance(source, FileSource):
            for table in source.tables:
                findings.extend(_file_table(connection, config, source, table, listing=listing))
        elif isinstance(source, DatabaseSource):
            findings.extend(_database_source(config, source, reach=reach))
    return findings


def _declared(keys: Iterable[str], cursor: str | None) -> list[tuple[str, str]]:
    """(setting, column) pairs: each primary key column, then the cursor."""
    return [*(("primary_key", k) for k in keys), *([("cursor", cursor)] if cursor else [])]


def _file_table(
    connection: Callable[[], duckdb.DuckDBPyConnection], config: PipelineConfig, source: FileSource,
    table: FileTable, *, listing: bool,
) -> list[Finding]:
    subject = f"table {table.name}"
    declared = _declared(table.primary_key, table.cursor)
    layout = LakeLayout(config, source.name, table.name)
    location = Location(source.location, config.storage)
    try:
        lake = layout.main.schema()
        wanted = [(k, c) for k, c in declared if lake is None or normalize_name(c) not in lake.names]
        if not wanted and not listing:
            return []
        from shopflow.pipeline.extract_files import pending_files

        todo, _, seen = pending_files(layout, location, table)
    except ShopflowError as exc:
        return [Finding("error", subject, exc.message, exc.fix)]
    findings = []
    if listing:
        findings.append(
            Finding("ok", subject, f"{counted(seen, 'file')} {'matches' if seen == 1 else 'match'} {table.files!r}, "
                                  f"{len(todo):,} not read yet") if seen
            else Finding("warning", subject, no_files_message(location, table), no_files_fix(source, table))
        )
    if wanted and todo:
        findings.extend(_against_files(connection(), location, table, todo, wanted))
    return findings


def _against_files(
    con: duckdb.DuckDBPyConnection, location: Location, table: FileTable, todo: list[FileInfo],
    wanted: list[tuple[str, str]],
) -> list[Finding]:
    """Errors for the declared columns none of the first readable pending files has."""
    sampled: list[tuple[FileInfo, list[str]]] = []
    names = {normalize_name(c) for _, c in wanted}
    for file in todo[:SAMPLE_FILES]:
        columns = _columns_of(con, location, table, file, names)
        if columns is None:
            continue
        if all(normalize_name(c) in columns for _, c in wanted):
            return []  # a file that lacks them is bad data; extracting it quarantines it
        sampled.append((file, columns))
    if not sampled:
        return []  # no readable header: the extraction quarantines the unreadable files
    file, columns = sampled[0]
    others = f" (nor of the next {len(sampled) - 1} pending files)" if len(sampled) > 1 else ""
    findings = []
    for key, column in wanted:
        if any(normalize_name(column) in cols for _, cols in sampled):
            continue
        close = difflib.get_close_matches(normalize_name(column), columns, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        findings.append(Finding(
            "error", f"table {table.name}",
            f"{key} {column!r} names no column of {file.url}{others}",
            f"{hint}set {key}: of table {table.name!r} to one of its columns: {_listed(columns)}",
        ))
    return findings


def _columns_of(
    con: duckdb.DuckDBPyConnection, location: Location, table: FileTable, file: FileInfo, wanted: set[str],
) -> list[str] | None:
    """The columns of `file`'s records (fetched first from an object store); None if unreadable."""
    from shopflow.pipeline.headers import file_columns
    from shopflow.temp import locked_folder

    try:
        fmt = table.format_of(file.url)
    except ShopflowError:
        return None
    if location.scheme == "file":
        return file_columns(con, Path(file.url), table, fmt, wanted)
    with locked_folder() as folder:
        return file_columns(con, location.fetch(file, folder), table, fmt, wanted)


def no_files_warning(config: PipelineConfig, source: FileSource, table: FileTable) -> str:
    """Log and return the warning of a file table that found no file: the run goes on, `status` shows it."""
    message = f"{no_files_message(Location(source.location, config.storage), table)}; {no_files_fix(source, table)}"
    log.warning("table %s: %s", table.name, message)
    return message


def no_files_message(location: Location, table: FileTable) -> str:
    """Why a file table found nothing: its location is missing, or its glob matches no file there."""
    if location.scheme == "file" and not Path(location.path).is_dir():
        return f"the folder {location.url} does not exist, so no file matches {table.files!r}"
    return f"no file matches {table.files!r} in {location.url}"


def no_files_fix(source: FileSource, table: FileTable) -> str:
    """How to fix a file table that found nothing."""
    return (f"check location: of source {source.name!r} and files: of table {table.name!r} "
            "(the glob is relative to the location; ** matches subfolders)")


def _database_source(config: PipelineConfig, source: DatabaseSource, *, reach: bool) -> list[Finding]:
    """Errors for the keys and cursors of tables named under `tables:` that name no column of the table.

    A run checks a table against the source's catalog only if its lake table lacks a declared
    column (as for file tables), so a run with nothing new does not connect twice to the source.
    """
    import duckdb

    from shopflow.sources.database.connection import SourceConnection

    named = [t for t in source.tables if not t.is_pattern]
    if not reach:
        named = [t for t in named if not _in_lake(config, source, t.name)]
    if not named and not reach:
        return []
    try:
        conn = SourceConnection(source, [t.name for t in named])
    except ShopflowError as exc:
        log.debug("source %s: not checked before the run: %s", source.name, exc)
        return [Finding("error", f"source {source.name}", exc.message, exc.fix)] if reach else []
    try:
        rows = conn.query(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = 'src' AND schema_name = ?",
            [source.source_schema],
        )
    except duckdb.Error as exc:
        error = conn.error(exc, "read the catalog of")
        return [Finding("error", f"source {source.name}", error.message, error.fix)] if reach else []
    finally:
        conn.close()
    columns: dict[str, list[str]] = {}
    for table_name, column in rows:
        columns.setdefault(str(table_name), []).append(str(column))
    findings = [Finding("ok", f"source {source.name}", f"{source.describe()}: reachable")] if reach else []
    for entry in named:
        findings.extend(_database_table(source, entry.name, columns.get(entry.name), reach=reach))
    return findings


def _in_lake(config: PipelineConfig, source: DatabaseSource, table: str) -> bool:
    """True if the lake table of `table` has every column its key and cursor settings name."""
    settings = source.settings_for(table)
    declared = _declared(settings.primary_key or (), settings.cursor)
    if not declared:
        return True
    try:
        lake = LakeLayout(config, source.name, source.table_name(table)).main.schema()
    except ShopflowError:
        return False  # the catalog check decides, as before
    return lake is not None and all(normalize_name(c) in lake.names for _, c in declared)


def _database_table(source: DatabaseSource, table: str, columns: list[str] | None, *, reach: bool) -> list[Finding]:
    subject = f"table {source.table_name(table)}"
    if columns is None:
        if not reach:
            return []
        return [Finding("error", subject, f"source {source.name!r} has no table {table!r} in schema "
                        f"{source.source_schema!r}", f"correct the name under tables: of source {source.name!r}")]
    settings = source.settings_for(table)
    named = _declared(settings.primary_key or (), settings.cursor)
    normalised = {normalize_name(c) for c in columns}
    findings = []
    for key, column in named:
        if column in columns or normalize_name(column) in normalised:
            continue
        close = difflib.get_close_matches(column, columns, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        findings.append(Finding(
            "error", subject, f"{key} {column!r} names no column of {source.source_schema}.{table}",
            f"{hint}set {key}: to one of its columns: {_listed(columns)}",
        ))
    if reach and not findings:
        findings.append(Finding("ok", subject, f"{len(columns)} columns; declared columns exist"))
    return findings


def counted(n: int, noun: str) -> str:
    """`1 file`, `3 files`."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _listed(columns: list[str]) -> str:
    shown = ", ".join(columns[:_SHOWN_COLUMNS])
    return shown + (f", ... ({len(columns)} in all)" if len(columns) > _SHOWN_COLUMNS else "")
