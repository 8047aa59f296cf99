"""Mapping rows in worker processes, for the bulk path.

Mapping a row (the input limits, NFC, e-mail validation, phone parsing, names and dates)
is pure Python and the larger part of an ingest's work; worker processes map chunks of
rows while the calling process reads the file and writes to the store, so both cores work.
Results come back in input order, so a key repeated in a file keeps its last row, as on
the incremental path.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from types import TracebackType

from identity.ingest.rows import Row, RowMapping
from identity.mapping import MappedRow, SourceMapping
from identity.matching.index import MatchFields, MatchRows, linkage_settings
from identity.model import JSONValue
from identity.rules import Rules
from identity.worker_processes import OrderedWorkers, rare_collections_in_worker

CHUNK_ROWS = 1000
"""Rows per task: large enough that pickling is a small share, small enough to keep the
workers evenly loaded and the progress bar moving."""

Mapped = tuple[MappedRow, MatchFields | None]
"""A row's outcome, with its record's match row (compared values and blocking keys) when
the rules have a ``[matching]`` section: worked out here rather than in the process that
writes, whose core is the busier one."""

_worker: RowMapping | None = None
_match_rows: MatchRows | None = None


def match_rows_of(rules: Rules) -> MatchRows | None:
    return MatchRows(rules, linkage_settings(rules.matching)) if rules.matching else None


def _start(mapping: dict[str, JSONValue], source: str, rules: Rules) -> None:
    global _worker, _match_rows  # one mapping per worker process, built once
    rare_collections_in_worker()
    loaded = SourceMapping.from_document(mapping, path=f"source '{source}'", rules=rules)
    _worker = RowMapping(loaded, rules)
    _match_rows = match_rows_of(rules)


def _map_chunk(rows: list[Row]) -> list[Mapped]:
    assert _worker is not None, "the worker was started without its mapping"
    return _mapped(_worker, _match_rows, rows)


def _mapped(mapping: RowMapping, match: MatchRows | None, rows: Iterable[Row]) -> list[Mapped]:
    found = [mapping.map(number, row) for number, row in rows]
    if match is None:
        return [(outcome, None) for outcome in found]
    return [
        (outcome, None if outcome.record is None else match.match_fields(outcome.record))
        for outcome in found
    ]


class MappingPool:
    """Maps rows of one source in ``workers`` processes (0: in this process).

    Use as a context manager; :meth:`map` yields the rows' outcomes in input order.
    ``ahead``: rows the workers may map before the caller takes them. The bulk path
    writes a whole batch between two takes; with less than a batch mapped ahead, the
    workers would wait for the write and the write for the workers, one core idle.
    """

    def __init__(
        self, mapping: SourceMapping, rules: Rules, workers: int, ahead: int = 4 * CHUNK_ROWS
    ) -> None:
        self.mapping = mapping
        self.rules = rules
        self.workers = max(0, workers)
        self.ahead = ahead
        self._pool: OrderedWorkers[list[Row], list[Mapped]] | None = None

    def __enter__(self) -> MappingPool:
        if self.workers:
            initargs = (self.mapping.to_document(), self.mapping.source, self.rules)
            chunks = -(-self.ahead // CHUNK_ROWS)
            in_flight = max(2, -(-chunks // self.workers))
            self._pool = OrderedWorkers(self.workers, _map_chunk, _start, initargs, in_flight)
            self._pool.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            self._pool.__exit__(kind, error, trace)
            self._pool = None

    def map(self, rows: Iterable[Row]) -> Iterator[Mapped]:
        source = iter(rows)
        chunks = iter(lambda: list(islice(source, CHUNK_ROWS)), [])
        if self._pool is None:
            mapping, match = RowMapping(self.mapping, self.rules), match_rows_of(self.rules)
            for chunk in chunks:
                yield from _mapped(mapping, match, chunk)
            return
        for _, mapped in self._pool.map(chunks):
            yield from mapped
