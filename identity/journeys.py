"""Journeys and computed traits: a profile's events across all its identifiers.

The journey is read page by page from the store (newest first by default, a stable order
for equal timestamps); traits (first and last seen, counts per type, orders and their
value, recency / frequency / monetary) are computed from the times of a profile's events
and records, never from when anything was loaded.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from identity.cursors import decode_cursor, encode_cursor
from identity.errors import InvalidArgument, InvalidCursor
from identity.limits import MAX_NUMBER
from identity.model import Event, EventQuery, ProfileId, StoredRecord
from identity.rules import EventRules
from identity.store.base import Store

MAX_PAGE = 500


@dataclass(frozen=True, slots=True)
class JourneyPage:
    events: list[Event]
    end_cursor: str | None
    """The cursor of the last event of the page (None for an empty page)."""
    has_next_page: bool


def event_cursor(event: Event) -> str:
    """An opaque cursor naming an event's place in a journey: (timestamp, event id)."""
    return encode_cursor("event", event.timestamp.isoformat(), event.event_id)


def parse_event_cursor(cursor: str) -> tuple[datetime, str]:
    """Raises InvalidCursor for anything :func:`event_cursor` did not make."""
    stamp, event_id = decode_cursor(cursor, "event", 2)
    try:
        at = datetime.fromisoformat(str(stamp))
    except ValueError:
        raise InvalidCursor(cursor) from None
    if not isinstance(event_id, str) or at.tzinfo is None:
        raise InvalidCursor(cursor)
    return at, event_id


class JourneyService:
    """Pages through journeys; the profile id must already be resolved to a live one."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def page(
        self,
        profile_id: ProfileId,
        first: int = 50,
        after: str | None = None,
        types: Sequence[str] | None = None,
        channels: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        newest_first: bool = True,
    ) -> JourneyPage:
        """Up to ``first`` events after the cursor ``after``. Raises InvalidArgument for a page
        size outside 1..MAX_PAGE or a time without a zone, InvalidCursor for a bad cursor."""
        pages = self.pages([profile_id], first, after, types, channels, since, until, newest_first)
        return pages[profile_id]

    def pages(
        self,
        profile_ids: Sequence[ProfileId],
        first: int = 50,
        after: str | None = None,
        types: Sequence[str] | None = None,
        channels: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        newest_first: bool = True,
    ) -> dict[ProfileId, JourneyPage]:
        """Batched :meth:`page`: the same page (arguments, cursor included) of each
        profile's journey, in one read of the store. Raises as :meth:`page`."""
        query = journey_query(first, after, types, channels, since, until, newest_first)
        if len(profile_ids) == 1:
            # One profile (a lookup): the single-profile statement cuts at its LIMIT, where
            # the batched one sorts each profile's whole journey before cutting.
            (only,) = profile_ids
            found = {only: self.store.events.journey(only, query)}
        else:
            found = self.store.events.journeys(profile_ids, query)
        return {pid: _page(found.get(pid, []), first) for pid in profile_ids}


def journey_query(
    first: int,
    after: str | None,
    types: Sequence[str] | None,
    channels: Sequence[str] | None,
    since: datetime | None,
    until: datetime | None,
    newest_first: bool,
) -> EventQuery:
    """The store's query for one page of ``first`` events; validates the arguments."""
    if not 1 <= first <= MAX_PAGE:
        raise InvalidArgument(f"first must be between 1 and {MAX_PAGE}, got {first}")
    for name, value in (("from", since), ("to", until)):
        if value is not None and value.tzinfo is None:
            raise InvalidArgument(f"{name} needs a time zone, e.g. 2026-01-01T00:00:00Z")
    return EventQuery(
        types=tuple(types) if types is not None else None,
        channels=tuple(channels) if channels is not None else None,
        since=since,
        until=until,
        newest_first=newest_first,
        after=parse_event_cursor(after) if after else None,
        limit=first + 1,  # one more than the page: whether another page follows
    )


def _page(found: list[Event], first: int) -> JourneyPage:
    events = found[:first]
    return JourneyPage(
        events=events,
        end_cursor=event_cursor(events[-1]) if events else None,
        has_next_page=len(found) > first,
    )


