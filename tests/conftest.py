"""Session fixtures: real S3 (moto server) and Azure Blob (Azurite), and a location per backend.

`store` is parametrised over folder, s3 and azure, so one suite of file-source tests runs
against all three. Each test gets its own bucket or container.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.services import AzureServer, PostgresServer, S3Server, azurite, moto_s3, postgres

ROOT = Path(__file__).resolve().parents[1]
GLOSSIER_DATA = ROOT / "examples" / "glossier" / "data"
GLOSSIER_MORE = ROOT / "examples" / "glossier" / "more_data"


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    with moto_s3() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL: the machine's, or one this session starts."""
    with postgres() as server:
        yield server


@pytest.fixture(scope="session")
def logical_postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL with wal_level=logical, for change data capture."""
    with postgres(logical=True) as server:
        yield server


@pytest.fixture
def postgres_database(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh database for one test; yields its URL and drops it afterwards."""
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def azure_server() -> Iterator[AzureServer]:
    with azurite() as server:
        yield server


@dataclass
class Store:
    """A place to drop files: a local folder, an S3 bucket or an Azure container."""

    kind: str
    url: str
    storage: dict[str, Any]
    _local: Path | None = None
    _s3: S3Server | None = None
    _azure: AzureServer | None = None

    def put(self, name: str, data: bytes) -> str:
        """Write `data` at `name` below the store; return its full URL."""
        if self.kind == "folder":
            assert self._local is not None
            path = self._local / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            return str(path)
        bucket, _, prefix = self.url.split("://", 1)[1].partition("/")
        key = f"{prefix}/{name}" if prefix else name
        if self.kind == "s3":
            assert self._s3 is not None
            self._s3.client().put_object(Bucket=bucket, Key=key, Body=data)
        else:
            assert self._azure is not None
            self._azure.container_client(bucket).upload_blob(key, data, overwrite=True)
        return f"{self.url}/{name}"

    def delete(self, name: str) -> None:
        if self.kind == "folder":
            assert self._local is not None
            (self._local / name).unlink()
            return
        bucket, _, prefix = self.url.split("://", 1)[1].partition("/")
        key = f"{prefix}/{name}" if prefix else name
        if self.kind == "s3":
            assert self._s3 is not None
            self._s3.client().delete_object(Bucket=bucket, Key=key)
        else:
            assert self._azure is not None
            self._azure.container_client(bucket).delete_blob(key)


def make_store(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Store:
    name = f"t{uuid.uuid4().hex[:12]}"
    if kind == "folder":
        folder = tmp_path / "drop"
        folder.mkdir()
        return Store("folder", str(folder), {}, _local=folder)
    if kind == "s3":
        s3: S3Server = request.getfixturevalue("s3_server")
        s3.client().create_bucket(Bucket=name)
        storage = {"s3": {"endpoint_url": s3.endpoint, "access_key_id": s3.key,
                          "secret_access_key": s3.secret, "region": s3.region}}
        return Store("s3", f"s3://{name}/drop", storage, _s3=s3)
    azure: AzureServer = request.getfixturevalue("azure_server")
    azure.container_client(name).create_container()
    return Store("azure", f"az://{name}/drop", {"azure": {"connection_string": azure.connection_string}}, _azure=azure)


@pytest.fixture(params=["folder", "s3", "azure"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """A file drop on each backend in turn."""
    return make_store(request.param, tmp_path, request)
