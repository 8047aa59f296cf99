"""What every resolver shares: the per-request context (graph, caller, masker,
DataLoaders), the call into the domain's blocking code, and the scope check."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import strawberry
from graphql import GraphQLError
from starlette.concurrency import run_in_threadpool
from strawberry.dataloader import DataLoader
from strawberry.extensions import FieldExtension
from strawberry.fastapi import BaseContext
from strawberry.permission import BasePermission, PermissionExtension

from identity import deadline, model
from identity.errors import IdgraphError
from identity.graph import IdentityGraph
from identity.households.service import Household
from identity.journeys import JourneyPage
from identity.segment_definitions import VIEW, Facts
from service.auth import Principal, unauthenticated
from service.errors import graphql_error
from service.masking import Masker

if TYPE_CHECKING:
    from service.graphql.subscriptions import Feeds

P = ParamSpec("P")
T = TypeVar("T")


_GRACE = 0.1
"""Seconds past the time budget a call may take to end itself (the store stops its
statement at the budget) before the request stops waiting for it."""


async def call(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking domain call in the thread pool, within the request's time budget
    (:class:`service.graphql.limits.TimeBudget`); domain errors become GraphQL errors."""
    try:
        deadline.check()
        left = deadline.remaining()
        if left is None:
            return await run_in_threadpool(fn, *args, **kwargs)
        try:
            return await asyncio.wait_for(run_in_threadpool(fn, *args, **kwargs), left + _GRACE)
        except TimeoutError:
            # Work the store cannot stop (Python between statements) goes on in its thread;
            # the answer does not wait for it. Only queries have a budget: no write is
            # left running behind an error.
            raise deadline.exceeded() from None
    except IdgraphError as error:
        raise graphql_error(error) from error


@dataclass(frozen=True, slots=True)
class JourneyArgs:
    """The arguments of a ``journey`` field: profiles asked with equal ones share a batch."""

    first: int = 50
    after: str | None = None
    types: tuple[str, ...] | None = None
    channels: tuple[str, ...] | None = None
    since: datetime | None = None
    until: datetime | None = None
    newest_first: bool = True


class Context(BaseContext):
    """Per request: the graph, the caller, how personal values show to them (``masker``,
    see :mod:`service.masking`) and the loaders."""

    def __init__(
        self, graph: IdentityGraph, principal: Principal | None, batch: bool = False
    ) -> None:
        super().__init__()
        self.graph = graph
        self.batch = batch
        """Whether the request is a batch of operations (one HTTP answer for all)."""
        self.sign_in(principal)
        self.connection_params: dict[str, Any] | None = None
        """A WebSocket's ``connection_init`` payload (strawberry sets it)."""
        self.feeds: Feeds | None = None
        """On a WebSocket, the process's subscription feeds (service.graphql.subscriptions)."""
        self.profiles = DataLoader[str, model.Profile | None](load_fn=self._load_profiles)
        self.records = DataLoader[str, list[model.StoredRecord]](load_fn=self._load_records)
        self.facts = DataLoader[str, Facts | None](load_fn=self._load_facts)
        self.memberships = DataLoader[str, list[str]](load_fn=self._load_memberships)
        self.households = DataLoader[str, Household | None](load_fn=self._load_households)
        self.journeys = DataLoader[tuple[str, JourneyArgs], JourneyPage](
            load_fn=self._load_journeys
        )

    def sign_in(self, principal: Principal | None) -> None:
        """Act as ``principal``: a WebSocket may name its token after the context is made."""
        self.principal = principal
        self.actor = principal.name if principal is not None else "anonymous"
        self.masker = Masker.for_principal(self.graph.rules, principal)

    async def _load_profiles(self, ids: list[str]) -> list[model.Profile | None]:
        # Golden record and identifiers from the read model; records when asked for.
        return await call(self.graph.views.get_profiles, ids)

    async def _load_records(self, ids: list[str]) -> list[list[model.StoredRecord]]:
        found = await call(self.graph.profiles.records_of, ids)
        return [found.get(pid, []) for pid in ids]

    async def _load_facts(self, ids: list[str]) -> list[Facts | None]:
        found = await call(self.graph.segments.facts, ids, {VIEW})  # traits and consent
        return [found.get(pid) for pid in ids]

    async def _load_memberships(self, ids: list[str]) -> list[list[str]]:
        found = await call(self.graph.segments.memberships, ids)
        return [found.get(pid, []) for pid in ids]

    async def _load_households(self, ids: list[str]) -> list[Household | None]:
        found = await call(self.graph.households.of_profiles, ids)
        return [found.get(pid) for pid in ids]

    async def _load_journeys(
        self, keys: list[tuple[str, JourneyArgs]]
    ) -> list[JourneyPage | BaseException]:
        # One batched read per distinct set of arguments: a page of profiles each asking
        # journey(first: 5) is one read, whatever its size. Bad arguments fail their own
        # fields, not the other journeys of the batch.
        by_args: dict[JourneyArgs, list[str]] = {}
        for pid, args in keys:
            by_args.setdefault(args, []).append(pid)
        found: dict[tuple[str, JourneyArgs], JourneyPage | BaseException] = {}
        for args, ids in by_args.items():
            try:
                pages = await call(
                    self.graph.journeys.pages,
                    ids,
                    first=args.first,
                    after=args.after,
                    types=args.types,
                    channels=args.channels,
                    since=args.since,
                    until=args.until,
                    newest_first=args.newest_first,
                )
            except GraphQLError as error:
                found.update(((pid, args), error) for pid in ids)
            else:
                found.update(((pid, args), page) for pid, page in pages.items())
        return [found[key] for key in keys]


Info = strawberry.Info[Context, None]


class HasScope(BasePermission):
    """The caller's token must grant ``scope`` (``admin`` grants all)."""

    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012

    def __init__(self, scope: str) -> None:
        self.scope = scope
        self.message = f"this needs the '{scope}' scope, which the token lacks"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = info.context.principal
        if principal is None:
            message = str(unauthenticated().detail)
            raise GraphQLError(message, extensions={"code": "UNAUTHENTICATED"})
        return principal.has(self.scope)


def needs(scope: str) -> list[FieldExtension]:
    return [PermissionExtension([HasScope(scope)], use_directives=False)]
