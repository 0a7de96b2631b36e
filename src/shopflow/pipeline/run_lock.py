"""One run at a time per warehouse, for the whole run: extract, load and the dbt models.

The warehouse's own lock (DuckDB's file lock, the PostgreSQL warehouse's advisory lock) goes
with its connection, which a run closes before dbt opens the warehouse itself. So a run holds
a lock of its own from its start to its end:

- DuckDB: an exclusive `flock` on `<warehouse file>.lock` beside the database file. The kernel
  releases it when the process ends, even by kill -9; the file itself stays, harmlessly. It
  holds the pid, host and start of the run that holds it, for the second run's message.
- PostgreSQL: a session advisory lock (key RUN_LOCK_KEY, scoped to the warehouse database) on a
  connection of its own, released when that connection closes or its process dies.

A second run fails at once with a WarehouseError naming the run that holds the lock. The lock
is re-entrant within one thread, so a step that locks inside a locked run does not lock itself out.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from shopflow.config.model import WarehouseConfig
from shopflow.errors import WarehouseError

log = logging.getLogger(__name__)

# "sfrunlck" as a bigint: distinct from the load lock of `warehouse.postgres` (b"shopflow").
RUN_LOCK_KEY = int.from_bytes(b"sfrunlck", "big")
APPLICATION = "shopflow-run"  # the lock connection's application_name: `shopflow-run <pid>@<host>`
WAIT_FIX = ("wait for that run to finish, then run again; its lock is released when its process ends, "
            "even if it is killed")

_held = threading.local()  # lock name -> times this thread holds it


@contextmanager
def run_lock(config: WarehouseConfig) -> Iterator[None]:
    """Hold the warehouse's run lock while the block runs.

    Raises:
        WarehouseError: Another run holds it (the message names that run), or it cannot be taken.
    """
    name = lock_path(config) if config.type == "duckdb" else config.describe()
    counts: dict[str, int] = _held.__dict__.setdefault("counts", {})
    if counts.get(name):
        counts[name] += 1
        try:
            yield
        finally:
            counts[name] -= 1
        return
    holder = _lock_file(config) if config.type == "duckdb" else _lock_postgres(config)
    counts[name] = 1
    try:
        yield
    finally:
        counts.pop(name, None)
        holder.close()


def lock_path(config: WarehouseConfig) -> str:
    """The DuckDB warehouse's lock file: `<warehouse file>.lock`."""
    return f"{config.path}.lock"


def _lock_file(config: WarehouseConfig) -> IO[str]:
    path = Path(lock_path(config))
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+", encoding="utf-8")
    try:
        if not _try_lock(handle):
            handle.seek(0)
            raise _busy(config.describe(), _describe_holder(handle.read()), path=str(path))
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
                                 "command": " ".join(sys.argv[:3])}))
        handle.flush()
    except OSError as exc:
        handle.close()
        raise WarehouseError(f"cannot take the run lock {path}: {exc}",
                             fix=f"check that {path.parent} is writable", path=str(path)) from exc
    except BaseException:
        handle.close()
        raise
    return handle


def _try_lock(handle: IO[str]) -> bool:
    """Lock `handle` exclusively without waiting; False if another process (or open file) holds it."""
    try:
        import fcntl
    except ImportError:  # Windows: a byte-range lock, also released when the process ends
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined,unused-ignore]
        except OSError:
            return False
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _describe_holder(text: str) -> str:
    try:
        info = json.loads(text)
        return f"pid {info['pid']} on {info['host']}, started {info['started']}: {info['command']}"
    except (ValueError, KeyError, TypeError):
        return "a process that has not written its name yet"


def _busy(where: str, holder: str, **context: Any) -> WarehouseError:
    return WarehouseError(f"the warehouse {where} is busy: another shopflow run ({holder}) holds it",
                          fix=WAIT_FIX, **context)


class _PostgresLock:
    """The advisory lock's connection; closing it releases the lock."""

    def __init__(self, con: Any) -> None:
        self.con = con

    def close(self) -> None:
        self.con.close()


def _lock_postgres(config: WarehouseConfig) -> _PostgresLock:
    from shopflow.warehouse.postgres_connect import connect_control

    con = connect_control(config)
    try:
        con.execute("SELECT set_config('application_name', %s, false)",
                    [f"{APPLICATION} {os.getpid()}@{socket.gethostname()}"[:63]])
        row = con.execute("SELECT pg_try_advisory_lock(%s)", [RUN_LOCK_KEY]).fetchone()
        if row and row[0]:
            return _PostgresLock(con)
        holder = con.execute(
            "SELECT a.application_name, host(a.client_addr), a.backend_start, a.pid FROM pg_catalog.pg_locks l "
            "JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
            "AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()) "
            "AND l.classid::bigint = %s AND l.objid::bigint = %s AND l.objsubid = 1",
            [RUN_LOCK_KEY >> 32, RUN_LOCK_KEY & 0xFFFFFFFF],
        ).fetchone()
    except BaseException:
        con.close()
        raise
    con.close()
    who = "a run that just ended"
    if holder:
        pid, _, host = str(holder[0] or "").removeprefix(f"{APPLICATION} ").partition("@")
        who = (f"pid {pid} on {host or holder[1] or 'localhost'}, connected since {holder[2]:%Y-%m-%d %H:%M:%S %Z}, "
               f"PostgreSQL backend pid {holder[3]}")
    raise _busy(config.describe(), who, host=config.host, port=config.port, database=config.database)
