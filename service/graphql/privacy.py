"""GraphQL resolvers of privacy requests: the access export (docs/privacy.md)."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from service.auth import PRIVACY_READ
from service.graphql.context import Info, call, needs
from service.graphql.types import IdentifierInput


async def _person_data(
    info: Info,
    identifier: IdentifierInput | None = None,
    profile_id: strawberry.ID | None = None,
) -> JSON:
    graph = info.context.graph
    document = await call(
        graph.person_data.export,
        info.context.actor,
        identifier=(identifier.kind, identifier.value) if identifier is not None else None,
        profile_id=str(profile_id) if profile_id is not None else None,
    )
    return JSON(document)


@strawberry.type
class PrivacyQueries:
    person_data: JSON = strawberry.field(
        resolver=_person_data,
        extensions=needs(PRIVACY_READ),
        description="Everything held about one person (an access request, GDPR Art. 15) as "
        "one JSON document, values unmasked: name them by exactly one of `identifier` or "
        "`profileId` (INVALID_ARGUMENT otherwise). UNKNOWN_PROFILE when nothing holds it, "
        "AMBIGUOUS_IDENTIFIER when several profiles hold the identifier. Every call is "
        "audited as `access-export`. Shape in docs/privacy.md.",
    )
