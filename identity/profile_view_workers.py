"""Recomputing read-model rows in worker processes.

A row's golden record, identifiers, traits and consent are pure Python over the profile's
records and events, and most of what a rebuild or a bulk load's resolution costs. Worker
processes open the store themselves (from a picklable ``opener``), read and compute rows
for batches of profile ids; the calling process only writes them, so every core works.
Workers read what is committed: use them after the change that made the profiles.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from types import TracebackType

from identity.model import ProfileId, ProfileViewRow
from identity.normalise import Normaliser
from identity.profile_view import ProfileViewService
from identity.profiles import ProfileService
from identity.rules import Rules
from identity.store.base import Store
from identity.worker_processes import OrderedWorkers, rare_collections_in_worker

StoreOpener = Callable[[], Store]
"""Opens the store again in another process; must pickle (``functools.partial`` of
:func:`identity.store.factory.open_store` with the URL and credentials)."""

_views: ProfileViewService | None = None


def _start(opener: StoreOpener, rules: Rules) -> None:
    global _views  # one store connection and service per worker process
    rare_collections_in_worker()
    store = opener()
    _views = ProfileViewService(store, rules, ProfileService(store, rules, Normaliser(rules)))


def _rows(task: tuple[list[ProfileId], datetime]) -> list[ProfileViewRow]:
    assert _views is not None, "the worker was started without its store"
    batch, now = task
    return [view.to_row(now) for view in _views.recompute(batch).values()]


def default_view_workers() -> int:
    """A process per core: the caller mostly waits for rows and writes them."""
    return max(1, os.cpu_count() or 1)


class ViewWorkers:
    """``workers`` processes computing read-model rows; a context manager."""

    def __init__(
        self, opener: StoreOpener, rules: Rules, workers: int | None = None, in_flight: int = 3
    ) -> None:
        """``in_flight``: batches per worker computed ahead of the caller taking them."""
        self.workers = default_view_workers() if workers is None else max(1, workers)
        self._pool: OrderedWorkers[tuple[list[ProfileId], datetime], list[ProfileViewRow]]
        self._pool = OrderedWorkers(self.workers, _rows, _start, (opener, rules), in_flight)

    def __enter__(self) -> ViewWorkers:
        self._pool.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._pool.__exit__(kind, error, trace)

    def rows(
        self, batches: Iterable[list[ProfileId]], now: datetime
    ) -> Iterator[tuple[list[ProfileId], list[ProfileViewRow]]]:
        """Each batch with the rows of its live profiles, in input order; the first
        batches start at once."""
        answers = self._pool.map((batch, now) for batch in batches)
        return ((batch, rows) for (batch, _), rows in answers)
