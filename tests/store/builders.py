"""Builders shared by the store contract suite (one file per storage area, test_*.py here).

Every test there runs once per backend of conftest.BACKENDS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from identity.model import (
    Event,
    Identifier,
    IdentifierKey,
    MembershipChange,
    MembershipKind,
    ProfileChanges,
    SourceRecord,
)
from identity.store.base import Store

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


T1 = T0 + timedelta(hours=1)


T2 = T0 + timedelta(hours=2)


EMAIL = IdentifierKey("email", "ann@example.com")


PHONE = IdentifierKey("phone", "+447400123456")


COOKIE = IdentifierKey("cookie_id", "c-1")


CEST = timezone(timedelta(hours=2))


BUYERS = {"where": {"event": "purchase", "within_days": 30}}


def ident(key: IdentifierKey, original: str | None = None) -> Identifier:
    return Identifier(key.kind, key.value, original or key.value)


def rec(key: str, *idents: Identifier, source: str = "crm", **attributes: object) -> SourceRecord:
    return SourceRecord(
        source=source,
        key=key,
        identifiers=idents,
        attributes=dict(attributes),
        timestamp=T0,
        raw={"id": key, **attributes},
    )


def insert(store: Store, *records: SourceRecord) -> list[int]:
    return [w.record_id for w in store.records.upsert(records, T0)]


def make_profiles(store: Store, **members: list[int]) -> None:
    """Create profiles named by the keyword and assign the given records to them."""
    changes = ProfileChanges(created=list(members))
    for pid, rids in members.items():
        changes.assignments.update({rid: pid for rid in rids})
    store.profiles.apply(changes, T0)


def event(
    event_id: str,
    *keys: IdentifierKey,
    type: str = "page_view",
    at: datetime = T0,
    channel: str | None = "web",
    **properties: object,
) -> Event:
    return Event(
        event_id=event_id,
        type=type,
        timestamp=at,
        identifiers=tuple(ident(k) for k in keys),
        channel=channel,
        source="webshop",
        properties=dict(properties),
    )


def ids(events: list[Event]) -> list[str]:
    return [e.event_id for e in events]


def enter(segment: str, *profiles: str) -> list[MembershipChange]:
    return [MembershipChange(segment, p, MembershipKind.ENTERED) for p in profiles]
