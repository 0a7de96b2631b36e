"""Connections to a PostgreSQL warehouse: psycopg for control and queries, ADBC for loads.

Errors name the server (`postgresql://user@host:port/database`) and say what to fix; the
password never appears in them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from shopflow.config.model import WarehouseConfig
from shopflow.errors import ConfigError, ShopflowError, WarehouseError

if TYPE_CHECKING:
    import psycopg

CONNECT_TIMEOUT_S = 10
APPLICATION_NAME = "shopflow"

# `?` outside quotes and comments is a parameter: string literals (E'' with backslash escapes),
# quoted identifiers, comments and dollar-quoted bodies are copied as they are.
_SQL_PARTS = re.compile(
    r"""(?P<skip>
        [Ee]'(?:[^'\\]|\\.|'')*'
      | '(?:[^']|'')*'
      | "(?:[^"]|"")*"
      | --[^\n]*
      | /\*.*?\*/
      | \$(?P<tag>[A-Za-z_][A-Za-z0-9_]*|)\$.*?\$(?P=tag)\$
    )
    | (?P<mark>\?)""",
    re.S | re.X,
)


def conninfo(config: WarehouseConfig, *, read_only: bool = False) -> str:
    """A libpq connection string for `config`: UTC sessions, named `shopflow` in pg_stat_activity."""
    from psycopg.conninfo import make_conninfo

    options = "-c TimeZone=UTC"
    if read_only:
        options += " -c default_transaction_read_only=on"
    password = config.password.get_secret_value() if config.password is not None else None
    return make_conninfo(
        host=config.host, port=config.port, user=config.user, dbname=config.database, password=password,
        options=options, application_name=APPLICATION_NAME, connect_timeout=CONNECT_TIMEOUT_S,
    )


def connect_control(config: WarehouseConfig, *, read_only: bool = False) -> psycopg.Connection[Any]:
    """An autocommit psycopg connection; raises WarehouseError if the server cannot be reached or refuses."""
    import psycopg

    try:
        return psycopg.connect(conninfo(config, read_only=read_only), autocommit=True)
    except psycopg.OperationalError as exc:
        raise connection_error(config, exc) from None


def connect_loader(config: WarehouseConfig) -> Any:
    """An ADBC connection (autocommit; loads open their own transaction) for COPY-speed ingest."""
    try:
        import adbc_driver_postgresql.dbapi as adbc
        from adbc_driver_manager import Error as AdbcError
    except ImportError as exc:
        raise WarehouseError(
            "the PostgreSQL warehouse needs the ADBC PostgreSQL driver, which is not installed",
            fix="pip install adbc-driver-postgresql (it comes with shopflow; reinstall shopflow if it is missing)",
        ) from exc
    try:
        return adbc.connect(conninfo(config), autocommit=True)
    except AdbcError as exc:
        raise connection_error(config, exc) from None


def connection_error(config: WarehouseConfig, exc: BaseException) -> ShopflowError:
    """A WarehouseError for a failed connection (ConfigError for a missing database): what failed, what to change."""
    reason = scrub(str(exc), config).strip().splitlines()
    detail = " ".join(line.strip() for line in reason if line.strip())
    lowered = detail.lower()
    if "password" in lowered or "authentication failed" in lowered:
        fix = (
            f"check warehouse.user ({config.user!r}) and the password: put `password: ${{PGPASSWORD}}` in "
            "shopflow.yml and export PGPASSWORD with the right one"
        )
    elif f'database "{config.database.lower()}" does not exist' in lowered:
        # A configuration problem, not an outage: exit 2, with the command that fixes it.
        return ConfigError(
            f"the PostgreSQL warehouse database {config.database!r} does not exist on {config.host}:{config.port}",
            fix=f"create it: createdb -h {config.host} -p {config.port} -U {config.user} {config.database} "
            "(or CREATE DATABASE), or correct warehouse.database in shopflow.yml",
            host=config.host, port=config.port, database=config.database,
        )
    elif "role" in lowered and "does not exist" in lowered:
        fix = f"fix warehouse.user or create the role {config.user!r} on the server"
    else:
        fix = (
            "check warehouse.host and warehouse.port, and that PostgreSQL runs there and accepts TCP "
            "connections from this machine (listen_addresses in postgresql.conf, pg_hba.conf)"
        )
    return WarehouseError(
        f"cannot connect to the PostgreSQL warehouse {config.describe()}: {detail}",
        fix=fix, host=config.host, port=config.port, database=config.database,
    )


def scrub(text: str, config: WarehouseConfig) -> str:
    """`text` with the configured password masked, should a driver ever echo it."""
    if config.password is not None and config.password.get_secret_value():
        text = text.replace(config.password.get_secret_value(), "********")
    return re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1********", text)


def to_pyformat(sql: str) -> str:
    """`sql` with `?` placeholders as psycopg's `%s`, and literal `%` doubled.

    Only `?` outside string literals, quoted identifiers, comments and dollar quotes counts; a
    query with parameters cannot use PostgreSQL's jsonb `?` operators (use `jsonb_exists`).
    """
    out: list[str] = []
    position = 0
    for match in _SQL_PARTS.finditer(sql):
        out.append(sql[position:match.start()].replace("%", "%%"))
        out.append("%s" if match.group("mark") else match.group(0).replace("%", "%%"))
        position = match.end()
    out.append(sql[position:].replace("%", "%%"))
    return "".join(out)
