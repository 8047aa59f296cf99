"""Event ingestion: events attach to the identifiers they carry and stitch anonymous ones.

An event is one JSON object::

    {"event_id": "ev-1", "type": "login", "timestamp": "2026-03-01T10:00:00+01:00",
     "channel": "web", "source": "webshop",
     "identifiers": {"cookie_id": "c-81f", "email": "Ann@Example.com"},
     "properties": {"url": "/account"}}

Events are idempotent by ``event_id``. A stitching event (``[events].stitch_types``: a
login, a checkout) that carries an anonymous identifier (a cookie, a device) together with
a known one becomes a *stitch record* of the source ``event-stitching`` holding them all:
the deterministic matcher then links it like any record, subject to the identifier limits
and junk protection, and every event the cookie carried before joins the profile at once,
retroactively, without re-ingesting anything. Bad rows are reported one by one and never
stop the others; each batch is stored in one unit of work.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from identity.audit import SYSTEM, AuditService
from identity.consent import consent_event_problem
from identity.errors import ConfigError, InvalidIdentifier, RowProblem
from identity.ingest import STITCH_SOURCE, IngestReport, IngestService, Row
from identity.model import Event, Identifier, JSONValue, SourceRecord
from identity.normalise import Normaliser
from identity.privacy.suppression import SuppressionList
from identity.resolution import utc_now
from identity.rules import Rules
from identity.store.base import Store

DEFAULT_BATCH_SIZE = 5000
MAX_ID_LENGTH = 256
_FIELDS = frozenset(
    {"event_id", "type", "timestamp", "channel", "source", "identifiers", "properties"}
)
_STRICT_FIELDS = frozenset({"event_id", "type", "timestamp", "channel", "source"})
"""Fields that name things, where even tab and newline are refused (identity/limits.py)."""


@dataclass(slots=True)
class ParsedEvent:
    """One row's outcome: the event (None when rejected), its errors and its warnings."""

    event: Event | None
    errors: list[RowProblem] = field(default_factory=list)
    warnings: list[RowProblem] = field(default_factory=list)


