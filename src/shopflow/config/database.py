"""Database sources in `shopflow.yml`: where the database is, which tables it reads and how, and CDC."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from shopflow.config.base import StrictModel, WriteDisposition, check_identifier
from shopflow.naming import normalize_name

DatabaseType = Literal["postgres", "mysql", "sqlite"]
ExtractMode = Literal["full", "incremental"]
ReconcileMode = Literal["delete", "flag", "off"]

_LOOKBACK = re.compile(r"^\s*(\d+)\s*([A-Za-z]*)\s*$")
_LOOKBACK_UNITS = {
    "microseconds": ("us", "microsecond", "microseconds"),
    "milliseconds": ("ms", "millisecond", "milliseconds"),
    "seconds": ("s", "sec", "secs", "second", "seconds"),
    "minutes": ("min", "mins", "minute", "minutes"),
    "hours": ("h", "hour", "hours"),
    "days": ("d", "day", "days"),
    "weeks": ("w", "week", "weeks"),
}
_URL_SCHEMES = {"postgres": ("postgres", "postgresql"), "mysql": ("mysql", "mariadb")}
_DEFAULT_PORTS = {"postgres": 5432, "mysql": 3306}


def parse_lookback(value: str | int) -> tuple[int, str | None]:
    """`"10 minutes"` -> `(10, "minutes")`; a bare number, for an integer cursor, -> `(500, None)`.

    Raises:
        ValueError: Not a number followed by an optional unit (us, ms, seconds, minutes, hours, days, weeks).
    """
    match = _LOOKBACK.match(str(value))
    unit = match.group(2).lower() if match else ""
    units = {alias: name for name, aliases in _LOOKBACK_UNITS.items() for alias in aliases}
    if match is None or (unit and unit not in units):
        raise ValueError(
            f"lookback {value!r} must be a number and a unit, e.g. '10 minutes', '2 hours', '1 day' "
            "(or a bare number of ids for an integer cursor)"
        )
    return int(match.group(1)), units[unit] if unit else None


def is_pattern(name: str) -> bool:
    """True if `name` is a glob (`*`, `?`, `[...]`) rather than one table's name."""
    return any(c in name for c in "*?[")


class DatabaseTableOptions(StrictModel):
    """How a database table is extracted; a table's own values win over the source's `defaults:`."""

    mode: ExtractMode | None = Field(None, description="full (every run reads the table) or incremental (by cursor)")
    cursor: str | None = Field(None, description="the column that grows on every insert and update")
    write_disposition: WriteDisposition | None = Field(
        None, description="default: replace for full, merge for incremental and for tables with deletes"
    )
    lookback: str | int | None = Field(None, description="re-read this far behind the watermark, e.g. '10 minutes'")
    soft_delete: str | None = Field(None, description="a column that marks a row deleted: true, or a timestamp set")
    reconcile: ReconcileMode | None = Field(
        None, description="each run, find rows gone from the source and delete them (or flag them with _sf_deleted)"
    )

    @field_validator("lookback")
    @classmethod
    def _lookback(cls, value: str | int | None) -> str | int | None:
        if value is not None:
            parse_lookback(value)
        return value


