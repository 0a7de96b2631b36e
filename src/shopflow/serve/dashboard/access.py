"""The standalone dashboard's own way into the warehouse, never in the way of a run.

DuckDB lets one process write a file, and a reader cannot open it while a writer has it; a
reader holding it open would in turn make the next run fail to open it. So the dashboard never
opens the live file: it reads a private copy, taken while no run writes (checked with the
file's write lock before and after the copy, and the copy discarded if the file changed
meanwhile). While a run holds the file, pages show the last copy and say so. A PostgreSQL
warehouse has no such limit: each page opens a read-only connection.
"""

from __future__ import annotations

import logging
import os
import shutil
import struct
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shopflow.config.model import WarehouseConfig
from shopflow.errors import WarehouseError
from shopflow.serve.dashboard.query import Connector, QueryFn, duckdb_query, psycopg_query

log = logging.getLogger(__name__)


def warehouse_connector(config: WarehouseConfig, snapshots: Path | None = None) -> Connector:
    """A connector that opens the configured warehouse read-only for each page.

    Args:
        config: The pipeline's warehouse.
        snapshots: Where a DuckDB warehouse's copies go (default: a new temporary folder).
    """
    if config.type == "postgres":
        return _postgres_connector(config)
    return DuckDBSnapshots(Path(config.path), snapshots).connect


def _postgres_connector(config: WarehouseConfig) -> Connector:
    from shopflow.warehouse.postgres_connect import connect_control

    @contextmanager
    def connect() -> Iterator[QueryFn]:
        con = connect_control(config, read_only=True)
        try:
            yield psycopg_query(con)
        finally:
            con.close()

    return connect


def write_locked(path: Path) -> bool:
    """True if another process holds `path` open for writing (DuckDB's lock on its file).

    Asks the kernel (F_GETLK) without taking a lock, so it never gets in a writer's way. Where
    that is not available (not Linux), tries a read-only open instead, which can.
    """
    if sys.platform.startswith("linux"):
        import fcntl

        fd = os.open(path, os.O_RDONLY)
        try:
            # struct flock on Linux: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid.
            probe = struct.pack("hhqqi", fcntl.F_RDLCK, os.SEEK_SET, 0, 0, 0)
            answer = fcntl.fcntl(fd, fcntl.F_GETLK, probe)
            return bool(struct.unpack("hhqqi", answer)[0] != fcntl.F_UNLCK)
        finally:
            os.close(fd)
    import duckdb

    try:
        duckdb.connect(str(path), read_only=True).close()
    except duckdb.IOException:
        return True
    return False


def _signature(path: Path) -> tuple[int, int, int, int]:
    """Size and modification time of the file and of its write-ahead log: changes when either does."""
    wal = path.with_name(path.name + ".wal")
    main = path.stat()
    log_stat = wal.stat() if wal.exists() else None
    return (main.st_size, main.st_mtime_ns, log_stat.st_size if log_stat else -1,
            log_stat.st_mtime_ns if log_stat else -1)


@dataclass
class _Copy:
    """One copy of the warehouse and the connection that reads it; closed once retired and unused."""

    path: Path
    signature: tuple[int, int, int, int]
    taken_at: datetime
    con: Any
    users: int = 0
    retired: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def release(self) -> None:
        with self.lock:
            self.users -= 1
            done = self.retired and self.users == 0
        if done:
            self.close()

    def close(self) -> None:
        self.con.close()
        for file in (self.path, self.path.with_name(self.path.name + ".wal")):
            file.unlink(missing_ok=True)


class DuckDBSnapshots:
    """Copies of a DuckDB warehouse file, refreshed when the file changed and no run writes it.

    Args:
        path: The live warehouse file.
        folder: Where the copies go (default: a new temporary folder).
    """

    def __init__(self, path: Path, folder: Path | None = None) -> None:
        self.path = path
        self._folder = folder
        self._current: _Copy | None = None
        self._generation = 0
        self._lock = threading.Lock()
        self.stale_reason: str | None = None

    @contextmanager
    def connect(self) -> Iterator[QueryFn]:
        """A query function over the freshest copy that can be had."""
        copy = self._acquire()
        try:
            yield duckdb_query(copy.con)
        finally:
            copy.release()

    def note(self) -> str | None:
        """Why the pages show an older copy, if they do (a run holds the warehouse)."""
        return self.stale_reason

    def _acquire(self) -> _Copy:
        with self._lock:
            self._refresh()
            copy = self._current
            assert copy is not None
            with copy.lock:
                copy.users += 1
            return copy

    def _refresh(self) -> None:
        if not self.path.exists():
            raise WarehouseError(f"warehouse {self.path} does not exist yet",
                                 fix="run the pipeline first: shopflow run -c <its shopflow.yml>")
        signature = _signature(self.path)
        if self._current is not None and self._current.signature == signature:
            self.stale_reason = None
            return
        if write_locked(self.path):
            if self._current is None:
                raise WarehouseError(
                    f"a run is writing the warehouse {self.path}, and the dashboard has no copy of it yet",
                    fix="reload the page once the run has finished",
                )
            self.stale_reason = (f"a run is writing the warehouse: showing it as of "
                                 f"{self._current.taken_at:%Y-%m-%d %H:%M:%S} UTC")
            return
        fresh = self._take(signature)
        if fresh is None:  # the file changed while it was copied: keep the copy there is
            if self._current is None:
                raise WarehouseError(f"the warehouse {self.path} changed while it was read",
                                     fix="reload the page once the run has finished")
            self.stale_reason = "a run started while the warehouse was read: showing the previous copy"
            return
        old, self._current = self._current, fresh
        self.stale_reason = None
        if old is not None:
            with old.lock:
                old.retired = True
                unused = old.users == 0
            if unused:
                old.close()

    def _take(self, signature: tuple[int, int, int, int]) -> _Copy | None:
        """Copy the file (and its log) while no one writes it; None if a writer came or it changed."""
        import duckdb

        from shopflow.engine import load_extension

        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="shopflow-dashboard-"))
        self._folder.mkdir(parents=True, exist_ok=True)
        self._generation += 1
        target = self._folder / f"{self.path.stem}.{self._generation}.duckdb"
        wal = self.path.with_name(self.path.name + ".wal")
        shutil.copyfile(self.path, target)
        if wal.exists():
            shutil.copyfile(wal, target.with_name(target.name + ".wal"))
        if write_locked(self.path) or _signature(self.path) != signature:
            for file in (target, target.with_name(target.name + ".wal")):
                file.unlink(missing_ok=True)
            return None
        con = duckdb.connect(str(target), read_only=True)
        for name in ("json", "icu"):
            load_extension(con, name)
        con.execute("SET TimeZone = 'UTC'")
        log.info("dashboard copy of %s taken (%d bytes)", self.path, signature[0])
        return _Copy(target, signature, datetime.now(UTC), con)

    def close(self) -> None:
        """Close the current copy and delete the copies' folder."""
        with self._lock:
            if self._current is not None:
                self._current.close()
                self._current = None
            if self._folder is not None:
                shutil.rmtree(self._folder, ignore_errors=True)
