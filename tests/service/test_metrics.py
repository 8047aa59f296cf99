"""GET /metrics over HTTP: the store's statements per operation and the request metrics,
read back with Prometheus' own parser."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from identity.graph import IdentityGraph
from identity.rules import load_rules
from service.app import create_app
from service.config import Settings
from service.metrics import GraphQLMetrics
from tests.service.conftest import Api
from tests.store.conftest import BACKENDS, backend_params

# Not `both_stores`: the tests on the `api` fixture read statement counts under the SQLite
# backend's label (`statements(..., backend="sqlite")`), so they run on SQLite alone;
# test_the_endpoint_reports_either_store checks the label of each store.
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def statements(samples: Samples, operation: str, backend: str = "sqlite") -> float:
    labels = frozenset({("backend", backend), ("operation", operation)})
    return samples.get(("idgraph_store_statements_total", labels), 0.0)


def requests(samples: Samples, method: str, route: str, status: int) -> float:
    labels = frozenset({("method", method), ("route", route), ("status", str(status))})
    return samples.get(("idgraph_http_requests_total", labels), 0.0)


def test_metrics_show_the_statements_each_store_operation_sent(
    api: Api, graph: IdentityGraph
) -> None:
    before = scrape(api.client)
    api.ingest("shop", [{"id": "a", "email": "ann@example.com"}, {"id": "b", "phone": "x"}])
    after = scrape(api.client)
    sent = graph.store.statements_per_operation()
    assert statements(after, "records.upsert") == sent["records.upsert"]
    assert statements(after, "records.upsert") > statements(before, "records.upsert")
    assert statements(after, "profiles.apply") > statements(before, "profiles.apply")


def test_requests_are_counted_and_timed_by_route_template_and_status(api: Api) -> None:
    api.ingest("shop", [{"id": "a", "email": "ann@example.com"}])
    assert api.post_records("shop", [{"id": "b"}], role=None).status_code == 401
    assert api.client.get("/v1/no/such/path/8f3a").status_code == 404
    assert api.client.get("/healthz").status_code == 200
    samples = scrape(api.client)
    assert requests(samples, "POST", "/v1/records", 200) == 1
    assert requests(samples, "POST", "/v1/records", 401) == 1
    assert requests(samples, "GET", "/healthz", 200) == 1
    assert requests(samples, "GET", "unmatched", 404) == 1
    assert not any("8f3a" in str(labels) for _, labels in samples)
    timed = frozenset({("method", "POST"), ("route", "/v1/records")})
    assert samples[("idgraph_http_request_duration_seconds_count", timed)] == 2
    assert samples[("idgraph_http_request_duration_seconds_sum", timed)] > 0


def test_metrics_need_no_token(make_api: Callable[..., Api]) -> None:
    api = make_api()
    assert api.client.get("/metrics").status_code == 200


@pytest.mark.parametrize("backend", backend_params())
def test_the_endpoint_reports_either_store(
    backend: str, tmp_path: Path, tokens_file: Path, tokens: dict[str, str]
) -> None:
    store = BACKENDS[backend](tmp_path)
    graph = IdentityGraph(store, load_rules(None))
    try:
        graph.store.counts()
        with TestClient(create_app(Settings(tokens_file=tokens_file), graph)) as client:
            samples = scrape(client)
        assert statements(samples, "counts", backend=store.backend) >= 1
    finally:
        graph.close()


def graphql_ops(samples: Samples, operation: str, kind: str, outcome: str) -> float:
    labels = frozenset({("operation", operation), ("type", kind), ("outcome", outcome)})
    return samples.get(("idgraph_graphql_operations_total", labels), 0.0)


def test_graphql_requests_are_counted_and_timed_per_operation(api: Api) -> None:
    api.ingest("shop", [{"id": "a", "email": "ann@example.com"}])
    lookup = 'query Lookup { profileByIdentifier(kind: "email", value: "ann@example.com") { id } }'
    for _ in range(3):
        assert "errors" not in api.graphql(lookup, role="reader")
    anonymous = '{ profile(id: "p") { id } }'
    api.graphql(anonymous, role="reader")
    api.graphql("query Broken { noSuchField }", role="reader")
    api.graphql(
        "query Wide { " + " ".join(f"a{i}: __typename" for i in range(300)) + " }", "reader"
    )
    samples = scrape(api.client)
    assert requests(samples, "POST", "/graphql", 200) == 6
    assert graphql_ops(samples, "Lookup", "query", "ok") == 3
    digest = hashlib.sha256(anonymous.encode()).hexdigest()[:12]
    assert graphql_ops(samples, f"anonymous:{digest}", "query", "ok") == 1
    assert graphql_ops(samples, "Broken", "query", "error") == 1
    assert graphql_ops(samples, "Wide", "query", "refused") == 1
    timed = frozenset({("operation", "Lookup"), ("type", "query")})
    assert samples[("idgraph_graphql_operation_duration_seconds_count", timed)] == 3


def test_client_chosen_operation_names_cannot_grow_the_labels_without_bound() -> None:
    metrics = GraphQLMetrics(CollectorRegistry(), max_operations=3)
    assert [metrics.label(f"Op{i}", "") for i in range(5)] == [
        "Op0",
        "Op1",
        "Op2",
        "other",
        "other",
    ]
    assert metrics.label("Op1", "") == "Op1"
