"""The ingest hot path over real HTTP: concurrent posts keep their own offsets and exact text; checks unchanged."""

from __future__ import annotations

import json
import sqlite3
import threading
from typing import Any

import httpx

from tests.serve.ingest.conftest import Ingest, auth, line


def _logged(ingest: Ingest) -> dict[int, tuple[str, str | None]]:
    con = sqlite3.connect(ingest.folder / "buffer.sqlite")
    try:
        return {int(o): (b, r) for o, b, r in con.execute("SELECT offset, body, reason FROM log_lines")}
    finally:
        con.close()


def test_concurrent_posts_get_their_own_offsets_with_their_exact_text(ingest: Ingest) -> None:
    ingest.start()
    answers: list[tuple[list[str], dict[str, Any]]] = []
    lock = threading.Lock()

    def post(client_number: int) -> None:
        with httpx.Client(base_url=ingest.url, timeout=30) as client:
            for request in range(25):
                size = 1 if request % 3 == 0 else 20  # single events and batches share the writer's group commits
                events = [line(client_number, f"Café \"{request}\" \\ ü", n) for n in range(size)]
                if request % 5 == 4:
                    events[-1] = {**events[-1], "qty": "many"}  # a bad event sends the batch the slow way
                texts = [json.dumps(e, ensure_ascii=False) for e in events]
                answer = client.post("/v1/events/lines", content="\n".join(texts).encode(), headers=auth())
                assert answer.status_code == 200, answer.text
                with lock:
                    answers.append((texts, answer.json()))

    threads = [threading.Thread(target=post, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    logged = _logged(ingest)
    assert len(answers) == 8 * 25
    assert len(logged) == sum(len(texts) for texts, _ in answers)
    for texts, answer in answers:
        first, last = answer["offsets"]
        assert last - first + 1 == len(texts) == answer["accepted"] + answer["quarantined"]
        assert [logged[o][0] for o in range(first, last + 1)] == texts
        reasons = [logged[o][1] for o in range(first, last + 1)]
        assert sum(r is not None for r in reasons) == answer["quarantined"]
        if answer["quarantined"]:
            assert reasons[-1] is not None and "column 'qty'" in reasons[-1]


def test_decimal_values_in_every_accepted_form_pass_and_too_precise_ones_are_quarantined(ingest: Ingest) -> None:
    ingest.start()
    prices: list[Any] = ["2.50", "+1", ".5", 1.25, 7, "00012.30", "1.255", "12345678901.5"]
    body = "\n".join(json.dumps({**line(1, "D", n), "price": p}) for n, p in enumerate(prices))
    with httpx.Client(base_url=ingest.url, timeout=10) as client:
        answer = client.post("/v1/events/lines", content=body, headers=auth()).json()
    assert (answer["accepted"], answer["quarantined"]) == (6, 2)
    assert "event 7: column 'price'" in answer["problems"][0] and "digits after the point" in answer["problems"][0]
    assert answer["problems"][1].startswith("event 8: column 'price'")
