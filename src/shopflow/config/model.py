"""The model of `shopflow.yml`. Every key is checked before any data moves."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import PurePosixPath
from typing import Annotated, Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from shopflow.column_types import parse_column_type
from shopflow.naming import normalize_name

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

WriteDisposition = Literal["append", "replace", "merge"]
FileFormat = Literal["json", "jsonl", "csv", "parquet", "xlsx"]
NestedMode = Literal["table", "flatten", "json"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _identifier(value: str, what: str) -> str:
    if not _IDENTIFIER.match(value):
        raise ValueError(f"{what} {value!r} must start with a letter or _ and hold only letters, digits and _")
    return value


class ColumnSpec(_Strict):
    """How one column is typed. `round` allows a decimal to lose digits past its scale.

    `format` is the strptime format of text dates and timestamps, e.g. `%m/%d/%Y %H:%M`; ISO
    8601 text parses too.
    """

    type: str
    round: bool = False
    format: str | None = None

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        parse_column_type(value)
        return value

    @model_validator(mode="after")
    def _format_of_dates(self) -> ColumnSpec:
        if self.format is not None:
            _check_date_format(self.type, self.format)
        return self


_DATE_TYPES = ("DATE", "TIMESTAMP", "TIMESTAMPTZ")


def _check_date_format(column_type: str, fmt: str) -> None:
    """Raise ValueError unless `fmt` is a strptime format DuckDB knows, on a date or timestamp column."""
    if parse_column_type(column_type).sql not in _DATE_TYPES:
        raise ValueError(f"format applies to date, timestamp and timestamptz columns, not to {column_type!r}")
    if "%" not in fmt:
        raise ValueError(f"format {fmt!r} has no % directive; e.g. '%m/%d/%Y %H:%M' reads 12/1/2010 8:26")
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SELECT try_strptime('', ?)", [fmt])
    except duckdb.Error as exc:
        raise ValueError(f"format {fmt!r} is not a strptime format: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()


class NestedConfig(_Strict):
    """What becomes of nested values: lists of records and objects."""

    lists: NestedMode = Field("table", description="lists become child tables by default")
    objects: NestedMode = Field("flatten", description="objects are flattened to a__b columns by default")
    columns: dict[str, NestedMode] = Field(default_factory=dict)


class CsvOptions(_Strict):
    """Options of the CSV reader."""

    delimiter: str = ","
    header: bool = True
    encoding: Literal["utf-8", "latin-1", "utf-16"] = "utf-8"
    quote: str = '"'


class XlsxOptions(_Strict):
    """Options of the XLSX reader."""

    sheet: str | None = None
    header: bool = True


class TableConfig(_Strict):
    """Settings shared by every kind of source table."""

    name: str
    primary_key: list[str] = Field(default_factory=list)
    cursor: str | None = None
    write_disposition: WriteDisposition = "append"
    delete_column: str | None = None
    columns: dict[str, ColumnSpec] = Field(default_factory=dict)
    nested: NestedConfig = Field(default_factory=lambda: NestedConfig())

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _identifier(value, "table name")

    @field_validator("primary_key", mode="before")
    @classmethod
    def _key_list(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("columns", mode="before")
    @classmethod
    def _column_shorthand(cls, value: object) -> object:
        if isinstance(value, dict):
            return {k: {"type": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _merge_needs_key(self) -> TableConfig:
        if self.write_disposition == "merge" and not self.primary_key:
            raise ValueError(
                f"table {self.name!r} uses write_disposition: merge, which needs primary_key "
                "(the column or columns that identify a row)"
            )
        return self


class FileTable(TableConfig):
    """A table made of the files that match a glob."""

    files: str = Field(description="glob relative to the source location, e.g. '*.json' or 'orders/**/*.csv'")
    format: FileFormat | None = None
    records: str | None = Field(None, description="key of the array of records in a JSON document")
    on_file_change: Literal["replace", "append"] = "replace"
    csv: CsvOptions = Field(default_factory=CsvOptions)
    xlsx: XlsxOptions = Field(default_factory=XlsxOptions)

    def format_of(self, path: str) -> FileFormat:
        """The format of `path`: the configured one, else told by its extension."""
        if self.format:
            return self.format
        suffixes = [s.lower() for s in PurePosixPath(path).suffixes if s.lower() not in (".gz", ".gzip")]
        ext = suffixes[-1].lstrip(".") if suffixes else ""
        known: dict[str, FileFormat] = {
            "json": "json", "jsonl": "jsonl", "ndjson": "jsonl", "csv": "csv", "tsv": "csv",
            "txt": "csv", "parquet": "parquet", "xlsx": "xlsx",
        }
        if ext not in known:
            from shopflow.errors import SourceError

            raise SourceError(
                f"cannot tell the format of {path!r} from its extension",
                fix=f"set format: json|jsonl|csv|parquet|xlsx on table {self.name!r}",
                table=self.name,
            )
        return known[ext]


class FileSource(_Strict):
    """Files in a folder, an `s3://` bucket or an `az://` container."""

    name: str
    type: Literal["files"]
    location: str
    tables: list[FileTable]

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _identifier(value, "source name")


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


class DatabaseTableOptions(_Strict):
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
        deletes = [k for k, v in (("soft_delete", self.soft_delete), ("reconcile", self.reconcile != "off")) if v]
        if deletes and self.write_disposition in ("append", "replace"):
            raise ValueError(
                f"{where} sets {' and '.join(deletes)}, which needs write_disposition: merge "
                f"(it has {self.write_disposition})"
            )


class CdcOptions(_Strict):
    """Change data capture (PostgreSQL logical replication) instead of reading the tables each run."""

    slot: str | None = Field(None, description="the slot shopflow owns; default shopflow_<pipeline>_<source>")
    publication: str | None = Field(None, description="the publication of the captured tables; default the slot's name")
    max_changes_per_batch: int = Field(500_000, gt=0, description="changes per lake commit (whole transactions)")
    max_lag_bytes: int = Field(1 << 30, gt=0, description="warn when the slot holds back more WAL than this")
    batch_rows: int = Field(50_000, gt=0, description="rows per Arrow batch while reading")


class DatabaseSource(_Strict):
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
        return _identifier(value, "source name")

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if value and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", value):
            raise ValueError(f"prefix {value!r} must start with a letter or _ and hold only letters, digits and _")
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


class S3Settings(_Strict):
    """Credentials and endpoint for `s3://` locations; unset values fall back to AWS_* variables."""

    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    region: str | None = None


class AzureSettings(_Strict):
    """Credentials for `az://` locations: a connection string, or an account name and key."""

    connection_string: SecretStr | None = None
    account_name: str | None = None
    account_key: SecretStr | None = None
    endpoint: str | None = None


class StorageConfig(_Strict):
    """Credentials for object stores, used by sources and the lake alike."""

    s3: S3Settings = Field(default_factory=S3Settings)
    azure: AzureSettings = Field(default_factory=AzureSettings)


_POSTGRES_KEYS = ("host", "port", "user", "password", "database")


class WarehouseConfig(_Strict):
    """Where loaded tables live: a DuckDB file (the default) or a PostgreSQL database."""

    type: Literal["duckdb", "postgres"] = "duckdb"
    path: str = Field(".shopflow/warehouse.duckdb", description="the DuckDB file (type: duckdb)")
    host: str = Field("127.0.0.1", description="PostgreSQL host (type: postgres)")
    port: int = 5432
    user: str = "postgres"
    password: SecretStr | None = Field(None, description="use ${PGPASSWORD}; never write it in the file")
    database: str = "postgres"

    @model_validator(mode="after")
    def _keys_fit_type(self) -> WarehouseConfig:
        if self.type == "duckdb":
            wrong = [k for k in _POSTGRES_KEYS if k in self.model_fields_set]
            if wrong:
                raise ValueError(f"{', '.join(wrong)} apply to type: postgres only; set type: postgres or remove them")
        elif "path" in self.model_fields_set:
            raise ValueError("path applies to type: duckdb only; a postgres warehouse takes host, port, user, database")
        return self

    def describe(self) -> str:
        """Where the warehouse is, for messages (never the password)."""
        if self.type == "duckdb":
            return self.path
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"


class TransformConfig(_Strict):
    """The dbt project that models the raw tables, run after each load and by `shopflow transform`."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    project: str = Field("dbt", description="the dbt project folder, relative to shopflow.yml")
    schema_name: str = Field("analytics", alias="schema", description="the warehouse schema models are built in")
    after_run: bool = Field(True, description="run the models as the last step of `shopflow run`")


Source = Annotated[FileSource | DatabaseSource, Field(discriminator="type")]


class PipelineConfig(_Strict):
    """The whole pipeline file."""

    pipeline: str
    lake: str = ".shopflow/lake"
    warehouse: WarehouseConfig = Field(default_factory=WarehouseConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    transform: TransformConfig | None = None
    sources: list[Source]

    @field_validator("pipeline")
    @classmethod
    def _name(cls, value: str) -> str:
        return _identifier(value, "pipeline name")

    @model_validator(mode="after")
    def _unique_tables(self) -> PipelineConfig:
        # Warehouse names are case-insensitive; a database table is named prefix + snake_case (OrderItems: order_items).
        # Tables a database source selects by glob are checked when they are resolved, at run time.
        seen: set[str] = set()
        for source in self.sources:
            names = (
                [t.name.lower() for t in source.tables] if isinstance(source, FileSource)
                else [source.table_name(t.name) for t in source.tables if not t.is_pattern]
            )
            for name in names:
                if name in seen:
                    raise ValueError(f"table {name!r} is defined twice; table names are unique across sources")
                seen.add(name)
        return self
