"""A time budget for the work of one call: the caller sets it, the work stops at it.

The service gives each GraphQL request a budget. The store adapters end a statement that
runs past it (SQLite's progress handler, Neo4j's transaction timeout) and long loops may
:func:`check` between batches, so a request over its budget fails with
:class:`TimeBudgetExceeded` instead of holding a worker. The budget is a context variable:
it follows the request into the threads its blocking calls run in.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from identity.errors import TimeBudgetExceeded


@dataclass(frozen=True, slots=True)
class Budget:
    seconds: float
    ends: float
    """``time.monotonic()`` at which the budget is spent."""
    setting: str | None = None
    """The setting that gives it, named in the error."""


_current: ContextVar[Budget | None] = ContextVar("idgraph_time_budget", default=None)


@contextmanager
def within(seconds: float | None, setting: str | None = None) -> Iterator[None]:
    """The block's work has ``seconds`` (None or 0: no budget of its own)."""
    if not seconds:
        yield
        return
    token = _current.set(Budget(seconds, time.monotonic() + seconds, setting))
    try:
        yield
    finally:
        # A block left open by work that was abandoned (a GraphQL extension's generator
        # of an operation that never ran) is closed when collected, in another context:
        # that context never held the budget, so there is nothing to restore there.
        with contextlib.suppress(ValueError):
            _current.reset(token)


def remaining() -> float | None:
    """Seconds left of the current budget (0 when spent), or None without one."""
    budget = _current.get()
    if budget is None:
        return None
    return max(0.0, budget.ends - time.monotonic())


def expired() -> bool:
    """Whether the current budget is spent (cheap enough for a progress callback)."""
    budget = _current.get()
    return budget is not None and time.monotonic() >= budget.ends


def exceeded() -> TimeBudgetExceeded:
    """The error for the current budget (call when it is spent)."""
    budget = _current.get()
    return TimeBudgetExceeded(budget.seconds if budget else 0.0, budget.setting if budget else None)


def check() -> None:
    """Raise :class:`TimeBudgetExceeded` when the current budget is spent."""
    if expired():
        raise exceeded()
