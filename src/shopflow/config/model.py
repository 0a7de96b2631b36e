"""The model of `shopflow.yml`. Every key is checked before any data moves."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from shopflow.column_types import parse_column_type

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
    """How one column is typed. `round` allows a decimal to lose digits past its scale."""

    type: str
    round: bool = False

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        parse_column_type(value)
        return value


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


Source = Annotated[FileSource, Field(discriminator="type")]


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
        seen: set[str] = set()
        for source in self.sources:
            for table in source.tables:
                if table.name in seen:
                    raise ValueError(f"table {table.name!r} is defined twice; table names are unique across sources")
                seen.add(table.name)
        return self
