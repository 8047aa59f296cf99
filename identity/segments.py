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

import re
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from identity.audit import SYSTEM, AuditService
from identity.consent import ConsentStatement
from identity.cursors import decode_int_cursor, encode_cursor
from identity.errors import InvalidArgument, InvalidSegment, UnknownSegment
from identity.export import ExportPlan, export_value
from identity.journeys import TRAIT_NAMES, TraitFacts, Traits
from identity.model import (
    Event,
    JSONValue,
    MembershipChange,
    MembershipKind,
    Profile,
    ProfileId,
    SegmentChange,
)
from identity.profile_view import ProfileViewService, profile
from identity.resolution import Resolution, utc_now
from identity.rules import Rules
from identity.store.base import Store

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_DATETIME_TRAITS = frozenset({"first_seen", "last_seen", "last_order"})
OPERATORS: tuple[str, ...] = (
    "eq",
    "ne",
    "gt",
    "gte",
    "lt",
    "lte",
    "in",
    "not_in",
    "contains",
    "exists",
)
BATCH = 500

# -- conditions ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Facts:
    """What a segment condition can look at for one profile, as of ``now``."""

    profile: Profile
    events: list[Event]
    traits: Traits
    consent: dict[str, ConsentStatement]
    now: datetime

    def attribute(self, name: str) -> JSONValue:
        for attribute in self.profile.attributes:
            if attribute.name == name:
                return attribute.value
        return None

    def consented(self, purpose: str) -> bool:
        statement = self.consent.get(purpose)
        return statement is not None and statement.granted


def _fold(value: object) -> object:
    return value.casefold() if isinstance(value, str) else value


def _compare(op: str, actual: object, expected: object) -> bool:
    """One operator. Strings compare case-insensitively; mismatched types never match."""
    if op == "exists":
        return (actual is not None) == expected
    if actual is None:
        return op in ("ne", "not_in")
    a, e = _fold(actual), _fold(expected)
    if op == "eq":
        return a == e
    if op == "ne":
        return a != e
    if op == "in":
        return a in [_fold(x) for x in expected] if isinstance(expected, list) else False
    if op == "not_in":
        return a not in [_fold(x) for x in expected] if isinstance(expected, list) else True
    if op == "contains":
        if isinstance(a, str) and isinstance(e, str):
            return e in a
        return isinstance(actual, list) and expected in actual
    numeric = (int, float)
    comparable = (
        isinstance(a, numeric) and isinstance(e, numeric) and not isinstance(a, bool)
    ) or (type(a) is type(e) and isinstance(a, str | datetime))
    if not comparable:
        return False
    if op == "gt":
        return bool(a > e)  # type: ignore[operator]
    if op == "gte":
        return bool(a >= e)  # type: ignore[operator]
    if op == "lt":
        return bool(a < e)  # type: ignore[operator]
    return bool(a <= e)  # type: ignore[operator]


@dataclass(frozen=True, slots=True)
class Comparison:
    """Operators a value must all satisfy, e.g. ``{"gte": 2, "lt": 10}``."""

    ops: tuple[tuple[str, Any], ...]

    def holds(self, actual: object) -> bool:
        return all(_compare(op, actual, expected) for op, expected in self.ops)


VIEW, EVENTS = "view", "events"
"""What a condition reads of a profile: its row of the read model (identity/profile_view.py),
or its events too (event conditions count them in time windows)."""


class Condition:
    time_dependent = False
    needs: frozenset[str] = frozenset()

    def holds(self, facts: Facts) -> bool:
        raise NotImplementedError


@dataclass(frozen=True)
class AllOf(Condition):
    items: tuple[Condition, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "time_dependent", any(c.time_dependent for c in self.items))
        object.__setattr__(self, "needs", frozenset().union(*(c.needs for c in self.items)))

    def holds(self, facts: Facts) -> bool:
        return all(c.holds(facts) for c in self.items)


