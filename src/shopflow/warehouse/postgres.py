"""The PostgreSQL warehouse: raw tables loaded from the lake by binary COPY, one transaction per load.

Two connections: a psycopg one (autocommit) holds the run's advisory lock and answers queries
with faithful Python values (numeric -> Decimal); an ADBC one runs each load, staging the
lake's Arrow batches by COPY and applying them with the shared SQL of `warehouse.apply`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from shopflow.config.model import WarehouseConfig
from shopflow.errors import WarehouseError
from shopflow.sql import qualified
from shopflow.warehouse.apply import ensure_state
from shopflow.warehouse.base import RAW_SCHEMA, STATE_SCHEMA, LoadJob, LoadResult, T, Warehouse
from shopflow.warehouse.postgres_connect import connect_control, connect_loader, scrub, to_pyformat
from shopflow.warehouse.postgres_session import PostgresSession
from shopflow.warehouse.session import LoadSession

log = logging.getLogger(__name__)

# One advisory lock per warehouse database ("shopflow" as a bigint): PostgreSQL scopes advisory
# locks to the current database, so runs into other databases of the same server do not wait.
LOCK_KEY = int.from_bytes(b"shopflow", "big")


class PostgresWarehouse(Warehouse):
    """A PostgreSQL database holding `raw.*` and `_shopflow.*`.

    Opening it for writing takes a session advisory lock, so a second run against the same
    database fails at once instead of interleaving loads; the lock goes with the connection.

    Args:
        config: Host, port, user, password and database.
        read_only: Queries only (status): no lock, no loader connection, read-only transactions.
    """

    def __init__(self, config: WarehouseConfig, *, read_only: bool = False) -> None:
        self.config = config
        self._con = connect_control(config, read_only=read_only)
        self._loader: Any = None
        if read_only:
            return
        try:
            self._lock()
            self._loader = connect_loader(config)
            self._transaction(ensure_state)
        except BaseException as exc:
            self.close()
            if self._is_driver_error(exc):
                raise WarehouseError(
                    f"cannot prepare the PostgreSQL warehouse {config.describe()}: {self._driver_error_text(exc)}",
                    fix=(
                        f"the user {config.user!r} needs to create the schemas {RAW_SCHEMA} and {STATE_SCHEMA}: "
                        f'GRANT CREATE ON DATABASE "{config.database}" TO "{config.user}", or create them yourself'
                    ),
                    host=config.host, port=config.port, database=config.database,
                ) from exc
            raise

    def table_exists(self, schema: str, table: str) -> bool:
        """True if the table `schema.table` exists."""
        row = self._con.execute("SELECT to_regclass(%s) IS NOT NULL", [qualified(schema, table)]).fetchone()
        return bool(row and row[0])

    def load(self, job: LoadJob) -> LoadResult:
        """Apply `job` in one transaction; roll back everything on any error.

        Raises:
            WarehouseError: The warehouse was opened read-only, or the load failed (see `Warehouse.load`).
        """
        if self._loader is None:
            raise WarehouseError(f"the warehouse {self.config.describe()} was opened read-only", fix="open it to load")
        return super().load(job)

    def query(self, sql: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
        """Run `sql` and return its rows; `?` marks a parameter, as with DuckDB."""
        cursor = self._con.execute(to_pyformat(sql), params) if params else self._con.execute(sql)
        return [tuple(r) for r in cursor.fetchall()] if cursor.description is not None else []

    def close(self) -> None:
        """Close both connections; the advisory lock is released with the first."""
        if self._loader is not None:
            self._loader.close()
            self._loader = None
        self._con.close()

    def _transaction(self, work: Callable[[LoadSession], T]) -> T:
        """Run `work(session)` between BEGIN and COMMIT on the loader; ROLLBACK if it raises."""
        session = PostgresSession(self._loader)
        session.execute("BEGIN")
        # A load is a few large statements: compiling them (JIT) costs more than it saves. A merge looks
        # up a change's keys in a large table whose pages are mostly cached, so random reads are cheap:
        # with the default cost (4) the planner would scan the whole table for a 1% change.
        session.execute("SET LOCAL jit = off")
        session.execute("SET LOCAL random_page_cost = 1.1")
        try:
            result = work(session)
            session.execute("COMMIT")
        except BaseException as exc:
            try:
                session.execute("ROLLBACK")
            except Exception:  # the connection itself failed: the server rolls back on its own
                log.debug("rollback failed", exc_info=True)
            if session.reader_error is not None and session.reader_error is not exc:
                raise session.reader_error from exc
            raise
        return result

    def _lock(self) -> None:
        row = self._con.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY]).fetchone()
        if row and row[0]:
            return
        holder = self._con.execute(
            "SELECT a.pid, a.application_name, host(a.client_addr), a.backend_start FROM pg_catalog.pg_locks l "
            "JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
            "AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()) "
            "AND l.classid::bigint = %s AND l.objid::bigint = %s AND l.objsubid = 1",
            [LOCK_KEY >> 32, LOCK_KEY & 0xFFFFFFFF],
        ).fetchone()
        who = (
            f" (PostgreSQL backend pid {holder[0]}, application {holder[1] or '?'}, "
            f"client {holder[2] or 'local'}, connected since {holder[3]:%Y-%m-%d %H:%M:%S %Z})"
            if holder else ""
        )
        pid = holder[0] if holder else "<pid>"
        raise WarehouseError(
            f"another shopflow run is loading into the PostgreSQL warehouse {self.config.describe()}{who}",
            fix=(
                "wait for that run to finish and run again; its lock is released when its connection closes "
                f"(if it hangs, end it with SELECT pg_terminate_backend({pid}))"
            ),
            host=self.config.host, port=self.config.port, database=self.config.database,
        )

    def _is_driver_error(self, exc: BaseException) -> bool:
        """True if `exc` is the ADBC driver's (the server refused a statement or the connection broke)."""
        try:
            from adbc_driver_manager import Error as AdbcError
        except ImportError:  # no driver, so no driver error
            return False
        return isinstance(exc, AdbcError)

    def _driver_error_text(self, exc: BaseException) -> str:
        """`exc` with the password scrubbed out."""
        return scrub(str(exc), self.config)
