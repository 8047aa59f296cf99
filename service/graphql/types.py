"""GraphQL types: read-only views of the domain's profile values, personal values masked
by the request's :class:`~service.masking.Masker`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from identity import model
from service.graphql.journeys import (
    Consent,
    EventConnection,
    Traits,
    resolve_consent,
    resolve_journey,
    resolve_segments,
    resolve_traits,
)
from service.masking import Masker

if TYPE_CHECKING:
    from service.graphql.households import Household

HouseholdType = Annotated["Household", strawberry.lazy("service.graphql.households")]


@strawberry.type(description="The record a golden-record value came from.")
class Provenance:
    source: str
    record_key: str
    timestamp: datetime | None


@strawberry.type(description="One attribute of a profile's golden record.")
class Attribute:
    name: str
    value: JSON
    rule: str = strawberry.field(description="The survivorship rule that chose the value.")
    candidates: int = strawberry.field(description="How many records offered a value.")
    provenance: Provenance

    @classmethod
    def from_domain(cls, attr: model.GoldenAttribute, masker: Masker) -> Attribute:
        p = attr.provenance
        return cls(
            name=attr.name,
            value=JSON(masker.attribute(attr.name, attr.value)),
            rule=attr.rule,
            candidates=attr.candidates,
            provenance=Provenance(source=p.source, record_key=p.record_key, timestamp=p.timestamp),
        )


@strawberry.type(description="An identifier of a profile, normalised, with how it was written.")
class ProfileIdentifier:
    kind: str
    value: str
    originals: list[str]
    record_count: int = strawberry.field(description="Records of the profile carrying it.")
    links: bool = strawberry.field(
        description="Whether it links records (false when blocklisted or over its cap)."
    )

    @classmethod
    def from_domain(cls, ident: model.ProfileIdentifier, masker: Masker) -> ProfileIdentifier:
        return cls(
            kind=ident.kind,
            value=masker.identifier(ident.kind, ident.value),
            originals=[masker.identifier(ident.kind, o) for o in ident.originals],
            record_count=ident.record_count,
            links=ident.links,
        )


@strawberry.type(description="An identifier a record carries, normalised and as received.")
class RecordIdentifier:
    kind: str
    value: str
    original: str

    @classmethod
    def from_domain(cls, ident: model.Identifier, masker: Masker) -> RecordIdentifier:
        return cls(
            kind=ident.kind,
            value=masker.identifier(ident.kind, ident.value),
            original=masker.identifier(ident.kind, ident.original),
        )


@strawberry.type(description="A source record belonging to a profile.")
class Record:
    source: str
    key: str
    timestamp: datetime | None
    attributes: JSON
    identifiers: list[RecordIdentifier]
    ingested_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, stored: model.StoredRecord, masker: Masker) -> Record:
        rec = stored.record
        return cls(
            source=rec.source,
            key=rec.key,
            timestamp=rec.timestamp,
            attributes=JSON(masker.attributes(rec.attributes)),
            identifiers=[RecordIdentifier.from_domain(i, masker) for i in rec.identifiers],
            ingested_at=stored.ingested_at,
            updated_at=stored.updated_at,
        )


async def _records(root: Profile, info: strawberry.Info) -> list[Record]:
    found = root.loaded_records
    if found is None:
        found = tuple(await info.context.records.load(str(root.id)))
    return [Record.from_domain(r, info.context.masker) for r in found]


async def _household(root: Profile, info: strawberry.Info) -> HouseholdType | None:
    # Imported here: the household types import stewardship's, which import these.
    from service.graphql.households import resolve_household

    return await resolve_household(root, info)


def _attribute(root: Profile, name: str) -> Attribute | None:
    return next((a for a in root.attributes if a.name == name), None)


@strawberry.type(description="A resolved customer: the records that are one person.")
class Profile:
    id: strawberry.ID
    attributes: list[Attribute] = strawberry.field(description="The golden record.")
    identifiers: list[ProfileIdentifier]
    records: list[Record] = strawberry.field(
        resolver=_records, description="The source records the profile is made of."
    )
    merged_from: list[strawberry.ID] = strawberry.field(
        description="Ids of profiles merged into this one; they still resolve to it."
    )
    split_from: strawberry.ID | None = strawberry.field(
        description="The profile this one was split off, if it was."
    )
    created_at: datetime
    updated_at: datetime
    attribute: Attribute | None = strawberry.field(
        resolver=_attribute, description="One attribute of the golden record, by name."
    )
    journey: EventConnection = strawberry.field(
        resolver=resolve_journey,
        description="The profile's events across all its identifiers, time-ordered (newest "
        "first by default; equal times by event id), as a cursor connection.",
    )
    traits: Traits | None = strawberry.field(
        resolver=resolve_traits, description="Computed from the profile's events and records."
    )
    consent: list[Consent] = strawberry.field(
        resolver=resolve_consent, description="The latest statement per purpose."
    )
    segments: list[str] = strawberry.field(
        resolver=resolve_segments, description="Names of the segments the profile is in."
    )
    household: HouseholdType | None = strawberry.field(
        resolver=_household,
        description="The household the profile is in (docs/households.md), or null.",
    )
    loaded_records: strawberry.Private[tuple[model.StoredRecord, ...] | None] = None
    """The records, when the domain gave them; else read when asked for (a profile from
    the read model holds none)."""

    @classmethod
    def from_domain(cls, profile: model.Profile, masker: Masker) -> Profile:
        """The profile as the caller may see it: personal values masked by ``masker``
        (``info.context.masker``) unless they hold ``pii:read``."""
        return cls(
            id=strawberry.ID(profile.id),
            attributes=[Attribute.from_domain(a, masker) for a in profile.attributes],
            identifiers=[ProfileIdentifier.from_domain(i, masker) for i in profile.identifiers],
            # A live profile has records: none means they were not read.
            loaded_records=profile.records or None,
            merged_from=[strawberry.ID(p) for p in profile.merged_from],
            split_from=strawberry.ID(profile.split_from) if profile.split_from else None,
            created_at=profile.created_at,
            updated_at=profile.updated_at,
        )


@strawberry.input(description="A record named as its source knows it.")
class RecordRefInput:
    source: str
    key: str

    def ref(self) -> model.RecordRef:
        return model.RecordRef(self.source, self.key)


@strawberry.type(name="RecordRef", description="A record named as its source knows it.")
class RecordRefType:
    source: str
    key: str

    @classmethod
    def from_domain(cls, ref: model.RecordRef) -> RecordRefType:
        return cls(source=ref.source, key=ref.key)


@strawberry.input(
    description="An identifier as a caller holds it: its kind and value, normalised as at "
    "ingest (phones with +CC)."
)
class IdentifierInput:
    kind: str
    value: str
