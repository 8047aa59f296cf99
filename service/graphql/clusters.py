"""GraphQL types and resolvers of cluster inspection: a profile's subgraph, why two records
are one person, and the ranking of clusters that look over-merged (steward reads)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from functools import partial
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from identity import clusters as domain
from identity.errors import InvalidArgument
from identity.model import IdentifierKey
from service.auth import PROFILES_READ
from service.errors import graphql_error
from service.graphql.context import Info, call, needs
from service.graphql.pagination import Connection
from service.graphql.types import RecordRefInput, RecordRefType
from service.masking import Masker


@strawberry.type(description="An identifier kind and normalised value.")
class IdentifierValue:
    kind: str
    value: str

    @classmethod
    def from_domain(cls, key: IdentifierKey | None, masker: Masker) -> IdentifierValue | None:
        if key is None:
            return None
        return cls(kind=key.kind, value=masker.identifier(key.kind, key.value))


def _evidence(evidence: dict[str, object], masker: Masker) -> dict[str, object]:
    """Stored link evidence for the caller: a shared identifier's value masked."""
    kind, value = evidence.get("kind"), evidence.get("value")
    found = dict(evidence)
    if isinstance(kind, str) and isinstance(value, str):
        found["value"] = masker.identifier(kind, value)
    return found


@strawberry.enum
class LinkKind(Enum):
    MATCH = "match"
    REVIEW = "review"
    MUST_LINK = "must_link"
    CANNOT_LINK = "cannot_link"


@strawberry.type(description="One compared field of a probabilistic link.")
class FieldContribution:
    field: str
    level: str = strawberry.field(description="The comparison level the pair fell in.")
    weight: float = strawberry.field(description="Its weight in bits (log2 m/u).")

    @classmethod
    def from_domain(cls, c: domain.Contribution) -> FieldContribution:
        return cls(field=c.field, level=c.level, weight=c.weight)


@strawberry.type(description="A source record of the cluster with a few attributes.")
class ClusterRecord:
    source: str
    key: str
    timestamp: datetime | None
    attributes: JSON = strawberry.field(
        description="Names, birth date, city and postcode, where the record has them."
    )
    identifiers: list[IdentifierValue]


@strawberry.type(description="An identifier held by the cluster's records.")
class ClusterIdentifier:
    kind: str
    value: str
    links: bool = strawberry.field(description="Whether sharing it joins records.")
    not_linking_reason: str | None = strawberry.field(
        description="blocklisted, over_cardinality_cap or kind_does_not_link."
    )
    record_count: int = strawberry.field(description="Records in the whole store carrying it.")
    records: list[RecordRefType] = strawberry.field(
        description="The cluster's records carrying it (of those shown)."
    )


@strawberry.type(description="A stored record-to-record link with who made it and why.")
class ClusterLink:
    a: RecordRefType
    b: RecordRefType
    type: LinkKind
    matcher: str
    weight: float
    evidence: JSON = strawberry.field(description="The link's evidence as stored.")
    identifier: IdentifierValue | None = strawberry.field(
        description="For a deterministic link: the identifier the two records share."
    )
    match_weight: float | None = strawberry.field(
        description="For a probabilistic link: the match weight (log2 odds)."
    )
    probability: float | None
    contributions: list[FieldContribution] = strawberry.field(
        description="For a probabilistic link: each compared field's level and weight."
    )
    other_profile_id: strawberry.ID | None = strawberry.field(
        description="For a link leaving the cluster: the profile at its other end."
    )

    @classmethod
    def from_domain(cls, link: domain.ClusterLink, masker: Masker) -> ClusterLink:
        return cls(
            a=RecordRefType.from_domain(link.a),
            b=RecordRefType.from_domain(link.b),
            type=LinkKind(link.type.value),
            matcher=link.matcher,
            weight=link.weight,
            evidence=JSON(_evidence(link.evidence, masker)),
            identifier=IdentifierValue.from_domain(link.identifier, masker),
            match_weight=link.match_weight,
            probability=link.probability,
            contributions=[FieldContribution.from_domain(c) for c in link.contributions],
            other_profile_id=strawberry.ID(link.other_profile) if link.other_profile else None,
        )


@strawberry.type(description="One reason a cluster looks over-merged.")
class SuspicionReason:
    type: str = strawberry.field(
        description="conflicting_identifiers, conflicting_birth_dates, conflicting_first_names, "
        "cut_splits_cluster, weak_link_holds_cluster, matcher_vetoed_pair, contested_records "
        "or large_cluster."
    )
    message: str
    score: float
    details: JSON

    @classmethod
    def from_domain(cls, reason: domain.Reason, masker: Masker) -> SuspicionReason:
        if not masker.reveals:
            # Messages and details quote names, dates and identifier values: those are
            # masked; the signal, sizes, counts and records stay readable.
            reason = reason.masked(partial(_shown, masker))
        return cls(
            type=reason.type,
            message=reason.message,
            score=reason.score,
            details=JSON(reason.details),
        )


def _shown(masker: Masker, what: str, name: str, value: str) -> str:
    """A personal value in a suspicion reason, as the caller may see it."""
    if what == "identifier":
        return masker.identifier(name, value)
    return str(masker.attribute(name, value))


