"""GraphQL limits: documents that would cost too much are refused quickly, before
validation expands them, with an error naming the limit; a token has a budget per minute."""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from graphql import get_introspection_query, parse

from service.graphql.limits import FIELD_COSTS, CostBudget, document_cost
from service.graphql.schema import create_graphql_router
from tests.service.conftest import Api

pytestmark = pytest.mark.both_stores

LOOKUP = 'profileByIdentifier(kind: "email", value: "a@example.com") { id }'


def fragment_chain(depth: int) -> str:
    """``F0`` spreads ``F1`` twice, ``F1`` spreads ``F2`` twice...: 2^depth spreads in 1 KB."""
    fragments = [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(depth)]
    fragments.append(f'fragment F{depth} on Query {{ profile(id: "p") {{ id }} }}')
    return "query { ...F0 } " + " ".join(fragments)


def aliases(count: int, field: str = LOOKUP) -> str:
    return "{ " + " ".join(f"a{i}: {field}" for i in range(count)) + " }"


def refused(result: dict[str, Any], code: str, words: str) -> dict[str, Any]:
    assert result.get("data") is None, result
    [error] = result["errors"]
    assert error["extensions"]["code"] == code, error
    assert words in error["message"], error
    return dict(error)


def timed(
    api: Api, query: str, role: str = "reader", tries: int = 3
) -> tuple[dict[str, Any], float]:
    """The answer and the fastest of ``tries`` round trips.

    The fastest, because a stall of the test process (a full garbage collection late in a
    long session took 1.3 s once) is not the query's cost; a refusal that expanded the
    query would be slow every time.
    """
    gc.collect()
    best = math.inf
    for _ in range(tries):
        start = time.perf_counter()
        result = api.graphql(query, role=role)
        best = min(best, time.perf_counter() - start)
    return result, best


def test_a_fragment_chain_of_2_to_the_30_spreads_is_refused_at_once(api: Api) -> None:
    query = fragment_chain(30)
    assert len(query) < 1500
    result, seconds = timed(api, query)
    error = refused(result, "QUERY_TOO_COMPLEX", "about 2^30 fragment spreads")
    assert "IDGRAPH_GRAPHQL_MAX_FRAGMENT_SPREADS" in error["message"]
    assert seconds < 1.0


def test_a_short_fragment_chain_runs(api: Api) -> None:
    result = api.graphql(fragment_chain(3), role="reader")
    assert result == {"data": {"profile": None}}


def test_counting_is_linear_in_the_document_however_far_fragments_expand() -> None:
    schema = create_graphql_router().schema._schema
    cost = document_cost(schema, parse(fragment_chain(200)))
    assert cost.spreads == 2**201 - 1  # 1 + 2 + 4 + ... + 2^200
    assert cost.cost == 2**200  # one object field at the end of the chain
    # A chain longer than Python's stack is deep, and a cycle, are counted without recursion.
    long = document_cost(schema, parse(fragment_chain(3000).replace("...F", "... F")))
    assert long.spreads == 2**3001 - 1
    cyclic = (
        "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A id: __typename }"
    )
    assert document_cost(schema, parse(cyclic)).spreads == 3  # the cycle broken once


def test_aliases_over_the_limit_are_refused(api: Api) -> None:
    assert "errors" not in api.graphql(aliases(100), role="reader")
    result, seconds = timed(api, aliases(300, "__typename"))
    refused(result, "QUERY_TOO_COMPLEX", "300 aliases, above the limit of 100")
    assert seconds < 1.0
    # A thousand lookups are past the size cap before they are parsed.
    result, seconds = timed(api, aliases(1000))
    refused(result, "QUERY_TOO_LARGE", "IDGRAPH_GRAPHQL_MAX_BYTES")
    assert seconds < 1.0


def test_twenty_thousand_aliases_are_refused_by_size_before_parsing(api: Api) -> None:
    query = aliases(20_000)
    assert len(query) > 1_000_000
    started = time.perf_counter()
    response = api.client.post("/graphql", json={"query": query}, headers=api.auth("reader"))
    assert time.perf_counter() - started < 1.0
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert "IDGRAPH_GRAPHQL_MAX_BODY_BYTES" in response.json()["error"]["message"]
    # Under the body cap, the query text has its own.
    result, seconds = timed(api, aliases(2_000))
    refused(result, "QUERY_TOO_LARGE", "above the limit of 50,000 (IDGRAPH_GRAPHQL_MAX_BYTES)")
    assert seconds < 1.0


def test_a_document_with_too_many_tokens_is_refused_by_the_parser(
    make_api: Callable[..., Api],
) -> None:
    api = make_api(graphql_max_tokens=50)
    result = api.graphql("{ " + " ".join(["__typename"] * 60) + " }", role="reader")
    error = refused(result, "QUERY_TOO_COMPLEX", "more than 50 tokens")
    assert error["message"].startswith("Syntax Error: Document contains more than 50 tokens")


