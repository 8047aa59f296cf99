"""The GraphQL document cache: a repeated query text is parsed, validated and costed once,
while every request still meets the limits, the budget and the scope checks."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import strawberry.schema.schema as strawberry_schema
from strawberry.extensions import ParserCache

import service.graphql.limits as limits_module
from tests.service.conftest import Api

LOOKUP = 'profileByIdentifier(kind: "email", value: "a@example.com") { id }'
CACHE_SIZE = 256  # the default of IDGRAPH_GRAPHQL_DOCUMENT_CACHE_SIZE


def fresh(query: str) -> str:
    """The query with a comment no other test sends: a text new to every cache."""
    return f"# {uuid.uuid4()}\n{query}"


class Calls:
    """Counts the calls to a real function and passes them on."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self.count = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.count += 1
        return self.function(*args, **kwargs)


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> Calls:
    spy = Calls(strawberry_schema.validate)
    monkeypatch.setattr(strawberry_schema, "validate", spy)
    return spy


@pytest.fixture
def analyses(monkeypatch: pytest.MonkeyPatch) -> Calls:
    spy = Calls(limits_module._analyse)
    monkeypatch.setattr(limits_module, "_analyse", spy)
    return spy


def codes(result: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors", [])]


def test_a_repeated_query_is_parsed_validated_and_costed_once(
    api: Api, validations: Calls, analyses: Calls
) -> None:
    parses = ParserCache(maxsize=CACHE_SIZE).cached_parse_document.cache_info
    before = parses()
    query = fresh("{ " + LOOKUP + " }")
    for _ in range(3):
        assert api.graphql(query, role="reader") == {"data": {"profileByIdentifier": None}}
    after = parses()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 2)
    assert validations.count == 1
    assert analyses.count == 1


def test_the_cost_limit_refuses_an_over_budget_query_on_its_second_sending(
    make_api: Callable[..., Api],
) -> None:
    api = make_api(graphql_max_cost=100, graphql_cost_per_minute=0)
    query = fresh("{ " + " ".join(f"a{i}: {LOOKUP}" for i in range(60)) + " }")  # 120
    for _ in range(2):
        result = api.graphql(query, role="reader")
        assert result.get("data") is None
        assert codes(result) == ["QUERY_TOO_COMPLEX"]


def test_a_cost_read_from_a_variable_follows_the_variable_not_the_cache(
    make_api: Callable[..., Api],
) -> None:
    api = make_api(graphql_max_cost=100, graphql_cost_per_minute=0)
    query = fresh('query($n: Int) { profile(id: "p") { journey(first: $n) { nodes { id } } } }')

    def send(n: int) -> dict[str, Any]:
        response = api.client.post(
            "/graphql",
            json={"query": query, "variables": {"n": n}},
            headers=api.auth("reader"),
        )
        return dict(response.json())

    assert "errors" not in send(5)
    assert codes(send(500)) == ["QUERY_TOO_COMPLEX"]
    assert "errors" not in send(5)


def test_the_budget_per_minute_is_spent_by_every_sending(make_api: Callable[..., Api]) -> None:
    api = make_api(graphql_max_cost=100, graphql_cost_per_minute=150)
    query = fresh("{ " + " ".join(f"a{i}: {LOOKUP}" for i in range(30)) + " }")  # 60
    assert "errors" not in api.graphql(query, role="reader")
    assert "errors" not in api.graphql(query, role="reader")
    third = api.client.post("/graphql", json={"query": query}, headers=api.auth("reader"))
    assert third.status_code == 429
    assert codes(third.json()) == ["RATE_LIMITED"]


def test_a_changed_query_text_is_not_served_a_stale_validation(api: Api) -> None:
    query = fresh('{ profile(id: "p") { id } }')
    assert api.graphql(query, role="reader") == {"data": {"profile": None}}
    assert api.graphql(query, role="reader") == {"data": {"profile": None}}
    changed = api.graphql(query.replace("{ id }", "{ idx }"), role="reader")
    assert codes(changed) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "idx" in changed["errors"][0]["message"]


def test_a_cached_query_still_checks_the_scopes_of_each_caller(api: Api) -> None:
    query = fresh("{ " + LOOKUP + " }")
    assert "errors" not in api.graphql(query, role="reader")
    assert codes(api.graphql(query, role="activator")) == ["FORBIDDEN"]
    assert "errors" not in api.graphql(query, role="reader")


def test_validation_is_not_shared_between_schemas(make_api: Callable[..., Api]) -> None:
    deep = fresh('{ profile(id: "p") { journey { nodes { id } } } }')
    lenient, strict = make_api(graphql_max_depth=10), make_api(graphql_max_depth=2)
    assert lenient.graphql(deep, role="reader") == {"data": {"profile": None}}
    assert codes(strict.graphql(deep, role="reader")) == ["GRAPHQL_VALIDATION_FAILED"]
    assert lenient.graphql(deep, role="reader") == {"data": {"profile": None}}


def test_a_syntax_error_is_refused_on_every_sending(api: Api) -> None:
    query = fresh("{ profile(id: ")
    for _ in range(2):
        assert codes(api.graphql(query, role="reader")) == ["GRAPHQL_PARSE_FAILED"]


def test_with_introspection_refused_a_repeated_query_is_still_validated_once(
    make_api: Callable[..., Api], validations: Calls
) -> None:
    # The rule refusing introspection is made once per schema, like the depth rule, so
    # the validation cache's key (schema, document, rules) repeats.
    api = make_api(env="production")
    query = fresh("{ " + LOOKUP + " }")
    for _ in range(3):
        assert api.graphql(query, role="reader") == {"data": {"profileByIdentifier": None}}
    introspection = fresh("{ __schema { queryType { name } } }")
    for _ in range(2):
        assert codes(api.graphql(introspection, role="reader")) == ["GRAPHQL_VALIDATION_FAILED"]
    assert validations.count == 2
