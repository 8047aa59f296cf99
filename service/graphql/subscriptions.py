"""GraphQL subscriptions over WebSocket (graphql-transport-ws): the profile change feed
and a segment's change feed, pushed as they are written.

A subscription follows the same change log its query feed pages through
(``Query.profileChanges``, ``Segment.changes``): it reads the entries after its cursor in
batches, yields each in order as an edge (the item and its cursor, as on the query feed),
and reads again every ``IDGRAPH_SUBSCRIPTION_POLL_SECONDS`` (the caught-up subscribers of a
feed share that read). The log is the store's, so
changes written by another API process or by the CLI arrive too; a client that
reconnects with the cursor of the last edge it received misses nothing and sees nothing
twice.

The token comes from the upgrade request's ``Authorization`` header or from the
``connection_init`` payload (``{"authorization": "Bearer TOKEN"}``); without a valid one
the connection is closed with 4403 (Forbidden), as the protocol says. Each subscription
needs the scope of its query feed. Only subscriptions run over the WebSocket: queries and
mutations go to ``POST /graphql``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

import strawberry
from graphql import GraphQLError
from strawberry.exceptions import ConnectionRejectionError
from strawberry.extensions import SchemaExtension
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType
from strawberry.utils.aio import aclosing

from identity import segments as domain
from identity.stewardship import profile_change_cursor
from service.auth import PROFILES_READ, SEGMENTS_READ, TokenRegistry
from service.graphql.context import Context, Info, call, needs
from service.graphql.ide import LocalGraphiQLRouter
from service.graphql.pagination import Edge
from service.graphql.segments import SegmentChange
from service.graphql.stewardship import ProfileChange

if TYPE_CHECKING:
    from strawberry.schema.schema import StreamResult

PROTOCOLS = (GRAPHQL_TRANSPORT_WS_PROTOCOL,)
"""The one WebSocket protocol served; the legacy ``graphql-ws`` subprotocol (of the
subscriptions-transport-ws library) is not."""
BATCH = 1000
"""Change-log entries read at a time."""

T = TypeVar("T")
Read = Callable[[str | None], Any]
"""A feed's read: the page after a cursor (from the beginning for None)."""


class _Page(Protocol[T]):
    @property
    def changes(self) -> list[T]: ...
    @property
    def cursor(self) -> str: ...
    @property
    def has_more(self) -> bool: ...


class _Slot:
    """One open subscription's place under the process's cap; given back once."""

    def __init__(self, feeds: Feeds) -> None:
        self._feeds: Feeds | None = feeds

    def release(self) -> None:
        feeds, self._feeds = self._feeds, None
        if feeds is not None:
            feeds.give_back()