@dataclass(frozen=True)
class AnyOf(Condition):
    items: tuple[Condition, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "time_dependent", any(c.time_dependent for c in self.items))
        object.__setattr__(self, "needs", frozenset().union(*(c.needs for c in self.items)))

    def holds(self, facts: Facts) -> bool:
        return any(c.holds(facts) for c in self.items)


@dataclass(frozen=True)
class Negation(Condition):
    item: Condition

    def __post_init__(self) -> None:
        object.__setattr__(self, "time_dependent", self.item.time_dependent)
        object.__setattr__(self, "needs", self.item.needs)

    def holds(self, facts: Facts) -> bool:
        return not self.item.holds(facts)


@dataclass(frozen=True)
class AttributeCondition(Condition):
    name: str
    comparison: Comparison
    needs: frozenset[str] = frozenset({VIEW})

    def holds(self, facts: Facts) -> bool:
        return self.comparison.holds(facts.attribute(self.name))


@dataclass(frozen=True)
class TraitCondition(Condition):
    name: str
    comparison: Comparison
    time_dependent: bool = True  # recency moves with the clock

    needs: frozenset[str] = frozenset({VIEW})

    def holds(self, facts: Facts) -> bool:
        return self.comparison.holds(facts.traits.value(self.name))


@dataclass(frozen=True)
class IdentifierCondition(Condition):
    kind: str
    needs: frozenset[str] = frozenset({VIEW})

    def holds(self, facts: Facts) -> bool:
        return any(i.kind == self.kind and i.links for i in facts.profile.identifiers)


@dataclass(frozen=True)
class ConsentCondition(Condition):
    purpose: str
    needs: frozenset[str] = frozenset({VIEW})

    def holds(self, facts: Facts) -> bool:
        return facts.consented(self.purpose)


@dataclass(frozen=True)
class EventCondition(Condition):
    """Events of a type (``*`` for any) in a window, filtered by properties; by default at
    least one, or a comparison on their count or on the sum of a property."""

    type: str
    within_days: float | None = None
    properties: tuple[tuple[str, JSONValue], ...] = ()
    count: Comparison | None = None
    sum_property: str | None = None
    total: Comparison | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "time_dependent", self.within_days is not None)
        object.__setattr__(self, "needs", frozenset({EVENTS}))

    def holds(self, facts: Facts) -> bool:
        start = facts.now - timedelta(days=self.within_days) if self.within_days else None
        matching = [
            e
            for e in facts.events
            if (self.type == "*" or e.type == self.type)
            and (start is None or e.timestamp >= start)
            and all(_compare("eq", e.properties.get(k), v) for k, v in self.properties)
        ]
        if self.total is not None and self.sum_property is not None:
            total = 0.0
            for e in matching:
                value = e.properties.get(self.sum_property)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    total += value
            return self.total.holds(total)
        if self.count is not None:
            return self.count.holds(len(matching))
        return bool(matching)


@dataclass(frozen=True, slots=True)
class SegmentDefinition:
    """A validated segment: who is a member, and which consent members need."""

    name: str
    where: Condition
    requires_consent: str | None
    description: str | None
    document: dict[str, JSONValue]

    def is_member(self, facts: Facts) -> bool:
        if self.requires_consent is not None and not facts.consented(self.requires_consent):
            return False
        return self.where.holds(facts)

    @property
    def time_dependent(self) -> bool:
        return self.where.time_dependent

    @property
    def needs(self) -> frozenset[str]:
        """What evaluating it reads of a profile (consent is in the read model)."""
        consent = frozenset({VIEW}) if self.requires_consent else frozenset()
        return self.where.needs | consent


