"""Ingestion use case: rows from a source become stored records and resolved profiles.

Rows are held to the input limits and made Unicode NFC (identity/limits.py, the one gate
of the CLI and the HTTP API), mapped and normalised one by one (so a bad row is reported,
never fatal), then written, linked by the probabilistic matcher (once a model is trained)
and resolved in batches: one store transaction per batch.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from identity.audit import SYSTEM, AuditService
from identity.catalog import FieldCatalog
from identity.errors import ConfigError, RowProblem, UnknownSource
from identity.ingest.rows import Row, RowMapping
from identity.mapping import MappedRow, SourceMapping
from identity.matching.index import MatchFields
from identity.matching.matcher import ProbabilisticMatcher
from identity.model import (
    IdentifierKey,
    JSONValue,
    ProfileId,
    RecordId,
    RecordRef,
    RecordWrite,
    SourceRecord,
)
from identity.normalise import Normaliser
from identity.privacy.suppression import SuppressionList
from identity.quality import WARNINGS_BY_FIELD_KEY, warnings_by_field, with_review_queue
from identity.resolution import Resolution, Resolver, utc_now
from identity.rules import Rules
from identity.store.base import Store

DEFAULT_BATCH_SIZE = 5000
STITCH_SOURCE = "event-stitching"
"""The source of the records stitching events create (identity/events.py); reserved."""


@dataclass(slots=True)
class IngestProgress:
    rows: int
    accepted: int
    rejected: int


QUEUE_COUNT_ROWS = 1_000
"""A load of at least this many rows records the review queue's size after it."""
QUEUE_COUNT_SECONDS = 60.0
"""Smaller loads record it at most this often (per process)."""


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
    probabilistic_links: int = 0
    review_pairs: int = 0
    suppressed: int = 0
    """Records dropped, never stored, because an erasure put them or an identifier they
    carry on the suppression list (docs/privacy.md)."""
    probabilistic_skipped: str | None = None
    """Why arriving records were not scored by the match model (None when they were)."""
    seconds: float = 0.0
    errors: list[RowProblem] = field(default_factory=list)
    warnings: list[RowProblem] = field(default_factory=list)

    def add(self, mapped: MappedRow) -> None:
        """Count one mapped row and keep its problems."""
        self.received += 1
        self.warnings.extend(mapped.warnings)
        if mapped.record is None:
            self.rejected += 1
            self.errors.extend(mapped.errors)
        else:
            self.accepted += 1

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
            "probabilistic_links": self.probabilistic_links,
            "review_pairs": self.review_pairs,
            "suppressed": self.suppressed,
            "probabilistic_skipped": self.probabilistic_skipped,
            "seconds": round(self.seconds, 3),
            "errors": [e.as_dict() for e in self.errors],
            "warnings": [w.as_dict() for w in self.warnings],
        }


ProgressCallback = Callable[[IngestProgress], None]


_DERIVED_FROM = ("priority", "consent")
"""The parts of a source mapping that profiles derive from what its stored records hold."""


