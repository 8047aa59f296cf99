"""GraphQL types and resolvers of the steward console's quality page: one ``quality`` query
whose fields are aggregates the store computes (identity/quality.py), each computed only
when asked for. Counts and field names only: no value of any record."""

from __future__ import annotations

import asyncio
from datetime import datetime

import strawberry

from identity.quality import QualityService, Totals
from service.auth import PROFILES_READ
from service.graphql.clusters import LinkKind
from service.graphql.context import Info, call, needs


@strawberry.type(description="Match weights in [from, to).")
class WeightBin:
    start: float = strawberry.field(name="from")
    end: float = strawberry.field(name="to")
    links: int = strawberry.field(description="Stored probabilistic (MATCH) links.")
    reviews: int = strawberry.field(description="Undecided review pairs.")


@strawberry.type(description="Profiles holding between `from` and `to` records.")
class SizeBin:
    smallest: int = strawberry.field(name="from")
    largest: int = strawberry.field(name="to")
    profiles: int


@strawberry.type(description="Stored links of one matcher and kind.")
class MatcherLinks:
    matcher: str
    kind: LinkKind
    links: int


@strawberry.type(description="The review queue's size after a change to it.")
class QueueSample:
    at: datetime
    size: int


@strawberry.type(description="Ingest warnings about one field of one source.")
class IngestWarnings:
    source: str
    field: str
    warnings: int
    loads: int = strawberry.field(
        description="Audited loads of the source that warned about the field at least once."
    )


async def _totals(root: Quality) -> Totals:
    # profiles and records come from one count of the store, whichever is asked first.
    if root.totals is None:
        root.totals = asyncio.ensure_future(call(root.service.totals))
    return await root.totals


async def _profiles(root: Quality) -> int:
    return (await _totals(root)).profiles


async def _records(root: Quality) -> int:
    return (await _totals(root)).records


async def _match_weights(root: Quality, width: float = 2.0) -> list[WeightBin]:
    found = await call(root.service.match_weights, width)
    return [WeightBin(start=b.start, end=b.end, links=b.links, reviews=b.reviews) for b in found]


async def _cluster_sizes(root: Quality) -> list[SizeBin]:
    found = await call(root.service.cluster_sizes)
    return [SizeBin(smallest=b.smallest, largest=b.largest, profiles=b.profiles) for b in found]


async def _links_by_matcher(root: Quality) -> list[MatcherLinks]:
    found = await call(root.service.links_by_matcher)
    return [
        MatcherLinks(matcher=x.matcher, kind=LinkKind(x.type.value), links=x.links) for x in found
    ]


async def _review_queue_size(root: Quality) -> int:
    return await call(root.service.review_queue_size)


async def _review_queue_history(root: Quality, last: int = 200) -> list[QueueSample]:
    found = await call(root.service.review_queue_history, last)
    return [QueueSample(at=s.at, size=s.size) for s in found]


async def _ingest_warnings(root: Quality) -> list[IngestWarnings]:
    found = await call(root.service.ingest_warnings)
    return [
        IngestWarnings(source=x.source, field=x.field, warnings=x.warnings, loads=x.loads)
        for x in found
    ]


@strawberry.type(description="Counts and distributions of the graph; aggregates only.")
class Quality:
    service: strawberry.Private[QualityService]
    totals: strawberry.Private[asyncio.Future[Totals] | None] = None

    profiles: int = strawberry.field(resolver=_profiles, description="Live profiles.")
    records: int = strawberry.field(resolver=_records, description="Stored records.")
    match_weights: list[WeightBin] = strawberry.field(
        resolver=_match_weights,
        description="Match weights (log2 odds) of stored probabilistic links and undecided "
        "review pairs, in bins of `width` (default 2.0) from the lowest to the highest weight "
        "present.",
    )
    cluster_sizes: list[SizeBin] = strawberry.field(
        resolver=_cluster_sizes,
        description="How many profiles have each number of records, smallest size first "
        "(sizes above 50 in one bin `from: 51`).",
    )
    links_by_matcher: list[MatcherLinks] = strawberry.field(
        resolver=_links_by_matcher,
        description="Stored links per matcher and link kind (MATCH, REVIEW, MUST_LINK, "
        "CANNOT_LINK), most first.",
    )
    review_queue_size: int = strawberry.field(
        resolver=_review_queue_size,
        description="The review queue's size now (undecided review pairs).",
    )
    review_queue_history: list[QueueSample] = strawberry.field(
        resolver=_review_queue_history,
        description="The review queue's size after each change to it (ingest, link, steward "
        "decisions, undo), oldest first, at most `last` points.",
    )
    ingest_warnings: list[IngestWarnings] = strawberry.field(
        resolver=_ingest_warnings,
        description="Field warnings of ingest per source and field over all audited loads, "
        "most first.",
    )


def resolve_quality(info: Info) -> Quality:
    return Quality(service=info.context.graph.quality)


@strawberry.type
class QualityQueries:
    quality: Quality = strawberry.field(
        resolver=resolve_quality,
        extensions=needs(PROFILES_READ),
        description="Counts and distributions for the steward console's quality page (needs "
        "profiles:read).",
    )
