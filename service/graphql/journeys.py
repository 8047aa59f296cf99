"""GraphQL types and resolvers of journeys, traits and consent on a profile."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from identity import model
from identity.consent import ConsentStatement
from identity.journeys import Traits as DomainTraits
from identity.journeys import event_cursor
from service.graphql.context import Info, JourneyArgs
from service.graphql.pagination import Connection
from service.masking import Masker


@strawberry.type(description="An identifier an event carried, normalised and as received.")
class EventIdentifier:
    kind: str
    value: str
    original: str

    @classmethod
    def from_domain(cls, ident: model.Identifier, masker: Masker) -> EventIdentifier:
        return cls(
            kind=ident.kind,
            value=masker.identifier(ident.kind, ident.value),
            original=masker.identifier(ident.kind, ident.original),
        )


@strawberry.type(description="Something the person did, on any of the profile's identifiers.")
class Event:
    id: strawberry.ID = strawberry.field(description="The event id it was sent with.")
    type: str
    timestamp: datetime = strawberry.field(description="With the offset it was sent with.")
    channel: str | None
    source: str | None
    identifiers: list[EventIdentifier]
    properties: JSON

    @classmethod
    def from_domain(cls, event: model.Event, masker: Masker) -> Event:
        """Identifiers masked by kind; properties named like a personal attribute or
        identifier kind (an ``email`` property) masked too."""
        return cls(
            id=strawberry.ID(event.event_id),
            type=event.type,
            timestamp=event.timestamp,
            channel=event.channel,
            source=event.source,
            identifiers=[EventIdentifier.from_domain(i, masker) for i in event.identifiers],
            properties=JSON(masker.attributes(event.properties)),
        )


EventConnection = Connection[Event]


@strawberry.enum
class JourneyOrder(Enum):
    NEWEST_FIRST = "newest_first"
    OLDEST_FIRST = "oldest_first"


@strawberry.type(description="Counts of a profile's events of one type.")
class EventCount:
    type: str
    count: int


@strawberry.type(description="What a profile's events and records add up to.")
class Traits:
    first_seen: datetime | None
    last_seen: datetime | None
    events: int
    event_counts: list[EventCount]
    orders: int = strawberry.field(description="Events of the configured order types.")
    order_value: float = strawberry.field(description="Total of their order value property.")
    last_order: datetime | None
    recency_days: int | None = strawberry.field(description="Days since the last order (RFM R).")
    frequency: int = strawberry.field(description="Number of orders (RFM F).")
    monetary: float = strawberry.field(description="Total order value (RFM M), lifetime so far.")
    average_order_value: float | None

    @classmethod
    def from_domain(cls, traits: DomainTraits) -> Traits:
        return cls(
            first_seen=traits.first_seen,
            last_seen=traits.last_seen,
            events=traits.events,
            event_counts=[EventCount(type=t, count=n) for t, n in traits.event_counts.items()],
            orders=traits.orders,
            order_value=traits.order_value,
            last_order=traits.last_order,
            recency_days=traits.recency_days,
            frequency=traits.frequency,
            monetary=traits.monetary,
            average_order_value=traits.average_order_value,
        )


@strawberry.type(description="The latest consent statement for a purpose.")
class Consent:
    purpose: str
    granted: bool
    at: datetime
    source: str | None
    via: str = strawberry.field(description="record or event: what carried the statement.")
    reference: str = strawberry.field(description="The record key or event id.")

    @classmethod
    def from_domain(cls, statement: ConsentStatement) -> Consent:
        return cls(
            purpose=statement.purpose,
            granted=statement.granted,
            at=statement.at,
            source=statement.source,
            via=statement.via,
            reference=statement.reference,
        )


async def resolve_journey(
    root: Any,
    info: Info,
    first: int = 50,
    after: str | None = None,
    types: list[str] | None = None,
    channels: list[str] | None = None,
    from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
    to: datetime | None = None,
    order: JourneyOrder = JourneyOrder.NEWEST_FIRST,
) -> EventConnection:
    args = JourneyArgs(
        first=first,
        after=after,
        types=tuple(types) if types is not None else None,
        channels=tuple(channels) if channels is not None else None,
        since=from_,
        until=to,
        newest_first=order == JourneyOrder.NEWEST_FIRST,
    )
    page = await info.context.journeys.load((str(root.id), args))
    masker = info.context.masker
    return EventConnection.of(
        ((event_cursor(e), Event.from_domain(e, masker)) for e in page.events),
        has_next_page=page.has_next_page,
        end_cursor=page.end_cursor,
    )


async def resolve_traits(root: Any, info: Info) -> Traits | None:
    facts = await info.context.facts.load(str(root.id))
    return Traits.from_domain(facts.traits) if facts else None


async def resolve_consent(root: Any, info: Info) -> list[Consent]:
    facts = await info.context.facts.load(str(root.id))
    if facts is None:
        return []
    return [Consent.from_domain(facts.consent[p]) for p in sorted(facts.consent)]


async def resolve_segments(root: Any, info: Info) -> list[str]:
    return await info.context.memberships.load(str(root.id))
