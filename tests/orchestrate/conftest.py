"""Real receivers of alerts (an SMTP server, an HTTP webhook) and a real `shopflow serve` process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from shopflow.config import load_config
from shopflow.orchestrate.ledger import Ledger, RunRecord
from tests.services import free_port


@dataclass
class Webhook:
    """An HTTP server on loopback that keeps every JSON POST, by path."""

    url: str
    posts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [body for p, body in self.posts if p == path]


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    received = Webhook("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            received.posts.append((self.path, json.loads(self.rfile.read(length))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    received.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield received
    server.shutdown()


@dataclass
class Mailbox:
    """An SMTP server (aiosmtpd) on loopback that keeps every message."""

    port: int
    messages: list[Any] = field(default_factory=list)

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    from aiosmtpd.controller import Controller

    box = Mailbox(free_port())

    class Handler:
        async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:  # noqa: N802
            box.messages.append(message_from_bytes(envelope.content))
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()


@dataclass
class Serve:
    """A `shopflow serve` subprocess on a free loopback port."""

    configs: list[Path]
    folder: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    url: str = ""
    starts: int = 0

    def start(self, **env: str) -> Serve:
        self.starts += 1
        out = self.folder / f"serve-{self.starts}.out"
        err = self.folder / f"serve-{self.starts}.err"
        args = [sys.executable, "-m", "shopflow.cli.main", "serve", "--port", "0", "--check-every", "1", "-v"]
        for config in self.configs:
            args += ["-c", str(config)]
        base = {k: v for k, v in os.environ.items() if not k.startswith("SHOPFLOW_PAUSE")}
        with out.open("wb") as stdout, err.open("wb") as stderr:
            self.proc = subprocess.Popen(args, env={**base, **self.env, **env}, stdout=stdout, stderr=stderr,
                                         cwd=self.folder)
        deadline = time.monotonic() + 60
        while "http://" not in out.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"serve did not start:\n{self.logs()}")
            time.sleep(0.05)
        self.url = out.read_text().split(" on ", 1)[1].split()[0]
        return self

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
                         for p in sorted(self.folder.glob(f"serve-{self.starts}.*")))

    def terminate(self, timeout: float = 60) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def get(self, path: str) -> Any:
        import urllib.request

        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return json.loads(response.read())

    def stop_if_running(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()


@pytest.fixture
def serve_process(tmp_path: Path) -> Iterator[Callable[..., Serve]]:
    made: list[Serve] = []

    def make(*configs: Path) -> Serve:
        serve = Serve(list(configs), tmp_path)
        made.append(serve)
        return serve

    yield make
    for serve in made:
        serve.stop_if_running()


def write_yaml(path: Path, values: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(values, sort_keys=False), encoding="utf-8")
    return path


def runs_of(config: Path) -> list[RunRecord]:
    """The pipeline's ledger, oldest first."""
    return list(reversed(Ledger.of(load_config(config)).runs()))


def wait_until(check: Callable[[], object], timeout: float, what: str, serve: Serve | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{serve.logs() if serve else ''}")
        time.sleep(0.1)
