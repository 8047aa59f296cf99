"""Erasure (GDPR Art. 17, CCPA): deleting a person everywhere, keeping them deleted, and
the two smaller deletions that share its path (retention, one wrong identifier).

:class:`Forgetting` is the one way records and events leave the store for good: it
deletes them (with their identifier edges, links, match-index rows and blocking keys, and
their values in the trained match model's term frequencies),
re-resolves what is left of their profiles (a profile may split when the record that
held it together goes), deletes profiles left without records (``deleted`` on the profile
change log), refreshes the flags of the identifiers whose counts fell (a shared value
back under its cap links again) and re-evaluates segments (``exited`` on their change
logs). :class:`ErasureService` uses it for a whole person and adds the suppression list
and the audit entry; retention (identity/privacy/retention.py) for what is too old.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from identity.audit import AuditService
from identity.derived import DerivedData
from identity.errors import (
    AmbiguousIdentifier,
    InvalidArgument,
    NoProfileWithIdentifier,
    UnknownProfile,
)
from identity.ingest import IngestService
from identity.matching.matcher import ProbabilisticMatcher
from identity.model import (
    AuditEntry,
    JSONValue,
    ProfileChanges,
    ProfileId,
    RecordId,
    RecordRef,
    StoredRecord,
    Suppression,
)
from identity.normalise import Normaliser
from identity.privacy.access import AuditMentions, PersonMarks, steward_entries
from identity.privacy.suppression import RECORD, REMOVED, Hasher, hasher
from identity.resolution import Resolver, utc_now
from identity.rules import Rules
from identity.store.base import Store

ERASE = "erase"
REMOVE_IDENTIFIER = "remove-identifier"
UNSUPPRESS = "unsuppress"
"""Audit actions of this module."""


@dataclass(slots=True)
class Forgotten:
    """What one deletion removed and changed."""

    records: int = 0
    events: int = 0
    profiles_deleted: list[ProfileId] = field(default_factory=list)
    profiles_changed: set[ProfileId] = field(default_factory=set)
    """Live profiles that lost records or events (re-resolved, segments re-evaluated)."""


class Forgetting:
    """Deletes records and events for good and brings profiles, flags and segments in line
    with what is left. Call inside a unit of work; call ``store.privacy.scrub()`` after it."""

    def __init__(
        self,
        store: Store,
        rules: Rules,
        resolver: Resolver,
        derived: DerivedData,
        matcher: ProbabilisticMatcher | None = None,
    ):
        self.store = store
        self.rules = rules
        self.resolver = resolver
        self.derived = derived
        self.matcher = matcher

    def forget(
        self, record_ids: Collection[RecordId], event_ids: Collection[str], now: datetime
    ) -> Forgotten:
        store = self.store
        outcome = Forgotten()
        record_ids = sorted(set(record_ids))
        profiles = set(store.profiles.ids_of(record_ids).values())
        # Profiles whose journeys lose an event re-evaluate their segments (a purchase gone).
        for holders in store.events.profiles_of(list(event_ids)).values():
            profiles.update(holders)
        keys = sorted(
            {i.key for idents in store.records.identifiers_of(record_ids).values() for i in idents}
        )
        before = store.records.identifier_counts(keys)
        outcome.events = store.privacy.delete_events(event_ids) if event_ids else 0
        if record_ids:
            if self.matcher is not None:
                # Their rare values leave the trained model's term frequencies too.
                self.matcher.forget(store.matching.rows_of(record_ids))
            store.privacy.delete_records(record_ids)
            outcome.records = len(record_ids)
        after = store.records.identifier_counts(keys)
        status_changed = self.rules.linking_changed(keys, before, after)
        left = store.profiles.records_of(profiles)
        seeds = sorted({rid for rids in left.values() for rid in rids})
        resolution = self.resolver.resolve(seeds, keys, status_changed, identifier_counts=after)
        empty = sorted(pid for pid in profiles if not left.get(pid))
        if empty:
            store.profiles.apply(ProfileChanges(deleted=empty), now)
        outcome.profiles_deleted = empty
        outcome.profiles_changed = (profiles - set(empty)) | resolution.affected
        # The resolver's listener re-evaluated what it re-resolved; the rest is said here:
        # deleted profiles exit their segments, and profiles that only lost events change.
        rest = outcome.profiles_changed - resolution.affected - set(resolution.changes.merged)
        self.derived.profiles_changed(rest, deleted=empty)
        return outcome


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """What an erasure did; the values it removed are in no field."""

    audit_id: int
    profile_ids: list[ProfileId]
    records: int
    events: int
    suppressed: int
    """Entries added to the suppression list: identifiers and records."""
    profiles_deleted: list[ProfileId]


@dataclass(frozen=True, slots=True)
class RemovalReport:
    audit_id: int
    profile_id: ProfileId
    records: int
    """Records the identifier was removed from."""
    profiles: list[ProfileId]
    """The live profiles of those records afterwards (more than one after a split)."""


class ErasureService:
    """Erases people and removes wrong identifiers, audited; nothing of either is undone by
    a later load of the same data."""

    def __init__(
        self,
        store: Store,
        rules: Rules,
        normaliser: Normaliser,
        forgetting: Forgetting,
        ingest: IngestService,
        audit: AuditService,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.rules = rules
        self.normaliser = normaliser
        self.forgetting = forgetting
        self.ingest = ingest
        self.audit = audit
        self.clock = clock

    def people(
        self, identifiers: Sequence[tuple[str, str]] = (), profile_ids: Sequence[str] = ()
    ) -> list[ProfileId]:
        """The live profiles a request names, each once, sorted: by identifiers (each
        normalised as at ingest, and held by exactly one profile) and by profile ids (a
        merged id follows its redirect). A person the matchers did not join into one
        profile is named by several. Raises InvalidArgument (nothing named),
        UnknownProfile, AmbiguousIdentifier, InvalidIdentifier."""
        if not identifiers and not profile_ids:
            raise InvalidArgument("name the person by at least one identifier or profile id")
        found: set[ProfileId] = set()
        resolved = self.store.profiles.resolve(profile_ids)
        for pid in profile_ids:
            if pid not in resolved:
                raise UnknownProfile(pid)
            found.add(resolved[pid])
        keys = [(kind, self.normaliser.identifier(kind, value).key) for kind, value in identifiers]
        holders = self.store.profiles.with_identifiers([key for _, key in keys])
        for kind, key in keys:
            held = holders.get(key, [])
            if not held:
                raise NoProfileWithIdentifier(kind)
            if len(held) > 1:
                raise AmbiguousIdentifier(kind, len(held))
            found.add(held[0])
        return sorted(found)

    def erase(
        self,
        actor: str,
        reason: str,
        identifiers: Sequence[tuple[str, str]] = (),
        profile_ids: Sequence[str] = (),
    ) -> ErasureReport:
        """Erase one person, named as :meth:`people` says: every record of their profiles,
        every event of their journeys, their links, match rows, blocking keys and segment
        memberships; each profile becomes a tombstone (``deleted`` on the profile change
        log). Their linking identifiers and records go on the suppression list. All or
        nothing; raises as :meth:`people`, and InvalidArgument without a reason."""
        if not reason.strip():
            raise InvalidArgument("an erasure needs a reason (the request it answers)")
        store = self.store
        with store.unit_of_work():
            pids = self.people(identifiers, profile_ids)
            record_ids = sorted(
                rid for rids in store.profiles.records_of(pids).values() for rid in rids
            )
            stored = store.records.get(record_ids)
            events = sorted(
                {e.event_id for found in store.events.of_profiles(pids).values() for e in found}
            )
            keys = sorted({i.key for r in stored.values() for i in r.record.identifiers})
            counts = store.records.identifier_counts(keys)
            # Only identifiers that link are the person's own: a shared junk value (a
            # blocklisted or over-shared e-mail) is not, and suppressing it would drop
            # strangers' records. Nor is one another profile still holds (a household
            # phone): suppressing it would drop that person's later records and events.
            linking = [
                k
                for k in keys
                if (rule := self.rules.kinds.get(k.kind)) is not None
                and rule.links
                and self.rules.link_block_reason(k, counts[k]) is None
            ]
            holders = store.profiles.with_identifiers(linking)
            linking = [k for k in linking if set(holders.get(k, [])) <= set(pids)]
            found = hasher(store, create=True)
            assert found is not None
            entries = {found.identifier(k): k.kind for k in linking}
            entries.update((found.record(r.record.ref), RECORD) for r in stored.values())
            now = self.clock()
            audit_id = self.audit.record(
                actor,
                ERASE,
                target=",".join(pids),
                reason=reason,
                before={"profiles": list(pids), "records": len(record_ids), "events": len(events)},
                after={"suppressed": sorted(entries)},
            )
            store.privacy.suppress(
                [Suppression(h, kind, now, audit_id) for h, kind in sorted(entries.items())]
            )
            self._redact_audit(pids, stored, found)
            forgotten = self.forgetting.forget(record_ids, events, now)
        store.privacy.scrub()
        return ErasureReport(
            audit_id,
            pids,
            forgotten.records,
            forgotten.events,
            len(entries),
            forgotten.profiles_deleted,
        )

    def _redact_audit(
        self, pids: Sequence[ProfileId], stored: Mapping[RecordId, StoredRecord], found: Hasher
    ) -> None:
        """Earlier steward entries naming the erased records keep a pseudonym in place of
        each record's key (``erased-`` and the start of its salted hash: one record is the
        same pseudonym everywhere); who did what, when and why stays."""
        marks = PersonMarks(
            profile_ids=frozenset(pids),
            refs=frozenset(r.record.ref for r in stored.values()),
            record_ids=frozenset(stored),
        )
        alias = {ref: f"erased-{found.record(ref)[:12]}" for ref in marks.refs}
        redacted = [
            replace(entry, entry=_without_refs(entry.entry, alias))
            for entry in steward_entries(self.store)
            if AuditMentions.of(entry).touches(marks)
        ]
        if redacted:
            self.store.audit.redact(redacted)

    def suppressions(self, after: str | None = None, limit: int = 1000) -> list[Suppression]:
        """A page of the suppression list, by hash."""
        return self.store.privacy.suppressions(after, limit)

    def lift(
        self,
        actor: str,
        reason: str,
        hashes: Sequence[str] = (),
        identifiers: Sequence[tuple[str, str]] = (),
        erasure_id: int | None = None,
    ) -> list[str]:
        """Take entries off the suppression list (a mistaken erasure: what it deleted stays
        deleted, but the next load may bring it back): by hash, by identifier (normalised
        and hashed as an erasure does), or every entry one erasure (its audit id) added.
        Returns the hashes taken off, sorted; audited. Raises InvalidArgument (no reason,
        nothing named), InvalidIdentifier."""
        if not reason.strip():
            raise InvalidArgument("taking entries off the suppression list needs a reason")
        if not hashes and not identifiers and erasure_id is None:
            raise InvalidArgument("name entries by hash, by identifier or by erasure")
        # Checked even when nothing was ever suppressed: a typo is refused, not a no-op.
        keys = [self.normaliser.identifier(kind, value).key for kind, value in identifiers]
        store = self.store
        with store.unit_of_work():
            wanted = set(hashes)
            found = hasher(store)
            if found is not None:
                wanted.update(found.identifier(key) for key in keys)
            if erasure_id is not None:
                after: str | None = None
                while page := store.privacy.suppressions(after, 10_000):
                    wanted.update(e.hash for e in page if e.audit_id == erasure_id)
                    after = page[-1].hash
            listed = sorted(store.privacy.suppressed(wanted))
            if listed:
                store.privacy.unsuppress(listed)
                self.audit.record(
                    actor,
                    UNSUPPRESS,
                    target=str(erasure_id) if erasure_id is not None else None,
                    reason=reason,
                    before={"suppressed": list(listed)},
                )
        return listed

    def remove_identifier(
        self, actor: str, reason: str, profile_id: str, kind: str, value: str
    ) -> RemovalReport:
        """Take one identifier off a profile (a wrong e-mail an agent typed) without erasing
        anyone: every record of the profile carrying it loses it, the profile re-resolves
        (it may split), and a later load of the same records leaves it out. Audited with the
        identifier's hash, not its value. Raises UnknownProfile, InvalidIdentifier,
        InvalidArgument (no reason; the profile does not hold the identifier)."""
        if not reason.strip():
            raise InvalidArgument("removing an identifier needs a reason")
        key = self.normaliser.identifier(kind, value).key
        store = self.store
        with store.unit_of_work():
            (pid,) = self.people(profile_ids=[profile_id])
            record_ids = store.profiles.records_of([pid]).get(pid, [])
            holders = [
                stored
                for stored in store.records.get(record_ids).values()
                if any(i.key == key for i in stored.record.identifiers)
            ]
            if not holders:
                raise InvalidArgument(f"profile {pid} holds no such {kind}")
            found = hasher(store, create=True)
            assert found is not None
            now = self.clock()
            audit_id = self.audit.record(
                actor,
                REMOVE_IDENTIFIER,
                target=pid,
                reason=reason,
                before={
                    "identifier": found.identifier(key),
                    "kind": kind,
                    "records": [list(s.record.ref) for s in holders],
                },
            )
            store.privacy.suppress(
                [
                    Suppression(
                        found.record_identifier(s.record.ref, key), REMOVED + kind, now, audit_id
                    )
                    for s in holders
                ]
            )
            # Sent again as they are stored: the ingest's write path leaves the identifier
            # out by the entries just added, as it will whenever the source sends them,
            # and re-indexes, re-scores and re-resolves the records as for any change.
            self.ingest.write_records([s.record for s in holders], REMOVE_IDENTIFIER)
            profiles = sorted(set(store.profiles.ids_of([s.record_id for s in holders]).values()))
        return RemovalReport(audit_id, pid, len(holders), profiles)


def _without_refs(entry: AuditEntry, alias: Mapping[RecordRef, str]) -> AuditEntry:
    """The entry with each aliased record's key replaced, in its target (``source/key``
    parts) and wherever its before and after hold ``[source, key]``."""

    def part(text: str) -> str:
        source, slash, key = text.partition("/")
        pseudonym = alias.get(RecordRef(source, key)) if slash else None
        return f"{source}/{pseudonym}" if pseudonym else text

    def value(node: JSONValue) -> JSONValue:
        if isinstance(node, list):
            if len(node) == 2 and all(isinstance(v, str) for v in node):
                pseudonym = alias.get(RecordRef(str(node[0]), str(node[1])))
                if pseudonym:
                    return [node[0], pseudonym]
            return [value(v) for v in node]
        if isinstance(node, dict):
            return {k: value(v) for k, v in node.items()}
        return node

    target = entry.target
    if target is not None:
        target = "|".join(",".join(part(p) for p in t.split(",")) for t in target.split("|"))
    before = value(entry.before)
    after = value(entry.after)
    assert isinstance(before, dict) and isinstance(after, dict)
    return replace(entry, target=target, before=before, after=after)
