"""Load a source table's pending lake commits into the warehouse, in the background of the next extract."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import pyarrow as pa

from shopflow.config.model import TableConfig
from shopflow.lake.files import LakeFiles
from shopflow.pipeline.layout import LakeLayout
from shopflow.warehouse.base import LoadJob, LoadResult, Warehouse

log = logging.getLogger(__name__)


def load_table(warehouse: Warehouse, layout: LakeLayout, table: TableConfig) -> LoadResult | None:
    """Apply the lake commits of `table` that the warehouse has not applied; None if there are none."""
    applied = warehouse.applied_version(layout.key)
    commits = layout.main.commits(after=applied)
    if not commits:
        return None

    def read(output: str, batches: list[str]) -> pa.RecordBatchReader | None:
        return layout.output(output).read_batches(batches)

    def files(output: str, batches: list[str]) -> LakeFiles | None:
        return layout.output(output).files(batches)

    return warehouse.load(LoadJob(table=table, lake_key=layout.key, commits=commits, read=read, files=files))


class LoadQueue:
    """Loads handed over by a run's extracts, applied one after the other, in order, on one worker thread.

    So the run extracts table n+1 while table n is loaded: the source scan and the warehouse
    insert run in their own DuckDB (or PostgreSQL) engines, neither holding the GIL. The worker is
    the only thread that uses the warehouse until `drain` returns. Nothing about crash safety
    changes: an extract still ends with its lake commit and a load is still one warehouse
    transaction with its ledger row, so a run killed at any moment reruns to the same state.

    A load that raises (a bug, not the ShopflowError the work reports itself) stops the loads
    after it, as a sequential run would stop there; `submit` and `drain` re-raise it.

    Args:
        background: False applies every load at once, in the caller's thread.
    """

    def __init__(self, *, background: bool = True) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shopflow-load") if background else None
        self._futures: list[Future[None]] = []
        self._stopped = threading.Event()

    def submit(self, work: Callable[[], None]) -> None:
        """Queue `work` (one table's load) after those already queued.

        Raises:
            Exception: What an earlier load raised.
        """
        self._raise_failed()
        if self._pool is None:
            work()
            return
        self._futures.append(self._pool.submit(self._run, work))

    def drain(self) -> None:
        """Wait until every queued load is done; re-raise the first one's unexpected error."""
        try:
            for future in self._futures:
                future.result()
        finally:
            self._futures = [f for f in self._futures if not f.done()]

    def close(self) -> None:
        """Drop the loads not started yet and wait for the one running (its transaction ends either way)."""
        self._stopped.set()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> LoadQueue:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        try:
            if exc_type is None:
                self.drain()
        finally:
            self.close()

    def _run(self, work: Callable[[], None]) -> None:
        if self._stopped.is_set():
            return
        try:
            work()
        except BaseException:
            self._stopped.set()
            raise

    def _raise_failed(self) -> None:
        for future in self._futures:
            if future.done() and future.exception() is not None:
                self.drain()
