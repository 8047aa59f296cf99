"""Chunks of candidate pairs compared in worker processes, so that comparison uses every
core (``train`` and ``link`` compare millions of pairs, a chunk at a time).

A comparer holds per-record state over the whole frame (hundreds of megabytes at a
million records); pickling it to spawned workers would cost more than the comparison
saves. Workers are forked instead, after the comparer is built: they inherit it, copy on
write, and send back only each chunk's answer. A forked worker touches nothing but
that state (no store connection, no driver, no console), and exits without running the
parent's finalizers. Where fork does not exist, chunks are compared in this process.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

R = TypeVar("R")
Chunk = tuple[int, int]
"""(start, stop) of a chunk of pairs."""

_task: Callable[[int, int], Any] | None = None
"""The task of the pool being forked: set before the workers start, inherited by them."""


def _run(chunk: Chunk) -> Any:
    assert _task is not None, "a chunk worker was started without its task"
    return _task(*chunk)


def default_chunk_workers() -> int:
    """A process per core: the calling process only waits for the answers."""
    return os.cpu_count() or 1


def over_chunks(
    task: Callable[[int, int], R], chunks: Sequence[Chunk], workers: int | None = None
) -> Iterator[tuple[Chunk, R]]:
    """Each chunk with ``task(start, stop)``, in order: in ``workers`` forked processes
    when there is more than one chunk (a process per core by default), else here."""
    global _task  # inherited by the forked workers; one pool at a time
    workers = default_chunk_workers() if workers is None else workers
    fork = "fork" in multiprocessing.get_all_start_methods()
    if workers < 2 or len(chunks) < 2 or not fork or _task is not None:
        for chunk in chunks:
            yield chunk, task(*chunk)
        return
    _task = task
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(min(workers, len(chunks)), mp_context=context) as pool:
            # Answers are taken in order; a few chunks in flight bound the memory of
            # answers waiting to be taken.
            window = 2 * workers
            pending = deque(pool.submit(_run, chunk) for chunk in chunks[:window])
            later = iter(chunks[window:])
            for chunk in chunks:
                answer = pending.popleft().result()
                following = next(later, None)
                if following is not None:
                    pending.append(pool.submit(_run, following))
                yield chunk, answer
    finally:
        _task = None
