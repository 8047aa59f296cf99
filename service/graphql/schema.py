"""The GraphQL schema: thin resolvers over :class:`identity.profiles.ProfileService`.

Domain calls block (they read the store), so they run in the thread pool; profiles by id
go through a per-request DataLoader, so a query naming many ids is one batched read.
"""

from __future__ import annotations

from functools import partial

import strawberry
from fastapi import Depends, Request
from graphql import ASTValidationRule, GraphQLError, GraphQLSyntaxError
from starlette.requests import HTTPConnection
from strawberry.extensions import AddValidationRules, MaskErrors, ParserCache, ValidationCache
from strawberry.extensions.query_depth_limiter import create_validator
from strawberry.fastapi import GraphQLRouter
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from identity.errors import AmbiguousIdentifier
from identity.graph import IdentityGraph
from service.auth import PROFILES_READ, Principal, optional_principal, unauthenticated
from service.deps import get_graph
from service.errors import graphql_error
from service.graphql.clusters import ClusterQueries
from service.graphql.context import Context, Info, call, needs
from service.graphql.destinations import DestinationMutations, DestinationQueries
from service.graphql.households import HouseholdMutations
from service.graphql.introspection import NoIntrospection
from service.graphql.limits import (
    CostBudget,
    DocumentCosts,
    GraphQLLimits,
    QueryLimits,
    TimeBudget,
)
from service.graphql.observability import OperationMetrics
from service.graphql.persisted import PersistedQueries, PersistedQueryResolver
from service.graphql.privacy import PrivacyMutations, PrivacyQueries
from service.graphql.quality import QualityQueries
from service.graphql.rule_changes import RuleChangeQueries
from service.graphql.search import SearchQueries
from service.graphql.segments import SegmentMutations, SegmentQueries
from service.graphql.stewardship import StewardMutations, StewardQueries
from service.graphql.subscriptions import (
    Feeds,
    RefusalsAsErrors,
    SubscribingRouter,
    Subscription,
    SubscriptionsOverWebSocket,
)
from service.graphql.types import Profile
from service.graphql.viewer import ViewerQueries
from service.metrics import GraphQLMetrics


async def resolve_profile(info: Info, id: strawberry.ID) -> Profile | None:
    found = await info.context.profiles.load(str(id))
    return Profile.from_domain(found, info.context.masker) if found else None


async def resolve_profile_by_identifier(info: Info, kind: str, value: str) -> Profile | None:
    ids = await call(info.context.graph.profiles.ids_by_identifier, kind, value)
    if len(ids) > 1:
        raise graphql_error(AmbiguousIdentifier(kind, len(ids)))
    return await resolve_profile(info, strawberry.ID(ids[0])) if ids else None


async def resolve_profiles_by_identifier(info: Info, kind: str, value: str) -> list[Profile]:
    ids = await call(info.context.graph.profiles.ids_by_identifier, kind, value)
    found = await info.context.profiles.load_many(ids)
    return [Profile.from_domain(p, info.context.masker) for p in found if p is not None]


@strawberry.type
class Query(
    SegmentQueries,
    StewardQueries,
    ClusterQueries,
    SearchQueries,
    PrivacyQueries,
    DestinationQueries,
    QualityQueries,
    ViewerQueries,
    RuleChangeQueries,
):
    profile: Profile | None = strawberry.field(
        resolver=resolve_profile,
        extensions=needs(PROFILES_READ),
        description="A profile by id; an id merged into another profile gives the survivor.",
    )
    profile_by_identifier: Profile | None = strawberry.field(
        resolver=resolve_profile_by_identifier,
        extensions=needs(PROFILES_READ),
        description="The profile holding an identifier (normalised as at ingest), or null; "
        "an AMBIGUOUS_IDENTIFIER error when several profiles hold it.",
    )
    profiles_by_identifier: list[Profile] = strawberry.field(
        resolver=resolve_profiles_by_identifier,
        extensions=needs(PROFILES_READ),
        description="Every profile holding an identifier (normalised as at ingest).",
    )


@strawberry.type
class Mutation(
    SegmentMutations,
    StewardMutations,
    PrivacyMutations,
    DestinationMutations,
    HouseholdMutations,
):
    pass


def _unexpected(error: GraphQLError) -> bool:
    """Mask errors that are neither GraphQL errors nor mapped domain errors (bugs)."""
    return error.original_error is not None and not isinstance(error.original_error, GraphQLError)


def _code_of(error: GraphQLError) -> str:
    """The code of an error graphql-core raised itself (ours carry theirs)."""
    if isinstance(error, GraphQLSyntaxError):
        if "tokens" in error.message or "nested too deeply" in error.message:
            return "QUERY_TOO_COMPLEX"  # the parser's own limits
        return "GRAPHQL_PARSE_FAILED"
    if error.original_error is None and error.path is None:
        return "GRAPHQL_VALIDATION_FAILED"
    if error.path is None and isinstance(error.original_error, GraphQLError):
        # A variable's value missing or not of its declared type: graphql-core wraps the
        # coercion's error in its own, before anything runs. The caller's, not ours.
        return "GRAPHQL_VALIDATION_FAILED"
    return "INTERNAL"


