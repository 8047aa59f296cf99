"""Per-token rate limits: how many requests, and how much GraphQL cost, one caller spends.

Token buckets, one per caller, refilled continuously: a caller may burst up to the
bucket's capacity, then proceeds at the rate. A refusal says how long until the request
would be granted, which the service sends as ``Retry-After``. The buckets live in the API
process; with ``idgraph serve --workers N`` each process keeps its own (docs/operations.md,
"Rate limits").
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from service.errors import ApiError


class TokenBuckets:
    """One bucket per key, holding up to ``capacity`` units and refilled at ``rate`` units
    per second; a key's own rate and capacity may be given per call."""

    def __init__(
        self, rate: float, capacity: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.capacity = capacity
        self.clock = clock
        self._levels: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(
        self,
        key: str,
        amount: float = 1.0,
        *,
        rate: float | None = None,
        capacity: float | None = None,
    ) -> float:
        """Take ``amount`` from ``key``'s bucket: 0 when granted, else the seconds until it
        holds that much again (then nothing is taken). A rate of 0 or less grants all."""
        rate = self.rate if rate is None else rate
        capacity = self.capacity if capacity is None else capacity
        if rate <= 0:
            return 0.0
        with self._lock:
            now = self.clock()
            level, then = self._levels.get(key, (capacity, now))
            level = min(capacity, level + (now - then) * rate)
            if amount > level:
                self._levels[key] = (level, now)
                return (amount - level) / rate
            self._levels[key] = (level - amount, now)
            return 0.0


def retry_after(seconds: float) -> str:
    """A ``Retry-After`` value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))


class RequestLimiter:
    """Requests per second per token (settings ``rate_limit_per_second`` and
    ``rate_limit_burst``, or the token's own ``requests_per_second``)."""

    def __init__(
        self,
        per_second: float,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_second = per_second
        self.burst = burst
        self._buckets = TokenBuckets(per_second, self._capacity(per_second), clock)

    def _capacity(self, per_second: float) -> float:
        # A second's worth of requests by default, and never less than one request.
        return float(self.burst) if self.burst else max(1.0, per_second)

    def admit(self, caller: str, own_rate: float | None = None) -> None:
        """Count one request of ``caller``; a 429 RATE_LIMITED with ``Retry-After`` when the
        caller is over their rate."""
        rate = self.per_second if own_rate is None else own_rate
        wait = self._buckets.take(caller, rate=rate, capacity=self._capacity(rate))
        if wait > 0:
            setting = (
                "the token's requests_per_second"
                if own_rate is not None
                else "IDGRAPH_RATE_LIMIT_PER_SECOND"
            )
            raise ApiError(
                429,
                "RATE_LIMITED",
                f"this token is over its rate of {rate:g} requests per second ({setting}); "
                f"retry in {retry_after(wait)} s",
                headers={"Retry-After": retry_after(wait)},
            )
