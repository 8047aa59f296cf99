"""The HTTP application: ``uvicorn service.app:create_app --factory``."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import sys
import tempfile
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import IO, Any

from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool

from identity.destinations import DeliveryWorker
from identity.errors import ConfigError
from identity.graph import IdentityGraph
from service.auth import TokenRegistry
from service.config import Settings
from service.deps import graphql_body
from service.errors import ErrorBody, error_responses, install_error_handlers
from service.export_process import ExportPool
from service.graphql import create_graphql_router
from service.graphql.persisted import PersistedQueries, load_manifest
from service.graphql.subscriptions import Feeds
from service.metrics import install_metrics
from service.ratelimit import RequestLimiter
from service.routes import console, events, health, records, segments
from service.webhooks import wire

GIL_SWITCH_SECONDS = 0.001

log = logging.getLogger(__name__)

_PLAIN_TEXT = {"text/plain": {"schema": {"type": "string"}}}
GRAPHQL_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorBody,
        "description": "Not a GraphQL request: JSON that is not UTF-8, not an object, nests "
        "deeper than the limit, or has a query, variables or operationName of the wrong "
        "type or holding a lone surrogate, or a batch (array) when IDGRAPH_GRAPHQL_MAX_BATCH "
        "is 0 or above it "
        "(INVALID_PAYLOAD); no query, a mutation over GET, an unsupported content type "
        "(plain text, from the GraphQL library). Errors of the query itself answer 200 "
        "with `errors`.",
        "content": _PLAIN_TEXT,
    },
    **error_responses(413, 429),
}
"""The HTTP-level errors of ``/graphql``; field errors (UNAUTHENTICATED, FORBIDDEN, ...)
are in the GraphQL answer's ``errors``."""
GRAPHQL_OPERATION: dict[str, Any] = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "minLength": 1},
        "variables": {"type": ["object", "null"]},
        "operationName": {"type": ["string", "null"]},
        "extensions": {
            "type": ["object", "null"],
            "properties": {
                "persistedQuery": {
                    "type": "object",
                    "description": '{"version": 1, "sha256Hash": "<hex>"}: the SHA-256 of '
                    "the query, sent in its place or beside it (docs/api.md, "
                    '"Persisted queries")',
                }
            },
        },
    },
    # The text, or the hash of a persisted query in its place.
    "anyOf": [
        {"required": ["query"]},
        {
            "required": ["extensions"],
            "properties": {"extensions": {"type": "object", "required": ["persistedQuery"]}},
        },
    ],
}
"""One GraphQL request over HTTP (a batch is an array of them)."""


def _graphql_request(max_batch: int) -> dict[str, Any]:
    schema: dict[str, Any] = GRAPHQL_OPERATION
    if max_batch > 0:
        batch = {"type": "array", "items": schema, "minItems": 1, "maxItems": max_batch}
        schema = {"oneOf": [schema, batch]}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