class EventParser:
    """Validates one JSON object into an :class:`Event`, naming each bad field."""

    def __init__(self, rules: Rules, normaliser: Normaliser) -> None:
        self.rules = rules
        self.normaliser = normaliser

    def parse(self, row: Mapping[str, JSONValue], number: int) -> ParsedEvent:
        errors: list[RowProblem] = []
        warnings: list[RowProblem] = []
        raw_id = row.get("event_id")
        key = (
            str(raw_id) if isinstance(raw_id, str | int) and not isinstance(raw_id, bool) else None
        )

        def error(name: str, problem: str) -> None:
            errors.append(RowProblem(number, name, problem, key))

        if key is None or not key.strip():
            error("event_id", "is required: a string that names the event uniquely")
        elif len(key) > MAX_ID_LENGTH:
            error("event_id", f"is longer than {MAX_ID_LENGTH} characters")
        kind = row.get("type")
        if not isinstance(kind, str) or not kind.strip():
            error("type", "is required: a string such as 'page_view' or 'purchase'")
        at = self._timestamp(row.get("timestamp"), error)
        channel = self._optional_text(row, "channel", error)
        source = self._optional_text(row, "source", error)
        identifiers = self._identifiers(row.get("identifiers"), number, key, error, warnings)
        properties = row.get("properties", {})
        if properties is None:
            properties = {}
        if not isinstance(properties, dict):
            error("properties", "must be a JSON object of free properties")
            properties = {}
        else:
            properties = dict(properties)
        # Schemaless: a field outside the event's own is kept as a property, never dropped.
        for name in sorted(set(row) - _FIELDS):
            if name in properties:
                warnings.append(
                    RowProblem(number, name, "also given under properties; that value is kept", key)
                )
            else:
                properties[name] = row[name]
        if isinstance(kind, str) and kind == self.rules.events.consent_type:
            problem = consent_event_problem(properties, self.rules.events)
            if problem is not None:
                error(*problem)
        if errors or key is None or not isinstance(kind, str) or at is None:
            return ParsedEvent(None, errors, warnings)
        event = Event(
            event_id=key,
            type=kind.strip(),
            timestamp=at,
            identifiers=identifiers,
            channel=channel,
            source=source,
            properties=properties,
        )
        return ParsedEvent(event, errors, warnings)

    @staticmethod
    def _timestamp(value: JSONValue, error: Callable[[str, str], None]) -> datetime | None:
        if not isinstance(value, str):
            error("timestamp", "is required: ISO 8601 with a time zone, e.g. 2026-03-01T10:00Z")
            return None
        try:
            at = datetime.fromisoformat(value.strip())
        except ValueError:
            error("timestamp", f"is not an ISO 8601 date and time: {value[:40]!r}")
            return None
        if at.tzinfo is None:
            error("timestamp", "has no time zone; add an offset such as +01:00 or Z")
            return None
        return at

    @staticmethod
    def _optional_text(
        row: Mapping[str, JSONValue], name: str, error: Callable[[str, str], None]
    ) -> str | None:
        value = row.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            error(name, "must be a string")
            return None
        return value.strip() or None

    def _identifiers(
        self,
        raw: JSONValue,
        number: int,
        key: str | None,
        error: Callable[[str, str], None],
        warnings: list[RowProblem],
    ) -> tuple[Identifier, ...]:
        if not isinstance(raw, dict) or not raw:
            error(
                "identifiers",
                'is required: an object of identifier kind to value, e.g. {"cookie_id": "c-1"}',
            )
            return ()
        found: dict[tuple[str, str], Identifier] = {}
        refused = False
        for kind, values in raw.items():
            where = f"identifiers.{kind}"
            if kind not in self.rules.kinds:
                declared = ", ".join(sorted(self.rules.kinds))
                error(where, f"unknown identifier kind; declared kinds: {declared}")
                refused = True
                continue
            items = values if isinstance(values, list) else [values]
            for value in items:
                if value is None or value == "":
                    continue
                if not isinstance(value, str | int) or isinstance(value, bool):
                    error(where, "must be a string or a list of strings")
                    refused = True
                    continue
                try:
                    ident = self.normaliser.identifier(kind, str(value))
                except (InvalidIdentifier, ConfigError) as problem:
                    warnings.append(RowProblem(number, where, f"{problem}; value ignored", key))
                    continue
                if self.rules.is_blocklisted(ident.key):
                    warnings.append(RowProblem(number, where, "blocklisted value ignored", key))
                    continue
                found.setdefault((ident.kind, ident.value), ident)
        if not found and not refused:
            # An event no identifier can carry would attach to nothing: it is refused,
            # with the warnings above saying why each value was not usable.
            error("identifiers", "none of the identifiers is a valid, usable value")
        return tuple(found[k] for k in sorted(found))


@dataclass(slots=True)
class EventIngestReport:
    """What an event ingest did: counts, rejected rows (errors) and field problems (warnings)."""

    received: int = 0
    accepted: int = 0
    rejected: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    stitched: int = 0
    """Stitch records created: anonymous identifiers newly joined to known ones."""
    profiles_merged: int = 0
    profiles_touched: int = 0
    """Live profiles whose journeys gained or changed events."""
    suppressed: int = 0
    """Events dropped, never stored, for carrying an identifier on the suppression list."""
    seconds: float = 0.0
    errors: list[RowProblem] = field(default_factory=list)
    warnings: list[RowProblem] = field(default_factory=list)

    def as_dict(self) -> dict[str, JSONValue]:
        return {
            "received": self.received,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "stitched": self.stitched,
            "profiles_merged": self.profiles_merged,
            "profiles_touched": self.profiles_touched,
            "suppressed": self.suppressed,
            "seconds": round(self.seconds, 3),
            "errors": [e.as_dict() for e in self.errors],
            "warnings": [w.as_dict() for w in self.warnings],
        }


ProfilesTouched = Callable[[set[str]], object]
"""Told which live profiles' journeys changed (segments re-evaluate them)."""


