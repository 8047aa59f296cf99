"""Recomputing read-model rows in worker processes.

A row's golden record, identifiers, traits and consent are pure Python over the profile's
records and events, and most of what a rebuild or a bulk load's resolution costs. Worker
processes open the store themselves (from a picklable ``opener``), read and compute rows
for batches of profile ids; the calling process only writes them, so every core works.
Workers read what is committed: use them after the change that made the profiles.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import datetime
from types import TracebackType

from identity.model import ProfileId, ProfileViewRow
from identity.normalise import Normaliser
from identity.profile_view import ProfileViewService
from identity.profiles import ProfileService
from identity.rules import Rules
from identity.store.base import Store

StoreOpener = Callable[[], Store]
"""Opens the store again in another process; must pickle (``functools.partial`` of
:func:`identity.store.factory.open_store` with the URL and credentials)."""

_views: ProfileViewService | None = None


def _start(opener: StoreOpener, rules: Rules) -> None:
    global _views  # one store connection and service per worker process
    gc.set_threshold(100_000, 50, 100)  # as identity.ingest.bulk.rare_collections says
    store = opener()
    _views = ProfileViewService(store, rules, ProfileService(store, rules, Normaliser(rules)))


def _rows(batch: list[ProfileId], now: datetime) -> list[ProfileViewRow]:
    assert _views is not None, "the worker was started without its store"
    return [view.to_row(now) for view in _views.recompute(batch).values()]


def default_view_workers() -> int:
    """A process per core: the caller mostly waits for rows and writes them."""
    return max(1, os.cpu_count() or 1)


class ViewWorkers:
    """``workers`` processes computing read-model rows; a context manager."""

    def __init__(self, opener: StoreOpener, rules: Rules, workers: int | None = None) -> None:
        self.opener = opener
        self.rules = rules
        self.workers = default_view_workers() if workers is None else max(1, workers)
        self._executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> ViewWorkers:
        self._executor = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start,
            initargs=(self.opener, self.rules),
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

    def rows(
        self, batches: Iterable[list[ProfileId]], now: datetime
    ) -> Iterator[tuple[list[ProfileId], list[ProfileViewRow]]]:
        """Each batch with the rows of its live profiles, in input order; a few batches
        per worker in flight."""
        executor = self._executor
        if executor is None:
            raise RuntimeError("use ViewWorkers as a context manager")
        source = iter(batches)
        in_flight: deque[tuple[list[ProfileId], Future[list[ProfileViewRow]]]] = deque()
        window = 3 * self.workers
        while True:
            while len(in_flight) < window:
                batch = next(source, None)
                if batch is None:
                    break
                in_flight.append((batch, executor.submit(_rows, batch, now)))
            if not in_flight:
                return
            batch, future = in_flight.popleft()
            yield batch, future.result()
