"""Prometheus metrics: ``GET /metrics`` in the text exposition format (no authentication,
like the probes; it carries counts only, never identifiers or personal data).

Each app has its own registry (tests start many apps in one process). The store's
statements per operation are read from the store at scrape time; requests are counted and
timed by an ASGI middleware, labelled by route template (``/v1/records``, never the raw
path, so the label set stays small).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from identity.graph import IdentityGraph

router = APIRouter(tags=["health"])


class StoreStatements(Collector):
    """``idgraph_store_statements_total{backend, operation}``: what the store has sent to
    its database since it was opened (Neo4j: statements, each a round trip; SQLite:
    statements handed to SQLite in process, a batch through ``executemany`` counting once).
    """

    def __init__(self, app: FastAPI) -> None:
        self._app = app

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "idgraph_store_statements",
            "Statements the store sent to its database, per store operation.",
            labels=["backend", "operation"],
        )
        graph: IdentityGraph | None = getattr(self._app.state, "graph", None)
        if graph is not None:
            store = graph.store
            for operation, count in sorted(store.statements_per_operation().items()):
                family.add_metric([store.backend, operation], count)
        yield family


class RequestMetrics:
    """Counts and times every HTTP request by method, route template and status."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter(
            "idgraph_http_requests",
            "HTTP requests answered, by method, route and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "idgraph_http_request_duration_seconds",
            "Time to answer HTTP requests, by method and route.",
            ["method", "route"],
            registry=registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            # The router notes the matched route in the scope; unmatched paths share one
            # label so that scanners cannot grow the label set.
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"]
            self.requests.labels(method, route, str(status)).inc()
            self.latency.labels(method, route).observe(time.perf_counter() - started)


def install_metrics(app: FastAPI) -> None:
    """A registry for the app with the store's statements and the request metrics, and
    the ``/metrics`` route that exposes them."""
    registry = CollectorRegistry()
    registry.register(StoreStatements(app))
    app.state.metrics_registry = registry
    app.add_middleware(RequestMetrics, registry=registry)
    app.include_router(router)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "The metrics in Prometheus' text exposition format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
def metrics(request: Request) -> Response:
    """The service's metrics in Prometheus' text format."""
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
