"""The steward console's quality page: counts and distributions of the whole graph.

Every figure is an aggregate the store computes (:class:`~identity.store.ports.QualityPort`,
one GROUP BY or Cypher aggregation each); this module validates the arguments, turns the
store's counts into chart bins and records the review queue's size into the audit entries
of the actions that can change it, which is where its history is read back from.

What each figure costs (the store reads, at a million records; no figure reads links or
profiles into Python, none is computed per row):

- ``totals``: ``Store.counts()``, the totals ``idgraph`` reports (SQLite: a count per
  table and a pass over the identifier index; Neo4j: count-store reads and one pass over
  the identifier nodes). About a second at a million records.
- ``match_weights``: one pass over the MATCH and REVIEW links, the number after each one's
  first ``"match_weight":`` read from its evidence text (both stores alike; no JSON parse),
  each review link's decisions looked up by its records: the dearest figure, 0.9 s on
  SQLite at 300,000 records and 600,000 links and 0.6 s (cold 1.2 s) on Neo4j at 200,000
  links, so 3 s and 6 to 12 s at a million records (tests/benchmarks/quality.py).
- ``cluster_sizes``: one pass over the records by profile (SQLite: the records_by_profile
  index, 0.14 s at 300,000 records; Neo4j: each live profile's relationship degree).
- ``links_by_matcher``: one pass over the links (SQLite: the primary key, 0.3 s at 600,000
  links; Neo4j: the LINK relationships).
- ``review_queue_size``: ``LinkPort.count_of_type``, the review queue's ``totalCount``: the
  distinct pairs of REVIEW links through the index on link type, less the few pairs a
  steward decided (found from the decisions, not by checking every pair): 0.01 s at 60,000
  review links on SQLite; on Neo4j each review link's pair is expanded, 0.08 s at 20,000.
  It also runs for the audit entry of each steward action and of each load (a small load
  at most once a minute per process, below).
- ``review_queue_history``: the newest ``last`` audit entries holding a size, read backwards
  by id (SQLite: the primary key; Neo4j: the entries, newest first, whose after holds the key).
- ``ingest_warnings``: the ``ingest`` entries of the audit log (the action index), one per
  audited load: SQLite sums them in SQL (json_each); Neo4j returns each load's small
  ``warnings_by_field`` object and the adapter sums them, bounded by the number of loads.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from identity.audit import AuditService
from identity.errors import InvalidArgument
from identity.model import DECISIONS, JSONValue, LinkType
from identity.resolution import utc_now
from identity.store.base import Store
from identity.store.ports import FieldWarningCount, MatcherLinkCount, QualityPort

REVIEW_QUEUE_KEY = QualityPort.REVIEW_QUEUE_KEY
WARNINGS_BY_FIELD_KEY = QualityPort.WARNINGS_BY_FIELD_KEY
ROW_PROBLEM_FIELD = "(row)"
"""The field name ingest warnings about a whole row (no one field) are counted under."""
MIN_WEIGHT_WIDTH = 0.001
"""The narrowest bin of match weights: the matcher keeps weights to three decimals."""
MAX_WEIGHT_BINS = 1000
"""Bins a ``match_weights`` answer may hold: a width too narrow for the weights' range is
refused rather than answered with millions of empty bins."""
LARGEST_OWN_SIZE = 50
"""Cluster sizes up to this have a bin each; larger ones share one bin."""
MAX_HISTORY = 1000
"""Points of the review queue's history one answer may hold."""


@dataclass(frozen=True, slots=True)
class WeightBin:
    """Links and undecided review pairs with a match weight in [start, end)."""

    start: float
    end: float
    links: int
    reviews: int


@dataclass(frozen=True, slots=True)
class SizeBin:
    """Profiles holding between ``smallest`` and ``largest`` records (inclusive)."""

    smallest: int
    largest: int
    profiles: int


@dataclass(frozen=True, slots=True)
class QueueSample:
    """The review queue's size after an action that can change it."""

    at: datetime
    size: int


@dataclass(frozen=True, slots=True)
class Totals:
    profiles: int
    """Live profiles."""
    records: int


def review_queue_size(store: Store) -> int:
    """The undecided review pairs, as ``reviewQueue`` counts them (``totalCount``): the
    pairs of review links less the few a steward decided, one statement."""
    return store.links.count_of_type(LinkType.REVIEW, without=DECISIONS)


