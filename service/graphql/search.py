"""GraphQL types and resolver of the profile search: candidate profiles for what a caller
knows of a person, best first, each with the fields that agreed and what each weighed."""

from __future__ import annotations

from enum import Enum

import strawberry

from identity.matching import search as domain
from service.auth import PROFILES_READ
from service.graphql.context import Info, call, needs
from service.graphql.pagination import Connection
from service.graphql.types import Profile, RecordRefType
from service.masking import Masker


@strawberry.enum(description="What ordered the candidates.")
class SearchRanking(Enum):
    MATCH_MODEL = "match_model"
    COMPARISON_LEVELS = "comparison_levels"


@strawberry.type(description="One searched field of a candidate: how the record compared.")
class SearchField:
    field: str
    level: str = strawberry.field(
        description="The comparison level the search and the record fell in (exact, nickname, "
        "one_typo, ..., else), as the matcher compares records; missing when the record has "
        "no value."
    )
    weight: float = strawberry.field(
        description="Its weight: bits (log2 m/u) of the trained model, or level points when "
        "ranking is COMPARISON_LEVELS."
    )
    searched: str | None = strawberry.field(
        description="The searched value as normalised for comparison (masked without pii:read)."
    )
    found: str | None = strawberry.field(
        description="The record's value (masked without pii:read)."
    )

    @classmethod
    def from_domain(cls, evidence: domain.FieldEvidence, masker: Masker) -> SearchField:
        # Field names, levels and weights are not personal; the values are.
        searched = masker.field(evidence.field, evidence.searched)
        found = masker.field(evidence.field, evidence.found)
        return cls(
            field=evidence.field,
            level=evidence.level,
            weight=evidence.weight,
            searched=None if searched is None else str(searched),
            found=None if found is None else str(found),
        )


async def _profile(root: ProfileMatch, info: Info) -> Profile | None:
    found = await info.context.profiles.load(str(root.profile_id))
    return Profile.from_domain(found, info.context.masker) if found else None


@strawberry.type(description="A candidate profile, the record of it that matched best, and why.")
class ProfileMatch:
    rank: int = strawberry.field(description="1 for the best candidate, over all pages.")
    profile_id: strawberry.ID
    score: float = strawberry.field(
        description="The match weight (log2 odds: the model's prior plus the fields' weights), "
        "or the sum of level points when ranking is COMPARISON_LEVELS."
    )
    probability: float | None = strawberry.field(
        description="The match probability of the score; null without a trained model."
    )
    record: RecordRefType = strawberry.field(description="The record the fields explain.")
    fields: list[SearchField] = strawberry.field(description="The searched fields, in order.")
    profile: Profile | None = strawberry.field(
        resolver=_profile, description="The profile (null if it changed since the search)."
    )

    @classmethod
    def from_domain(cls, hit: domain.SearchHit, masker: Masker) -> ProfileMatch:
        return cls(
            rank=hit.rank,
            profile_id=strawberry.ID(hit.profile_id),
            score=hit.score,
            probability=hit.probability,
            record=RecordRefType.from_domain(hit.record),
            fields=[SearchField.from_domain(f, masker) for f in hit.fields],
        )


@strawberry.type(
    description="A page of candidates, best first: pass pageInfo.endCursor as `after` (with "
    "the same criteria) for the next."
)
class ProfileSearchConnection(Connection[ProfileMatch]):
    total_count: int = strawberry.field(description="Candidate profiles over all pages.")
    ranking: SearchRanking
    notes: list[str] = strawberry.field(
        description="What to know about this ranking: no trained model, a blocklisted value "
        "left out, blocking keys too common to use."
    )


async def resolve_search_profiles(
    info: Info,
    name: str | None = None,
    postcode: str | None = None,
    birth_date: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    first: int = 20,
    after: str | None = None,
) -> ProfileSearchConnection:
    criteria = domain.SearchCriteria(
        name=name, postcode=postcode, birth_date=birth_date, email=email, phone=phone
    )
    page = await call(info.context.graph.search.search, criteria, first, after)
    masker = info.context.masker
    return ProfileSearchConnection.of(
        ((hit.cursor, ProfileMatch.from_domain(hit, masker)) for hit in page.hits),
        has_next_page=page.has_next_page,
        end_cursor=page.end_cursor,
        total_count=page.total,
        ranking=SearchRanking(page.ranking.value),
        notes=list(page.notes),
    )


@strawberry.type
class SearchQueries:
    search_profiles: ProfileSearchConnection = strawberry.field(
        resolver=resolve_search_profiles,
        extensions=needs(PROFILES_READ),
        description="Profiles matching what is known of a person, best first, ranked by the "
        "probabilistic matcher's comparisons: a full name ('Jon Smith', 'Smith, John'), a "
        "postcode, a birth date (1980-03-14, 14/03/1980, 14 March 1980), an e-mail, a phone "
        "(+44..., or national in the sources' phone region). At least one; `first` 1..100.",
    )
