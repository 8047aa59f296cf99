"""The storage interface: a :class:`Store` is one identity graph, persisted, reached
through one small port per area (identity/store/ports.py) that share one connection.

Writes happen inside :meth:`Store.unit_of_work`; a failure inside it rolls back all of it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from identity.model import (
    StoreCounts,
    StoreHealth,
)
from identity.store.ports import (
    AuditPort,
    CopyPort,
    DestinationPort,
    EventPort,
    HouseholdPort,
    LinkPort,
    MatchIndexPort,
    MetaPort,
    PrivacyPort,
    ProfilePort,
    ProfileViewPort,
    QualityPort,
    RecordPort,
    SegmentPort,
    SourcePort,
)


class UnitOfWork(ABC):
    """The ports of one store, seen inside an atomic block: what
    ``with store.unit_of_work() as uow:`` gives (cosmicpython's unit of work, whose
    repositories are these ports). The store itself is one, its writes then each atomic."""

    sources: SourcePort
    meta: MetaPort
    records: RecordPort
    matching: MatchIndexPort
    links: LinkPort
    profiles: ProfilePort
    views: ProfileViewPort
    events: EventPort
    segments: SegmentPort
    audit: AuditPort
    privacy: PrivacyPort
    destinations: DestinationPort
    quality: QualityPort
    households: HouseholdPort


class Store(UnitOfWork):
    """One identity graph, persisted: the ports of every area over one connection, plus
    the store's lifecycle and the copy port ``idgraph migrate`` uses."""

    backend: str = "abstract"
    copy: CopyPort
    records_per_unit_of_work: int = 200_000
    """How many records a bulk load writes or resolves in one unit of work at most: what
    one transaction holds comfortably (identity/ingest/bulk.py)."""

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        """An atomic block: everything written inside commits together or not at all.

        Nested blocks join the outer one. Writes outside any block are each atomic.
        """
        with self._write_block():
            yield self

    @contextmanager
    def reading(self) -> Iterator[UnitOfWork]:
        """A block of reads sharing one transaction: a use case that reads several things
        (a profile: its records, their identifiers, its sources' priorities) sends a
        networked store one round trip per read instead of a transaction per read.

        Writing inside the block raises StoreError and stores nothing. Nested in a
        unit_of_work or another reading block, it joins it (and sees its writes).
        """
        with self._read_block():
            yield self

    @abstractmethod
    def _write_block(self) -> AbstractContextManager[None]:
        """The backend's transaction behind :meth:`unit_of_work`."""

    @abstractmethod
    def _read_block(self) -> AbstractContextManager[None]:
        """The backend's read transaction behind :meth:`reading`."""

    @abstractmethod
    def close(self) -> None:
        """Release connections. The store is unusable afterwards."""

    @property
    def location(self) -> str | None:
        """Where the data lives, the same in every process that opens it (a file, a server
        and database); None for a store no other process can open (in memory)."""
        return None

    @abstractmethod
    def health(self) -> StoreHealth:
        """Whether the store answers a trivial query now (for readiness probes)."""

    @abstractmethod
    def counts(self) -> StoreCounts:
        """How many records, identifier nodes, live profiles and links the store holds."""

    @abstractmethod
    def statements_per_operation(self) -> dict[str, int]:
        """How many statements each store operation (``<area>.<method>``, e.g.
        ``records.upsert``) has sent to the database since the store was opened: a metric,
        and how a regression to per-row statements shows. A snapshot, safe to read while
        other threads work."""
