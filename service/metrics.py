"""Prometheus metrics: ``GET /metrics`` in the text exposition format (no authentication,
like the probes; it carries counts only, never identifiers or personal data).

Each app has its own registry (tests start many apps in one process). The store's
statements per operation are read from the store at scrape time; requests are counted and
timed by an ASGI middleware, labelled by route template (``/v1/records``, never the raw
path, so the label set stays small); GraphQL operations, all one route, are counted and
timed again by operation (:class:`GraphQLMetrics`).
"""

from __future__ import annotations

import hashlib
import logging
import threading
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
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from identity.errors import IdgraphError
from identity.graph import IdentityGraph
from service.export_process import ExportPool

log = logging.getLogger(__name__)

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
            "Statements the store sent to its database, per store operation (<area>.<method>).",
            labels=["backend", "operation"],
        )
        graph: IdentityGraph | None = getattr(self._app.state, "graph", None)
        if graph is not None:
            store = graph.store
            for operation, count in sorted(store.statements_per_operation().items()):
                family.add_metric([store.backend, operation], count)
        yield family


class DestinationGauges(Collector):
    """Per destination (docs/activation.md), read from the store at scrape time:
    ``idgraph_destination_lag`` (changes not yet delivered), ``idgraph_destination_attempts``
    (consecutive failures of the pending batch) and ``idgraph_destination_dead_letters``
    (batches waiting for a replay) and ``idgraph_destination_stopped`` (1 once its segment
    is deleted): what an alert on a stuck destination watches."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app

    def collect(self) -> Iterator[Metric]:
        families = {
            name: GaugeMetricFamily(f"idgraph_destination_{name}", text, labels=["destination"])
            for name, text in (
                ("lag", "Changes of the destination's segment after its cursor."),
                ("attempts", "Consecutive failures of the destination's pending batch."),
                ("dead_letters", "Dead-lettered batches of the destination not yet replayed."),
                (
                    "stopped",
                    "1 when the destination is stopped (its segment deleted) until a steward "
                    "acts, else 0.",
                ),
            )
        }
        graph: IdentityGraph | None = getattr(self._app.state, "graph", None)
        if graph is not None:
            try:
                views = graph.destinations.views()
            except IdgraphError as error:  # the store is down: the probes say so
                log.warning("destination metrics unavailable: %s", error)
                views = []
            for view in views:
                name = [view.destination.name]
                families["lag"].add_metric(name, view.lag)
                families["attempts"].add_metric(name, view.state.attempts)
                families["dead_letters"].add_metric(name, len(view.dead_letters))
                families["stopped"].add_metric(name, 1 if view.state.stopped else 0)
        yield from families.values()


class SegmentExports(Collector):
    """``idgraph_segment_exports_total{process}``: segment exports begun, by where their
    body was made (``export_process`` or ``api_process``), and ``idgraph_export_processes``:
    the export processes running (docs/activation.md)."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app

    def collect(self) -> Iterator[Metric]:
        exports = CounterMetricFamily(
            "idgraph_segment_exports",
            "Segment exports begun, by the process that made the body.",
            labels=["process"],
        )
        running = GaugeMetricFamily(
            "idgraph_export_processes", "Export processes of this API process running."
        )
        pool: ExportPool | None = getattr(self._app.state, "export_pool", None)
        if pool is not None:
            for where, count in pool.exports.items():
                exports.add_metric([where], count)
            running.add_metric([], len(pool.pids()))
        yield exports
        yield running


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


class GraphQLMetrics:
    """``idgraph_graphql_operations_total{operation, type, outcome}`` and
    ``idgraph_graphql_operation_duration_seconds{operation, type}``.

    The operation label is the operation's name, or ``anonymous:`` and the first 12 hex
    digits of the query text's SHA-256 for an unnamed one (the same query, the same
    label). Names come from clients, so after ``max_operations`` distinct labels the rest
    share ``other``: a client cannot grow the label set without bound.
    """

    OTHER = "other"

    def __init__(self, registry: CollectorRegistry, max_operations: int = 500) -> None:
        self.max_operations = max_operations
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self.operations = Counter(
            "idgraph_graphql_operations",
            "GraphQL operations answered, by operation, type and outcome (ok, error, refused).",
            ["operation", "type", "outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "idgraph_graphql_operation_duration_seconds",
            "Time to answer GraphQL operations, by operation and type.",
            ["operation", "type"],
            registry=registry,
        )

    def label(self, name: str | None, query: str | None) -> str:
        if name:
            label = name[:100]
        else:
            digest = hashlib.sha256((query or "").encode("utf-8", "surrogatepass")).hexdigest()
            label = f"anonymous:{digest[:12]}"
        with self._lock:
            if label in self._seen:
                return label
            if len(self._seen) >= self.max_operations:
                return self.OTHER
            self._seen.add(label)
            return label

    def observe(self, operation: str, kind: str, outcome: str, seconds: float) -> None:
        self.operations.labels(operation, kind, outcome).inc()
        self.latency.labels(operation, kind).observe(seconds)


def install_metrics(app: FastAPI) -> GraphQLMetrics:
    """A registry for the app with the store's statements and the request metrics, and
    the ``/metrics`` route that exposes them; the GraphQL metrics, for the schema."""
    registry = CollectorRegistry()
    registry.register(StoreStatements(app))
    registry.register(DestinationGauges(app))
    registry.register(SegmentExports(app))
    app.state.metrics_registry = registry
    app.add_middleware(RequestMetrics, registry=registry)
    app.include_router(router)
    return GraphQLMetrics(registry)


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