class IngestService:
    """Registers sources and ingests their rows: map, normalise, store, resolve, in batches."""

    def __init__(
        self,
        store: Store,
        rules: Rules,
        normaliser: Normaliser,
        resolver: Resolver,
        matcher: ProbabilisticMatcher | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        clock: Callable[[], datetime] = utc_now,
        audit: AuditService | None = None,
        catalog: FieldCatalog | None = None,
    ) -> None:
        self.store = store
        self.suppression = SuppressionList(store)
        self.audit = audit
        self.catalog = catalog or FieldCatalog(store, rules)
        self.profiles_listeners: list[Callable[[Collection[ProfileId]], object]] = []
        """Told which profiles a source's new priority or consent mapping changes."""
        self.matcher = matcher
        self.rules = rules
        self.normaliser = normaliser
        self.resolver = resolver
        self.batch_size = batch_size
        self.clock = clock
        self._queue_counted = -math.inf
        """When this service last put the review queue's size in a load's audit entry."""

    def register_source(self, mapping: SourceMapping) -> None:
        """Register or replace a source's mapping; its kinds must be declared in the rules."""
        if mapping.source == STITCH_SOURCE:
            raise ConfigError(
                f"'{STITCH_SOURCE}' is reserved for the records login events make; "
                "give the source another name",
                field="source",
            )
        # Re-validating against the rules catches a mapping written for other rules.
        document = mapping.to_document()
        SourceMapping.from_document(document, rules=self.rules)
        with self.store.unit_of_work():
            old = self.store.sources.get(mapping.source)
            self.store.sources.put(mapping.source, document)
            # Golden records rank sources by priority and consent reads the mapped fields:
            # every profile holding a record of the source changes with them.
            if old is not None and any(old.get(k) != document.get(k) for k in _DERIVED_FROM):
                held = {
                    pid
                    for ref, pid in self.store.records.scan_profiles()
                    if ref.source == mapping.source and pid is not None
                }
                for listener in self.profiles_listeners:
                    listener(held)

    def source(self, name: str) -> SourceMapping:
        """The registered mapping of ``name``. Raises UnknownSource."""
        doc = self.store.sources.get(name)
        if doc is None:
            raise UnknownSource(name)
        return SourceMapping.from_document(doc, path=f"source '{name}'", rules=self.rules)

    def sources(self) -> list[SourceMapping]:
        return [self.source(name) for name in self.store.sources.names()]

    def ingest_rows(
        self,
        source: str,
        rows: Iterable[Row],
        progress: ProgressCallback | None = None,
        actor: str = SYSTEM,
    ) -> IngestReport:
        """Map, store and resolve rows of a registered source. Raises UnknownSource.

        Bad rows are reported in the returned report and never stop the good ones; each
        batch is written and resolved in one unit of work, so a failure leaves earlier
        batches stored and the failing batch not at all.
        """
        mapping = self.source(source)
        rows_mapping = RowMapping(mapping, self.rules, self.normaliser)
        report = IngestReport(source=source)
        started = time.perf_counter()
        batch: list[SourceRecord] = []
        for mapped in rows_mapping.map_all(rows):
            report.add(mapped)
            if mapped.record is not None:
                batch.append(mapped.record)
            if len(batch) >= self.batch_size:
                self._write(batch, report)
                batch = []
                if progress is not None:
                    progress(IngestProgress(report.received, report.accepted, report.rejected))
        if batch:
            self._write(batch, report)
        self.finish(report, started, progress, actor)
        return report

    def finish(
        self,
        report: IngestReport,
        started: float,
        progress: ProgressCallback | None = None,
        actor: str = SYSTEM,
    ) -> None:
        """Close a report: the warning of an empty input, the last progress, the time, the
        audit entry (with the warnings per field and the review queue's size after the
        load, for the quality page: identity/quality.py)."""
        if report.received == 0:
            # Not an error (a CSV of a header alone is a valid export of nothing), but an
            # empty export is more often a job that failed upstream: say so.
            report.warnings.append(
                RowProblem(0, None, "no rows to ingest: the input holds none (a header only?)")
            )
        if progress is not None:
            progress(IngestProgress(report.received, report.accepted, report.rejected))
        report.seconds = time.perf_counter() - started
        if self.audit is not None:
            summary = report.as_dict()
            summary["errors"] = len(report.errors)
            summary["warnings"] = len(report.warnings)
            # Field names only (never a value): the quality page's warnings per field.
            summary[WARNINGS_BY_FIELD_KEY] = warnings_by_field([w.field for w in report.warnings])
            with self.store.unit_of_work():
                if self._counts_review_queue(report):
                    with_review_queue(self.store, summary)
                self.audit.record(actor, "ingest", target=report.source, after=summary)

    def _counts_review_queue(self, report: IngestReport) -> bool:
        """Whether this load's audit entry records the review queue's size (the quality
        page's history): a file-sized load always; a small one, as records arrive over
        HTTP one request at a time, at most once per :data:`QUEUE_COUNT_SECONDS` per
        process, so that a real-time request does not pay a count of the whole queue."""
        now = time.monotonic()
        if report.received < QUEUE_COUNT_ROWS and now - self._queue_counted < QUEUE_COUNT_SECONDS:
            return False
        self._queue_counted = now
        return True

    def write_records(self, records: list[SourceRecord], source: str) -> IngestReport:
        """Store and resolve records made by the domain itself (no mapping, no row
        numbers), e.g. the stitch records of login events, as one batch."""
        report = IngestReport(source=source, received=len(records), accepted=len(records))
        started = time.perf_counter()
        self._write(records, report)
        report.seconds = time.perf_counter() - started
        return report

    def _write(self, batch: list[SourceRecord], report: IngestReport) -> None:
        with self.store.unit_of_work():
            stored = self.store_batch(batch, report)
            if stored is None:
                return
            outcome = self.resolver.resolve(
                stored.seeds, stored.touched, stored.status_changed, identifier_counts=stored.after
            )
        stored.count(report)
        count_resolution(outcome, report)

    def store_batch(
        self,
        batch: list[SourceRecord],
        report: IngestReport,
        match: Mapping[RecordRef, tuple[SourceRecord, MatchFields]] | None = None,
    ) -> StoredBatch | None:
        """Write one batch of records (suppressed ones dropped), index and score them;
        what to resolve is returned, not resolved. None when suppression left nothing.
        ``match``: the records' match rows, derived elsewhere (the bulk path's workers).
        Call inside a unit of work."""
        store = self.store
        screened = self.suppression.screen_records(batch)
        report.suppressed += screened.dropped
        batch = screened.records
        if not batch:
            return None
        keys: set[IdentifierKey] = {i.key for r in batch for i in r.identifiers}
        if self.matcher is not None:
            self.matcher.index.start_if_empty()
        before = store.records.identifier_counts(keys)
        writes = store.records.upsert(batch, self.clock())
        self.catalog.note(name for r in batch for name in r.attributes)
        removed: Counter[IdentifierKey] = Counter()
        for w in writes:
            removed.update(w.removed_identifiers)
        touched = keys | set(removed)
        after = store.records.identifier_counts(touched)
        for key in removed.keys() - keys:
            # Not asked for before the upsert: it only lost holders in this batch.
            before[key] = after[key] + removed[key]
        status_changed = self.rules.linking_changed(touched, before, after)
        seeds = [w.record_id for w in writes if w.created or w.changed]
        if self.matcher is not None:
            # Duplicate refs in a batch share a record id: the last one was stored.
            written = {w.record_id: r for r, w in zip(batch, writes, strict=True)}
            # A limited identifier that starts or stops linking (its cap) changes
            # which of its holders' pairs are duplicate accounts: score them again.
            found = self.matcher.link_records(
                [(rid, written[rid]) for rid in seeds],
                rescore=self.matcher.rescored_on(status_changed),
                derived=match,
            )
            report.probabilistic_links += found.links
            report.review_pairs += found.reviews
            report.probabilistic_skipped = found.skipped
        return StoredBatch(writes, seeds, touched, after, status_changed)


@dataclass(slots=True)
class StoredBatch:
    """A batch of records written and scored, not yet resolved."""

    writes: list[RecordWrite]
    seeds: list[RecordId]
    """Records created or changed: the resolver's starting points."""
    touched: set[IdentifierKey]
    """Identifiers whose record counts the batch changed."""
    after: dict[IdentifierKey, int]
    """Their record counts after the batch."""
    status_changed: list[IdentifierKey]
    """Those among them that started or stopped linking (a cap crossed)."""

    def count(self, report: IngestReport) -> None:
        # Duplicate refs in one batch are reported once per row, as written.
        writes = self.writes
        report.created += sum(1 for w in writes if w.created)
        report.updated += sum(1 for w in writes if w.changed and not w.created)
        report.unchanged += sum(1 for w in writes if not w.changed and not w.created)


def count_resolution(outcome: Resolution, report: IngestReport) -> None:
    report.profiles_created += outcome.profiles_created
    report.profiles_merged += outcome.profiles_merged
    report.profiles_split += outcome.profiles_split
    report.flagged_identifiers += len(outcome.flagged)