def with_review_queue(store: Store, after: dict[str, JSONValue]) -> dict[str, JSONValue]:
    """``after`` with the review queue's size now as its last key: the audit entry of an
    action that can change the queue records it, and :meth:`QualityService.review_queue_history`
    reads the series back (the Neo4j store finds it as the key's last occurrence). One
    counting statement; call it in the action's unit of work, after its changes."""
    after.pop(REVIEW_QUEUE_KEY, None)
    after[REVIEW_QUEUE_KEY] = review_queue_size(store)
    return after


def warnings_by_field(fields: list[str | None]) -> dict[str, JSONValue]:
    """How many warnings name each field (a whole-row problem under ``(row)``), by field:
    what an ingest audit entry keeps of its warnings (names only, never a value)."""
    counts: dict[str, int] = {}
    for name in fields:
        key = name if name is not None else ROW_PROBLEM_FIELD
        counts[key] = counts.get(key, 0) + 1
    return {name: counts[name] for name in sorted(counts)}


class QualityService:
    """The quality page's figures, each computed by the store; aggregates only, no value of
    any record in any of them."""

    def __init__(
        self, store: Store, audit: AuditService, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.store = store
        self.audit = audit
        self.clock = clock

    def totals(self) -> Totals:
        counts = self.store.counts()
        return Totals(profiles=counts.profiles, records=counts.records)

    def match_weights(self, width: float = 2.0) -> list[WeightBin]:
        """Stored probabilistic links and undecided review pairs by match weight (log2
        odds, as the matcher's evidence holds it), in bins ``[k * width, (k + 1) * width)``
        from the one holding the lowest weight to the one holding the highest, empty bins
        between them included. Raises InvalidArgument for a width below
        :data:`MIN_WEIGHT_WIDTH` or one that would make more than :data:`MAX_WEIGHT_BINS`
        bins."""
        if not (math.isfinite(width) and width >= MIN_WEIGHT_WIDTH):
            raise InvalidArgument(
                f"width must be a number of at least {MIN_WEIGHT_WIDTH}, got {width}"
            )
        found = self.store.quality.match_weight_bins(width)
        if not found:
            return []
        lowest, highest = found[0].bin, found[-1].bin
        if highest - lowest + 1 > MAX_WEIGHT_BINS:
            raise InvalidArgument(
                f"a width of {width} makes {highest - lowest + 1} bins of the match weights "
                f"from {lowest * width:g} to {(highest + 1) * width:g}: at most "
                f"{MAX_WEIGHT_BINS}, give a wider width"
            )
        counts = {x.bin: x for x in found}
        bins: list[WeightBin] = []
        for k in range(lowest, highest + 1):
            x = counts.get(k)
            bins.append(
                WeightBin(k * width, (k + 1) * width, x.links if x else 0, x.reviews if x else 0)
            )
        return bins

    def cluster_sizes(self) -> list[SizeBin]:
        """How many live profiles hold each number of records, smallest first, sizes no
        profile has left out; sizes above :data:`LARGEST_OWN_SIZE` in one bin from
        ``LARGEST_OWN_SIZE + 1`` to the largest size."""
        sizes = self.store.quality.profile_sizes()
        bins = [SizeBin(n, n, c) for n, c in sorted(sizes.items()) if n <= LARGEST_OWN_SIZE]
        large = {n: c for n, c in sizes.items() if n > LARGEST_OWN_SIZE}
        if large:
            bins.append(SizeBin(LARGEST_OWN_SIZE + 1, max(large), sum(large.values())))
        return bins

    def links_by_matcher(self) -> list[MatcherLinkCount]:
        """Stored links per matcher and link type, most first."""
        return self.store.quality.links_by_matcher()

    def review_queue_size(self) -> int:
        """The undecided review pairs: what the review queue pages through in total."""
        return review_queue_size(self.store)

    def review_queue_history(self, last: int = 200) -> list[QueueSample]:
        """The queue's size after each audited change to it (ingest loads, ``idgraph
        link``, steward actions and undo, retention), oldest first, at most ``last``."""
        if not 1 <= last <= MAX_HISTORY:
            raise InvalidArgument(f"last must be between 1 and {MAX_HISTORY}, got {last}")
        return [QueueSample(s.at, s.size) for s in self.store.quality.review_queue_samples(last)]

    def ingest_warnings(self) -> list[FieldWarningCount]:
        """Warnings per source and field over every audited ingest load, most first.
        ``loads`` counts the loads that warned about the field at least once."""
        return self.store.quality.ingest_warnings()

    def record_link(self, counts: dict[str, JSONValue], actor: str, engine: str) -> int:
        """Audit an ``idgraph link`` run (its counts) with the review queue's size after it;
        returns the entry's id."""
        with self.store.unit_of_work():
            after = with_review_queue(self.store, dict(counts))
            return self.audit.record(actor, "link", target=engine, after=after)
