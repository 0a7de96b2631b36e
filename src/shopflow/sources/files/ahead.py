"""Find the shapes of the next run's JSON documents on a second connection while a run is read.

Reading a run of documents takes two DuckDB passes over them: their shapes
(`json_read.documents`), then the read itself. Each pass runs on one core; finding the shapes
of run k+1 while run k is read keeps a second core busy when the machine has one to spare.

The read keeps DuckDB's own thread count: limiting it to one (`SET threads = 1`) saved CPU on
a loaded machine but took B3 from 10.8 s to 28.6 s on a quiet one (the setting is the whole
database's, so it slowed the other passes too).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from shopflow.sources.files import json_read

if TYPE_CHECKING:
    import duckdb


class DocumentsAhead:
    """One run's documents found ahead, on a cursor of the extract's connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection, records: str | None) -> None:
        self._cursor = con.cursor()
        self._records = records
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shopflow-shapes")
        # Runs started and not taken yet, found one after the other.
        self._pending: dict[tuple[Path, ...], Future[json_read.Documents]] = {}

    def start(self, paths: list[Path]) -> None:
        """Begin finding the documents of `paths`, a run to be read after those started before."""
        self._pending[tuple(paths)] = self._pool.submit(json_read.documents, self._cursor, paths, self._records)

    def documents(self, con: duckdb.DuckDBPyConnection, paths: list[Path]) -> json_read.Documents:
        """The documents of `paths`: those found ahead if started for exactly these files, else found now on `con`.

        A failure ahead is not raised: finding them again on `con` raises it where the caller expects it.
        """
        future = self._pending.pop(tuple(paths), None)
        if future is not None and future.exception() is None:
            return future.result()
        return json_read.documents(con, paths, self._records)

    def close(self) -> None:
        """Wait for the work under way and close the cursor."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._cursor.close()
