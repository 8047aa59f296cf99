"""Mapping rows in worker processes, for the bulk path.

Mapping a row (the input limits, NFC, e-mail validation, phone parsing, names and dates)
is pure Python and the larger part of an ingest's work; worker processes map chunks of
rows while the calling process reads the file and writes to the store, so both cores work.
Results come back in input order, so a key repeated in a file keeps its last row, as on
the incremental path. Workers are started with "spawn": a fork would copy an open store
connection and the driver's threads.
"""

from __future__ import annotations

import gc
import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import islice
from types import TracebackType

from identity.ingest.rows import Row, RowMapping
from identity.mapping import MappedRow, SourceMapping
from identity.model import JSONValue
from identity.rules import Rules

CHUNK_ROWS = 1000
"""Rows per task: large enough that pickling is a small share, small enough to keep the
workers evenly loaded and the progress bar moving."""

_worker: RowMapping | None = None


def _start(mapping: dict[str, JSONValue], source: str, rules: Rules) -> None:
    global _worker  # one mapping per worker process, built once
    gc.set_threshold(100_000, 50, 100)  # as identity.ingest.bulk.rare_collections says
    loaded = SourceMapping.from_document(mapping, path=f"source '{source}'", rules=rules)
    _worker = RowMapping(loaded, rules)


def _map_chunk(rows: list[Row]) -> list[MappedRow]:
    assert _worker is not None, "the worker was started without its mapping"
    return [_worker.map(number, row) for number, row in rows]


class MappingPool:
    """Maps rows of one source in ``workers`` processes (0: in this process).

    Use as a context manager; :meth:`map` yields the rows' outcomes in input order, with
    at most a few chunks per worker in flight, so memory stays bounded on any file size.
    """

    def __init__(self, mapping: SourceMapping, rules: Rules, workers: int) -> None:
        self.mapping = mapping
        self.rules = rules
        self.workers = max(0, workers)
        self._executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> MappingPool:
        if self.workers:
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start,
                initargs=(self.mapping.to_document(), self.mapping.source, self.rules),
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

    def map(self, rows: Iterable[Row]) -> Iterator[MappedRow]:
        executor = self._executor
        if executor is None:
            yield from RowMapping(self.mapping, self.rules).map_all(rows)
            return
        source = iter(rows)
        in_flight: deque[Future[list[MappedRow]]] = deque()
        window = 4 * self.workers
        while True:
            while len(in_flight) < window:
                chunk = list(islice(source, CHUNK_ROWS))
                if not chunk:
                    break
                in_flight.append(executor.submit(_map_chunk, chunk))
            if not in_flight:
                return
            yield from in_flight.popleft().result()
