"""GraphQL types and thin resolvers of destinations (docs/activation.md): read them with
``destinations:read``; add, pause, resume, remove and replay with ``destinations:write``
(and ``pii:read`` to add one whose fields are personal)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, TypeVar

import strawberry
from graphql import GraphQLError

from identity import destinations as domain
from identity import model
from identity.destinations.model import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_BATCH_BYTES,
    DEFAULT_TIMEOUT_SECONDS,
)
from identity.errors import IdgraphError
from identity.segments import change_cursor
from service.auth import DESTINATIONS_READ, DESTINATIONS_WRITE, PII_READ
from service.errors import classify
from service.graphql.context import Info, call, needs

T = TypeVar("T")


@strawberry.type(description="A batch that could not be delivered: its range, not its rows.")
class DeadLetter:
    id: int
    kind: str = strawberry.field(description="`changes` or `snapshot`")
    from_seq: int = strawberry.field(description="Exclusive: the batch starts after it.")
    to_seq: int
    status: str = strawberry.field(description="`dead`, or `replayed` once delivered")
    attempts: int
    last_status: int | None = strawberry.field(description="The last HTTP status, if any.")
    last_error: str | None
    at: datetime

    @classmethod
    def from_domain(cls, letter: model.DeadLetter) -> DeadLetter:
        return cls(
            id=letter.id,
            kind=letter.kind,
            from_seq=letter.from_seq,
            to_seq=letter.to_seq,
            status=letter.status,
            attempts=letter.attempts,
            last_status=letter.last_status,
            last_error=letter.last_error,
            at=letter.at,
        )


@strawberry.type(description="Where delivery stands.")
class DestinationState:
    status: str = strawberry.field(
        description="`ok`, `snapshot`, `retrying`, `paused`, or `segment_removed`: stopped, "
        "its segment deleted (see `stoppedAt`, `problem`)."
    )
    stopped_at: datetime | None = strawberry.field(description="When it stopped, if it did.")
    problem: str | None = strawberry.field(
        description="What a stopped destination needs from a steward."
    )
    last_snapshot_at: datetime | None = strawberry.field(
        description="When its newest full snapshot began."
    )
    cursor: str = strawberry.field(
        description="The segment changes cursor acknowledged (as `segmentChanges` takes it)."
    )
    lag: int = strawberry.field(description="Changes of the segment after the cursor.")
    snapshot_in_progress: bool
    attempts: int = strawberry.field(description="Consecutive failures of the pending batch.")
    next_attempt_at: datetime | None
    last_error: str | None
    last_status: int | None
    delivered_batches: int
    delivered_rows: int
    last_delivered_at: datetime | None
    lease_owner: str | None = strawberry.field(description="The worker delivering it now.")


@strawberry.type(description="A webhook or folder a segment's changes are pushed to.")
class Destination:
    name: str
    segment: str
    kind: str = strawberry.field(description="`webhook` or `file`")
    url: str | None
    folder: str | None
    format: str | None
    fields: list[str]
    batch_size: int
    max_batch_bytes: int
    snapshot_every_hours: float | None
    requires_consent: str | None
    max_attempts: int
    paused: bool
    created_at: datetime | None
    created_by: str | None
    state: DestinationState
    dead_letters: list[DeadLetter] = strawberry.field(description="Those not yet replayed.")

    @classmethod
    def from_domain(cls, view: domain.DestinationView) -> Destination:
        d, s = view.destination, view.state
        return cls(
            name=d.name,
            segment=d.segment,
            kind=d.kind,
            url=d.url,
            folder=d.folder,
            format=d.format if d.kind == "file" else None,
            fields=list(d.fields),
            batch_size=d.batch_size,
            max_batch_bytes=d.max_batch_bytes,
            snapshot_every_hours=d.snapshot_every_hours,
            requires_consent=d.requires_consent,
            max_attempts=d.max_attempts,
            paused=d.paused,
            created_at=d.created_at,
            created_by=d.created_by,
            state=DestinationState(
                status=view.status,
                stopped_at=s.stopped_at,
                problem=view.problem,
                last_snapshot_at=s.snapshot_at,
                cursor=change_cursor(s.cursor_seq),
                lag=view.lag,
                snapshot_in_progress=s.snapshot_after is not None,
                attempts=s.attempts,
                next_attempt_at=s.next_attempt_at,
                last_error=s.last_error,
                last_status=s.last_status,
                delivered_batches=s.delivered_batches,
                delivered_rows=s.delivered_rows,
                last_delivered_at=s.last_delivered_at,
                lease_owner=s.lease_owner,
            ),
            dead_letters=[DeadLetter.from_domain(letter) for letter in view.dead_letters],
        )


async def resolve_destinations(info: Info) -> list[Destination]:
    found = await call(info.context.graph.destinations.views)
    return [Destination.from_domain(v) for v in found]


async def resolve_destination(info: Info, name: str) -> Destination | None:
    graph = info.context.graph
    if not await call(graph.store.destinations.get, [name]):
        return None
    (view,) = await call(graph.destinations.views, [name])
    return Destination.from_domain(view)


@strawberry.type
class DestinationQueries:
    destinations: list[Destination] = strawberry.field(
        resolver=resolve_destinations,
        extensions=needs(DESTINATIONS_READ),
        description="Every destination with its delivery state and dead letters.",
    )
    destination: Destination | None = strawberry.field(
        resolver=resolve_destination,
        extensions=needs(DESTINATIONS_READ),
        description="A destination by name, or null.",
    )


# -- mutations --------------------------------------------------------------------------------


@strawberry.type(description="The request was refused and nothing changed.")
class DestinationRefused:
    code: str = strawberry.field(
        description="INVALID_ARGUMENT, UNKNOWN_DESTINATION, UNKNOWN_SEGMENT, INVALID_CONFIG "
        "(parquet without pyarrow)"
    )
    message: str
    argument: str | None = strawberry.field(description="The argument at fault, if one is.")


@strawberry.type(description="Registered; the signing secret is shown this once.")
class DestinationAdded:
    destination: Destination
    secret: str | None = strawberry.field(
        description="The webhook's signing secret (null for a folder or a `secretEnv`)."
    )


@strawberry.type
class DestinationChanged:
    destination: Destination


@strawberry.type
class DestinationRemoved:
    name: str


@strawberry.type(description="What a replay did: each dead letter delivered or failed again.")
class DeadLettersReplayed:
    replayed: list[DeadLetter]
    failed: list[DeadLetter]


@strawberry.input
class AddDestinationInput:
    name: str
    segment: str
    webhook: str | None = None
    folder: str | None = None
    format: str = "csv"
    fields: list[str] = strawberry.field(default_factory=lambda: ["profile_id"])
    start: str = strawberry.field(default="snapshot", description="`snapshot` or `now`")
    batch_size: int = DEFAULT_BATCH_SIZE
    max_batch_bytes: int = strawberry.field(
        default=DEFAULT_MAX_BATCH_BYTES,
        description="A batch closes before its NDJSON body passes this many bytes; a row "
        "larger than that goes alone.",
    )
    snapshot_every_hours: float | None = strawberry.field(
        default=None,
        description="A folder only: a new full snapshot this often beside the deltas "
        "(null: one snapshot, at the start).",
    )
    requires_consent: str | None = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    secret_env: str | None = strawberry.field(
        default=None,
        description="Read the secret from this environment variable of the servers instead "
        "of generating one and keeping it in the store.",
    )

    def settings(self) -> domain.DestinationSettings:
        return domain.DestinationSettings(
            self.name,
            self.segment,
            url=self.webhook,
            folder=self.folder,
            format=self.format,
            fields=self.fields,
            batch_size=self.batch_size,
            max_batch_bytes=self.max_batch_bytes,
            snapshot_every_hours=self.snapshot_every_hours,
            requires_consent=self.requires_consent,
            start=self.start,
            max_attempts=self.max_attempts,
            timeout_seconds=self.timeout_seconds,
            secret_env=self.secret_env,
        )


AddResult = Annotated[
    DestinationAdded | DestinationRefused, strawberry.union("AddDestinationResult")
]
ChangeResult = Annotated[
    DestinationChanged | DestinationRefused, strawberry.union("DestinationChangeResult")
]
RemoveResult = Annotated[
    DestinationRemoved | DestinationRefused, strawberry.union("RemoveDestinationResult")
]
ReplayResult = Annotated[
    DeadLettersReplayed | DestinationRefused, strawberry.union("ReplayDeadLettersResult")
]
_REFUSALS = frozenset(
    {"INVALID_ARGUMENT", "UNKNOWN_SEGMENT", "UNKNOWN_DESTINATION", "INVALID_CONFIG"}
)


def _refused_or(work: Callable[[], T]) -> Callable[[], T | DestinationRefused]:
    def attempt() -> T | DestinationRefused:
        try:
            return work()
        except IdgraphError as error:
            code = classify(error)[1]
            if code in _REFUSALS:
                argument = getattr(error, "argument", None) or getattr(error, "field", None)
                return DestinationRefused(code=code, message=str(error), argument=argument)
            raise

    return attempt


def _view(info: Info, name: str) -> Destination:
    (view,) = info.context.graph.destinations.views([name])
    return Destination.from_domain(view)


async def _add_destination(info: Info, input: AddDestinationInput) -> AddResult:
    service = info.context.graph.destinations
    personal = service.personal_fields(input.fields)
    principal = info.context.principal
    if personal and (principal is None or not principal.has(PII_READ)):
        raise GraphQLError(
            f"fields {', '.join(personal)} are personal: adding this destination also needs "
            f"the '{PII_READ}' scope, which the token lacks",
            extensions={"code": "FORBIDDEN"},
        )

    def add() -> DestinationAdded:
        added = service.add(input.settings(), actor=info.context.actor)
        return DestinationAdded(destination=_view(info, input.name), secret=added.secret)

    return await call(_refused_or(add))


async def _set_paused(info: Info, name: str, paused: bool) -> ChangeResult:
    def change() -> DestinationChanged:
        info.context.graph.destinations.set_paused(name, paused, actor=info.context.actor)
        return DestinationChanged(destination=_view(info, name))

    return await call(_refused_or(change))


async def _pause_destination(info: Info, name: str) -> ChangeResult:
    return await _set_paused(info, name, True)


async def _resume_destination(info: Info, name: str) -> ChangeResult:
    return await _set_paused(info, name, False)


async def _remove_destination(info: Info, name: str) -> RemoveResult:
    def remove() -> DestinationRemoved:
        if not info.context.graph.destinations.remove(name, actor=info.context.actor):
            raise domain.UnknownDestination(name)
        return DestinationRemoved(name=name)

    return await call(_refused_or(remove))


async def _replay_dead_letters(
    info: Info, destination: str, ids: list[int] | None = None
) -> ReplayResult:
    def replay() -> DeadLettersReplayed:
        done = info.context.graph.destinations.replay(destination, ids, actor=info.context.actor)
        return DeadLettersReplayed(
            replayed=[DeadLetter.from_domain(r.letter) for r in done if r.outcome.delivered],
            failed=[DeadLetter.from_domain(r.letter) for r in done if not r.outcome.delivered],
        )

    return await call(_refused_or(replay))


@strawberry.type
class DestinationMutations:
    add_destination: AddResult = strawberry.mutation(
        resolver=_add_destination,
        extensions=needs(DESTINATIONS_WRITE),
        description="Register a webhook or folder for a segment; audited. Personal fields "
        "also need pii:read (FORBIDDEN otherwise).",
    )
    pause_destination: ChangeResult = strawberry.mutation(
        resolver=_pause_destination, extensions=needs(DESTINATIONS_WRITE)
    )
    resume_destination: ChangeResult = strawberry.mutation(
        resolver=_resume_destination,
        extensions=needs(DESTINATIONS_WRITE),
        description="Deliver again. A destination stopped because its segment was deleted "
        "starts over with a new snapshot once the segment is defined again (refused, "
        "INVALID_ARGUMENT, while it is not).",
    )
    remove_destination: RemoveResult = strawberry.mutation(
        resolver=_remove_destination,
        extensions=needs(DESTINATIONS_WRITE),
        description="Delete a destination with its state and dead letters; audited.",
    )
    replay_dead_letters: ReplayResult = strawberry.mutation(
        resolver=_replay_dead_letters,
        extensions=needs(DESTINATIONS_WRITE),
        description="Send dead letters again (all, or those of `ids`) under their original "
        "cursor and idempotency key; audited.",
    )