@dataclass
class Feeds:
    """The subscriptions of one API process: how often they read, how many may be open."""

    poll_seconds: float = 0.5
    max_open: int = 100
    open: int = 0

    def __post_init__(self) -> None:
        self._closing = asyncio.Event()
        self._lock = threading.Lock()  # a slot may be given back by the garbage collector
        self._tails: dict[tuple[Hashable, str], asyncio.Task[_Page[Any] | None]] = {}
        self._reading = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def take(self) -> _Slot:
        """A place for one more subscription; TOO_MANY_SUBSCRIPTIONS when all are taken."""
        if self._closing.is_set():
            raise GraphQLError(
                "the server is shutting down; reconnect and resume from your last cursor",
                extensions={"code": "SHUTTING_DOWN"},
            )
        with self._lock:
            if self.open >= self.max_open:
                raise GraphQLError(
                    f"this server process has {self.open:,} subscriptions open, its limit "
                    "(IDGRAPH_MAX_SUBSCRIPTIONS); retry later or pull the query feed",
                    extensions={"code": "TOO_MANY_SUBSCRIPTIONS"},
                )
            self.open += 1
        return _Slot(self)

    def give_back(self) -> None:
        with self._lock:
            self.open -= 1

    async def pause(self) -> bool:
        """Wait a poll interval; False when the server is closing (the feed should end)."""
        try:
            await asyncio.wait_for(self._closing.wait(), self.poll_seconds)
        except TimeoutError:
            return True
        return False

    async def next_page(self, feed: Hashable, read: Read, cursor: str) -> _Page[Any] | None:
        """The page after ``cursor`` of a subscriber that has read everything up to it,
        read after a poll interval; None when the server is closing. Subscribers of one
        feed at one cursor (every subscriber of the feed that is caught up) share the
        wait and the read, so idle subscriptions cost one read per feed and interval,
        however many there are."""
        key = (feed, cursor)
        task = self._tails.get(key)
        if task is None:
            task = asyncio.create_task(self._read_after_pause(read, cursor))
            self._tails[key] = task
            task.add_done_callback(lambda done: self._tail_done(key, done))
        # A subscriber that leaves does not cancel the read the others wait for.
        return await asyncio.shield(task)

    async def read(self, read: Read, cursor: str | None) -> _Page[Any]:
        """A page of a feed, read in the thread pool; counted, so that shutdown waits for
        the reads under way before the store closes (a thread cannot be stopped, and
        closing the store under it breaks its connection)."""
        self._reading += 1
        self._idle.clear()
        try:
            page: _Page[Any] = await call(read, cursor)
            return page
        finally:
            self._reading -= 1
            if self._reading == 0:
                self._idle.set()

    async def _read_after_pause(self, read: Read, cursor: str) -> _Page[Any] | None:
        if not await self.pause():
            return None
        return await self.read(read, cursor)

    def _tail_done(self, key: tuple[Hashable, str], task: asyncio.Task[Any]) -> None:
        if self._tails.get(key) is task:
            del self._tails[key]
        if not task.cancelled():
            task.exception()  # each subscriber gets it; none waiting must not warn

    async def close(self, wait: float = 10.0) -> None:
        """End every open feed at its next pause, and wait (up to ``wait`` seconds) for the
        reads under way (server shutdown, before the store closes)."""
        self._closing.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), wait)


def _feeds(info: Info) -> Feeds:
    feeds = info.context.feeds
    if not isinstance(feeds, Feeds):  # only the WebSocket route sets them
        raise GraphQLError(
            "subscriptions are served over WebSocket (graphql-transport-ws) only",
            extensions={"code": "INVALID_REQUEST"},
        )
    return feeds


async def _follow(
    feed: Hashable,
    read: Read,
    first: _Page[Any],
    edge: Callable[[Any], Edge[T]],
    feeds: Feeds,
    slot: _Slot,
) -> AsyncGenerator[Edge[T], None]:
    """Every entry of ``first`` and of the pages after it, in order, polling at the end."""
    page: _Page[Any] | None = first
    try:
        while page is not None:
            for change in page.changes:
                yield edge(change)
            if page.has_more:  # a full page: more are waiting, read on at once
                page = await feeds.read(read, page.cursor)
            else:
                page = await feeds.next_page(feed, read, page.cursor)
    finally:
        slot.release()


async def _start(
    info: Info,
    feed: Hashable,
    read: Read,
    after: str | None,
    edge: Callable[[Any], Edge[T]],
) -> AsyncIterator[Edge[T]]:
    feeds = _feeds(info)
    slot = feeds.take()
    try:
        # The first read is made here, so an unknown segment or a bad cursor is the
        # subscription's error, before any event.
        first = await feeds.read(read, after)
    except BaseException:
        slot.release()
        raise
    stream = _follow(feed, read, first, edge, feeds, slot)
    # A stream closed before it ever ran does not run its `finally`: give the slot back
    # when it is collected too.
    weakref.finalize(stream, slot.release)
    return stream


def _profile_change_edge(change: Any) -> Edge[ProfileChange]:
    return Edge(cursor=profile_change_cursor(change.seq), node=ProfileChange.from_domain(change))


def _segment_change_edge(change: Any) -> Edge[SegmentChange]:
    return Edge(cursor=domain.change_cursor(change.seq), node=SegmentChange.from_domain(change))


async def _profile_changes(
    info: Info, after: str | None = None
) -> AsyncIterator[Edge[ProfileChange]]:
    steward = info.context.graph.stewardship

    def read(cursor: str | None) -> Any:
        return steward.profile_changes(cursor, BATCH)

    return await _start(info, "profiles", read, after, _profile_change_edge)


