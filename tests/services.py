"""Real services for the test session: moto's S3 server and Azurite, started on free loopback ports."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
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