@dataclass(frozen=True, slots=True)
class TraitFacts:
    """What a profile's traits are computed from that does not move with the clock: the
    profile read model keeps these (identity/profile_view.py), and :meth:`at` derives the
    rest (recency) at read, so a stored profile never goes stale."""

    first_seen: datetime | None
    last_seen: datetime | None
    event_counts: dict[str, int] = field(default_factory=dict)
    orders: int = 0
    order_value: float = 0.0
    last_order: datetime | None = None

    def at(self, as_of: datetime) -> Traits:
        return Traits(
            as_of=as_of,
            first_seen=self.first_seen,
            last_seen=self.last_seen,
            event_counts=self.event_counts,
            orders=self.orders,
            order_value=self.order_value,
            last_order=self.last_order,
        )


@dataclass(frozen=True, slots=True)
class Traits:
    """What a profile's events and records add up to, as of ``as_of``."""

    as_of: datetime
    first_seen: datetime | None
    """The earliest event or record time; None when nothing of the profile carries one."""
    last_seen: datetime | None
    """The latest event or record time; None when nothing of the profile carries one."""
    event_counts: dict[str, int] = field(default_factory=dict)
    orders: int = 0
    order_value: float = 0.0
    last_order: datetime | None = None

    @property
    def events(self) -> int:
        return sum(self.event_counts.values())

    @property
    def recency_days(self) -> int | None:
        """Whole days since the last order (None without orders): the R of RFM."""
        return (self.as_of - self.last_order).days if self.last_order else None

    @property
    def frequency(self) -> int:
        """The number of orders: the F of RFM."""
        return self.orders

    @property
    def monetary(self) -> float:
        """The total value of orders: the M of RFM (and the lifetime value so far)."""
        return self.order_value

    @property
    def average_order_value(self) -> float | None:
        return self.order_value / self.orders if self.orders else None

    def value(self, name: str) -> object:
        """A trait by the name segment conditions and exports use (see TRAIT_NAMES)."""
        return getattr(self, name)


TRAIT_NAMES: tuple[str, ...] = (
    "first_seen",
    "last_seen",
    "events",
    "orders",
    "order_value",
    "last_order",
    "recency_days",
    "frequency",
    "monetary",
    "average_order_value",
)


def order_value(event: Event, rules: EventRules) -> float:
    """An order's value: the configured property as a number (0 when absent, not one, or
    text such as "NaN" or "1e999" that converts to what JSON cannot carry)."""
    raw = event.properties.get(rules.order_value)
    if isinstance(raw, bool):
        return 0.0
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw)
        except ValueError:
            return 0.0
    else:
        return 0.0
    return value if math.isfinite(value) and abs(value) <= MAX_NUMBER else 0.0


def compute_traits(
    events: Iterable[Event],
    records: Iterable[StoredRecord],
    rules: EventRules,
    as_of: datetime,
) -> Traits:
    """Traits of one profile as of ``as_of`` (see :func:`trait_facts`)."""
    return trait_facts(events, records, rules).at(as_of)


def trait_facts(
    events: Iterable[Event], records: Iterable[StoredRecord], rules: EventRules
) -> TraitFacts:
    """What the traits of one profile are computed from. First and last seen cover its
    events' times and the times its records carry from their sources; a record without one
    (a stitch record, a source whose mapping names no timestamp) does not count, and neither
    does when a record was loaded: that says when idgraph learned of the person, not when
    the person was seen. With no time at all, first and last seen are None (unknown), never
    the load time."""
    seen: list[datetime] = [r.record.timestamp for r in records if r.record.timestamp is not None]
    counts: Counter[str] = Counter()
    orders = 0
    value = 0.0
    last_order: datetime | None = None
    for event in events:
        counts[event.type] += 1
        seen.append(event.timestamp)
        if event.type in rules.order_types:
            orders += 1
            value += order_value(event, rules)
            if last_order is None or event.timestamp > last_order:
                last_order = event.timestamp
    return TraitFacts(
        first_seen=min(seen) if seen else None,
        last_seen=max(seen) if seen else None,
        event_counts=dict(sorted(counts.items())),
        orders=orders,
        order_value=round(value, 2),
        last_order=last_order,
    )