def test_refreshing_suspicious_clusters_under_twenty_aliases_is_refused(api: Api) -> None:
    field = "suspiciousClusters(refresh: true) { totalCount }"
    result, seconds = timed(api, aliases(20, field))
    error = refused(result, "QUERY_TOO_COMPLEX", "above the limit of 10,000 per request")
    assert error["extensions"]["cost"] == 20 * (FIELD_COSTS["Query.suspiciousClusters(refresh)"])
    assert seconds < 1.0
    # Through a variable as well as a literal.
    query = "query($r: Boolean!) { " + " ".join(
        f"a{i}: suspiciousClusters(refresh: $r) {{ totalCount }}" for i in range(20)
    )
    response = api.client.post(
        "/graphql",
        json={"query": query + " }", "variables": {"r": True}},
        headers=api.auth("reader"),
    )
    refused(response.json(), "QUERY_TOO_COMPLEX", "per request")
    # One refresh, or cached reads, are fine.
    assert "errors" not in api.graphql(aliases(1, field), role="reader")
    assert "errors" not in api.graphql(aliases(20, "suspiciousClusters { totalCount }"), "reader")


def test_a_page_multiplies_what_each_item_selects() -> None:
    schema = create_graphql_router().schema._schema
    journey = (
        '{ profile(id: "p") { journey(first: 500) { nodes { id properties } pageInfo { '
        "hasNextPage } } } }"
    )
    cost = document_cost(schema, parse(journey)).cost
    # profile 1, journey 10 + 500 x (nodes 1) + pageInfo 1.
    assert cost == 1 + FIELD_COSTS["Profile.journey"] + 500 * 2
    default = document_cost(schema, parse(journey.replace("(first: 500)", ""))).cost
    assert default == 1 + FIELD_COSTS["Profile.journey"] + 50 * 2


def test_the_budget_refills_with_time() -> None:
    now = [0.0]
    budget = CostBudget(60, clock=lambda: now[0])
    assert budget.spend("t", 60) == 0
    assert budget.spend("t", 10) == pytest.approx(10.0)
    now[0] += 10
    assert budget.spend("t", 10) == 0
    assert budget.spend("u", 60) == 0


def test_a_budget_below_the_per_request_cap_is_a_configuration_error() -> None:
    from service.config import Settings

    with pytest.raises(ValueError, match="IDGRAPH_GRAPHQL_COST_PER_MINUTE"):
        Settings(graphql_max_cost=1000, graphql_cost_per_minute=500)


def test_a_query_past_its_time_budget_answers_timeout_for_the_fields_left(
    make_api: Callable[..., Api],
) -> None:
    api = make_api(graphql_time_budget_seconds=0.000_001)
    result = api.graphql('{ profile(id: "p") { id } }', role="reader")
    assert result["data"] == {"profile": None}
    [error] = result["errors"]
    assert error["extensions"]["code"] == "TIMEOUT"
    assert error["path"] == ["profile"]
    assert "time budget of 1e-06 s (IDGRAPH_GRAPHQL_TIME_BUDGET_SECONDS)" in error["message"]
    # With the default budget the same query runs.
    assert make_api().graphql('{ profile(id: "p") { id } }', role="reader") == {
        "data": {"profile": None}
    }


def test_a_mutation_has_no_time_budget(make_api: Callable[..., Api]) -> None:
    api = make_api(graphql_time_budget_seconds=0.000_001)
    result = api.graphql(
        'mutation { defineSegment(name: "everyone", definition: {where: {identifier: "email"}})'
        " { __typename } }",
        role="admin",
    )
    assert result == {"data": {"defineSegment": {"__typename": "SegmentDefined"}}}


def test_a_page_larger_than_the_limit_is_refused_before_it_runs(
    make_api: Callable[..., Api],
) -> None:
    api = make_api(graphql_max_page_size=50)
    journey = '{ profile(id: "p") { journey(first: 51) { nodes { __typename } } } }'
    error = refused(api.graphql(journey, role="reader"), "QUERY_TOO_COMPLEX", "a page of 51")
    assert "above the limit of 50 (IDGRAPH_GRAPHQL_MAX_PAGE_SIZE)" in error["message"]
    assert error["extensions"]["limit"] == "pageSize"
    # Through a variable, and at the limit it runs.
    query = 'query ($n: Int!) { profile(id: "p") { journey(first: $n) { nodes { __typename } } } }'
    refused(api.graphql(query, role="reader", n=51), "QUERY_TOO_COMPLEX", "a page of 51")
    assert api.graphql(query, role="reader", n=50) == {"data": {"profile": None}}
    # A list's default page counts where no first is given (segment members: 100).
    members = '{ segment(name: "s") { members { nodes { profileId } } } }'
    refused(api.graphql(members, role="admin"), "QUERY_TOO_COMPLEX", "a page of 100")


# Introspection


