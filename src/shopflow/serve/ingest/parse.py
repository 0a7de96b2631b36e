"""Read a request body as events: one JSON object, a JSON array of them, or NDJSON (one per line)."""

from __future__ import annotations

from typing import Any


class MalformedError(Exception):
    """The body is not JSON, a JSON array or NDJSON; `line` is the 1-based line at fault."""

    def __init__(self, line: int, detail: str) -> None:
        self.line = line
        self.detail = detail
        super().__init__(f"line {line}: {detail}")


def parse_events(body: bytes) -> list[tuple[Any, bytes]]:
    """The events of `body`, each with its JSON text.

    Raises:
        MalformedError: A line (or the document) is not valid JSON.
    """
    import orjson

    text = body.strip()
    if not text:
        raise MalformedError(1, "the body is empty; send a JSON object, a JSON array or NDJSON")
    try:
        whole = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if text[:1] == b"[":
            raise MalformedError(_line_of(text, exc.pos), exc.msg) from None
        return _ndjson(text)
    if isinstance(whole, list):
        return [(item, orjson.dumps(item)) for item in whole]
    return [(whole, text)]


def _ndjson(text: bytes) -> list[tuple[Any, bytes]]:
    import orjson

    events: list[tuple[Any, bytes]] = []
    for number, line in enumerate(text.split(b"\n"), start=1):
        line = line.strip()
        if not line:
            continue
        try:
            events.append((orjson.loads(line), line))
        except orjson.JSONDecodeError as exc:
            raise MalformedError(number, exc.msg) from None
    return events


def _line_of(text: bytes, position: int) -> int:
    return text.count(b"\n", 0, max(position, 0)) + 1
