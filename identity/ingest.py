"""Ingestion use case: rows from a source become stored records and resolved profiles.

Rows are mapped and normalised one by one (so a bad row is reported, never fatal), then
written and resolved in batches: one store transaction per batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from identity.errors import RowProblem
from identity.model import JSONValue


@dataclass(slots=True)
class IngestProgress:
    rows: int
    accepted: int
    rejected: int


@dataclass(slots=True)
class IngestReport:
    """What an ingest did: counts, and every rejected row (errors) and field problem (warnings)."""

    source: str
    received: int = 0
    accepted: int = 0
    rejected: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    profiles_created: int = 0
    profiles_merged: int = 0
    profiles_split: int = 0
    flagged_identifiers: int = 0
    seconds: float = 0.0
    errors: list[RowProblem] = field(default_factory=list)
    warnings: list[RowProblem] = field(default_factory=list)

    def as_dict(self) -> dict[str, JSONValue]:
        return {
            "source": self.source,
            "received": self.received,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "profiles_created": self.profiles_created,
            "profiles_merged": self.profiles_merged,
            "profiles_split": self.profiles_split,
            "flagged_identifiers": self.flagged_identifiers,
            "seconds": round(self.seconds, 3),
            "errors": [e.as_dict() for e in self.errors],
            "warnings": [w.as_dict() for w in self.warnings],
        }


Row = tuple[int, "dict[str, JSONValue] | RowProblem"]
"""A numbered input row (1-based), or the problem that stopped it being read."""

ProgressCallback = Callable[[IngestProgress], None]


class IngestService:
    def ingest_rows(
        self,
        source: str,
        rows: Iterable[Row],
        progress: ProgressCallback | None = None,
    ) -> IngestReport:
        """Map, store and resolve rows of a registered source. Raises UnknownSource."""
        raise NotImplementedError
