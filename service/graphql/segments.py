"""GraphQL types and resolvers of segments: definitions, members and the change feed
activation jobs pull."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from starlette.concurrency import run_in_threadpool
from strawberry.scalars import JSON

from identity import model
from identity import segments as domain
from identity.errors import IdgraphError, InvalidArgument, InvalidSegment, UnknownSegment
from service.auth import ADMIN, PROFILES_READ, SEGMENTS_READ
from service.errors import graphql_error
from service.graphql.context import Info, call, needs
from service.graphql.pagination import Connection
from service.graphql.types import Profile


@strawberry.enum
class SegmentChangeKind(Enum):
    ENTERED = "entered"
    EXITED = "exited"


@strawberry.type(description="A profile entering or leaving the segment.")
class SegmentChange:
    profile_id: strawberry.ID
    kind: SegmentChangeKind
    at: datetime
    merged_into: strawberry.ID | None = strawberry.field(
        description="For an exit because the profile was merged away: the survivor."
    )

    @classmethod
    def from_domain(cls, change: model.SegmentChange) -> SegmentChange:
        return cls(
            profile_id=strawberry.ID(change.profile_id),
            kind=SegmentChangeKind.ENTERED
            if change.kind == model.MembershipKind.ENTERED
            else SegmentChangeKind.EXITED,
            at=change.at,
            merged_into=strawberry.ID(change.merged_into) if change.merged_into else None,
        )


async def _member_profile(root: SegmentMember, info: Info) -> Profile | None:
    found = await info.context.profiles.load(str(root.profile_id))
    return Profile.from_domain(found, info.context.masker) if found else None


@strawberry.type(description="A member of a segment.")
class SegmentMember:
    profile_id: strawberry.ID
    profile: Profile | None = strawberry.field(
        resolver=_member_profile,
        extensions=needs(PROFILES_READ),
        description="The member profile (needs profiles:read; null if it changed since).",
    )


async def _members(
    root: Segment, info: Info, first: int = 100, after: str | None = None
) -> Connection[SegmentMember]:
    if not 1 <= first <= 1000:
        raise graphql_error(InvalidArgument(f"first must be between 1 and 1000, got {first}"))
    ids, more = await call(info.context.graph.segments.members, root.name, first, after)
    # A member's cursor is its profile id: members are listed by id, ascending.
    return Connection[SegmentMember].of(
        ((p, SegmentMember(profile_id=strawberry.ID(p))) for p in ids),
        has_next_page=more,
        end_cursor=ids[-1] if ids else None,
    )


async def _changes(
    root: Segment, info: Info, first: int = 1000, after: str | None = None
) -> Connection[SegmentChange]:
    page = await call(info.context.graph.segments.changes, root.name, after, first)
    return Connection[SegmentChange].of(
        ((domain.change_cursor(c.seq), SegmentChange.from_domain(c)) for c in page.changes),
        has_next_page=page.has_more,
        end_cursor=page.cursor,
    )


@strawberry.type(description="A named audience over attributes, traits, consent and behaviour.")
class Segment:
    name: str
    description: str | None
    definition: JSON = strawberry.field(description="The JSON definition (docs/segments.md).")
    requires_consent: str | None = strawberry.field(
        description="Members must have granted consent for this purpose."
    )
    size: int
    created_at: datetime
    updated_at: datetime
    members: Connection[SegmentMember] = strawberry.field(
        resolver=_members, description="Members by profile id, ascending, page by page."
    )
    changes: Connection[SegmentChange] = strawberry.field(
        resolver=_changes,
        description="Entered and exited profiles after the cursor `after` (from the "
        "beginning without one), oldest first. A job that always passes the endCursor it was "
        "given sees every change exactly once.",
    )

    @classmethod
    def from_domain(cls, segment: domain.Segment) -> Segment:
        return cls(
            name=segment.name,
            description=segment.definition.description,
            definition=JSON(segment.definition.document),
            requires_consent=segment.definition.requires_consent,
            size=segment.size,
            created_at=segment.created_at,
            updated_at=segment.updated_at,
        )


@strawberry.type
class SegmentDefined:
    segment: Segment


@strawberry.type(description="The definition was refused; nothing was stored.")
class SegmentInvalid:
    name: str
    problems: list[str] = strawberry.field(
        description="Each names the place in the definition and what is wrong there."
    )


@strawberry.type
class SegmentDeleted:
    name: str
    stopped_destinations: list[str] = strawberry.field(
        description="Destinations that followed the segment, now stopped (`segment_removed`) "
        "until removed, or resumed once the segment is defined again."
    )


@strawberry.type
class SegmentNotFound:
    name: str
    message: str


DefineSegmentResult = Annotated[
    SegmentDefined | SegmentInvalid, strawberry.union("DefineSegmentResult")
]
DeleteSegmentResult = Annotated[
    SegmentDeleted | SegmentNotFound, strawberry.union("DeleteSegmentResult")
]


async def resolve_segments(info: Info) -> list[Segment]:
    found = await call(info.context.graph.segments.segments)
    return [Segment.from_domain(s) for s in found]


async def resolve_segment(info: Info, name: str) -> Segment | None:
    found = await call(info.context.graph.segments.segments, [name])
    return Segment.from_domain(found[0]) if found else None


@strawberry.type
class SegmentQueries:
    segments: list[Segment] = strawberry.field(
        resolver=resolve_segments, extensions=needs(SEGMENTS_READ), description="Every segment."
    )
    segment: Segment | None = strawberry.field(
        resolver=resolve_segment, extensions=needs(SEGMENTS_READ), description="A segment by name."
    )


async def _define_segment(info: Info, name: str, definition: JSON) -> DefineSegmentResult:
    try:
        segment = await run_in_threadpool(
            info.context.graph.segments.define, name, definition, info.context.actor
        )
    except InvalidSegment as error:
        return SegmentInvalid(name=name, problems=error.problems)
    except IdgraphError as error:
        raise graphql_error(error) from error
    return SegmentDefined(segment=Segment.from_domain(segment))


async def _delete_segment(info: Info, name: str) -> DeleteSegmentResult:
    deleted = await call(info.context.graph.segments.delete, name, info.context.actor)
    if not deleted:
        return SegmentNotFound(name=name, message=str(UnknownSegment(name)))
    return SegmentDeleted(name=name, stopped_destinations=deleted.stopped_destinations)


@strawberry.type
class SegmentMutations:
    define_segment: DefineSegmentResult = strawberry.mutation(
        resolver=_define_segment,
        extensions=needs(ADMIN),
        description="Create or replace a segment; members are evaluated before it answers.",
    )
    delete_segment: DeleteSegmentResult = strawberry.mutation(
        resolver=_delete_segment,
        extensions=needs(ADMIN),
        description="Delete a segment, its members and its change log; destinations that "
        "follow it stop (named in `stoppedDestinations`).",
    )
