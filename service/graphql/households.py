"""GraphQL types and resolvers of households: ``Profile.household`` (through the request's
``households`` DataLoader) and the stewards' household corrections."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from starlette.concurrency import run_in_threadpool

from identity.errors import IdgraphError, StewardConflict
from identity.households import service as households
from service.auth import STEWARD_WRITE
from service.errors import classify, graphql_error
from service.graphql.context import Info, needs
from service.graphql.stewardship import StewardActionRefused

if TYPE_CHECKING:
    from service.graphql.types import Profile

ProfileType = Annotated["Profile", strawberry.lazy("service.graphql.types")]


@strawberry.type(
    description="Why two members are one household: the kind of evidence they share "
    "(shared_address_surname, shared_landline, shared_email, or steward for a steward's "
    "join), never the shared value."
)
class HouseholdEvidence:
    type: str
    profiles: list[strawberry.ID] = strawberry.field(description="The two profiles it joins.")


async def _members(root: Household, info: Info) -> list[ProfileType]:
    from service.graphql.types import Profile

    found = await info.context.profiles.load_many([str(p) for p in root.member_ids])
    return [Profile.from_domain(p, info.context.masker) for p in found if p is not None]


@strawberry.type(
    description="Profiles that live together: a relationship between profiles, not a merge "
    "(docs/households.md). Rebuilt by `idgraph households build`."
)
class Household:
    id: strawberry.ID
    member_ids: list[strawberry.ID] = strawberry.field(description="Its members' profile ids.")
    members: list[ProfileType] = strawberry.field(
        resolver=_members, description="Its members, personal values masked as everywhere."
    )
    evidence: list[HouseholdEvidence] = strawberry.field(
        description="Each pair of members the evidence joined, and by what kind of evidence."
    )
    evidence_types: list[str] = strawberry.field(description="The kinds of evidence, sorted.")
    since: str = strawberry.field(description="When the household got its id (ISO 8601).")

    @classmethod
    def from_domain(cls, found: households.Household) -> Household:
        return cls(
            id=strawberry.ID(found.id),
            member_ids=[strawberry.ID(p) for p in found.members],
            evidence=[
                HouseholdEvidence(type=t, profiles=[strawberry.ID(a), strawberry.ID(b)])
                for t, a, b in found.evidence
            ],
            evidence_types=list(found.evidence_types),
            since=found.since,
        )


async def resolve_household(root: Any, info: Info) -> Household | None:
    found = await info.context.households.load(str(root.id))
    return Household.from_domain(found) if found is not None else None


# -- stewards' corrections --------------------------------------------------------------------


@strawberry.type(description="A profile and the household it is in now (null: none).")
class ProfileHousehold:
    profile_id: strawberry.ID
    household: Household | None


@strawberry.type(description="The household correction is done; `actionId` undoes it.")
class HouseholdCorrectionDone:
    action_id: int = strawberry.field(
        description="Its audit entry; pass it to `undoHouseholdCorrection`."
    )
    households: list[ProfileHousehold] = strawberry.field(
        description="The households of the profiles the correction named, now."
    )


HouseholdCorrectionResult = Annotated[
    HouseholdCorrectionDone | StewardActionRefused,
    strawberry.union("HouseholdCorrectionResult"),
]
_REFUSALS = ("STEWARD_CONFLICT", "UNKNOWN_PROFILE", "UNKNOWN_ACTION", "INVALID_ARGUMENT")


async def _perform(
    fn: Callable[..., households.CorrectionResult], *args: Any
) -> HouseholdCorrectionResult:
    """Run a household correction; expected refusals are answers, other errors errors."""
    try:
        result = await run_in_threadpool(fn, *args)
    except IdgraphError as error:
        code = classify(error)[1]
        if isinstance(error, StewardConflict) or code in _REFUSALS:
            return StewardActionRefused(code=code, message=str(error))
        raise graphql_error(error) from error
    return HouseholdCorrectionDone(
        action_id=result.action_id,
        households=[
            ProfileHousehold(
                profile_id=strawberry.ID(pid),
                household=Household.from_domain(h) if h is not None else None,
            )
            for pid, h in result.households.items()
        ],
    )


async def _keep_apart(
    info: Info, a: strawberry.ID, b: strawberry.ID, reason: str
) -> HouseholdCorrectionResult:
    service = info.context.graph.households
    return await _perform(service.keep_apart, str(a), str(b), reason, info.context.actor)


async def _remove(info: Info, profile_id: strawberry.ID, reason: str) -> HouseholdCorrectionResult:
    service = info.context.graph.households
    return await _perform(service.remove, str(profile_id), reason, info.context.actor)


async def _join(
    info: Info, a: strawberry.ID, b: strawberry.ID, reason: str
) -> HouseholdCorrectionResult:
    service = info.context.graph.households
    return await _perform(service.join, str(a), str(b), reason, info.context.actor)


async def _undo(info: Info, action_id: int, reason: str) -> HouseholdCorrectionResult:
    service = info.context.graph.households
    return await _perform(service.undo, action_id, reason, info.context.actor)


@strawberry.type
class HouseholdMutations:
    keep_apart_as_households: HouseholdCorrectionResult = strawberry.mutation(
        resolver=_keep_apart,
        extensions=needs(STEWARD_WRITE),
        description="Two profiles are never in one household, now and in every rebuild.",
    )
    remove_from_household: HouseholdCorrectionResult = strawberry.mutation(
        resolver=_remove,
        extensions=needs(STEWARD_WRITE),
        description="A profile is in no household, now and in every rebuild.",
    )
    join_households: HouseholdCorrectionResult = strawberry.mutation(
        resolver=_join,
        extensions=needs(STEWARD_WRITE),
        description="Two profiles are one household (with the households they are in), now "
        "and in every rebuild; refused past households.max_members.",
    )
    undo_household_correction: HouseholdCorrectionResult = strawberry.mutation(
        resolver=_undo,
        extensions=needs(STEWARD_WRITE),
        description="Reverse a household correction (by its actionId).",
    )