class DatabaseTable(DatabaseTableOptions):
    """One table of a database source, or a glob (`audit_*`) of tables sharing settings."""

    name: str = Field(description="the table's name in the source, or a glob")
    primary_key: list[str] | None = Field(None, description="default: the table's primary key in the source")
    exclude_columns: list[str] = Field(default_factory=list, description="columns never read (PII)")
    filter: str | None = Field(None, description="a SQL predicate rows must meet, e.g. \"country = 'GB'\"")

    @field_validator("primary_key", "exclude_columns", mode="before")
    @classmethod
    def _list(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("table name must not be empty")
        return value

    @property
    def is_pattern(self) -> bool:
        """True if `name` is a glob."""
        return is_pattern(self.name)


@dataclass(frozen=True)
class TableSettings:
    """The settings one database table is extracted with: its entry, else the matching glob, over the defaults."""

    mode: ExtractMode = "full"
    cursor: str | None = None
    write_disposition: WriteDisposition | None = None
    lookback: str | int | None = None
    soft_delete: str | None = None
    reconcile: ReconcileMode = "off"
    primary_key: tuple[str, ...] | None = None
    exclude_columns: tuple[str, ...] = ()
    filter: str | None = None

    def check(self, where: str) -> None:
        """Raise ValueError naming `where` if the settings contradict each other."""
        if self.mode == "incremental" and not self.cursor:
            raise ValueError(f"{where} uses mode: incremental, which needs cursor: (e.g. cursor: updated_at)")
        if self.mode == "incremental" and self.write_disposition == "replace":
            raise ValueError(
                f"{where} uses mode: incremental with write_disposition: replace, which would keep only the rows "
                "changed since the last run; use merge (or append), or mode: full"
            )
        if self.lookback is not None and self.write_disposition == "append":
            raise ValueError(
                f"{where} sets lookback with write_disposition: append, which would load each row read again "
                "a second time; use write_disposition: merge (rows read again then replace themselves), or remove "
                "lookback"
            )
        deletes = [k for k, v in (("soft_delete", self.soft_delete), ("reconcile", self.reconcile != "off")) if v]
        if deletes and self.write_disposition in ("append", "replace"):
            raise ValueError(
                f"{where} sets {' and '.join(deletes)}, which needs write_disposition: merge "
                f"(it has {self.write_disposition})"
            )


class CdcOptions(StrictModel):
    """Change data capture (PostgreSQL logical replication) instead of reading the tables each run."""

    slot: str | None = Field(None, description="the slot shopflow owns; default shopflow_<pipeline>_<source>")
    publication: str | None = Field(None, description="the publication of the captured tables; default the slot's name")
    max_changes_per_batch: int = Field(500_000, gt=0, description="changes per lake commit (whole transactions)")
    max_lag_bytes: int = Field(1 << 30, gt=0, description="warn when the slot holds back more WAL than this")
    batch_rows: int = Field(50_000, gt=0, description="rows per Arrow batch while reading")


class DatabaseSource(StrictModel):
    """Tables of a PostgreSQL, MySQL/MariaDB or SQLite database, read through DuckDB's scanners."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str
    type: DatabaseType
    url: SecretStr | None = Field(None, description="postgresql://user:${PGPASSWORD}@host:5432/db, instead of host...")
    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: SecretStr | None = Field(None, description="use ${VAR}; never write it in the file")
    database: str | None = None
    path: str | None = Field(None, description="the SQLite file (type: sqlite), relative to shopflow.yml")
    schema_name: str | None = Field(
        None, alias="schema", description="default: public (postgres), the database (mysql), main (sqlite)"
    )
    prefix: str = Field("", description="put before each table's name in the lake and warehouse, e.g. 'crm_'")
    include: list[str] | None = Field(None, description="globs of tables to read; default all, or only `tables:`")
    exclude: list[str] = Field(default_factory=list, description="globs of tables not to read")
    defaults: DatabaseTableOptions = Field(default_factory=DatabaseTableOptions)
    tables: list[DatabaseTable] = Field(default_factory=list)
    cdc: CdcOptions | None = Field(None, description="capture changes by logical replication (postgres only)")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_identifier(value, "source name")

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if value:
            check_identifier(value, "prefix")
        return value.lower()

    def table_name(self, table: str) -> str:
        """The name of source table `table` in the lake and the warehouse: prefix + snake_case."""
        return self.prefix + normalize_name(table)

    @field_validator("include", "exclude", mode="before")
    @classmethod
    def _globs(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> DatabaseSource:
        server_keys = [k for k in ("url", "host", "port", "user", "password", "database") if k in self.model_fields_set]
        if self.type == "sqlite":
            if server_keys:
                raise ValueError(f"{', '.join(server_keys)} do not apply to type: sqlite; give path: to the file")
            if not self.path:
                raise ValueError("type: sqlite needs path: the database file")
        else:
            if self.path is not None:
                raise ValueError(
                    f"path applies to type: sqlite only; a {self.type} source takes url, or host and database"
                )
            if self.url is not None:
                both = [k for k in server_keys if k != "url"]
                if both:
                    raise ValueError(f"give url or {', '.join(both)}, not both")
                scheme = self.url.get_secret_value().split("://", 1)[0].lower()
                if scheme not in _URL_SCHEMES[self.type]:
                    raise ValueError(f"url of a {self.type} source must start with {_URL_SCHEMES[self.type][0]}://")
            elif not self.database:
                raise ValueError(f"a {self.type} source needs database: (or url:)")
        if self.cdc is not None:
            self._check_cdc()
        exact = [t.name for t in self.tables if not t.is_pattern]
        twice = sorted({n for n in exact if exact.count(n) > 1})
        if twice:
            raise ValueError(f"table {twice[0]!r} is listed twice under tables:")
        self.settings_for("").check("defaults")
        for table in self.tables:
            self.settings_for(table.name).check(f"table {table.name!r}")
        return self

    def _check_cdc(self) -> None:
        if self.type != "postgres":
            raise ValueError(f"cdc: needs type: postgres (logical replication); this source is {self.type}")
        if not self.tables or any(t.is_pattern for t in self.tables):
            raise ValueError("cdc: captures the tables listed by name under tables: (no globs); list them")
        for table in self.tables:
            odd = [k for k in ("mode", "cursor", "lookback", "soft_delete", "reconcile", "filter", "write_disposition")
                   if getattr(table, k)] + (["exclude_columns"] if table.exclude_columns else [])
            if odd:
                raise ValueError(
                    f"table {table.name!r}: {', '.join(odd)} do not apply with cdc: (every change is captured and "
                    "merged by primary key); remove them"
                )

    def entry_for(self, table: str) -> DatabaseTable | None:
        """The `tables:` entry of `table`: its own, else the first glob it matches."""
        for entry in self.tables:
            if not entry.is_pattern and entry.name == table:
                return entry
        return next((e for e in self.tables if e.is_pattern and fnmatchcase(table, e.name)), None)

    def settings_for(self, table: str) -> TableSettings:
        """The effective settings of `table`: its entry over `defaults:`."""
        entry = self.entry_for(table)
        options = {k: getattr(self.defaults, k) for k in DatabaseTableOptions.model_fields}
        if entry is not None:
            own = {k: getattr(entry, k) for k in DatabaseTableOptions.model_fields}
            options.update({k: v for k, v in own.items() if v is not None})
        return TableSettings(
            mode=options["mode"] or "full",
            cursor=options["cursor"],
            write_disposition=options["write_disposition"],
            lookback=options["lookback"],
            soft_delete=options["soft_delete"],
            reconcile=options["reconcile"] or "off",
            primary_key=tuple(entry.primary_key) if entry is not None and entry.primary_key is not None else None,
            exclude_columns=tuple(entry.exclude_columns) if entry is not None else (),
            filter=entry.filter if entry is not None else None,
        )

    def selects(self, table: str) -> bool:
        """True if the source reads `table`: listed, or matched by include (default all) and not excluded."""
        if any(not e.is_pattern and e.name == table for e in self.tables):
            return True
        include = self.include if self.include is not None else ([] if self.tables else ["*"])
        chosen = any(fnmatchcase(table, g) for g in include) or any(
            e.is_pattern and fnmatchcase(table, e.name) for e in self.tables
        )
        return chosen and not any(fnmatchcase(table, g) for g in self.exclude)

    @property
    def source_schema(self) -> str:
        """The schema tables are read from: `schema:`, else public (postgres), the database (mysql), main (sqlite)."""
        if self.schema_name:
            return self.schema_name
        return {"postgres": "public", "sqlite": "main"}.get(self.type, self.database or self._url_database() or "")

    def _url_database(self) -> str | None:
        if self.url is None:
            return None
        path = urlsplit(self.url.get_secret_value()).path.lstrip("/")
        return unquote(path) or None

    def describe(self) -> str:
        """Where the database is, for messages: never the password."""
        if self.type == "sqlite":
            return f"sqlite:{self.path}"
        if self.url is not None:
            parts = urlsplit(self.url.get_secret_value())
            user = f"{unquote(parts.username)}@" if parts.username else ""
            port = f":{parts.port}" if parts.port else ""
            return f"{self.type}://{user}{parts.hostname or ''}{port}/{self._url_database() or ''}"
        user = f"{self.user}@" if self.user else ""
        where = f"{self.host or '127.0.0.1'}:{self.port or _DEFAULT_PORTS[self.type]}"
        return f"{self.type}://{user}{where}/{self.database}"
