"""Run some tables of a pipeline: `shopflow run --table T`, and the units an Airflow DAG gives a task each.

A unit is what one run can take on its own: a file table (`source.table`), a database table
listed by name (`source.table`), or a whole source where the tables are known only at run time
(globs, `include:`, no `tables:`) or are captured together (change data capture: one slot).
"""

from __future__ import annotations

from dataclasses import dataclass

from shopflow.config.database import DatabaseSource, DatabaseTable
from shopflow.config.events import EventsSource
from shopflow.config.model import FileSource, PipelineConfig
from shopflow.errors import ConfigError


@dataclass(frozen=True)
class Unit:
    """One part of a pipeline a run can take alone.

    Attributes:
        source: The source's name.
        table: The table's name in the source; None for the whole source.
    """

    source: str
    table: str | None = None

    @property
    def key(self) -> str:
        """`source.table`, or `source`: what `--table` takes."""
        return self.source if self.table is None else f"{self.source}.{self.table}"


def _whole_source(source: FileSource | DatabaseSource | EventsSource) -> bool:
    """True if a run takes `source` only as a whole: CDC, or tables known only from the catalog."""
    if isinstance(source, FileSource | EventsSource):
        return False
    return (source.cdc is not None or not source.tables or source.include is not None
            or any(t.is_pattern for t in source.tables))


def units(config: PipelineConfig) -> list[Unit]:
    """The pipeline's units, in the order `shopflow run` takes them."""
    found: list[Unit] = []
    for source in config.sources:
        if _whole_source(source):
            found.append(Unit(source.name))
        else:
            found.extend(Unit(source.name, t.name) for t in source.tables)
    return found


def select_tables(config: PipelineConfig, names: list[str]) -> PipelineConfig:
    """`config` with only the sources and tables `names` pick: `source.table`, `table` or `source`.

    A database table not listed under `tables:` may be named as `source.table` (or as `table`
    where one source reads its tables from the catalog); a run reports it if it does not exist.

    Raises:
        ConfigError: A name picks nothing, more than one table, or a table of a change data
            capture source (those run as a whole).
    """
    picked: dict[str, set[str] | None] = {}  # source -> tables, None for the whole source
    for name in names:
        source, table = _resolve(config, name)
        if table is None or picked.get(source, set()) is None:
            picked[source] = None
        else:
            chosen = picked.setdefault(source, set())
            assert chosen is not None
            chosen.add(table)
    sources: list[FileSource | DatabaseSource | EventsSource] = []
    for source_config in config.sources:
        if source_config.name not in picked:
            continue
        tables = picked[source_config.name]
        if tables is None:
            sources.append(source_config)
        elif isinstance(source_config, FileSource | EventsSource):
            sources.append(source_config.model_copy(
                update={"tables": [t for t in source_config.tables if t.name in tables]}))
        else:
            sources.append(_database_tables(source_config, sorted(tables)))
    return config.model_copy(update={"sources": sources})


def _database_tables(source: DatabaseSource, tables: list[str]) -> DatabaseSource:
    """`source` reading only `tables`, each with the settings its entry (or glob) gives it."""
    entries = []
    for table in tables:
        entry = source.entry_for(table)
        entries.append(DatabaseTable(name=table) if entry is None else entry.model_copy(update={"name": table}))
    # Listed by name, a table is read whatever include/exclude say; the globs would add others.
    return source.model_copy(update={"tables": entries, "include": [], "exclude": []})


def _resolve(config: PipelineConfig, name: str) -> tuple[str, str | None]:
    """(source, table or None) that `name` picks."""
    by_name = {s.name: s for s in config.sources}
    listed = ", ".join(u.key for u in units(config))
    source_name, dot, table = name.partition(".")
    if not dot:
        if name in by_name:
            return name, None
        return _find_table(config, name, listed)
    source = by_name.get(source_name)
    if source is None:
        raise ConfigError(f"--table {name}: the pipeline has no source {source_name!r}",
                          fix=f"pass one of: {listed}")
    _check_table(source, table, name, listed)
    return source_name, table


def _check_table(source: FileSource | DatabaseSource | EventsSource, table: str, name: str, listed: str) -> None:
    if isinstance(source, FileSource | EventsSource):
        if table not in {t.name for t in source.tables}:
            raise ConfigError(f"--table {name}: source {source.name!r} has no table {table!r}",
                              fix=f"pass one of: {listed}")
        return
    if source.cdc is not None:
        raise ConfigError(f"--table {name}: source {source.name!r} captures changes (cdc) for all its tables at once",
                          fix=f"pass --table {source.name} (the whole source)")
    if not _whole_source(source) and table not in {t.name for t in source.tables}:
        raise ConfigError(f"--table {name}: source {source.name!r} lists no table {table!r} under tables:",
                          fix=f"pass one of: {listed}")


def _find_table(config: PipelineConfig, table: str, listed: str) -> tuple[str, str | None]:
    """The one source whose listed tables (or warehouse names) include `table`, else the one reading the catalog."""
    matches: list[tuple[str, str]] = []
    for source in config.sources:
        if isinstance(source, FileSource | EventsSource):
            matches += [(source.name, t.name) for t in source.tables if t.name == table]
        else:
            matches += [(source.name, t.name) for t in source.tables
                        if not t.is_pattern and table in (t.name, source.table_name(t.name))]
    if not matches:
        dynamic = [s for s in config.sources if isinstance(s, DatabaseSource) and _whole_source(s) and s.cdc is None]
        if len(dynamic) == 1:
            return dynamic[0].name, table
        raise ConfigError(f"--table {table}: no source of the pipeline lists a table {table!r}",
                          fix=f"pass one of: {listed} (or source.table for a table a database source finds itself)")
    if len(matches) > 1:
        raise ConfigError(f"--table {table}: sources {', '.join(s for s, _ in matches)} each have a table {table!r}",
                          fix=f"name it with its source: {', '.join(f'{s}.{t}' for s, t in matches)}")
    source_name, found = matches[0]
    _check_table(next(s for s in config.sources if s.name == source_name), found, table, listed)
    return source_name, found
