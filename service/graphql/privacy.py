"""GraphQL resolvers of privacy requests: the access export, erasure and removing a wrong
identifier (docs/privacy.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

import strawberry
from strawberry.scalars import JSON

from identity.errors import IdgraphError
from service.auth import PRIVACY_READ, PRIVACY_WRITE
from service.errors import classify
from service.graphql.context import Info, call, needs
from service.graphql.types import IdentifierInput

T = TypeVar("T")


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


# -- erasure and corrections -----------------------------------------------------------------


@strawberry.type(
    description="The person is erased; the audit entry `auditId` says by whom and why."
)
class ErasureDone:
    audit_id: int
    profile_ids: list[strawberry.ID] = strawberry.field(
        description="The profiles erased: tombstones now, `deleted` on the profile change feed."
    )
    records: int
    events: int
    suppressed: int = strawberry.field(
        description="Entries added to the suppression list (identifiers and records, hashed)."
    )


@strawberry.type(description="The identifier is off the profile's records, for good.")
class IdentifierRemoved:
    audit_id: int
    records: int = strawberry.field(description="Records that held it.")
    profile_ids: list[strawberry.ID] = strawberry.field(
        description="The live profiles of those records now (more than one after a split)."
    )


@strawberry.type(description="The request was refused and nothing changed.")
class PrivacyActionRefused:
    code: str = strawberry.field(
        description="UNKNOWN_PROFILE, AMBIGUOUS_IDENTIFIER, INVALID_IDENTIFIER, "
        "UNKNOWN_IDENTIFIER_KIND or INVALID_ARGUMENT"
    )
    message: str


ErasureResult = Annotated[ErasureDone | PrivacyActionRefused, strawberry.union("ErasureResult")]
RemovalResult = Annotated[
    IdentifierRemoved | PrivacyActionRefused, strawberry.union("IdentifierRemovalResult")
]
_REFUSALS = frozenset(
    {
        "UNKNOWN_PROFILE",
        "AMBIGUOUS_IDENTIFIER",
        "INVALID_IDENTIFIER",
        "UNKNOWN_IDENTIFIER_KIND",
        "INVALID_ARGUMENT",
    }
)


def _refused_or(work: Callable[[], T]) -> Callable[[], T | PrivacyActionRefused]:
    """``work`` with its expected refusals as answers; other errors stay errors. (The
    refusal is caught in the domain call: ``call`` turns domain errors into GraphQL
    errors.)"""

    def attempt() -> T | PrivacyActionRefused:
        try:
            return work()
        except IdgraphError as error:
            code = classify(error)[1]
            if code in _REFUSALS:
                return PrivacyActionRefused(code=code, message=str(error))
            raise

    return attempt


async def _erase_person(
    info: Info,
    reason: str,
    identifier: IdentifierInput | None = None,
    profile_id: strawberry.ID | None = None,
    identifiers: list[IdentifierInput] | None = None,
    profile_ids: list[strawberry.ID] | None = None,
) -> ErasureResult:
    named = [*([identifier] if identifier else []), *(identifiers or [])]
    ids = [str(p) for p in [*([profile_id] if profile_id else []), *(profile_ids or [])]]
    graph, actor = info.context.graph, info.context.actor

    def work() -> ErasureDone:
        report = graph.erasure.erase(actor, reason, [(i.kind, i.value) for i in named], ids)
        return ErasureDone(
            audit_id=report.audit_id,
            profile_ids=[strawberry.ID(p) for p in report.profile_ids],
            records=report.records,
            events=report.events,
            suppressed=report.suppressed,
        )

    return await call(_refused_or(work))


async def _remove_identifier(
    info: Info, profile_id: strawberry.ID, identifier: IdentifierInput, reason: str
) -> RemovalResult:
    graph, actor = info.context.graph, info.context.actor

    def work() -> IdentifierRemoved:
        report = graph.erasure.remove_identifier(
            actor, reason, str(profile_id), identifier.kind, identifier.value
        )
        return IdentifierRemoved(
            audit_id=report.audit_id,
            records=report.records,
            profile_ids=[strawberry.ID(p) for p in report.profiles],
        )

    return await call(_refused_or(work))


@strawberry.type
class PrivacyMutations:
    erase_person: ErasureResult = strawberry.mutation(
        resolver=_erase_person,
        extensions=needs(PRIVACY_WRITE),
        description="Erase a person everywhere (GDPR Art. 17): every record, event, link and "
        "segment membership of the profiles named by `identifier(s)` (each held by one "
        "profile) and `profileId(s)`, for good. Their identifiers and records go on the "
        "suppression list, so the next load does not bring them back. Not undoable; "
        "audited with hashes, never values. docs/privacy.md.",
    )
    remove_identifier: RemovalResult = strawberry.mutation(
        resolver=_remove_identifier,
        extensions=needs(PRIVACY_WRITE),
        description="Take one wrong identifier (an e-mail an agent mistyped) off a profile's "
        "records without erasing anyone; the profile re-resolves and later loads of the same "
        "records leave it out. Audited.",
    )