class _Parser:
    """Reads a definition document, collecting every problem with its place."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.problems: list[str] = []

    def problem(self, where: str, text: str) -> None:
        self.problems.append(f"{where}: {text}")

    def definition(self, name: str, doc: object) -> SegmentDefinition | None:
        if not _NAME.match(name):
            self.problem(
                "name",
                "use 1-64 lower-case letters, digits, '_' or '-', starting with a letter or digit",
            )
        if not isinstance(doc, dict):
            self.problem("definition", "must be a JSON object with a 'where' condition")
            return None
        for key in sorted(set(doc) - {"where", "requires_consent", "description"}):
            self.problem(key, "unknown key; allowed: where, requires_consent, description")
        purpose = doc.get("requires_consent")
        if purpose is not None and purpose not in self.rules.events.purposes:
            self.problem(
                "requires_consent",
                f"unknown purpose {purpose!r}; one of {', '.join(self.rules.events.purposes)}",
            )
        description = doc.get("description")
        if description is not None and not isinstance(description, str):
            self.problem("description", "must be a string")
        if "where" not in doc:
            self.problem("where", "is required: the condition members satisfy")
            return None
        where = self.condition(doc["where"], "where")
        if self.problems or where is None:
            return None
        return SegmentDefinition(
            name=name,
            where=where,
            requires_consent=purpose,
            description=description,
            document=doc,
        )

    def condition(self, doc: object, where: str) -> Condition | None:
        if not isinstance(doc, dict) or not doc:
            self.problem(where, "a condition must be a non-empty JSON object")
            return None
        for combinator in ("and", "or"):
            if combinator in doc:
                self._only(doc, {combinator}, where)
                items = doc[combinator]
                if not isinstance(items, list):
                    self.problem(f"{where}.{combinator}", "must be a list of conditions")
                    return None
                parsed = [
                    self.condition(item, f"{where}.{combinator}[{i}]")
                    for i, item in enumerate(items)
                ]
                if any(p is None for p in parsed):
                    return None
                conditions = tuple(p for p in parsed if p is not None)
                return AllOf(conditions) if combinator == "and" else AnyOf(conditions)
        if "not" in doc:
            self._only(doc, {"not"}, where)
            inner = self.condition(doc["not"], f"{where}.not")
            return Negation(inner) if inner is not None else None
        if "attribute" in doc:
            name = doc["attribute"]
            if not isinstance(name, str) or not name:
                self.problem(f"{where}.attribute", "must name an attribute")
                return None
            comparison = self.comparison(doc, {"attribute"}, where, required=True)
            return AttributeCondition(name, comparison) if comparison else None
        if "trait" in doc:
            name = doc["trait"]
            if name not in TRAIT_NAMES:
                self.problem(
                    f"{where}.trait", f"unknown trait {name!r}; one of {', '.join(TRAIT_NAMES)}"
                )
                return None
            comparison = self.comparison(
                doc, {"trait"}, where, required=True, datetimes=name in _DATETIME_TRAITS
            )
            return TraitCondition(name, comparison) if comparison else None
        if "identifier" in doc:
            self._only(doc, {"identifier"}, where)
            kind = doc["identifier"]
            if kind not in self.rules.kinds:
                kinds = ", ".join(sorted(self.rules.kinds))
                self.problem(f"{where}.identifier", f"unknown identifier kind {kind!r}; {kinds}")
                return None
            return IdentifierCondition(kind)
        if "consent" in doc:
            self._only(doc, {"consent"}, where)
            purpose = doc["consent"]
            if purpose not in self.rules.events.purposes:
                purposes = ", ".join(self.rules.events.purposes)
                self.problem(f"{where}.consent", f"unknown purpose {purpose!r}; {purposes}")
                return None
            return ConsentCondition(purpose)
        if "event" in doc:
            return self.event(doc, where)
        self.problem(
            where,
            "unknown condition; use one of and, or, not, attribute, trait, identifier, "
            "consent, event",
        )
        return None

    def event(self, doc: dict[str, Any], where: str) -> Condition | None:
        self._only(doc, {"event", "within_days", "properties", "count", "sum"}, where)
        before = len(self.problems)
        kind = doc["event"]
        if not isinstance(kind, str) or not kind:
            self.problem(f"{where}.event", "must be an event type, or '*' for any")
        days = doc.get("within_days")
        if days is not None and (
            isinstance(days, bool) or not isinstance(days, int | float) or days <= 0
        ):
            self.problem(f"{where}.within_days", f"must be a positive number, got {days!r}")
        properties = doc.get("properties", {})
        if not isinstance(properties, dict):
            self.problem(f"{where}.properties", "must be an object of property = value")
            properties = {}
        count = sum_property = total = None
        if "count" in doc and "sum" in doc:
            self.problem(where, "give either count or sum, not both")
        if "count" in doc:
            raw = doc["count"]
            if not isinstance(raw, dict):
                self.problem(f"{where}.count", 'must be an object of operators, e.g. {"gte": 2}')
            else:
                count = self.comparison(raw, set(), f"{where}.count", required=True, numeric=True)
        if "sum" in doc:
            raw = doc["sum"]
            if not isinstance(raw, dict) or not isinstance(raw.get("property"), str):
                self.problem(
                    f"{where}.sum",
                    'must name a property and operators, e.g. {"property": "order_value", '
                    '"gt": 100}',
                )
            else:
                sum_property = raw["property"]
                total = self.comparison(
                    raw, {"property"}, f"{where}.sum", required=True, numeric=True
                )
        if len(self.problems) > before:
            return None
        return EventCondition(
            type=kind,
            within_days=float(days) if days is not None else None,
            properties=tuple(sorted(properties.items())),
            count=count,
            sum_property=sum_property,
            total=total,
        )

    def comparison(
        self,
        doc: dict[str, Any],
        other: set[str],
        where: str,
        required: bool,
        numeric: bool = False,
        datetimes: bool = False,
    ) -> Comparison | None:
        ops: list[tuple[str, Any]] = []
        ok = True
        for key, value in doc.items():
            if key in other:
                continue
            place = f"{where}.{key}"
            if key not in OPERATORS:
                self.problem(place, f"unknown operator; use one of {', '.join(OPERATORS)}")
                ok = False
                continue
            if key == "exists":
                if not isinstance(value, bool):
                    self.problem(place, "must be true or false")
                    ok = False
                    continue
            elif key in ("in", "not_in"):
                if not isinstance(value, list):
                    self.problem(place, "must be a list of values")
                    ok = False
                    continue
            elif numeric and (isinstance(value, bool) or not isinstance(value, int | float)):
                self.problem(place, f"must be a number, got {value!r}")
                ok = False
                continue
            elif datetimes and key != "contains":
                try:
                    value = datetime.fromisoformat(str(value))
                    if value.tzinfo is None:
                        raise ValueError
                except ValueError:
                    self.problem(place, "must be an ISO 8601 time with a zone, e.g. 2026-01-01Z")
                    ok = False
                    continue
            elif isinstance(value, dict | list):
                self.problem(place, "must be a single value")
                ok = False
                continue
            ops.append((key, value))
        if ok and required and not ops:
            self.problem(where, f"give at least one operator ({', '.join(OPERATORS)})")
            ok = False
        return Comparison(tuple(ops)) if ok else None

    def _only(self, doc: dict[str, Any], allowed: set[str], where: str) -> None:
        for key in sorted(set(doc) - allowed):
            self.problem(
                f"{where}.{key}", f"not allowed here (allowed: {', '.join(sorted(allowed))})"
            )


def parse_definition(name: str, doc: object, rules: Rules) -> SegmentDefinition:
    """Validate a definition. Raises InvalidSegment listing every problem with its place."""
    parser = _Parser(rules)
    definition = parser.definition(name, doc)
    if definition is None:
        raise InvalidSegment(name, parser.problems or ["not a valid definition"])
    return definition


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

    def delete(self, name: str, actor: str = SYSTEM) -> bool:
        with self.store.unit_of_work():
            old = self.store.segments.get([name])
            deleted = self.store.segments.delete(name)
            if deleted and self.audit is not None:
                before = {"definition": old[0].definition} if old else {}
                self.audit.record(actor, "delete_segment", target=name, before=before)
        return deleted

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
        facts = self.facts(profile_ids)
        return {
            pid: {f: export_value(found, f, self.rules) for f in fields}
            for pid, found in facts.items()
        }
