"""When to try a failed batch again: exponential backoff with "equal jitter", capped, and
never sooner than the receiver's ``Retry-After``."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backoff:
    """``delay(n)`` after the n-th consecutive failure: ``min(cap, base * 2**(n-1))``
    times a uniform factor in [0.5, 1.0], so workers that failed together spread out
    while each still waits at least half the exponential step."""

    base: float = 1.0
    cap: float = 600.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def step(self, attempts: int) -> float:
        """The un-jittered delay after ``attempts`` failures (at least 1)."""
        return float(min(self.cap, self.base * 2.0 ** max(0, attempts - 1)))

    def delay(self, attempts: int, retry_after: float | None = None) -> float:
        jittered = self.step(attempts) * self.rng.uniform(0.5, 1.0)
        if retry_after is not None and retry_after > jittered:
            return retry_after
        return jittered