@strawberry.type(description="A profile's over-merge score and the reasons behind it.")
class Suspicion:
    profile_id: strawberry.ID
    score: float
    size: int = strawberry.field(description="Records in the profile.")
    reasons: list[SuspicionReason] = strawberry.field(description="Strongest first.")

    @classmethod
    def from_domain(cls, found: domain.Suspicion, masker: Masker) -> Suspicion:
        return cls(
            profile_id=strawberry.ID(found.profile_id),
            score=found.score,
            size=found.size,
            reasons=[SuspicionReason.from_domain(r, masker) for r in found.reasons],
        )


async def _suspicion(root: Cluster, info: Info) -> Suspicion:
    found = await call(info.context.graph.clusters.suspicion, str(root.profile_id))
    return Suspicion.from_domain(found, info.context.masker)


@strawberry.type(description="A profile's subgraph, sized for a person to read.")
class Cluster:
    profile_id: strawberry.ID = strawberry.field(
        description="The live profile (the survivor, when a merged id was asked for)."
    )
    size: int = strawberry.field(description="Records in the profile.")
    truncated: bool = strawberry.field(
        description="Only the first records (by source and key) are shown."
    )
    records: list[ClusterRecord]
    identifiers: list[ClusterIdentifier]
    links: list[ClusterLink] = strawberry.field(
        description="Links among the records shown: deterministic and probabilistic matches, "
        "review pairs and steward links."
    )
    external_links: list[ClusterLink] = strawberry.field(
        description="Links from the records shown to records of other profiles: review "
        "pairs, cannot-links, and matches that limits refused."
    )
    steward_links: list[ClusterLink] = strawberry.field(
        description="Must-links and cannot-links touching the records shown."
    )
    suspicion: Suspicion = strawberry.field(
        resolver=_suspicion, description="Over-merge signals of the profile, computed now."
    )

    @classmethod
    def from_domain(cls, cluster: domain.Cluster, masker: Masker) -> Cluster:
        return cls(
            profile_id=strawberry.ID(cluster.profile_id),
            size=cluster.size,
            truncated=cluster.truncated,
            records=[
                ClusterRecord(
                    source=r.ref.source,
                    key=r.ref.key,
                    timestamp=r.timestamp,
                    attributes=JSON(masker.attributes(r.attributes)),
                    identifiers=[
                        IdentifierValue(kind=k.kind, value=masker.identifier(k.kind, k.value))
                        for k in r.identifiers
                    ],
                )
                for r in cluster.records
            ],
            identifiers=[
                ClusterIdentifier(
                    kind=i.key.kind,
                    value=masker.identifier(i.key.kind, i.key.value),
                    links=i.links,
                    not_linking_reason=i.not_linking_reason,
                    record_count=i.record_count,
                    records=[RecordRefType.from_domain(r) for r in i.records],
                )
                for i in cluster.identifiers
            ],
            links=[ClusterLink.from_domain(x, masker) for x in cluster.links],
            external_links=[ClusterLink.from_domain(x, masker) for x in cluster.external_links],
            steward_links=[ClusterLink.from_domain(x, masker) for x in cluster.steward_links],
        )


@strawberry.enum
class EvidenceKind(Enum):
    SHARED_IDENTIFIER = "shared_identifier"
    PROBABILISTIC = "probabilistic"
    STEWARD = "steward"


@strawberry.type(description="One reason two records on a path are joined.")
class HopEvidence:
    kind: EvidenceKind
    matcher: str
    identifier: IdentifierValue | None = strawberry.field(
        description="For a shared identifier: which one."
    )
    match_weight: float | None
    probability: float | None
    contributions: list[FieldContribution] = strawberry.field(
        description="For a probabilistic match: which fields agreed, each one's weight."
    )
    details: JSON = strawberry.field(description="The link's stored evidence.")

    @classmethod
    def from_domain(cls, e: domain.HopEvidence, masker: Masker) -> HopEvidence:
        return cls(
            kind=EvidenceKind(e.kind),
            matcher=e.matcher,
            identifier=IdentifierValue.from_domain(e.identifier, masker),
            match_weight=e.match_weight,
            probability=e.probability,
            contributions=[FieldContribution.from_domain(c) for c in e.contributions],
            details=JSON(_evidence(e.details, masker)),
        )


@strawberry.type(description="One step of a path: two records and every reason they are joined.")
class Hop:
    source: RecordRefType = strawberry.field(name="from")
    target: RecordRefType = strawberry.field(name="to")
    evidence: list[HopEvidence]


@strawberry.type
class LinkPath:
    length: int
    hops: list[Hop]


@strawberry.type(description="The records are one profile: the paths that join them.")
class LinkExplained:
    profile_id: strawberry.ID
    record_a: RecordRefType
    record_b: RecordRefType
    paths: list[LinkPath] = strawberry.field(
        description="The shortest path first, then edge-disjoint alternatives."
    )


@strawberry.type(description="The records are in different profiles (or one in none).")
class RecordsNotLinked:
    record_a: RecordRefType
    record_b: RecordRefType
    profile_a: strawberry.ID | None
    profile_b: strawberry.ID | None
    message: str


