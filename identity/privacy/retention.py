"""Retention: records and events older than their source's ``retention_days`` (and the
rules' ``[events] retention_days``) are deleted through the erasure path
(:class:`identity.privacy.erasure.Forgetting`), so profiles re-resolve, empty ones are
deleted and segments see the exits. Nothing goes on the suppression list: the same data
sent again is new data, kept for its own retention period.

Applied by ``idgraph retention apply`` and by the server's scheduler, in batches of
``batch_size`` records or events, each its own unit of work, so a large backlog neither
holds the store's write lock for long nor is lost by a failure half-way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from identity.audit import SYSTEM, AuditService
from identity.mapping import SourceMapping
from identity.model import JSONValue
from identity.privacy.erasure import Forgetting
from identity.quality import with_review_queue
from identity.resolution import utc_now
from identity.store.base import Store

RETENTION = "retention"
"""The audit action of an applied retention."""
DEFAULT_BATCH_SIZE = 1000


@dataclass(slots=True)
class RetentionReport:
    """What one application of the retention deleted, by source."""

    records: dict[str, int] = field(default_factory=dict)
    events: int = 0
    profiles_deleted: int = 0
    profiles_changed: int = 0
    dry_run: bool = False

    def as_dict(self) -> dict[str, JSONValue]:
        return {
            "records": dict(sorted(self.records.items())),
            "events": self.events,
            "profiles_deleted": self.profiles_deleted,
            "profiles_changed": self.profiles_changed,
            "dry_run": self.dry_run,
        }


class RetentionService:
    """Deletes what is past its retention period."""

    def __init__(
        self,
        store: Store,
        forgetting: Forgetting,
        audit: AuditService,
        clock: Callable[[], datetime] = utc_now,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        self.store = store
        self.forgetting = forgetting
        self.audit = audit
        self.clock = clock
        self.batch_size = batch_size

    def periods(self) -> dict[str, int]:
        """``retention_days`` of every registered source that has one."""
        found: dict[str, int] = {}
        docs = self.store.sources.get_many(self.store.sources.names())
        for name, doc in docs.items():
            days = SourceMapping.from_document(doc, path=f"source '{name}'").retention_days
            if days is not None:
                found[name] = days
        return found

    def apply(
        self,
        actor: str = SYSTEM,
        dry_run: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> RetentionReport:
        """Delete every record and event past its period (with ``dry_run``, only count
        them). ``progress`` gets the number deleted so far. Audited when anything went."""
        now = self.clock()
        report = RetentionReport(dry_run=dry_run)
        done = 0
        for source, days in sorted(self.periods().items()):
            cutoff = now - timedelta(days=days)
            count = 0
            while True:
                expired = self.store.privacy.expired_records(
                    source, cutoff, limit=self.batch_size if not dry_run else 1_000_000_000
                )
                if not expired:
                    break
                count += len(expired)
                if dry_run:
                    break
                with self.store.unit_of_work():
                    outcome = self.forgetting.forget(expired, (), now)
                report.profiles_deleted += len(outcome.profiles_deleted)
                report.profiles_changed += len(outcome.profiles_changed)
                done += len(expired)
                if progress is not None:
                    progress(done)
            if count:
                report.records[source] = count
        event_days = self.forgetting.rules.events.retention_days
        if event_days is not None:
            cutoff = now - timedelta(days=event_days)
            while True:
                expired_events = self.store.privacy.expired_events(
                    cutoff, limit=self.batch_size if not dry_run else 1_000_000_000
                )
                if not expired_events:
                    break
                report.events += len(expired_events)
                if dry_run:
                    break
                with self.store.unit_of_work():
                    outcome = self.forgetting.forget((), expired_events, now)
                report.profiles_changed += len(outcome.profiles_changed)
                done += len(expired_events)
                if progress is not None:
                    progress(done)
        if not dry_run and (report.records or report.events):
            self.store.privacy.scrub()
            with self.store.unit_of_work():
                after = with_review_queue(self.store, report.as_dict())
                self.audit.record(actor, RETENTION, after=after)
        return report