class Lease:
    """One process of those sharing a lock file holds it (``flock``), until it exits; the
    others try again on their next turn, so one takes over when the holder dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    def held(self) -> bool:
        if self._file is not None:
            return True
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = self.path.open("ab")
        except OSError as error:
            log.warning("cannot open the lease file %s (%s): running unshared", self.path, error)
            return True
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle
        return True

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the file lets the lock go
            self._file = None


def _lease(graph: IdentityGraph, job: str) -> Lease | None:
    """The lease of a scheduled job, so that one API process of a store runs it
    (``serve --workers N`` starts N): beside an embedded store's file, or in the temporary
    folder for a server (one per machine); None for a store in memory."""
    location = graph.store.location
    if location is None:
        return None
    if graph.store.backend == "sqlite":
        return Lease(Path(f"{location}.{job}.lock"))
    digest = hashlib.sha256(location.encode()).hexdigest()[:16]
    return Lease(Path(tempfile.gettempdir()) / f"idgraph-{digest}.{job}.lock")


async def _every(seconds: int, lease: Lease | None, job: str, run: Callable[[], str]) -> None:
    """Run ``run`` (blocking; it returns what to log) every ``seconds`` in the process
    holding ``lease``; a failure is logged and retried at the next turn."""
    while True:
        await asyncio.sleep(seconds)
        if lease is not None and not lease.held():
            continue  # another process of this service runs it
        try:
            done = await run_in_threadpool(run)
        except Exception:
            log.exception("scheduled %s failed; retrying in %ss", job, seconds)
            continue
        log.info("%s: %s", job, done)


def _refresh_segments(graph: IdentityGraph) -> str:
    """Re-evaluate segments, so time-window conditions follow the clock."""
    report = graph.segments.refresh()
    return (
        f"{report.segments} segments, {report.profiles} profiles, {report.entered} entered, "
        f"{report.exited} exited in {report.seconds:.1f}s"
    )


def _apply_retention(graph: IdentityGraph) -> str:
    """Delete what is past its retention period (docs/privacy.md)."""
    report = graph.retention.apply()
    records = sum(report.records.values())
    return (
        f"{records} records and {report.events} events past their retention deleted, "
        f"{report.profiles_deleted} profiles deleted, {report.profiles_changed} changed"
    )


class DeliveryThread:
    """The destination delivery worker in a thread of the API process, from start-up to
    shutdown; each destination's lease in the store lets one process of ``serve --workers
    N`` (or an ``idgraph destinations run``) deliver it at a time."""

    def __init__(self, graph: IdentityGraph, idle_seconds: float) -> None:
        self.worker = DeliveryWorker(graph.destinations)
        self.idle_seconds = idle_seconds
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="destinations", daemon=True)

    def _run(self) -> None:
        # The first look after one idle period: start-up is not slowed by it.
        if self.stop.wait(self.idle_seconds):
            return
        try:
            self.worker.run_forever(self.stop, self.idle_seconds)
        except Exception:
            log.exception("the destination delivery worker stopped")

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=60)


def create_app(settings: Settings | None = None, graph: IdentityGraph | None = None) -> FastAPI:
    """The API over ``graph``, or over the store the settings name (opened at start-up and
    closed at shutdown)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # A streaming export computes rows in a worker thread while the event loop serves
        # lookups: a shorter GIL switch interval (default 5 ms) lets the loop in sooner.
        sys.setswitchinterval(GIL_SWITCH_SECONDS)
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
        if not await asyncio.to_thread(app.state.graph.views.fresh):
            log.warning(
                "the profile read model of this store is stale (an upgrade, or rules it "
                "depends on changed): reads recompute every profile, correct but slow; run "
                "`idgraph profiles rebuild`"
            )
        # An injected graph has no settings an export process could reopen it with.
        app.state.export_pool = ExportPool(
            settings, settings.export_processes if graph is None else 0
        )
        transport = wire(app.state.graph)
        delivery: DeliveryThread | None = None
        if settings.destinations == "on":
            delivery = DeliveryThread(app.state.graph, settings.destinations_idle_seconds)
            delivery.start()
        scheduled: list[tuple[asyncio.Task[None], Lease | None]] = []
        jobs = (
            ("segment-refresh", settings.segment_refresh_seconds, _refresh_segments),
            ("retention", settings.retention_seconds, _apply_retention),
        )
        for job, seconds, work in jobs:
            if seconds > 0:
                lease = _lease(app.state.graph, job)
                run = partial(work, app.state.graph)
                scheduled.append((asyncio.create_task(_every(seconds, lease, job, run)), lease))
        try:
            yield
        finally:
            for task, lease in scheduled:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                if lease is not None:
                    lease.release()
            if delivery is not None:
                await run_in_threadpool(delivery.close)
            transport.close()
            await run_in_threadpool(app.state.export_pool.close)
            # Subscriptions end, and their reads under way finish, before the store closes.
            await feeds.close()
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
    feeds = Feeds(settings.subscription_poll_seconds, settings.max_subscriptions)
    app.state.request_limiter = RequestLimiter(
        settings.rate_limit_per_second, settings.rate_limit_burst
    )
    install_error_handlers(app)
    graphql_metrics = install_metrics(app)
    app.include_router(health.router)
    app.include_router(records.router)
    app.include_router(events.router)
    app.include_router(segments.router)
    app.include_router(console.router)
    app.include_router(
        create_graphql_router(
            settings.graphql_limits(),
            graphql_metrics,
            prefix="/graphql",
            document_cache_size=settings.graphql_document_cache_size,
            persisted=_persisted_queries(settings),
            introspection=settings.graphql_introspection_allowed,
            max_batch=settings.graphql_max_batch,
            feeds=feeds,
        ),
        dependencies=[Depends(graphql_body)],
        responses=GRAPHQL_RESPONSES,
    )
    _document_graphql(app, settings.graphql_max_batch)
    return app


def _persisted_queries(settings: Settings) -> PersistedQueries:
    """The persisted queries the settings register (the manifest is checked here, at
    start-up: a ConfigError names the file and the entry)."""
    path = settings.graphql_persisted_queries
    return PersistedQueries(
        load_manifest(path) if path is not None else None,
        cache_size=settings.graphql_persisted_cache_size,
        only=settings.graphql_persisted_only,
    )


def _document_graphql(app: FastAPI, max_batch: int) -> None:
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
                    operation["requestBody"] = _graphql_request(max_batch)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
