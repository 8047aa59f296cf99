"""Work spread over spawned worker processes, answers in input order.

The bulk path maps rows (identity/ingest/pool.py) and computes read-model rows
(identity/profile_view_workers.py) this way: CPU-bound pure Python that one process
cannot spread over cores. Workers are started with "spawn" (a fork would copy an open
store connection and a driver's threads) and set up once by an initializer; at most a
few tasks per worker are in flight, so memory stays bounded on any input size.
"""

from __future__ import annotations

import gc
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from types import TracebackType
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


RARE_COLLECTIONS = (100_000, 50, 100)
"""Cyclic garbage collector thresholds for bulk work: a collection per 100,000 new
objects instead of 700 (identity.ingest.bulk.rare_collections says why)."""


def rare_collections_in_worker() -> None:
    """Workers keep batches of objects alive while they work on them: the collector's
    default thresholds would rescan them over and over."""
    gc.set_threshold(*RARE_COLLECTIONS)


class OrderedWorkers(Generic[T, R]):
    """``workers`` processes applying ``task`` to items; a context manager."""

    def __init__(
        self,
        workers: int,
        task: Callable[[T], R],
        initializer: Callable[..., None],
        initargs: tuple[Any, ...],
        in_flight: int = 3,
    ) -> None:
        self.workers = max(1, workers)
        self.task = task
        self.initializer = initializer
        self.initargs = initargs
        self.window = in_flight * self.workers
        self._executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> OrderedWorkers[T, R]:
        self._executor = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=self.initializer,
            initargs=self.initargs,
        )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def map(self, items: Iterable[T]) -> Iterator[tuple[T, R]]:
        """Each item with its answer, in input order. The first items are submitted at
        once, not at the first ``next``: the workers start while the caller does
        something else (the bulk path resolves its next batch meanwhile)."""
        executor = self._executor
        if executor is None:
            raise RuntimeError("use OrderedWorkers as a context manager")
        source = iter(items)
        pending: deque[tuple[T, Future[R]]] = deque()

        def fill() -> None:
            while len(pending) < self.window:
                item = next(source, None)
                if item is None:
                    return
                pending.append((item, executor.submit(self.task, item)))

        def answers() -> Iterator[tuple[T, R]]:
            while pending:
                item, future = pending.popleft()
                fill()
                yield item, future.result()

        fill()
        return answers()