def test_introspection_is_refused_in_production_naming_the_setting(
    make_api: Callable[..., Api],
) -> None:
    api = make_api(env="production")
    # GraphiQL's whole introspection query: one error, for the field it starts from.
    result = api.graphql(get_introspection_query(), role="reader")
    error = refused(result, "GRAPHQL_VALIDATION_FAILED", "introspection is disabled")
    assert "'__schema'" in error["message"]
    assert "IDGRAPH_GRAPHQL_INTROSPECTION=true" in error["message"]
    refused(
        api.graphql('{ __type(name: "Profile") { name } }', role="reader"),
        "GRAPHQL_VALIDATION_FAILED",
        "'__type'",
    )
    # Inside a fragment, too; __typename is not introspection of the schema.
    hidden = "{ ...F } fragment F on Query { __schema { types { name } } }"
    refused(api.graphql(hidden, role="reader"), "GRAPHQL_VALIDATION_FAILED", "'__schema'")
    assert api.graphql("{ __typename }", role="reader") == {"data": {"__typename": "Query"}}
    assert api.graphql("{ " + LOOKUP + " }", role="reader") == {
        "data": {"profileByIdentifier": None}
    }


@pytest.mark.parametrize(
    ("settings", "allowed"),
    [
        ({"env": "production", "graphql_introspection": True}, True),
        ({"env": "development"}, True),
        ({"env": "development", "graphql_introspection": False}, False),
    ],
)
def test_introspection_follows_the_setting_else_the_environment(
    make_api: Callable[..., Api], settings: dict[str, Any], allowed: bool
) -> None:
    result = make_api(**settings).graphql("{ __schema { queryType { name } } }", role="reader")
    if allowed:
        assert result == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
    else:
        refused(result, "GRAPHQL_VALIDATION_FAILED", "introspection is disabled")


# Batches (a JSON array of requests)


def post_batch(api: Api, batch: Any, role: str = "reader") -> httpx.Response:
    return api.client.post("/graphql", json=batch, headers=api.auth(role))


def test_a_batch_is_refused_by_default_naming_the_setting(api: Api) -> None:
    response = post_batch(api, [{"query": "{ __typename }"}])
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "INVALID_PAYLOAD"
    assert "IDGRAPH_GRAPHQL_MAX_BATCH" in error["message"]


def test_a_batch_of_up_to_the_limit_runs_each_operation(make_api: Callable[..., Api]) -> None:
    api = make_api(graphql_max_batch=3)
    batch = [
        {"query": "{ __typename }"},
        {
            "query": "query L($v: String!) { " + LOOKUP.replace('"a@example.com"', "$v") + " }",
            "variables": {"v": "b@example.com"},
        },
        {"query": "query A { a: __typename } query B { b: __typename }", "operationName": "B"},
    ]
    response = post_batch(api, batch)
    assert response.status_code == 200, response.text
    assert response.json() == [
        {"data": {"__typename": "Query"}},
        {"data": {"profileByIdentifier": None}},
        {"data": {"b": "Query"}},
    ]
    over = post_batch(api, [*batch, {"query": "{ __typename }"}])
    assert over.status_code == 400, over.text
    error = over.json()["error"]
    assert error["code"] == "INVALID_PAYLOAD"
    assert "4 operations, above the limit of 3 (IDGRAPH_GRAPHQL_MAX_BATCH)" in error["message"]


@pytest.mark.parametrize(
    ("batch", "words"),
    [
        ([], "the batch is empty"),
        ([{"query": "{ __typename }"}, "{ __typename }"], "batch[1]: a GraphQL request is a JSON"),
        ([{"query": "{ __typename }", "variables": []}], "batch[0]: 'variables' must be"),
    ],
)
def test_a_malformed_batch_is_400(make_api: Callable[..., Api], batch: Any, words: str) -> None:
    response = post_batch(make_api(graphql_max_batch=3), batch)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "INVALID_PAYLOAD" and words in error["message"]


def test_each_operation_of_a_batch_meets_every_limit(make_api: Callable[..., Api]) -> None:
    api = make_api(graphql_max_batch=4, graphql_max_bytes=6_000)
    batch = [
        {"query": aliases(300, "__typename")},
        {"query": fragment_chain(30)},
        {"query": "{ " + " " * 6_000 + "__typename }"},
        {"query": "{ __typename }"},
    ]
    response = post_batch(api, batch)
    assert response.status_code == 200, response.text
    first, second, third, fourth = response.json()
    refused(first, "QUERY_TOO_COMPLEX", "300 aliases")
    refused(second, "QUERY_TOO_COMPLEX", "about 2^30 fragment spreads")
    refused(third, "QUERY_TOO_LARGE", "IDGRAPH_GRAPHQL_MAX_BYTES")
    assert fourth == {"data": {"__typename": "Query"}}


def test_each_operation_of_a_batch_spends_the_budget(make_api: Callable[..., Api]) -> None:
    api = make_api(graphql_max_batch=3, graphql_max_cost=100, graphql_cost_per_minute=150)
    query = aliases(30)  # 30 x profileByIdentifier (2 each) = 60
    response = post_batch(api, [{"query": query}] * 3)
    assert response.status_code == 200, response.text
    results = response.json()
    assert sum("errors" not in r for r in results) == 2
    [limited] = [r for r in results if "errors" in r]
    refused(limited, "RATE_LIMITED", "150 cost units per minute")