async def _segment_changes(
    info: Info, segment: str, after: str | None = None
) -> AsyncIterator[Edge[SegmentChange]]:
    segments = info.context.graph.segments

    def read(cursor: str | None) -> Any:
        return segments.changes(segment, cursor, BATCH)

    return await _start(info, ("segment", segment), read, after, _segment_change_edge)


@strawberry.type
class Subscription:
    profile_changes: AsyncIterator[Edge[ProfileChange]] = strawberry.field(
        resolver=_profile_changes,
        is_subscription=True,
        extensions=needs(PROFILES_READ),
        description="Profile ids created, merged, split and deleted after the cursor `after` "
        "(from the beginning without one), oldest first, then each as it happens: the "
        "entries of `profileChanges`, pushed. Reconnect with the last edge's cursor to "
        "resume with nothing missed or repeated.",
    )
    segment_changes: AsyncIterator[Edge[SegmentChange]] = strawberry.field(
        resolver=_segment_changes,
        is_subscription=True,
        extensions=needs(SEGMENTS_READ),
        description="Profiles entering and leaving the segment after the cursor `after` (from "
        "the beginning without one), oldest first, then each as it happens: the entries of "
        "`segment.changes`, pushed. Reconnect with the last edge's cursor to resume.",
    )


class SubscriptionsOverWebSocket(SchemaExtension):
    """Subscriptions run over the WebSocket and nothing else does. Over HTTP a subscription
    would run its fields as plain ones, with no event to give them. Over a WebSocket a
    query or mutation would share the connection's context, which lives as long as the
    connection, so its loaders would answer from what they read first."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        on_socket = isinstance(getattr(context.context, "feeds", None), Feeds)
        subscription = context.operation_type is OperationType.SUBSCRIPTION
        if on_socket and not subscription:
            raise GraphQLError(
                f"a {context.operation_type.value} is not run over the WebSocket, which "
                "carries subscriptions only; send it to POST /graphql",
                extensions={"code": "INVALID_REQUEST"},
            )
        if subscription and not on_socket:
            raise GraphQLError(
                "subscriptions are served over WebSocket (graphql-transport-ws) at /graphql",
                extensions={"code": "INVALID_REQUEST"},
            )
        yield


class RefusalsAsErrors(strawberry.Schema):
    """Errors raised before a streamed operation's first result (the parser's own limits,
    QueryLimits' refusals) reach the client as the protocol's ``error`` message; strawberry
    answers them on POST but on a WebSocket only logs them and sends ``complete``."""

    async def stream(self, *args: Any, **kwargs: Any) -> StreamResult:
        return _refusals_as_errors(self, await super().stream(*args, **kwargs))


async def _refusals_as_errors(schema: strawberry.Schema, source: StreamResult) -> StreamResult:
    started = False
    try:
        async with aclosing(source):
            async for result in source:
                started = True
                yield result
    except GraphQLError as error:
        if started:
            raise
        schema.process_errors([error])  # gives it its code, as on POST
        yield PreExecutionError(data=None, errors=[error])


def _bearer(value: object) -> str | None:
    """The token of an ``Authorization`` value (``Bearer TOKEN``), or None."""
    if not isinstance(value, str):
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class SubscribingRouter(LocalGraphiQLRouter):
    """The GraphQL route, with subscriptions over WebSocket (graphql-transport-ws)."""

    def __init__(self, *args: Any, feeds: Feeds, **kwargs: Any) -> None:
        super().__init__(*args, **{**kwargs, "subscription_protocols": PROTOCOLS})
        self.feeds = feeds
        # Shutdown ends open feeds rather than waiting on them.
        self.on_shutdown.append(feeds.close)

    async def on_ws_connect(self, context: Context) -> UnsetType:
        """Authenticate the connection at ``connection_init``: the payload's token if it
        names one, else the upgrade request's; 4403 without a valid one."""
        params = context.connection_params or {}
        named = next((params[k] for k in ("authorization", "Authorization") if k in params), None)
        if named is not None:
            token = _bearer(named)
            assert context.request is not None
            registry: TokenRegistry = context.request.app.state.tokens
            principal = registry.authenticate(token) if token else None
        else:
            principal = context.principal
        if principal is None:
            raise ConnectionRejectionError
        context.sign_in(principal)
        context.feeds = self.feeds
        return cast("UnsetType", UNSET)  # acknowledged, with no payload
