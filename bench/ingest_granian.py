"""shopflow's ingest app served by granian instead of uvicorn, for bench/ingest.py --granian (not the default).

BENCH_INGEST_CONFIG=shopflow.yml granian --interface asgi --factory ingest_granian:app ...
"""

from __future__ import annotations

import os
from typing import Any


def app() -> Any:
    """The same ASGI app `shopflow ingest` serves (no flusher), for the pipeline in BENCH_INGEST_CONFIG."""
    from shopflow.config import load_config
    from shopflow.serve.ingest.server import _quiet_gc, build_app
    from shopflow.serve.ingest.service import IngestService

    asgi = build_app(IngestService([load_config(os.environ["BENCH_INGEST_CONFIG"])]))
    _quiet_gc()
    return asgi
