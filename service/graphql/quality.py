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


@strawberry.type(description="Counts and distributions of the graph; aggregates only.")
class Quality:
    service: strawberry.Private[QualityService]
    totals: strawberry.Private[asyncio.Future[Totals] | None] = None

    async def _totals(self) -> Totals:
        # profiles and records come from one count of the store.
        if self.totals is None:
            self.totals = asyncio.ensure_future(call(self.service.totals))
        return await self.totals

    @strawberry.field(description="Live profiles.")
    async def profiles(self) -> int:
        return (await self._totals()).profiles

    @strawberry.field(description="Stored records.")
    async def records(self) -> int:
        return (await self._totals()).records

    @strawberry.field(
        description="Match weights (log2 odds) of stored probabilistic links and undecided "
        "review pairs, in bins of `width` (default 2.0) from the lowest to the highest weight "
        "present."
    )
    async def match_weights(self, width: float = 2.0) -> list[WeightBin]:
        found = await call(self.service.match_weights, width)
        return [
            WeightBin(start=b.start, end=b.end, links=b.links, reviews=b.reviews) for b in found
        ]

    @strawberry.field(
        description="How many profiles have each number of records, smallest size first "
        "(sizes above 50 in one bin `from: 51`)."
    )
    async def cluster_sizes(self) -> list[SizeBin]:
        found = await call(self.service.cluster_sizes)
        return [SizeBin(smallest=b.smallest, largest=b.largest, profiles=b.profiles) for b in found]

    @strawberry.field(
        description="Stored links per matcher and link kind (MATCH, REVIEW, MUST_LINK, "
        "CANNOT_LINK), most first."
    )
    async def links_by_matcher(self) -> list[MatcherLinks]:
        found = await call(self.service.links_by_matcher)
        return [
            MatcherLinks(matcher=x.matcher, kind=LinkKind(x.type.value), links=x.links)
            for x in found
        ]

    @strawberry.field(description="The review queue's size now (undecided review pairs).")
    async def review_queue_size(self) -> int:
        return await call(self.service.review_queue_size)

    @strawberry.field(
        description="The review queue's size after each change to it (ingest, link, steward "
        "decisions, undo), oldest first, at most `last` points."
    )
    async def review_queue_history(self, last: int = 200) -> list[QueueSample]:
        found = await call(self.service.review_queue_history, last)
        return [QueueSample(at=s.at, size=s.size) for s in found]

    @strawberry.field(
        description="Field warnings of ingest per source and field over all audited loads, "
        "most first."
    )
    async def ingest_warnings(self) -> list[IngestWarnings]:
        found = await call(self.service.ingest_warnings)
        return [
            IngestWarnings(source=x.source, field=x.field, warnings=x.warnings, loads=x.loads)
            for x in found
        ]


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
