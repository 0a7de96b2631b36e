"""What change data capture from one PostgreSQL database needs: where, which slot and tables, limits."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from shopflow.errors import ConfigError
from shopflow.naming import normalize_name

# Slot and publication names are used unquoted in replication commands and option lists.
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_TABLE = re.compile(r"^(?:(?P<schema>[^.\s]+)\.)?(?P<table>[^.\s]+)$")


@dataclass(frozen=True)
class CdcTable:
    """One captured table.

    Attributes:
        schema: The PostgreSQL schema, e.g. `public`.
        table: The table's name in PostgreSQL.
        name: The table's name in the lake and the warehouse (snake_case).
    """

    schema: str
    table: str
    name: str

    @classmethod
    def parse(cls, text: str, name: str | None = None) -> CdcTable:
        """`public.orders` (or `orders`, schema public) as a table; `name` defaults to the table's."""
        match = _TABLE.match(text.strip())
        if not match:
            raise ConfigError(f"{text!r} is not a table name", fix="write tables as schema.table, e.g. public.orders")
        table = match.group("table")
        return cls(match.group("schema") or "public", table, name or normalize_name(table))

    @property
    def qualified(self) -> str:
        """`schema.table`, for messages."""
        return f"{self.schema}.{self.table}"


@dataclass(frozen=True)
class CdcSettings:
    """Change data capture settings of one database source.

    Attributes:
        url: The database, `postgresql://user:password@host:port/db`; the user needs the
            REPLICATION attribute (or rds_replication / azure_pg_admin on managed services)
            and ownership of the tables (for the publication).
        slot: The logical replication slot shopflow creates and owns.
        publication: The publication shopflow creates for `tables` (or extends if it exists).
        tables: The captured tables.
        max_changes_per_batch: Changes read per lake commit (whole transactions, so a commit
            may hold more). Bounds the work a crash repeats, not memory: rows spool to disk.
        max_lag_bytes: WAL retained by the slot above which each run warns.
        batch_rows: Rows per Arrow record batch while reading.
    """

    url: str
    slot: str
    publication: str
    tables: tuple[CdcTable, ...]
    max_changes_per_batch: int = 500_000
    max_lag_bytes: int = 1 << 30
    batch_rows: int = 50_000

    def __post_init__(self) -> None:
        for what, value in (("slot", self.slot), ("publication", self.publication)):
            if not _NAME.match(value):
                raise ConfigError(
                    f"{what} name {value!r} is not valid",
                    fix=f"use 1 to 63 lower-case letters, digits and _ for the {what}, starting with a letter or _",
                )
        if not self.tables:
            raise ConfigError("change data capture needs at least one table", fix="list tables as schema.table")
        names = [t.name for t in self.tables]
        if len(set(names)) != len(names):
            raise ConfigError(f"two captured tables share a name: {sorted(names)}", fix="give each table its own name")
        if self.max_changes_per_batch < 1 or self.batch_rows < 1 or self.max_lag_bytes < 0:
            raise ConfigError("max_changes_per_batch and batch_rows must be positive, max_lag_bytes at least 0")

    def table_for(self, schema: str, table: str) -> CdcTable | None:
        """The captured table `schema.table`, or None if it is not captured."""
        return next((t for t in self.tables if (t.schema, t.table) == (schema, table)), None)

    def describe(self) -> str:
        """The database for messages, without the password."""
        return redact(self.url)


def redact(url: str) -> str:
    """`url` without its password."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<database url>"
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit((parts.scheme, f"{user}{host}", parts.path, "", ""))


def parse_lsn(text: str) -> int:
    """`16/B374D848` as an integer."""
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def format_lsn(value: int) -> str:
    """An integer LSN in PostgreSQL's notation, `16/B374D848`."""
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"
