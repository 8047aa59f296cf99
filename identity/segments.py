"""Segments: named definitions over profile attributes, traits, consent and behaviour,
with membership kept current and every change logged for activation jobs.

A definition is a JSON document (docs/segments.md)::

    {"description": "Bought twice this month, may be e-mailed",
     "requires_consent": "email",
     "where": {"and": [
         {"event": "purchase", "within_days": 30, "count": {"gte": 2}},
         {"not": {"event": "email_open", "within_days": 60}},
         {"attribute": "city", "eq": "London"}]}}

Membership is re-evaluated only for the profiles a change touches (records, merges,
events, consent), inside the same unit of work; conditions over time windows are
re-evaluated for everyone by :meth:`SegmentService.refresh` (``idgraph segments refresh``,
or the service's scheduled refresh). A profile without the consent a segment requires is
never a member, so it never leaves through members, changes or exports.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from identity.audit import SYSTEM, AuditService
from identity.cursors import decode_int_cursor, encode_cursor
from identity.errors import InvalidArgument, UnknownSegment
from identity.export import ExportPlan, export_value
from identity.journeys import TraitFacts
from identity.model import (
    SEGMENT_REMOVED,
    JSONValue,
    MembershipChange,
    MembershipKind,
    ProfileId,
    SegmentChange,
)
from identity.profile_view import ProfileViewService, profile
from identity.resolution import Resolution, utc_now
from identity.rules import Rules
from identity.segment_definitions import (
    EVENTS,
    HOUSEHOLD,
    VIEW,
    Facts,
    SegmentDefinition,
    parse_definition,
)
from identity.store.base import Store

BATCH = 500
log = logging.getLogger(__name__)

# -- the service -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Segment:
    """A segment as the API shows it."""

    name: str
    definition: SegmentDefinition
    size: int
    created_at: datetime
    updated_at: datetime


@dataclass(slots=True)
class RefreshReport:
    segments: int = 0
    profiles: int = 0
    entered: int = 0
    exited: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, JSONValue]:
        return {
            "segments": self.segments,
            "profiles": self.profiles,
            "entered": self.entered,
            "exited": self.exited,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True, slots=True)
class SegmentDeleted:
    name: str
    at: datetime
    stopped_destinations: list[str]
    """The destinations that followed it, now stopped (``segment_removed``)."""


@dataclass(frozen=True, slots=True)
class ChangesPage:
    changes: list[SegmentChange]
    cursor: str
    """Where the next pull starts: pass it as ``since`` (the same cursor when nothing new)."""
    has_more: bool


def change_cursor(seq: int) -> str:
    return encode_cursor("segment-changes", seq)


def parse_change_cursor(cursor: str) -> int:
    return decode_int_cursor(cursor, "segment-changes")


class SegmentService:
    """Defines segments and keeps their members current as profiles change."""

    def __init__(
        self,
        store: Store,
        rules: Rules,
        views: ProfileViewService,
        clock: Callable[[], datetime] = utc_now,
        audit: AuditService | None = None,
    ) -> None:
        self.store = store
        self.rules = rules
        self.views = views
        self.clock = clock
        self.audit = audit

    # -- definitions -------------------------------------------------------------------------

    def define(self, name: str, document: object, actor: str = SYSTEM) -> Segment:
        """Create or replace a segment and evaluate it over every profile. Raises
        InvalidSegment; nothing is stored for an invalid definition."""
        definition = parse_definition(name, document, self.rules)
        with self.store.unit_of_work():
            old = self.store.segments.get([name])
            self.store.segments.put(name, definition.document, self.clock())
            self.refresh([name])
            if self.audit is not None:
                self.audit.record(
                    actor,
                    "define_segment",
                    target=name,
                    before={"definition": old[0].definition} if old else {},
                    after={"definition": definition.document},
                )
        return self.get(name)

    def delete(self, name: str, actor: str = SYSTEM) -> SegmentDeleted | None:
        """Delete a segment with its members and change log; None if there was none. The
        destinations that follow it are stopped (``segment_removed``), visibly, in the same
        unit of work, and named in the answer."""
        with self.store.unit_of_work():
            old = self.store.segments.get([name])
            deleted = self.store.segments.delete(name)
            if not deleted:
                return None
            at = self.clock()
            stopped = self.store.destinations.stop_following(name, SEGMENT_REMOVED, at)
            if self.audit is not None:
                before = {"definition": old[0].definition} if old else {}
                after: dict[str, JSONValue] = (
                    {"stopped_destinations": list(stopped)} if stopped else {}
                )
                self.audit.record(actor, "delete_segment", target=name, before=before, after=after)
        if stopped:
            log.warning(
                "segment %s deleted: destination(s) %s stopped until resumed",
                name,
                ", ".join(stopped),
            )
        return SegmentDeleted(name, at, stopped)

    def definitions(self, names: Sequence[str] | None = None) -> list[SegmentDefinition]:
        return [
            parse_definition(row.name, row.definition, self.rules)
            for row in self.store.segments.get(names)
        ]

    def get(self, name: str) -> Segment:
        """Raises UnknownSegment."""
        found = self.segments([name])
        if not found:
            raise UnknownSegment(name)
        return found[0]

    def segments(self, names: Sequence[str] | None = None) -> list[Segment]:
        rows = self.store.segments.get(names)
        sizes = self.store.segments.sizes([r.name for r in rows])
        return [
            Segment(
                name=r.name,
                definition=parse_definition(r.name, r.definition, self.rules),
                size=sizes.get(r.name, 0),
                created_at=r.created_at,
                updated_at=r.updated_at,
            )
            for r in rows
        ]

    # -- facts and evaluation ----------------------------------------------------------------

    def facts(
        self, profile_ids: Sequence[ProfileId], needs: Collection[str] | None = None
    ) -> dict[ProfileId, Facts]:
        """What conditions look at, for live profiles (others are absent), batched.

        ``needs`` (VIEW, EVENTS; both when None) says what to read: the profile's row of
        the read model (golden record, identifiers, traits, consent), and its events (for
        event conditions). What is not read is left empty, which only conditions that do
        not read it may see.
        """
        now = self.clock()
        wanted = set(needs) if needs is not None else {VIEW, EVENTS}
        if HOUSEHOLD in wanted:
            return self._with_households(profile_ids, wanted - {HOUSEHOLD})
        with self.store.reading():
            rows = self.store.profiles.get(profile_ids)
            views = self.views.get_many(list(rows)) if VIEW in wanted else {}
            events = self.store.events.of_profiles(list(rows)) if EVENTS in wanted else {}
        empty = TraitFacts(None, None)
        found: dict[ProfileId, Facts] = {}
        for pid, row in rows.items():
            view = views.get(pid)
            found[pid] = Facts(
                profile=profile(row, view),
                events=events.get(pid, []),
                traits=(view.traits if view else empty).at(now),
                consent=view.consent if view else {},
                now=now,
            )
        return found

    def _with_households(
        self, profile_ids: Sequence[ProfileId], needs: set[str]
    ) -> dict[ProfileId, Facts]:
        """Facts with their households' members' facts: the members of every household
        of the batch read at once (as stored, merged-away members followed)."""
        with self.store.reading():
            households = self.store.households.of_profiles(profile_ids)
            members = self.store.profiles.resolve(
                {m for h in households.values() for m in h.members}
            )
        wanted = sorted(set(profile_ids) | set(members.values()))
        found = self.facts(wanted, needs)
        result: dict[ProfileId, Facts] = {}
        for pid in profile_ids:
            own = found.get(pid)
            if own is None:
                continue
            household = households.get(pid)
            if household is not None:
                ids = sorted({members[m] for m in household.members if m in members})
                own = replace(own, household=tuple(found[m] for m in ids if m in found))
            result[pid] = own
        return result

    def household_members(self, profile_ids: Collection[ProfileId]) -> set[ProfileId]:
        """The profiles that share a household with any of ``profile_ids`` (themselves
        included): whose household conditions a change to them can change."""
        households = self.store.households.of_profiles(profile_ids)
        stored = {m for h in households.values() for m in h.members}
        # As stored until the next build: members merged away since count as their survivor.
        return set(profile_ids) | set(self.store.profiles.resolve(stored).values())

    def _evaluate(
        self,
        profile_ids: Sequence[ProfileId],
        definitions: Sequence[SegmentDefinition],
        changes: list[MembershipChange],
    ) -> None:
        needs = frozenset().union(*(d.needs for d in definitions))
        facts = self.facts(profile_ids, needs)
        current = self.store.segments.memberships_of(profile_ids)
        for pid in profile_ids:
            held = set(current.get(pid, []))
            profile_facts = facts.get(pid)
            for definition in definitions:
                member = profile_facts is not None and definition.is_member(profile_facts)
                if member and definition.name not in held:
                    changes.append(MembershipChange(definition.name, pid, MembershipKind.ENTERED))
                elif not member and definition.name in held:
                    changes.append(MembershipChange(definition.name, pid, MembershipKind.EXITED))

    # -- keeping members current -------------------------------------------------------------

    def on_resolution(self, outcome: Resolution) -> None:
        """Resolver listener: re-evaluate the profiles a re-resolution changed."""
        self.profiles_changed(
            outcome.affected, merged=outcome.changes.merged, deleted=outcome.changes.deleted
        )

    def profiles_changed(
        self,
        live: set[ProfileId],
        merged: Mapping[ProfileId, ProfileId] | None = None,
        deleted: Sequence[ProfileId] = (),
    ) -> int:
        """Re-evaluate every segment for ``live`` profiles; ids merged away or deleted exit
        every segment they were in (a merged id names its survivor). Returns the number of
        membership changes. Call inside the unit of work of the change."""
        definitions = self.definitions()
        if not definitions:
            return 0
        changes: list[MembershipChange] = []
        merged = merged or {}
        gone = set(merged) | set(deleted)
        if any(HOUSEHOLD in d.needs for d in definitions):
            # A member's purchase changes "any member bought" for the whole household.
            live = self.household_members(live)
        if gone:
            for pid, names in self.store.segments.memberships_of(sorted(gone)).items():
                survivor = merged.get(pid)
                changes.extend(
                    MembershipChange(name, pid, MembershipKind.EXITED, merged_into=survivor)
                    for name in names
                )
        ordered = sorted(live - gone)
        for start in range(0, len(ordered), BATCH):
            self._evaluate(ordered[start : start + BATCH], definitions, changes)
        if changes:
            self.store.segments.apply_changes(changes, self.clock())
        return len(changes)

    def households_changed(self, profile_ids: Collection[ProfileId]) -> int:
        """Re-evaluate the segments with a household condition for profiles whose
        household changed (a build or a steward's correction). Returns the membership
        changes made; each batch is its own unit of work, or joins the caller's."""
        definitions = [d for d in self.definitions() if HOUSEHOLD in d.needs]
        if not definitions or not profile_ids:
            return 0
        ordered = sorted(set(self.store.profiles.resolve(profile_ids).values()))
        made = 0
        for start in range(0, len(ordered), BATCH):
            changes: list[MembershipChange] = []
            with self.store.unit_of_work():
                self._evaluate(ordered[start : start + BATCH], definitions, changes)
                if changes:
                    self.store.segments.apply_changes(changes, self.clock())
            made += len(changes)
        return made

    def refresh(
        self,
        names: Sequence[str] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> RefreshReport:
        """Re-evaluate segments (all, or the named ones) over every live profile, so that
        time windows move with the clock. ``progress`` gets the profiles done so far."""
        started = time.perf_counter()
        report = RefreshReport()
        definitions = self.definitions(names)
        if names is not None:
            missing = sorted(set(names) - {d.name for d in definitions})
            if missing:
                raise UnknownSegment(missing[0])
        report.segments = len(definitions)
        if not definitions:
            return report
        batch: list[ProfileId] = []

        def flush() -> None:
            changes: list[MembershipChange] = []
            self._evaluate(batch, definitions, changes)
            if changes:
                self.store.segments.apply_changes(changes, self.clock())
            report.entered += sum(1 for c in changes if c.kind == MembershipKind.ENTERED)
            report.exited += sum(1 for c in changes if c.kind == MembershipKind.EXITED)
            report.profiles += len(batch)
            if progress is not None:
                progress(report.profiles)

        for pid in self.store.profiles.scan_ids(batch_size=BATCH * 4):
            batch.append(pid)
            if len(batch) >= BATCH:
                flush()
                batch = []
        if batch:
            flush()
        report.seconds = time.perf_counter() - started
        return report

    # -- reading members and changes ---------------------------------------------------------

    def members(
        self, name: str, first: int = 100, after: ProfileId | None = None
    ) -> tuple[list[ProfileId], bool]:
        """A page of member ids (ascending) after ``after``, and whether more follow."""
        self.get(name)
        found = self.store.segments.members(name, after=after, limit=first + 1)
        return found[:first], len(found) > first

    def changes(self, name: str, since: str | None = None, first: int = 1000) -> ChangesPage:
        """Entered and exited profiles after the cursor ``since`` (from the start when
        None), oldest first, with the cursor to pass next time. Raises UnknownSegment,
        InvalidCursor."""
        if not 1 <= first <= 10_000:
            raise InvalidArgument(f"first must be between 1 and 10000, got {first}")
        self.get(name)
        after = parse_change_cursor(since) if since else 0
        found = self.store.segments.changes(name, after=after, limit=first + 1)
        page = found[:first]
        return ChangesPage(
            changes=page,
            cursor=change_cursor(page[-1].seq if page else after),
            has_more=len(found) > first,
        )

    def memberships(self, profile_ids: Sequence[ProfileId]) -> dict[ProfileId, list[str]]:
        return self.store.segments.memberships_of(profile_ids)

    def export(
        self, name: str, fields: Sequence[str], batch_size: int = BATCH, actor: str = SYSTEM
    ) -> Iterator[dict[str, JSONValue]]:
        """Every member as a row of the chosen fields, read page by page (constant memory).
        Raises UnknownSegment, InvalidArgument for an empty field list. The export is
        audited when it is asked for (before its first row)."""
        segment = self.get(name)
        if not fields:
            raise InvalidArgument("choose at least one field")
        if self.audit is not None:
            after: dict[str, JSONValue] = {"fields": list(fields), "size": segment.size}
            self.audit.record(actor, "export_segment", target=name, after=after)
        return self._export(name, fields, batch_size)

    def _export(
        self, name: str, fields: Sequence[str], batch_size: int
    ) -> Iterator[dict[str, JSONValue]]:
        if not self.views.fresh():
            yield from self._export_recomputed(name, fields, batch_size)
            return
        # Only the columns asked for are read from the read model, with the members.
        plan = ExportPlan(fields, self.rules)
        now = self.clock()
        after: ProfileId | None = None
        while True:
            page = self.store.views.export_page(name, plan.columns, after=after, limit=batch_size)
            if not page:
                return
            missing = [pid for pid, values in page if values is None]
            # A member without a row (only while a rebuild is under way) is recomputed.
            recomputed = self.rows(missing, fields) if missing else {}
            for pid, values in page:
                if values is not None:
                    yield plan.row(pid, values, now)
                elif pid in recomputed:
                    yield recomputed[pid]
            after = page[-1][0]

    def _export_recomputed(
        self, name: str, fields: Sequence[str], batch_size: int
    ) -> Iterator[dict[str, JSONValue]]:
        after: ProfileId | None = None
        while True:
            page = self.store.segments.members(name, after=after, limit=batch_size)
            if not page:
                return
            rows = self.rows(page, fields)
            for pid in page:
                row = rows.get(pid)
                if row is not None:
                    yield row
            after = page[-1]

    def rows(
        self, profile_ids: Sequence[ProfileId], fields: Sequence[str]
    ) -> dict[ProfileId, dict[str, JSONValue]]:
        """Export rows (the chosen fields, as :func:`export_value` gives them) of live
        profiles, batched; ids that are not live are absent. Destinations use it too."""
        facts = self.facts(profile_ids, needs={VIEW})  # no field is an event
        return {
            pid: {f: export_value(found, f, self.rules) for f in fields}
            for pid, found in facts.items()
        }
