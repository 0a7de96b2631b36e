"""The model of `shopflow.yml`. Every key is checked before any data moves.

The pipeline, its file sources, warehouse, storage and transform; database sources are in
`config.database`.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from shopflow.column_types import parse_column_type
from shopflow.config.base import StrictModel, WriteDisposition, check_identifier
from shopflow.config.database import DatabaseSource
from shopflow.config.schedule import AlertTarget, FreshnessConfig, RetryPolicy, ScheduleConfig
from shopflow.config.spark import SparkConfig

FileFormat = Literal["json", "jsonl", "csv", "parquet", "xlsx"]
NestedMode = Literal["table", "flatten", "json"]


class ColumnSpec(StrictModel):
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


class NestedConfig(StrictModel):
    """What becomes of nested values: lists of records and objects."""

    lists: NestedMode = Field("table", description="lists become child tables by default")
    objects: NestedMode = Field("flatten", description="objects are flattened to a__b columns by default")
    columns: dict[str, NestedMode] = Field(default_factory=dict)


class CsvOptions(StrictModel):
    """Options of the CSV reader."""

    delimiter: str = ","
    header: bool = True
    encoding: Literal["utf-8", "latin-1", "utf-16"] = "utf-8"
    quote: str = '"'


class XlsxOptions(StrictModel):
    """Options of the XLSX reader."""

    sheet: str | None = None
    header: bool = True


class TableConfig(StrictModel):
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
        return check_identifier(value, "table name")

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
    engine: Literal["duckdb", "spark"] = Field("duckdb", description="what reads the files: DuckDB, or Spark (spark:)")

    @model_validator(mode="after")
    def _spark_formats(self) -> FileTable:
        if self.engine == "spark" and self.format == "xlsx":
            raise ValueError(f"table {self.name!r}: XLSX files are read by DuckDB only; remove engine: spark")
        return self

    @model_validator(mode="after")
    def _no_shopflow_names(self) -> FileTable:
        from shopflow.naming import SHOPFLOW_PREFIX, lake_name, normalize_name

        named = [*(("primary_key", k) for k in self.primary_key), ("cursor", self.cursor),
                 ("delete_column", self.delete_column)]
        for key, column in named:
            if column and normalize_name(column).startswith(SHOPFLOW_PREFIX):
                renamed = lake_name(column)
                raise ValueError(
                    f"table {self.name!r}: {key} {column!r} starts with {SHOPFLOW_PREFIX}, which names shopflow's own "
                    f"columns; a source column named so loads as {renamed!r}: write {key}: {renamed}"
                )
        return self

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


class FileSource(StrictModel):
    """Files in a folder, an `s3://` bucket or an `az://` container."""

    name: str
    type: Literal["files"]
    location: str
    tables: list[FileTable]

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_identifier(value, "source name")


class S3Settings(StrictModel):
    """Credentials and endpoint for `s3://` locations; unset values fall back to AWS_* variables."""

    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    region: str | None = None


class AzureSettings(StrictModel):
    """Credentials for `az://` locations: a connection string, or an account name and key."""

    connection_string: SecretStr | None = None
    account_name: str | None = None
    account_key: SecretStr | None = None
    endpoint: str | None = None


class StorageConfig(StrictModel):
    """Credentials for object stores, used by sources and the lake alike."""

    s3: S3Settings = Field(default_factory=S3Settings)
    azure: AzureSettings = Field(default_factory=AzureSettings)


_POSTGRES_KEYS = ("host", "port", "user", "password", "database")


class WarehouseConfig(StrictModel):
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


class TransformConfig(StrictModel):
    """The dbt project that models the raw tables, run after each load and by `shopflow transform`."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    project: str = Field("dbt", description="the dbt project folder, relative to shopflow.yml")
    schema_name: str = Field("analytics", alias="schema", description="the warehouse schema models are built in")
    after_run: bool = Field(True, description="run the models as the last step of `shopflow run`")


from shopflow.config.events import EventsSource  # noqa: E402  (it builds on TableConfig above)

Source = Annotated[FileSource | DatabaseSource | EventsSource, Field(discriminator="type")]


class PipelineConfig(StrictModel):
    """The whole pipeline file."""

    pipeline: str
    lake: str = ".shopflow/lake"
    warehouse: WarehouseConfig = Field(default_factory=WarehouseConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    transform: TransformConfig | None = None
    sources: list[Source]
    schedule: ScheduleConfig | None = Field(None, description="when `shopflow serve` runs it (config.schedule)")
    retries: RetryPolicy = Field(default_factory=RetryPolicy)
    freshness: FreshnessConfig | None = None
    alerts: list[AlertTarget] = Field(default_factory=list)
    spark: SparkConfig = Field(default_factory=SparkConfig, description="where tables with engine: spark run")

    @field_validator("pipeline")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_identifier(value, "pipeline name")

    @model_validator(mode="after")
    def _unique_tables(self) -> PipelineConfig:
        # Warehouse names are case-insensitive; a database table is named prefix + snake_case (OrderItems: order_items).
        # Tables a database source selects by glob are checked when they are resolved, at run time.
        seen: set[str] = set()
        for source in self.sources:
            names = (
                [t.name.lower() for t in source.tables] if isinstance(source, FileSource | EventsSource)
                else [source.table_name(t.name) for t in source.tables if not t.is_pattern]
            )
            for name in names:
                if name in seen:
                    raise ValueError(f"table {name!r} is defined twice; table names are unique across sources")
                seen.add(name)
        return self