@strawberry.type(description="No record with this source and key is stored.")
class UnknownRecord:
    record: RecordRefType
    message: str


ExplainLinkResult = Annotated[
    LinkExplained | RecordsNotLinked | UnknownRecord, strawberry.union("ExplainLinkResult")
]


def _explanation(found: domain.Explanation, masker: Masker) -> ExplainLinkResult:
    if isinstance(found, domain.UnknownRecord):
        return UnknownRecord(
            record=RecordRefType.from_domain(found.ref),
            message=f"no record {found.ref.key!r} of source {found.ref.source!r} is stored",
        )
    if isinstance(found, domain.RecordsNotLinked):
        return RecordsNotLinked(
            record_a=RecordRefType.from_domain(found.a),
            record_b=RecordRefType.from_domain(found.b),
            profile_a=strawberry.ID(found.profile_a) if found.profile_a else None,
            profile_b=strawberry.ID(found.profile_b) if found.profile_b else None,
            message="the records are in different profiles: nothing joins them",
        )
    return LinkExplained(
        profile_id=strawberry.ID(found.profile_id),
        record_a=RecordRefType.from_domain(found.a),
        record_b=RecordRefType.from_domain(found.b),
        paths=[
            LinkPath(
                length=len(path.hops),
                hops=[
                    Hop(
                        source=RecordRefType.from_domain(h.source),
                        target=RecordRefType.from_domain(h.target),
                        evidence=[HopEvidence.from_domain(e, masker) for e in h.evidence],
                    )
                    for h in path.hops
                ],
            )
            for path in found.paths
        ],
    )


@strawberry.type(description="A profile of the over-merge ranking and why it ranks there.")
class SuspiciousCluster:
    rank: int = strawberry.field(description="1 for the highest score, over all pages.")
    profile_id: strawberry.ID
    score: float
    size: int
    reasons: list[SuspicionReason]


@strawberry.type(
    description="A page of the ranking, highest score first; pass pageInfo.endCursor as "
    "`after` for the next."
)
class SuspiciousClusterConnection(Connection[SuspiciousCluster]):
    total_count: int = strawberry.field(description="Profiles with a score above zero.")
    computed_at: datetime = strawberry.field(description="When the ranking was computed.")
    profiles_analysed: int
    size_threshold: int = strawberry.field(
        description="Profiles above this many records count as unusually large."
    )


async def resolve_cluster(
    info: Info, profile_id: strawberry.ID, max_records: int = domain.MAX_RECORDS
) -> Cluster:
    if not 1 <= max_records <= 1000:
        raise graphql_error(
            InvalidArgument(f"maxRecords must be between 1 and 1000, got {max_records}")
        )
    found = await call(info.context.graph.clusters.cluster, str(profile_id), max_records)
    return Cluster.from_domain(found, info.context.masker)


async def resolve_explain_link(
    info: Info, record_a: RecordRefInput, record_b: RecordRefInput, alternatives: int = 2
) -> ExplainLinkResult:
    found = await call(
        info.context.graph.clusters.explain,
        record_a.ref(),
        record_b.ref(),
        alternatives,
    )
    return _explanation(found, info.context.masker)


async def resolve_suspicious_clusters(
    info: Info, first: int = 20, after: str | None = None, refresh: bool = False
) -> SuspiciousClusterConnection:
    page = await call(info.context.graph.clusters.suspicious, first, after, refresh)
    masker = info.context.masker
    return SuspiciousClusterConnection.of(
        (
            (
                cursor,
                SuspiciousCluster(
                    rank=rank,
                    profile_id=strawberry.ID(s.profile_id),
                    score=s.score,
                    size=s.size,
                    reasons=[SuspicionReason.from_domain(r, masker) for r in s.reasons],
                ),
            )
            for cursor, (rank, s) in zip(page.cursors, page.entries, strict=True)
        ),
        has_next_page=page.has_next_page,
        end_cursor=page.end_cursor,
        total_count=page.total,
        computed_at=page.computed_at,
        profiles_analysed=page.profiles_analysed,
        size_threshold=page.size_threshold,
    )


@strawberry.type
class ClusterQueries:
    cluster: Cluster = strawberry.field(
        resolver=resolve_cluster,
        extensions=needs(PROFILES_READ),
        description="A profile's records, identifiers and links for a steward to read; a "
        "merged id gives the survivor's. UNKNOWN_PROFILE when the id was never issued.",
    )
    explain_link: ExplainLinkResult = strawberry.field(
        resolver=resolve_explain_link,
        extensions=needs(PROFILES_READ),
        description="Why two records are one person: the shortest path of evidence between "
        "them, and up to `alternatives` edge-disjoint others.",
    )
    suspicious_clusters: SuspiciousClusterConnection = strawberry.field(
        resolver=resolve_suspicious_clusters,
        extensions=needs(PROFILES_READ),
        description="Profiles that look over-merged, highest score first. Served from the "
        "ranking cached in the store; computed on first use or with `refresh: true`, which "
        "reads the whole store (seconds per 10,000 profiles).",
    )
