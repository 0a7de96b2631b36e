"""The load generator of bench/ingest.py: keep-alive POSTs of one body from many connections, in its own process.

wrk (Debian's `wrk`, C, one thread) is used when it is installed: it costs ~15 us of CPU per
request, a fraction of what the server spends, so it steals little of the 2 cores it shares
with the server. Without it, an asyncio client on raw sockets (uvloop) runs in a separate
process (`python bench/ingest_load.py URL BODY CONNECTIONS SECONDS`), ~4x wrk's CPU per request.
Both count requests answered 2xx and report the p50/p99 latency of a request.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

TOKEN = "bench-token"

_WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer %s"
wrk.headers["Content-Type"] = "application/x-ndjson"
local f = io.open("%s", "rb")
wrk.body = f:read("*a")
f:close()
done = function(summary, latency, requests)
  io.write(string.format("RESULT {\\"requests\\": %%d, \\"refused\\": %%d, \\"errors\\": %%d, \\"p50_us\\": %%d, " ..
    "\\"p99_us\\": %%d, \\"duration_us\\": %%d}\\n", summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), summary.duration))
end
"""


@dataclass
class Load:
    """What one load run measured."""

    tool: str
    requests: int  # answered 2xx
    refused: int  # answered otherwise, or failed
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        """Requests answered 2xx per second."""
        return self.requests / self.seconds


def run_load(url: str, body: bytes, connections: int, seconds: float) -> Load:
    """POST `body` to `url` from `connections` keep-alive connections for `seconds`; wrk if installed."""
    with tempfile.TemporaryDirectory(prefix="shopflow-bench-load-") as tmp:
        body_file = Path(tmp) / "body"
        body_file.write_bytes(body)
        wrk = shutil.which("wrk")
        if wrk is not None:
            script = Path(tmp) / "post.lua"
            script.write_text(_WRK_SCRIPT % (TOKEN, body_file), encoding="utf-8")
            out = subprocess.run(
                [wrk, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s", "-s", str(script), url],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            found = json.loads(next(line for line in out.splitlines() if line.startswith("RESULT ")).split(" ", 1)[1])
            done = found["requests"] - found["refused"]
            return Load(
                "wrk",
                done,
                found["refused"] + found["errors"],
                found["duration_us"] / 1e6,
                found["p50_us"] / 1000,
                found["p99_us"] / 1000,
            )
        out = subprocess.run(
            [sys.executable, __file__, url, str(body_file), str(connections), str(seconds)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return Load(**json.loads(out))


async def _client(url: str, body: bytes, seconds: float, latencies: list[float], counts: list[int]) -> None:
    host = url.split("//", 1)[1].split("/", 1)[0]
    path = "/" + url.split("//", 1)[1].split("/", 1)[1]
    address, port = host.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(address, int(port))
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Content-Type: application/x-ndjson\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        started = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length"))
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - started)
        counts[0 if head.split(b" ")[1].startswith(b"2") else 1] += 1
    writer.close()


def _asyncio_load(url: str, body: bytes, connections: int, seconds: float) -> Load:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    latencies: list[float] = []
    counts = [0, 0]

    async def everyone() -> None:
        await asyncio.gather(*(_client(url, body, seconds, latencies, counts) for _ in range(connections)))

    started = time.perf_counter()
    asyncio.run(everyone())
    elapsed = time.perf_counter() - started
    latencies.sort()
    return Load(
        "asyncio client",
        counts[0],
        counts[1],
        elapsed,
        latencies[len(latencies) // 2] * 1000,
        latencies[int(len(latencies) * 0.99)] * 1000,
    )


if __name__ == "__main__":
    target, body_path, conns, secs = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    print(json.dumps(_asyncio_load(target, body_path.read_bytes(), conns, secs).__dict__))
