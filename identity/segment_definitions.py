"""Segment definitions: the conditions a member satisfies (attributes, traits, identifiers,
consent, events in time windows), read from a JSON document with every problem named by
its place (docs/segments.md). :mod:`identity.segments` keeps members current.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from identity.consent import ConsentStatement
from identity.errors import InvalidSegment
from identity.journeys import TRAIT_NAMES, Traits
from identity.model import Event, JSONValue, Profile
from identity.rules import Rules

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

# -- conditions


@dataclass(frozen=True, slots=True)
class Facts:
    """What a segment condition can look at for one profile, as of ``now``."""

    profile: Profile
    events: list[Event]
    traits: Traits
    consent: dict[str, ConsentStatement]
    now: datetime
    household: tuple[Facts, ...] = ()
    """The facts of every member of the profile's household, itself included (empty: in
    no household, or not read: only household conditions read it)."""

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


VIEW, EVENTS, HOUSEHOLD = "view", "events", "household"
"""What a condition reads of a profile: its row of the read model (identity/profile_view.py),
or its events too (event conditions count them in time windows), or its household's
members' (identity/households/)."""


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


@dataclass(frozen=True)
class HouseholdCondition(Condition):
    """Any member of the profile's household (itself included) satisfies ``item``; a
    profile in no household does not satisfy it."""

    item: Condition

    def __post_init__(self) -> None:
        object.__setattr__(self, "time_dependent", self.item.time_dependent)
        object.__setattr__(self, "needs", self.item.needs | {HOUSEHOLD})

    def holds(self, facts: Facts) -> bool:
        return any(self.item.holds(member) for member in facts.household)


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
        if "household" in doc:
            return self.household(doc, where)
        self.problem(
            where,
            "unknown condition; use one of and, or, not, attribute, trait, identifier, "
            "consent, event, household",
        )
        return None

    def household(self, doc: dict[str, Any], where: str) -> Condition | None:
        self._only(doc, {"household"}, where)
        inner = doc["household"]
        if not isinstance(inner, dict) or set(inner) != {"any"}:
            self.problem(f"{where}.household", 'must be {"any": <condition>}')
            return None
        item = self.condition(inner["any"], f"{where}.household.any")
        if item is None:
            return None
        if HOUSEHOLD in item.needs:
            # A member's household is the profile's own: nesting says nothing more.
            self.problem(f"{where}.household.any", "cannot hold another household condition")
            return None
        return HouseholdCondition(item)

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
