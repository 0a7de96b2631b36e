"""A DuckDB connection with one source database attached read-only, and its errors.

The password goes into a temporary DuckDB secret, never into the attach string, so the
scanners' own error messages cannot show it; every message shopflow builds is scrubbed of it
as well. Errors say what failed (host unreachable, credentials refused, database missing)
and how to fix it.
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from shopflow.config.database import DatabaseSource
from shopflow.errors import SourceError
from shopflow.sql import inline, quote_literal

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

ALIAS = "src"
# Our own sessions are read-only: the in-flight horizon (watermark.py) skips them by this name.
APPLICATION_NAME = "shopflow-extract"
EXTENSIONS = {"postgres": "postgres_scanner", "mysql": "mysql_scanner", "sqlite": "sqlite_scanner"}
_DEFAULTS: dict[str, tuple[int, str]] = {"postgres": (5432, "postgres"), "mysql": (3306, "root")}

_UNREACHABLE = re.compile(
    r"connection refused|could not connect|can't connect|timeout expired|timed out|could not translate host|"
    r"name or service not known|no route to host|unknown mysql server host|network is unreachable|"
    r"invalid response to ssl negotiation|server closed the connection",
    re.IGNORECASE,
)
_CREDENTIALS = re.compile(
    r"password authentication failed|access denied|role .* does not exist|no password supplied|"
    r"authentication failed|pg_hba.conf",
    re.IGNORECASE,
)
_NO_DATABASE = re.compile(r'database ".*" does not exist|unknown database', re.IGNORECASE)


@dataclass(frozen=True)
class Endpoint:
    """Where a source database is, from `url:` or from host, port, user and database."""

    type: str
    host: str = "127.0.0.1"
    port: int = 0
    user: str = ""
    password: str | None = None
    database: str = ""
    path: str = ""
    options: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, source: DatabaseSource) -> Endpoint:
        """The endpoint `source` describes."""
        if source.type == "sqlite":
            assert source.path is not None
            return cls("sqlite", host="", path=source.path)
        port, user = _DEFAULTS[source.type]
        if source.url is not None:
            parts = urlsplit(source.url.get_secret_value())
            return cls(
                source.type, host=parts.hostname or "127.0.0.1", port=parts.port or port,
                user=unquote(parts.username) if parts.username else user,
                password=unquote(parts.password) if parts.password is not None else None,
                database=unquote(parts.path.lstrip("/")), options=dict(parse_qsl(parts.query)),
            )
        return cls(
            source.type, host=source.host or "127.0.0.1", port=source.port or port, user=source.user or user,
            password=source.password.get_secret_value() or None if source.password is not None else None,
            database=source.database or "",
        )

    def describe(self) -> str:
        """`postgres://user@host:port/database` or `sqlite:/path`: never the password."""
        if self.type == "sqlite":
            return f"sqlite:{self.path}"
        return f"{self.type}://{self.user}@{self.host}:{self.port}/{self.database}"

    def scrub(self, text: str) -> str:
        """`text` with the password (plain or URL-encoded) replaced by `***`."""
        if self.password:
            for form in {self.password, quote(self.password, safe=""), quote(self.password)}:
                text = text.replace(form, "***")
        return text


class SourceConnection:
    """A DuckDB connection with `source` attached read-only as `src`.

    Args:
        source: The database source.
        tables: Table names for messages (the ones the run means to read).

    Raises:
        SourceError: The database cannot be reached or refuses the credentials.
    """

    def __init__(self, source: DatabaseSource, tables: list[str] | None = None) -> None:
        from shopflow.engine import connect

        self.source = source
        self.endpoint = Endpoint.of(source)
        self.tables = tables or []
        self.con: duckdb.DuckDBPyConnection = connect(extensions=("json", "icu", EXTENSIONS[source.type]))
        try:
            self._attach()
        except Exception:
            self.con.close()
            raise

    def _attach(self) -> None:
        import duckdb

        ep = self.endpoint
        if ep.type == "sqlite":
            if not Path(ep.path).is_file():
                raise SourceError(
                    f"SQLite database file {ep.path} not found",
                    fix=f"check path: of source {self.source.name!r} (relative paths start at shopflow.yml's folder)",
                    source=self.source.name, table=", ".join(self.tables) or None,
                )
            attach = f"ATTACH {quote_literal(ep.path)} AS {ALIAS} (TYPE sqlite, READ_ONLY)"
        else:
            secret = f"sf_{self.source.name}_{uuid.uuid4().hex[:8]}"
            values = {"HOST": ep.host, "PORT": str(ep.port), "USER": ep.user, "DATABASE": ep.database}
            if ep.password is not None:
                values["PASSWORD"] = ep.password
            spec = ", ".join(f"{k} {quote_literal(v)}" for k, v in values.items())
            self.con.execute(f"CREATE TEMPORARY SECRET {secret} (TYPE {ep.type}, {spec})")
            options = dict(ep.options)
            if ep.type == "postgres":
                options.setdefault("connect_timeout", "10")
                options.setdefault("application_name", APPLICATION_NAME)
            path = " ".join(f"{k}={v}" for k, v in options.items())
            attach = f"ATTACH {quote_literal(path)} AS {ALIAS} (TYPE {ep.type}, SECRET {secret}, READ_ONLY)"
        try:
            self.con.execute(attach)
        except duckdb.Error as exc:
            raise self.error(exc, "connect to") from None

    def error(self, exc: BaseException, action: str = "read", table: str | None = None) -> SourceError:
        """A SourceError for `exc`: what failed, where (never the password) and how to fix it."""
        ep = self.endpoint
        text = ep.scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
        where = ep.describe()
        tables = table or ", ".join(self.tables) or None
        name = self.source.name
        if _UNREACHABLE.search(text):
            message = f"cannot reach the {ep.type} server at {ep.host}:{ep.port}: {text}"
            fix = (f"check host: and port: of source {name!r}, and that the server runs and accepts connections "
                   "from this machine")
        elif _CREDENTIALS.search(text):
            message = f"the {ep.type} server at {ep.host}:{ep.port} refused user {ep.user!r}: {text}"
            fix = f"check user: and password: of source {name!r} (the variable behind ${{...}} may be unset or stale)"
        elif _NO_DATABASE.search(text):
            message = f"database {ep.database!r} does not exist on {ep.host}:{ep.port}"
            fix = f"check database: of source {name!r}"
        else:
            message = f"cannot {action} {where}: {text}"
            fix = f"check the settings of source {name!r} in shopflow.yml"
        return SourceError(message, fix=fix, source=name, host=ep.host or ep.path, table=tables)

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Rows of `sql` on the DuckDB connection."""
        return self.con.execute(*inline(sql, params)).fetchall()  # inlined: binding would import pandas

    def native(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of `sql` run by the source database itself (PostgreSQL or MySQL), in the open transaction."""
        function = {"postgres": "postgres_query", "mysql": "mysql_query"}[self.endpoint.type]
        return self.query(f"SELECT * FROM {function}({quote_literal(ALIAS)}, {quote_literal(sql)})")

    def close(self) -> None:
        """End the transaction, if any, and close the connection."""
        import duckdb

        with contextlib.suppress(duckdb.Error):  # no transaction was open
            self.con.execute("ROLLBACK")
        self.con.close()