class EventService:
    """Ingests events: parse, store, stitch, and tell who listens which profiles changed."""

    def __init__(
        self,
        store: Store,
        rules: Rules,
        normaliser: Normaliser,
        ingest: IngestService,
        batch_size: int = DEFAULT_BATCH_SIZE,
        clock: Callable[[], datetime] = utc_now,
        audit: AuditService | None = None,
    ) -> None:
        self.store = store
        self.audit = audit
        self.rules = rules
        self.parser = EventParser(rules, normaliser)
        self.ingest = ingest
        self.suppression = SuppressionList(store)
        self.batch_size = batch_size
        self.clock = clock
        self.listeners: list[ProfilesTouched] = []

    def ingest_rows(
        self,
        rows: Iterable[Row],
        progress: Callable[[int], None] | None = None,
        actor: str = SYSTEM,
    ) -> EventIngestReport:
        """Parse, store and stitch rows of events; ``progress`` gets the rows read so far."""
        report = EventIngestReport()
        limits = self.rules.limits
        started = time.perf_counter()
        batch: list[Event] = []
        for number, row in rows:
            report.received += 1
            if not isinstance(row, RowProblem):
                row = limits.admit(row, number, "event_id", strict=_STRICT_FIELDS)
            if isinstance(row, RowProblem):
                report.rejected += 1
                report.errors.append(row)
                continue
            parsed = self.parser.parse(row, number)
            report.warnings.extend(parsed.warnings)
            if parsed.event is None:
                report.rejected += 1
                report.errors.extend(parsed.errors)
            else:
                report.accepted += 1
                batch.append(parsed.event)
            if len(batch) >= self.batch_size:
                self._write(batch, report)
                batch = []
                if progress is not None:
                    progress(report.received)
        if batch:
            self._write(batch, report)
        if progress is not None:
            progress(report.received)
        report.seconds = time.perf_counter() - started
        if self.audit is not None:
            summary = report.as_dict()
            summary["errors"] = len(report.errors)
            summary["warnings"] = len(report.warnings)
            self.audit.record(actor, "ingest_events", after=summary)
        return report

    def stitch_record(self, event: Event) -> SourceRecord | None:
        """The record a stitching event makes, or None when it stitches nothing."""
        rules = self.rules.events
        if event.type not in rules.stitch_types:
            return None
        anonymous = [i for i in event.identifiers if i.kind in rules.anonymous_kinds]
        known = [
            i
            for i in event.identifiers
            if i.kind not in rules.anonymous_kinds and self.rules.kinds[i.kind].links
        ]
        if not anonymous or not known:
            return None
        held = tuple(sorted(anonymous + known, key=lambda i: (i.kind, i.value)))
        # Keyed by what it joins, so a second login with the same identifiers changes
        # nothing; hashed, so the key shown to stewards carries no e-mail address.
        digest = hashlib.sha256(
            "\n".join(f"{i.kind}\t{i.value}" for i in held).encode("utf-8")
        ).hexdigest()[:32]
        return SourceRecord(source=STITCH_SOURCE, key=f"s-{digest}", identifiers=held)

    def _write(self, batch: list[Event], report: EventIngestReport) -> None:
        store = self.store
        with store.unit_of_work():
            batch, dropped = self.suppression.screen_events(batch)
            report.suppressed += dropped
            stitches = {r.key: r for e in batch if (r := self.stitch_record(e)) is not None}
            # An event sent again under its id with other identifiers leaves the journeys
            # it was in: those profiles change too.
            before = store.events.profiles_of([e.event_id for e in batch])
            writes = store.events.put(batch, self.clock())
            written = [w.event_id for w in writes if w.changed]
            if stitches:
                known = store.records.ids([r.ref for r in stitches.values()])
                fresh = [r for r in stitches.values() if r.ref not in known]
                if fresh:
                    outcome: IngestReport = self.ingest.write_records(fresh, STITCH_SOURCE)
                    report.stitched += outcome.created
                    report.profiles_merged += outcome.profiles_merged
            touched = {pid for pids in store.events.profiles_of(written).values() for pid in pids}
            touched.update(pid for eid in written for pid in before.get(eid, ()))
            for listener in self.listeners:
                listener(touched)
        report.created += sum(1 for w in writes if w.created)
        report.updated += sum(1 for w in writes if w.changed and not w.created)
        report.unchanged += sum(1 for w in writes if not w.changed)
        report.profiles_touched += len(touched)
