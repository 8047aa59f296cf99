"""GraphQL types and resolvers of stewardship's corrections, the review queue, the
profile change feed and the audit log."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
from starlette.concurrency import run_in_threadpool
from strawberry.scalars import JSON

from identity import model
from identity.audit import audit_cursor
from identity.duplicates import DuplicateNote
from identity.errors import IdgraphError, StewardConflict
from identity.model import ProfileChangeRecord, StoredAuditEntry
from identity.stewardship import (
    ActionResult,
    ReviewPair,
    StewardService,
    profile_change_cursor,
    review_cursor,
)
from identity.stewardship import ReviewOrder as DomainReviewOrder
from service.auth import ADMIN, PROFILES_READ, STEWARD_WRITE
from service.errors import classify, graphql_error
from service.graphql.context import Info, call, needs
from service.graphql.pagination import Connection
from service.graphql.types import Profile, RecordRefInput, RecordRefType


async def _action_profiles(root: StewardActionDone, info: Info) -> list[Profile]:
    found = await info.context.profiles.load_many([str(p) for p in root.profile_ids])
    return [Profile.from_domain(p, info.context.masker) for p in found if p is not None]


@strawberry.type(description="The action is done; `actionId` undoes it.")
class StewardActionDone:
    action_id: int = strawberry.field(description="Its audit entry; pass it to `undo`.")
    profile_ids: list[strawberry.ID] = strawberry.field(
        description="The live profiles the action's records are in now."
    )
    profiles: list[Profile] = strawberry.field(
        resolver=_action_profiles,
        extensions=needs(PROFILES_READ),
        description="Those profiles (needs profiles:read).",
    )


@strawberry.type(description="The action was refused and nothing changed.")
class StewardActionRefused:
    code: str = strawberry.field(
        description="STEWARD_CONFLICT, UNKNOWN_PROFILE, UNKNOWN_RECORD, UNKNOWN_ACTION or "
        "INVALID_ARGUMENT"
    )
    message: str


StewardActionResult = Annotated[
    StewardActionDone | StewardActionRefused, strawberry.union("StewardActionResult")
]

_REFUSALS = (
    "STEWARD_CONFLICT",
    "UNKNOWN_PROFILE",
    "UNKNOWN_RECORD",
    "UNKNOWN_ACTION",
    "INVALID_ARGUMENT",
)


async def _perform(fn: Callable[..., ActionResult], *args: Any) -> StewardActionResult:
    """Run a steward action; expected refusals are answers, other errors are errors."""
    try:
        result = await run_in_threadpool(fn, *args)
    except IdgraphError as error:
        code = classify(error)[1]
        if isinstance(error, StewardConflict) or code in _REFUSALS:
            return StewardActionRefused(code=code, message=str(error))
        raise graphql_error(error) from error
    return StewardActionDone(
        action_id=result.action_id, profile_ids=[strawberry.ID(p) for p in result.profiles]
    )


async def _merge_profiles(info: Info, ids: list[strawberry.ID], reason: str) -> StewardActionResult:
    steward = info.context.graph.stewardship
    return await _perform(steward.merge_profiles, [str(i) for i in ids], reason, info.context.actor)


async def _split_profile(
    info: Info, profile_id: strawberry.ID, groups: list[list[RecordRefInput]], reason: str
) -> StewardActionResult:
    refs = [[r.ref() for r in group] for group in groups]
    steward = info.context.graph.stewardship
    return await _perform(steward.split_profile, str(profile_id), refs, reason, info.context.actor)


async def _separate_records(
    info: Info, a: RecordRefInput, b: RecordRefInput, reason: str
) -> StewardActionResult:
    steward = info.context.graph.stewardship
    return await _perform(steward.separate_records, a.ref(), b.ref(), reason, info.context.actor)


async def _undo(info: Info, action_id: int, reason: str | None = None) -> StewardActionResult:
    steward = info.context.graph.stewardship
    return await _perform(steward.undo, action_id, reason, info.context.actor)


async def _accept_match(
    info: Info, a: RecordRefInput, b: RecordRefInput, reason: str | None = None
) -> StewardActionResult:
    steward = info.context.graph.stewardship
    return await _perform(steward.accept_match, a.ref(), b.ref(), reason, info.context.actor)


async def _reject_match(
    info: Info, a: RecordRefInput, b: RecordRefInput, reason: str | None = None
) -> StewardActionResult:
    steward = info.context.graph.stewardship
    return await _perform(steward.reject_match, a.ref(), b.ref(), reason, info.context.actor)


@strawberry.type
class StewardMutations:
    merge_profiles: StewardActionResult = strawberry.mutation(
        resolver=_merge_profiles,
        extensions=needs(STEWARD_WRITE),
        description="Join profiles for good: a must-link the matchers cannot undo.",
    )
    split_profile: StewardActionResult = strawberry.mutation(
        resolver=_split_profile,
        extensions=needs(STEWARD_WRITE),
        description="Divide a profile into groups of its records (each record in exactly one). "
        "The largest part keeps the id; the others get new ids that record their origin.",
    )
    separate_records: StewardActionResult = strawberry.mutation(
        resolver=_separate_records,
        extensions=needs(STEWARD_WRITE),
        description="A cannot-link between two records that every later matching respects.",
    )
    undo: StewardActionResult = strawberry.mutation(
        resolver=_undo,
        extensions=needs(STEWARD_WRITE),
        description="Reverse a steward action (by its actionId).",
    )
    accept_match: StewardActionResult = strawberry.mutation(
        resolver=_accept_match,
        extensions=needs(STEWARD_WRITE),
        description="A review pair is one person: it becomes a must-link.",
    )
    reject_match: StewardActionResult = strawberry.mutation(
        resolver=_reject_match,
        extensions=needs(STEWARD_WRITE),
        description="A review pair is two people: it becomes a cannot-link.",
    )


# -- the review queue ---------------------------------------------------------------------


@strawberry.type(
    description="Two records of one source that each carry their own value of a kind "
    "limited per profile (two customer ids): likely one person's duplicate accounts."
)
class DuplicateAccount:
    source: str
    kinds: list[str] = strawberry.field(description="The limited kinds the pair breaks.")
    rule: str = strawberry.field(
        description='The kinds\' `duplicates` rule for the source: "review" or "link".'
    )
    reached_link_threshold: bool = strawberry.field(
        description="The matcher links the pair; only the limit holds it for review."
    )
    counts_against: list[str] = strawberry.field(
        description="Fields a person has one of (names, birth date) weighing against the pair."
    )

    @classmethod
    def from_domain(cls, note: DuplicateNote) -> DuplicateAccount:
        return cls(
            source=note.source,
            kinds=list(note.kinds),
            rule=note.rule,
            reached_link_threshold=note.outcome == "held",
            counts_against=list(note.counts_against),
        )


@strawberry.type(
    description="A pair waiting for a steward: the model was unsure (between review and "
    "link), a required field disagrees, or duplicate accounts a limit holds apart."
)
class ReviewItem:
    a: RecordRefType
    b: RecordRefType
    profile_a: strawberry.ID | None
    profile_b: strawberry.ID | None
    weight: float = strawberry.field(
        description="The match weight: log2 of the match odds the model gives the pair."
    )
    probability: float = strawberry.field(description="The match probability, 0 to 1.")
    evidence: JSON = strawberry.field(description="Each field's level and contribution.")
    reason: str = strawberry.field(description="Why the pair waits for a steward.")
    duplicate_account: DuplicateAccount | None = strawberry.field(
        description="Set when the records are likely duplicate accounts within one source."
    )

    @classmethod
    def from_domain(cls, pair: ReviewPair) -> ReviewItem:
        note = pair.duplicate
        return cls(
            a=RecordRefType.from_domain(pair.a),
            b=RecordRefType.from_domain(pair.b),
            profile_a=strawberry.ID(pair.profile_a) if pair.profile_a else None,
            profile_b=strawberry.ID(pair.profile_b) if pair.profile_b else None,
            weight=pair.weight,
            probability=pair.probability,
            evidence=JSON(pair.link.evidence),
            reason=pair.reason,
            duplicate_account=DuplicateAccount.from_domain(note) if note else None,
        )


@strawberry.type(description="An identifier shared by more records than its cap allows.")
class CappedIdentifier:
    kind: str
    value: str
    record_count: int


@strawberry.enum(
    description="The order of the review queue: PAIR by record ids (the store's order), "
    "PROBABILITY most likely match first (highest probability, hence highest weight), ties "
    "by record ids. Each order has its own cursors."
)
class ReviewOrder(Enum):
    PAIR = DomainReviewOrder.PAIR.value
    PROBABILITY = DomainReviewOrder.PROBABILITY.value


async def _review_total(root: ReviewQueueConnection) -> int:
    return await call(root.steward.review_count)


@strawberry.type(
    description="A page of the review queue: pass pageInfo.endCursor as `after`, with the "
    "same `order`, for the next."
)
class ReviewQueueConnection(Connection[ReviewItem]):
    capped_identifiers: list[CappedIdentifier] = strawberry.field(
        description="Identifiers that stopped linking at their cardinality cap (most shared "
        "first): worth a look, or a blocklist entry."
    )
    total_count: int = strawberry.field(
        resolver=_review_total,
        description="How many pairs no steward has decided, in the whole queue (not this "
        "page); counted by the store only when asked for.",
    )
    steward: strawberry.Private[StewardService]


async def _review_queue(
    info: Info,
    first: int = 50,
    after: str | None = None,
    order: Annotated[
        ReviewOrder,
        strawberry.argument(
            description="PAIR (by record ids) or PROBABILITY (most likely first); a cursor "
            "of one order is refused (INVALID_CURSOR) in the other."
        ),
    ] = ReviewOrder.PAIR,
) -> ReviewQueueConnection:
    steward = info.context.graph.stewardship
    domain_order = DomainReviewOrder(order.value)
    page = await call(steward.review_queue, first, after, domain_order)
    capped = await call(steward.capped_identifiers)
    return ReviewQueueConnection.of(
        ((review_cursor(p.link, domain_order), ReviewItem.from_domain(p)) for p in page.pairs),
        has_next_page=page.has_next_page,
        end_cursor=page.end_cursor,
        capped_identifiers=[
            CappedIdentifier(
                kind=f.key.kind,
                value=info.context.masker.identifier(f.key.kind, f.key.value),
                record_count=f.record_count,
            )
            for f in capped
        ],
        steward=steward,
    )


# -- the profile change feed --------------------------------------------------------------


@strawberry.enum
class ProfileChangeKind(Enum):
    CREATED = "created"
    MERGED = "merged"
    SPLIT = "split"
    DELETED = "deleted"


@strawberry.type(description="A profile id created, merged away, split off or deleted.")
class ProfileChange:
    kind: ProfileChangeKind
    profile_id: strawberry.ID
    related: strawberry.ID | None = strawberry.field(
        description="MERGED: the survivor it now resolves to; SPLIT: the profile it left."
    )
    at: datetime

    @classmethod
    def from_domain(cls, record: ProfileChangeRecord) -> ProfileChange:
        return cls(
            kind=ProfileChangeKind(model.ProfileChangeKind(record.kind).value),
            profile_id=strawberry.ID(record.profile_id),
            related=strawberry.ID(record.related) if record.related else None,
            at=record.at,
        )


async def _profile_changes(
    info: Info, first: int = 1000, after: str | None = None
) -> Connection[ProfileChange]:
    page = await call(info.context.graph.stewardship.profile_changes, after, first)
    return Connection[ProfileChange].of(
        ((profile_change_cursor(c.seq), ProfileChange.from_domain(c)) for c in page.changes),
        has_next_page=page.has_more,
        end_cursor=page.cursor,
    )


# -- the audit log --------------------------------------------------------------------------


@strawberry.type(description="Who did what, when, why, with the state before and after.")
class AuditLogEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    reason: str | None
    before: JSON
    after: JSON
    undoes: int | None
    undone_by: int | None

    @classmethod
    def from_domain(cls, stored: StoredAuditEntry) -> AuditLogEntry:
        e = stored.entry
        return cls(
            id=stored.id,
            at=stored.at,
            actor=e.actor,
            action=e.action,
            target=e.target,
            reason=e.reason,
            before=JSON(e.before),
            after=JSON(e.after),
            undoes=e.undoes,
            undone_by=stored.undone_by,
        )


async def _audit_log(
    info: Info,
    first: int = 50,
    after: str | None = None,
    actor: str | None = None,
    action: str | None = None,
) -> Connection[AuditLogEntry]:
    page = await call(info.context.graph.audit.entries, first, after, actor, action)
    return Connection[AuditLogEntry].of(
        ((audit_cursor(e.id), AuditLogEntry.from_domain(e)) for e in page.entries),
        has_next_page=page.has_next_page,
        end_cursor=page.end_cursor,
    )


@strawberry.type
class StewardQueries:
    review_queue: ReviewQueueConnection = strawberry.field(
        resolver=_review_queue,
        extensions=needs(STEWARD_WRITE),
        description="Pairs no steward has decided: between the review and link thresholds, "
        "vetoed by a required field, or duplicate accounts within one source a limit holds "
        "apart; each with its reason.",
    )
    profile_changes: Connection[ProfileChange] = strawberry.field(
        resolver=_profile_changes,
        extensions=needs(PROFILES_READ),
        description="Profile ids created, merged, split and deleted after the cursor `after` "
        "(from the beginning without one), oldest first; each exactly once for a consumer "
        "that always passes the endCursor it was given.",
    )
    audit_log: Connection[AuditLogEntry] = strawberry.field(
        resolver=_audit_log,
        extensions=needs(ADMIN),
        description="Every steward action, ingest batch, segment change and export, newest "
        "first, optionally one actor's or one action's.",
    )