class MaskUnexpected(MaskErrors):
    """Our failures leave as "Unexpected error." with the code ``INTERNAL`` and nothing
    else: no message, no stack, no personal value."""

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL"}
        return masked


class Schema(RefusalsAsErrors):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Every error leaves with a code, so clients branch on codes, not on messages.
        for error in errors:
            if not (error.extensions or {}).get("code"):
                error.extensions = {**(error.extensions or {}), "code": _code_of(error)}
        # Domain, scope and validation errors are answers to the caller, not failures to log.
        super().process_errors([e for e in errors if _unexpected(e)], execution_context)


def _wants_ide(request: HTTPConnection) -> bool:
    # As strawberry decides to serve GraphiQL: a GET without a query, accepting HTML.
    accept = request.headers.get("accept", "")
    return (
        isinstance(request, Request)
        and request.method == "GET"
        and "query" not in request.query_params
        and ("text/html" in accept or "*/*" in accept)
    )


async def get_context(
    request: HTTPConnection,
    graph: IdentityGraph = Depends(get_graph),
    principal: Principal | None = Depends(optional_principal),
) -> Context:
    # GraphiQL's page is served to anyone (a browser cannot send the token for it); every
    # operation needs a valid token, and each field checks its scope. A WebSocket may
    # send its token in `connection_init` instead (SubscribingRouter.on_ws_connect).
    if principal is None and not _wants_ide(request) and isinstance(request, Request):
        raise unauthenticated()
    return Context(graph, principal, batch=getattr(request.state, "graphql_batch", False))


def create_graphql_router(
    limits: GraphQLLimits | None = None,
    metrics: GraphQLMetrics | None = None,
    prefix: str = "",
    document_cache_size: int = 256,
    persisted: PersistedQueries | None = None,
    introspection: bool = True,
    max_batch: int = 0,
    feeds: Feeds | None = None,
) -> GraphQLRouter[Context, None]:
    """The GraphQL route (at ``prefix``, so that the route's own path carries it for the
    request metrics), with the limits and, when given, metrics per operation.

    ``document_cache_size`` query texts keep their parsed document, validation errors and
    cost (0: none kept); see docs/api.md, "Limits". ``persisted`` answers persisted
    queries (default: APQ alone); ``introspection`` false refuses ``__schema`` and
    ``__type``; ``max_batch`` operations may come in one request (0: no batches).
    ``feeds``: how subscriptions poll and how many may be open (docs/api.md,
    "Subscriptions").
    """
    limits = limits or GraphQLLimits()
    budget = CostBudget(limits.cost_per_minute)
    measured = [partial(OperationMetrics, metrics=metrics)] if metrics is not None else []
    cached = document_cache_size > 0
    # Parse and validation depend only on the text (and, for validation, the schema and
    # its rules, which are the cache's key with the document), so they are done once per
    # text. Fields check their scopes at execution, which is never cached.
    parse_cache = [partial(ParserCache, maxsize=document_cache_size)] if cached else []
    validation_cache = [partial(ValidationCache, maxsize=document_cache_size)] if cached else []
    costs = DocumentCosts(document_cache_size)  # maxsize 0: computed every time, none kept
    # One rule class for the schema's life: QueryDepthLimiter makes a class per request,
    # which would make every request's validation key new.
    depth_rule = create_validator(limits.max_depth, should_ignore=None)
    rules: list[type[ASTValidationRule]] = [depth_rule]
    if not introspection:
        rules.append(NoIntrospection)
    persisted = persisted if persisted is not None else PersistedQueries()
    schema = Schema(
        query=Query,
        mutation=Mutation,
        config=StrawberryConfig(
            batching_config={"max_operations": max_batch} if max_batch > 0 else None
        ),
        subscription=Subscription,
        extensions=[
            *measured,
            # First: a persisted query's text is in the request before anything reads it.
            partial(PersistedQueryResolver, queries=persisted),
            # Before parsing: it sets the parser's token cap, part of the parse cache's key.
            # After: it refuses a document before the depth limiter or validation expand it.
            partial(QueryLimits, limits=limits, budget=budget, costs=costs),
            partial(TimeBudget, seconds=limits.time_budget_seconds),
            *parse_cache,
            partial(AddValidationRules, validation_rules=rules),
            *validation_cache,
            SubscriptionsOverWebSocket,
            partial(MaskUnexpected, should_mask_error=_unexpected),
        ],
    )
    persisted.registered.check(schema._schema, rules)
    return SubscribingRouter(
        schema, context_getter=get_context, prefix=prefix, feeds=feeds or Feeds()
    )
