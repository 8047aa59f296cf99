"""Access requests (GDPR Art. 15): everything the graph holds about one person, as one JSON
document to hand over whole.

The person is named by an identifier (normalised as a profile lookup normalises it) or by
a profile id (merge redirects followed). Values are never masked: showing a person their
own data is the point. Every export is audited with the profile ids, never the identifier.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from identity.audit import AuditService
from identity.consent import ConsentStatement, current_consent, statements
from identity.errors import (
    AmbiguousIdentifier,
    InvalidArgument,
    NoProfileWithIdentifier,
    UnknownProfile,
)
from identity.model import (
    Event,
    Identifier,
    JSONValue,
    Profile,
    ProfileId,
    RecordId,
    RecordRef,
    StoredAuditEntry,
    StoredRecord,
)
from identity.normalise import Normaliser
from identity.profiles import ProfileService
from identity.resolution import utc_now
from identity.rules import Rules
from identity.stewardship import UNDOABLE
from identity.store.base import Store

ACCESS_EXPORT = "access-export"
"""The audit action of an access export."""
STEWARD_ACTIONS = tuple(sorted(UNDOABLE | {"undo"}))
"""The audit actions an export lists when they touched the person's records or profiles."""
_AUDIT_PAGE = 500


@dataclass(frozen=True, slots=True)
class AccessSubject:
    """Who an access request is about, as it was asked: an identifier or a profile id."""

    kind: str | None = None
    value: str | None = None
    profile_id: str | None = None

    @classmethod
    def of(
        cls, identifier: tuple[str, str] | None = None, profile_id: str | None = None
    ) -> AccessSubject:
        """Raises InvalidArgument unless exactly one of the two is given."""
        if (identifier is None) == (profile_id is None):
            raise InvalidArgument(
                "name the person by exactly one of an identifier or a profile id",
                argument="identifier" if identifier is None else "profileId",
            )
        if identifier is not None:
            return cls(kind=identifier[0], value=identifier[1])
        return cls(profile_id=profile_id)

    def as_dict(self) -> dict[str, JSONValue]:
        if self.profile_id is not None:
            return {"by": "profile_id", "profile_id": self.profile_id}
        return {"by": "identifier", "kind": self.kind, "value": self.value}


