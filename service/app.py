"""The HTTP application: ``uvicorn service.app:create_app --factory``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool

from identity.errors import ConfigError
from identity.graph import IdentityGraph
from service.auth import TokenRegistry
from service.config import Settings
from service.deps import graphql_body
from service.errors import ErrorBody, error_responses, install_error_handlers
from service.graphql import create_graphql_router
from service.graphql.subscriptions import Feeds
from service.metrics import install_metrics
from service.routes import events, health, records, segments

log = logging.getLogger(__name__)

_PLAIN_TEXT = {"text/plain": {"schema": {"type": "string"}}}
GRAPHQL_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorBody,
        "description": "Not a GraphQL request: JSON that is not UTF-8, not an object, nests "
        "deeper than the limit, or has a query, variables or operationName of the wrong "
        "type (INVALID_PAYLOAD); no query, a mutation over GET, an unsupported content type "
        "(plain text, from the GraphQL library). Errors of the query itself answer 200 "
        "with `errors`.",
        "content": _PLAIN_TEXT,
    },
    **error_responses(413),
}
"""The HTTP-level errors of ``/graphql``; field errors (UNAUTHENTICATED, FORBIDDEN, ...)
are in the GraphQL answer's ``errors``."""
GRAPHQL_REQUEST: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["query"],
                "properties": {
                    "query": {"type": "string", "minLength": 1},
                    "variables": {"type": ["object", "null"]},
                    "operationName": {"type": ["string", "null"]},
                },
            }
        }
    },
}


async def _refresh_segments(graph: IdentityGraph, every: int) -> None:
    """Re-evaluate segments on a schedule, so time-window conditions follow the clock."""
    while True:
        await asyncio.sleep(every)
        try:
            report = await run_in_threadpool(graph.segments.refresh)
        except Exception:
            log.exception("scheduled segment refresh failed; retrying in %ss", every)
            continue
        log.info(
            "segments refreshed: %s segments, %s profiles, %s entered, %s exited in %.1fs",
            report.segments,
            report.profiles,
            report.entered,
            report.exited,
            report.seconds,
        )


def create_app(settings: Settings | None = None, graph: IdentityGraph | None = None) -> FastAPI:
    """The API over ``graph``, or over the store the settings name (opened at start-up and
    closed at shutdown)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        dev_token = settings.dev_token.get_secret_value() if settings.dev_token else None
        tokens = TokenRegistry(settings.tokens_file, dev_token)
        if not tokens.has_tokens():
            if settings.env == "production":
                raise ConfigError(
                    f"no API tokens in {settings.tokens_file}: create one with "
                    "`idgraph token create --name NAME --scope SCOPE` before starting",
                    field="IDGRAPH_TOKENS_FILE",
                )
            log.warning(
                "no API tokens in %s: every request will be refused; create one with "
                "`idgraph token create` or set IDGRAPH_DEV_TOKEN",
                settings.tokens_file,
            )
        app.state.tokens = tokens
        app.state.graph = graph or settings.open_graph()
        refresher = None
        if settings.segment_refresh_seconds > 0:
            refresher = asyncio.create_task(
                _refresh_segments(app.state.graph, settings.segment_refresh_seconds)
            )
        try:
            yield
        finally:
            if refresher is not None:
                refresher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await refresher
            if graph is None:
                app.state.graph.close()

    # /docs and /redoc from files in the package: a CDN is not reachable everywhere.
    app = FastAPIOffline(
        title="idgraph",
        summary="Identity resolution: records in, resolved customer profiles out.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    graphql_metrics = install_metrics(app)
    app.include_router(health.router)
    app.include_router(records.router)
    app.include_router(events.router)
    app.include_router(segments.router)
    app.include_router(
        create_graphql_router(
            settings.graphql_limits(),
            graphql_metrics,
            prefix="/graphql",
            document_cache_size=settings.graphql_document_cache_size,
            feeds=Feeds(settings.subscription_poll_seconds, settings.max_subscriptions),
        ),
        dependencies=[Depends(graphql_body)],
        responses=GRAPHQL_RESPONSES,
    )
    _document_graphql(app)
    return app


def _document_graphql(app: FastAPI) -> None:
    """Complete what the GraphQL router's routes do not declare: a token is optional at
    the HTTP level (each field checks its scope and answers UNAUTHENTICATED or FORBIDDEN
    in ``errors``), and ``GET /graphql`` without a query answers the GraphiQL page."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        first = app.openapi_schema is None
        schema = generate()
        if first:
            for method, operation in schema["paths"].get("/graphql", {}).items():
                # The empty requirement: no token is also accepted.
                operation["security"] = [{}, *operation.get("security", [])]
                if method == "get":
                    content = operation["responses"]["200"].setdefault("content", {})
                    content["text/html"] = {"schema": {"type": "string"}}
                else:
                    operation["requestBody"] = GRAPHQL_REQUEST
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
