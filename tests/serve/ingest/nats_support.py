"""A real NATS JetStream server for the tests, and events pipelines whose buffer is on it.

Like tests/services.py does for PostgreSQL: the machine's server (127.0.0.1:4222) where it
answers, else one started from the `nats-server` binary on a free port. NATS cannot be
installed from a wheel, so with neither the tests are skipped, saying so; a server that is
there but fails to start fails the session.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from tests.serve.ingest.conftest import events_pipeline
from tests.services import _wait_for_port, free_port

MACHINE = "nats://127.0.0.1:4222"
T = TypeVar("T")


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2) as sock:
            return sock.recv(4).startswith(b"INFO")
    except OSError:
        return False


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    """The URL of a NATS server with JetStream."""
    if _answers("127.0.0.1", 4222):
        yield MACHINE
        return
    binary = shutil.which("nats-server")
    if binary is None:
        pytest.skip("no NATS server answers at 127.0.0.1:4222 and no nats-server binary is installed "
                    "(apt-get install nats-server, or run one with JetStream: nats-server -js)")
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="shopflow-nats-"))
    log = folder / "nats.log"
    with log.open("wb") as out:
        process = subprocess.Popen([binary, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(folder)],
                                   stdout=out, stderr=out)
    try:
        _wait_for_port(port, process, "nats-server", log)
        yield f"nats://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def nats_pipeline(folder: Path, url: str, *, streams: tuple[str, ...] = ("lines",), **options: object) -> Path:
    """`events_pipeline` with its buffer on JetStream, under a pipeline name of its own (so a JetStream stream too)."""
    path = events_pipeline(folder, **options)  # type: ignore[arg-type]
    document = yaml.safe_load(path.read_text())
    document["pipeline"] = f"t{uuid.uuid4().hex[:10]}"
    source = document["sources"][0]
    source["buffer"] = url
    template = source["streams"][0]
    source["streams"] = [{**template, "name": name} for name in streams]
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` on a fresh event loop in a thread of its own.

    The main thread may already run a loop (Playwright's sync API keeps one for the browser
    tests' session), where asyncio.run refuses to start another.
    """
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def delete_stream(url: str, name: str) -> None:
    """Delete the JetStream stream `name` if it exists."""
    import nats
    from nats.js.errors import NotFoundError

    async def delete() -> None:
        nc = await nats.connect(url, connect_timeout=5)
        try:
            await nc.jetstream().delete_stream(name)
        except NotFoundError:
            pass
        finally:
            await nc.close()

    _run(delete())


def held(url: str, name: str) -> dict[str, int]:
    """How many messages each subject of the JetStream stream `name` holds."""
    import nats

    async def look() -> dict[str, int]:
        nc = await nats.connect(url, connect_timeout=5)
        try:
            info = await nc.jetstream().stream_info(name, subjects_filter=">")
            return dict(info.state.subjects or {})
        finally:
            await nc.close()

    return _run(look())


@pytest.fixture
def jetstream_cleanup(nats_url: str) -> Iterator[list[str]]:
    """A list to add JetStream stream names to; they are deleted at teardown."""
    names: list[str] = []
    yield names
    for name in names:
        delete_stream(nats_url, name)