class PersonDataService:
    """Builds access-request documents from the store, reading through its ports in a few
    batched reads (profiles, records, events, sources, memberships, the audit log)."""

    def __init__(
        self,
        store: Store,
        rules: Rules,
        normaliser: Normaliser,
        profiles: ProfileService,
        audit: AuditService,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.rules = rules
        self.normaliser = normaliser
        self.profiles = profiles
        self.audit = audit
        self.clock = clock

    def export(
        self,
        actor: str,
        identifier: tuple[str, str] | None = None,
        profile_id: str | None = None,
    ) -> dict[str, JSONValue]:
        """Everything held about the person ``identifier`` (kind, value) or ``profile_id``
        names, as one JSON-able document (shape in docs/privacy.md, "Access requests"),
        audited as ``access-export`` by ``actor``.

        Raises InvalidArgument unless exactly one is given; UnknownIdentifierKind or
        InvalidIdentifier for an identifier that does not normalise; AmbiguousIdentifier
        when several live profiles hold it; UnknownProfile (NoProfileWithIdentifier for an
        identifier) when nothing is found.

        Steward actions are found by scanning the steward part of the audit log (each
        steward action name, newest first, page by page) and keeping the entries that
        mention the person's records or profile ids: the log is not indexed by record.
        """
        subject = AccessSubject.of(identifier, profile_id)
        with self.store.reading():
            live = self._profile_ids(subject)
            found = [p for p in self.profiles.get_many(live) if p is not None]
            events = self.store.events.of_profiles(live)
            memberships = self.store.segments.memberships_of(live)
            sources = {r.record.source for p in found for r in p.records}
            consent_fields = _consent_fields(self.store.sources.get_many(sources))
            actions = self._steward_actions(found)
        documents = [
            _profile_document(
                profile,
                events.get(profile.id, []),
                statements(
                    profile.records, consent_fields, events.get(profile.id, []), self.rules.events
                ),
                memberships.get(profile.id, []),
                actions.get(profile.id, []),
            )
            for profile in found
        ]
        ids = [p.id for p in found]
        # The asked identifier's value stays out of the log: the ids say whose data left.
        self.audit.record(
            actor,
            ACCESS_EXPORT,
            target=",".join(ids),
            after={"profiles": list(ids), "by": "profile_id" if profile_id else "identifier"},
        )
        return {
            "generated_at": _stamp(self.clock()),
            "subject": subject.as_dict(),
            "profiles": documents,
        }

    def _profile_ids(self, subject: AccessSubject) -> list[ProfileId]:
        """The live profile the subject names (one: an identifier of several is refused)."""
        if subject.profile_id is not None:
            resolved = self.store.profiles.resolve([subject.profile_id])
            if subject.profile_id not in resolved:
                raise UnknownProfile(subject.profile_id)
            return [resolved[subject.profile_id]]
        assert subject.kind is not None and subject.value is not None
        key = self.normaliser.identifier(subject.kind, subject.value).key
        holders = self.store.profiles.with_identifiers([key]).get(key, [])
        if not holders:
            raise NoProfileWithIdentifier(key.kind)
        if len(holders) > 1:
            raise AmbiguousIdentifier(key.kind, len(holders))
        return list(holders)

    def _steward_actions(
        self, profiles: Sequence[Profile]
    ) -> dict[ProfileId, list[StoredAuditEntry]]:
        """Each profile's steward actions, newest first: those whose target, before or
        after name one of its records (by ref or id) or profile ids (its own, merged ones)."""
        marks: dict[ProfileId, PersonMarks] = {
            p.id: PersonMarks(
                profile_ids=frozenset({p.id, *p.merged_from}),
                refs=frozenset(r.ref for r in p.records),
                record_ids=frozenset(r.record_id for r in p.records),
            )
            for p in profiles
        }
        found: dict[ProfileId, list[StoredAuditEntry]] = {pid: [] for pid in marks}
        if not marks:
            return found
        for entry in steward_entries(self.store):
            mentioned = AuditMentions.of(entry)
            for pid, mark in marks.items():
                if mentioned.touches(mark):
                    found[pid].append(entry)
        for entries in found.values():
            entries.sort(key=lambda e: -e.id)
        return found


def steward_entries(store: Store) -> Iterator[StoredAuditEntry]:
    """Every audited steward action, one action name at a time, page by page."""
    for action in STEWARD_ACTIONS:
        before: int | None = None
        while True:
            page = store.audit.entries(before=before, limit=_AUDIT_PAGE, action=action)
            yield from page
            if len(page) < _AUDIT_PAGE:
                break
            before = page[-1].id


@dataclass(frozen=True, slots=True)
class PersonMarks:
    """What identifies one person's profile in an audit entry."""

    profile_ids: frozenset[ProfileId]
    refs: frozenset[RecordRef]
    record_ids: frozenset[RecordId]


@dataclass(frozen=True, slots=True)
class AuditMentions:
    """The strings, record refs and record ids an audit entry names anywhere."""

    strings: frozenset[str]
    refs: frozenset[RecordRef]
    record_ids: frozenset[RecordId]

    @classmethod
    def of(cls, stored: StoredAuditEntry) -> AuditMentions:
        entry = stored.entry
        strings: set[str] = set()
        refs: set[RecordRef] = set()
        record_ids: set[RecordId] = set()
        # Targets: "p1,p2" (merge), "p1" (split), "crm/C1|shop/7" (separate, review pairs).
        for part in (entry.target or "").replace("|", ",").split(","):
            strings.add(part)
            source, slash, key = part.partition("/")
            if slash:
                refs.add(RecordRef(source, key))
        stack: list[JSONValue] = [entry.before, entry.after]
        while stack:
            value = stack.pop()
            if isinstance(value, str):
                strings.add(value)
            elif isinstance(value, list):
                if len(value) == 2 and all(isinstance(v, str) for v in value):
                    refs.add(RecordRef(value[0], value[1]))
                stack.extend(value)
            elif isinstance(value, dict):
                strings.update(str(k) for k in value)
                # Links in before/after name their records by id (links_added, links_removed).
                ends = (value.get("a"), value.get("b"))
                record_ids.update(v for v in ends if isinstance(v, int) and not isinstance(v, bool))
                stack.extend(value.values())
        return cls(frozenset(strings), frozenset(refs), frozenset(record_ids))

    def touches(self, marks: PersonMarks) -> bool:
        return bool(
            self.strings & marks.profile_ids
            or self.refs & marks.refs
            or self.record_ids & marks.record_ids
        )


def _consent_fields(mappings: Mapping[str, Mapping[str, JSONValue]]) -> dict[str, dict[str, str]]:
    """Per source, the attribute its mapping names for each consent purpose."""
    fields: dict[str, dict[str, str]] = {}
    for source, doc in mappings.items():
        consent = doc.get("consent")
        if isinstance(consent, dict):
            fields[source] = {str(k): str(v) for k, v in consent.items()}
    return fields


def _stamp(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _identifiers(identifiers: Collection[Identifier]) -> list[JSONValue]:
    return [{"kind": i.kind, "value": i.value, "original": i.original} for i in identifiers]


def _record(stored: StoredRecord) -> dict[str, JSONValue]:
    record = stored.record
    return {
        "source": record.source,
        "key": record.key,
        "ingested_at": _stamp(stored.ingested_at),
        "updated_at": _stamp(stored.updated_at),
        "timestamp": _stamp(record.timestamp),
        "identifiers": _identifiers(record.identifiers),
        "attributes": dict(record.attributes),
        "raw": dict(record.raw),
    }


def _event(event: Event) -> dict[str, JSONValue]:
    return {
        "event_id": event.event_id,
        "type": event.type,
        "timestamp": _stamp(event.timestamp),
        "channel": event.channel,
        "source": event.source,
        "identifiers": _identifiers(event.identifiers),
        "properties": dict(event.properties),
    }


def _statement(statement: ConsentStatement) -> dict[str, JSONValue]:
    return {
        "purpose": statement.purpose,
        "granted": statement.granted,
        "source": statement.source,
        "at": _stamp(statement.at),
        "via": statement.via,
        "reference": statement.reference,
    }


def _audit(stored: StoredAuditEntry) -> dict[str, JSONValue]:
    entry = stored.entry
    return {
        "id": stored.id,
        "at": _stamp(stored.at),
        "actor": entry.actor,
        "action": entry.action,
        "reason": entry.reason,
        "target": entry.target,
    }


def _profile_document(
    profile: Profile,
    events: Sequence[Event],
    consent: Sequence[ConsentStatement],
    segments: Sequence[str],
    actions: Sequence[StoredAuditEntry],
) -> dict[str, JSONValue]:
    history = sorted(consent, key=lambda s: (s.at, s.purpose, s.via, s.reference))
    current = current_consent(history)
    return {
        "id": profile.id,
        "created_at": _stamp(profile.created_at),
        "merged_from": list(profile.merged_from),
        "golden_record": {
            a.name: {
                "value": a.value,
                "source": a.provenance.source,
                "record_key": a.provenance.record_key,
            }
            for a in profile.attributes
        },
        "identifiers": [
            {"kind": i.kind, "value": i.value, "originals": list(i.originals)}
            for i in profile.identifiers
        ],
        "records": [_record(r) for r in sorted(profile.records, key=lambda r: r.ref)],
        "events": [_event(e) for e in sorted(events, key=lambda e: (e.timestamp, e.event_id))],
        "consent": {
            "current": {purpose: _statement(current[purpose]) for purpose in sorted(current)},
            "history": [_statement(s) for s in history],
        },
        "segments": sorted(segments),
        "steward_actions": [_audit(a) for a in actions],
    }
