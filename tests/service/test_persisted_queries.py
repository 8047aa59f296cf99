"""Persisted queries: Apollo's automatic persisted queries (a hash first, the text when the
server asks for it) and a manifest registered at start-up, optionally the only queries that
run. The text a hash stands for meets every limit the text sent in full does."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from strawberry.extensions import ParserCache

from identity.errors import ConfigError
from service.app import create_app
from service.config import Settings
from tests.service.conftest import Api

LOOKUP = 'profileByIdentifier(kind: "email", value: "a@example.com") { id }'
QUERY = "query Lookup { " + LOOKUP + " }"
ANSWER = {"data": {"profileByIdentifier": None}}


def sha(query: str) -> str:
    return hashlib.sha256(query.encode("utf-8")).hexdigest()


def fresh(query: str) -> str:
    """The query with a comment no other test sends: a hash new to every process."""
    return f"# {uuid.uuid4()}\n{query}"


def persisted(hash_: str, version: int = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": hash_}}


def post(api: Api, body: Any, role: str = "reader") -> Any:
    response = api.client.post("/graphql", json=body, headers=api.auth(role))
    assert response.status_code == 200, response.text
    return response.json()


def get(api: Api, role: str = "reader", **params: Any) -> Any:
    encoded = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in params.items()}
    headers = {"Accept": "application/json", **api.auth(role)}
    response = api.client.get("/graphql", params=encoded, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def only_error(result: dict[str, Any]) -> dict[str, Any]:
    """The one error of an answer with no data."""
    assert result.get("data") is None, result
    [error] = result["errors"]
    return dict(error)


def code_of(result: dict[str, Any]) -> str:
    code: str = only_error(result)["extensions"]["code"]
    return code


def refused(result: dict[str, Any], code: str, words: str = "") -> dict[str, Any]:
    error = only_error(result)
    assert error["extensions"]["code"] == code, error
    assert words in error["message"], error
    return error


def apollo_manifest(tmp_path: Path, *queries: str, name: str = "manifest.json") -> Path:
    operations = [
        {"id": sha(q), "body": q, "name": f"Op{i}", "type": "query"} for i, q in enumerate(queries)
    ]
    document = {"format": "apollo-persisted-query-manifest", "version": 1, "operations": operations}
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


# Automatic persisted queries


def test_an_unknown_hash_is_answered_as_apollo_clients_expect(api: Api) -> None:
    # Apollo Client and urql send the text again on exactly this message or code.
    error = refused(
        post(api, {"extensions": persisted(sha(fresh(QUERY)))}), "PERSISTED_QUERY_NOT_FOUND"
    )
    assert error["message"] == "PersistedQueryNotFound"
    error = refused(get(api, extensions=persisted(sha(fresh(QUERY)))), "PERSISTED_QUERY_NOT_FOUND")
    assert error["message"] == "PersistedQueryNotFound"


def test_a_query_sent_with_its_hash_runs_then_the_hash_alone_runs_it(api: Api) -> None:
    query = fresh(QUERY)
    extensions = persisted(sha(query))
    assert post(api, {"query": query, "extensions": extensions}) == ANSWER
    assert post(api, {"extensions": extensions}) == ANSWER
    assert get(api, extensions=extensions) == ANSWER
    # With the operation name and variables of the request, not of the first sending.
    named = fresh("query One($v: String!) { " + LOOKUP.replace('"a@example.com"', "$v") + " }")
    extensions = persisted(sha(named))
    first = {"query": named, "extensions": extensions, "variables": {"v": "x@example.com"}}
    assert post(api, first) == ANSWER
    again = get(api, extensions=extensions, variables={"v": "y@example.com"}, operationName="One")
    assert again == ANSWER


def test_a_query_registered_over_get_is_kept_too(api: Api) -> None:
    query = fresh(QUERY)
    extensions = persisted(sha(query))
    assert get(api, query=query, extensions=extensions) == ANSWER
    assert post(api, {"extensions": extensions}) == ANSWER


def test_a_hash_that_is_not_the_texts_is_refused_and_nothing_is_kept(api: Api) -> None:
    query, other = fresh(QUERY), fresh(QUERY)
    error = refused(
        post(api, {"query": query, "extensions": persisted(sha(other))}),
        "PERSISTED_QUERY_HASH_MISMATCH",
        f"the query's SHA-256 is {sha(query)}, not the sha256Hash sent ({sha(other)})",
    )
    assert "locations" not in error
    for hash_ in (sha(query), sha(other)):
        refused(post(api, {"extensions": persisted(hash_)}), "PERSISTED_QUERY_NOT_FOUND")


@pytest.mark.parametrize(
    ("extensions", "words"),
    [
        ({"persistedQuery": persisted("0" * 64, version=2)["persistedQuery"]}, "version 2"),
        ({"persistedQuery": {"version": 1, "sha256Hash": "abc"}}, "64 characters"),
        ({"persistedQuery": {"version": 1}}, "64 characters"),
    ],
)
def test_a_malformed_persisted_query_extension_is_refused(
    api: Api, extensions: dict[str, Any], words: str
) -> None:
    error = only_error(post(api, {"query": QUERY, "extensions": extensions}))
    assert error["extensions"]["code"] == "PERSISTED_QUERY_INVALID"
    assert words in error["message"]


def test_a_persisted_query_extension_that_is_not_an_object_is_refused(api: Api) -> None:
    extensions = {"persistedQuery": "abc"}
    response = api.client.post(
        "/graphql", json={"query": QUERY, "extensions": extensions}, headers=api.auth("reader")
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "INVALID_PAYLOAD"
    assert "'extensions.persistedQuery' must be an object" in error["message"]
    refused(
        get(api, query=QUERY, extensions=extensions),
        "PERSISTED_QUERY_INVALID",
        '{"version": 1, "sha256Hash": "<hex>"}',
    )


def test_an_empty_query_beside_a_hash_is_refused_not_taken_for_none(api: Api) -> None:
    query = fresh(QUERY)
    assert post(api, {"query": query, "extensions": persisted(sha(query))}) == ANSWER
    body = {"query": "", "extensions": persisted(sha(query))}
    response = api.client.post("/graphql", json=body, headers=api.auth("reader"))
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "INVALID_PAYLOAD" and "'query' is empty" in error["message"]


def test_a_query_that_does_not_validate_is_not_kept(api: Api) -> None:
    query = fresh("{ noSuchField }")
    extensions = persisted(sha(query))
    assert code_of(post(api, {"query": query, "extensions": extensions})) == (
        "GRAPHQL_VALIDATION_FAILED"
    )
    assert code_of(post(api, {"extensions": extensions})) == "PERSISTED_QUERY_NOT_FOUND"


def test_the_process_keeps_at_most_the_cache_size_least_recently_used_out(
    make_api: Callable[..., Api],
) -> None:
    api = make_api(graphql_persisted_cache_size=2)
    first, second, third = (fresh(QUERY) for _ in range(3))
    for query in (first, second):
        assert post(api, {"query": query, "extensions": persisted(sha(query))}) == ANSWER
    assert post(api, {"extensions": persisted(sha(first))}) == ANSWER  # now the most recent
    assert post(api, {"query": third, "extensions": persisted(sha(third))}) == ANSWER
    refused(post(api, {"extensions": persisted(sha(second))}), "PERSISTED_QUERY_NOT_FOUND")
    for query in (first, third):
        assert post(api, {"extensions": persisted(sha(query))}) == ANSWER


def test_with_no_cache_apq_is_not_supported_and_clients_stop_asking(
    make_api: Callable[..., Api],
) -> None:
    api = make_api(graphql_persisted_cache_size=0)
    error = refused(
        post(api, {"query": QUERY, "extensions": persisted(sha(QUERY))}),
        "PERSISTED_QUERY_NOT_SUPPORTED",
    )
    assert error["message"] == "PersistedQueryNotSupported"
    assert post(api, {"query": QUERY}) == ANSWER


def test_a_persisted_query_still_needs_a_token_and_its_scopes(api: Api) -> None:
    query = fresh(QUERY)
    extensions = persisted(sha(query))
    assert post(api, {"query": query, "extensions": extensions}) == ANSWER
    response = api.client.post("/graphql", json={"extensions": extensions})
    assert response.status_code == 401
    result = post(api, {"extensions": extensions}, role="ingester")
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"


# Limits and caches


def test_a_persisted_query_over_the_alias_limit_is_refused(api: Api) -> None:
    query = fresh("{ " + " ".join(f"a{i}: __typename" for i in range(300)) + " }")
    extensions = persisted(sha(query))
    error = only_error(post(api, {"query": query, "extensions": extensions}))
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert "300 aliases" in error["message"]
    # Refused, so not kept: the hash alone is unknown.
    assert code_of(post(api, {"extensions": extensions})) == "PERSISTED_QUERY_NOT_FOUND"


def test_a_manifest_query_over_the_limits_is_refused_on_every_sending(
    make_api: Callable[..., Api], tmp_path: Path
) -> None:
    costly = "{ " + " ".join(f"a{i}: {LOOKUP}" for i in range(3)) + " }"  # 3 lookups of 2
    large = "{ " + " " * 400 + "__typename }"
    manifest = apollo_manifest(tmp_path, costly, large)
    api = make_api(
        graphql_persisted_queries=manifest,
        graphql_max_cost=5,
        graphql_cost_per_minute=0,
        graphql_max_bytes=300,
    )
    for _ in range(2):
        error = only_error(post(api, {"extensions": persisted(sha(costly))}))
        assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
        assert "costs 6, above the limit of 5" in error["message"]
        error = only_error(post(api, {"extensions": persisted(sha(large))}))
        assert error["extensions"]["code"] == "QUERY_TOO_LARGE"
        assert "IDGRAPH_GRAPHQL_MAX_BYTES" in error["message"]


def test_a_persisted_query_shares_the_parse_cache_with_its_text(api: Api) -> None:
    parses = ParserCache(maxsize=256).cached_parse_document.cache_info
    query = fresh(QUERY)
    before = parses()
    assert post(api, {"query": query}) == ANSWER
    assert post(api, {"query": query, "extensions": persisted(sha(query))}) == ANSWER
    assert post(api, {"extensions": persisted(sha(query))}) == ANSWER
    after = parses()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 2)


def test_a_batch_may_carry_persisted_queries(make_api: Callable[..., Api]) -> None:
    api = make_api(graphql_max_batch=3)
    query = fresh(QUERY)
    extensions = persisted(sha(query))
    assert post(api, [{"query": query, "extensions": extensions}]) == [ANSWER]
    result = post(api, [{"extensions": extensions}, {"extensions": persisted(sha(fresh(QUERY)))}])
    assert result[0] == ANSWER
    refused(result[1], "PERSISTED_QUERY_NOT_FOUND")


# A registered manifest


def test_a_manifest_query_runs_by_its_hash_without_being_sent(
    make_api: Callable[..., Api], tmp_path: Path
) -> None:
    api = make_api(graphql_persisted_queries=apollo_manifest(tmp_path, QUERY))
    assert post(api, {"extensions": persisted(sha(QUERY))}) == ANSWER
    assert get(api, extensions=persisted(sha(QUERY).upper())) == ANSWER
    # Without the safelist, other text still runs, and APQ still keeps texts.
    other = fresh(QUERY)
    assert post(api, {"query": other}) == ANSWER
    assert post(api, {"query": other, "extensions": persisted(sha(other))}) == ANSWER
    assert post(api, {"extensions": persisted(sha(other))}) == ANSWER


def test_a_plain_map_of_hashes_to_queries_is_a_manifest(
    make_api: Callable[..., Api], tmp_path: Path
) -> None:
    path = tmp_path / "queries.json"
    path.write_text(json.dumps({sha(QUERY): QUERY}), encoding="utf-8")
    api = make_api(graphql_persisted_queries=path, graphql_persisted_only=True)
    assert post(api, {"extensions": persisted(sha(QUERY))}) == ANSWER


def test_persisted_only_runs_the_manifest_and_refuses_free_text(
    make_api: Callable[..., Api], tmp_path: Path
) -> None:
    api = make_api(
        graphql_persisted_queries=apollo_manifest(tmp_path, QUERY), graphql_persisted_only=True
    )
    assert post(api, {"extensions": persisted(sha(QUERY))}) == ANSWER
    assert post(api, {"query": QUERY, "extensions": persisted(sha(QUERY))}) == ANSWER
    # The text of a manifest query is that query.
    assert post(api, {"query": QUERY}) == ANSWER
    other = fresh(QUERY)
    error = refused(post(api, {"query": other}), "PERSISTED_QUERY_REQUIRED")
    assert "IDGRAPH_GRAPHQL_PERSISTED_ONLY" in error["message"]
    refused(get(api, query=other), "PERSISTED_QUERY_REQUIRED")
    # Nor can a client register it: the safelist is the manifest.
    refused(post(api, {"extensions": persisted(sha(other))}), "PERSISTED_QUERY_NOT_FOUND")
    refused(
        post(api, {"query": other, "extensions": persisted(sha(other))}),
        "PERSISTED_QUERY_REQUIRED",
        "not in the manifest",
    )
    refused(post(api, {"extensions": persisted(sha(other))}), "PERSISTED_QUERY_NOT_FOUND")
    # In a batch, each operation.
    batch_api = make_api(
        graphql_persisted_queries=apollo_manifest(tmp_path, QUERY, name="again.json"),
        graphql_persisted_only=True,
        graphql_max_batch=2,
    )
    result = post(batch_api, [{"extensions": persisted(sha(QUERY))}, {"query": other}])
    assert result[0] == ANSWER
    refused(result[1], "PERSISTED_QUERY_REQUIRED")


def test_persisted_only_without_a_manifest_is_a_configuration_error() -> None:
    with pytest.raises(
        ValidationError, match="IDGRAPH_GRAPHQL_PERSISTED_QUERIES names no manifest"
    ):
        Settings(graphql_persisted_only=True)


def _operation(query: str, **fields: Any) -> dict[str, Any]:
    return {"id": sha(query), "body": query, "name": "Good", **fields}


@pytest.mark.parametrize(
    ("document", "words"),
    [
        ("{not json", "the persisted query manifest is not JSON"),
        (["a list"], "a persisted query manifest is an object"),
        (
            {"format": "relay", "operations": []},
            "unknown manifest format 'relay'; expected 'apollo-persisted-query-manifest' "
            "(in {path}, field 'format')",
        ),
        (
            {"format": "apollo-persisted-query-manifest", "version": 2, "operations": []},
            "unsupported manifest version 2",
        ),
        (
            {
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [
                    _operation(QUERY),
                    _operation("{ __typename }", name="Bad", id=sha(QUERY)),
                ],
            },
            f"the id {sha(QUERY)} is not the SHA-256 of the body ({sha('{ __typename }')}); "
            "regenerate the manifest (in {path}, field 'operations[1] (Bad)')",
        ),
        (
            {
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [_operation("{ oops"), _operation(QUERY)],
            },
            "the body is not GraphQL: Syntax Error",
        ),
        (
            {
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [{"body": QUERY}],
            },
            "the id None is not a SHA-256 in hex (64 characters) "
            "(in {path}, field 'operations[0]')",
        ),
        (
            {"abc": QUERY},
            "the id 'abc' is not a SHA-256 in hex (64 characters) (in {path}, field '[\"abc\"]')",
        ),
        ({sha(QUERY): 42}, "the body must be the query text"),
    ],
)
def test_a_bad_manifest_stops_the_start_naming_the_file_and_the_entry(
    tmp_path: Path, tokens_file: Path, document: Any, words: str
) -> None:
    path = tmp_path / "persisted.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    settings = Settings(tokens_file=tokens_file, graphql_persisted_queries=path)
    with pytest.raises(ConfigError) as raised:
        create_app(settings, graph=None)
    message = str(raised.value)
    assert words.replace("{path}", str(path)) in message
    assert str(path) in message


def test_a_manifest_query_the_schema_refuses_stops_the_start(
    tmp_path: Path, tokens_file: Path
) -> None:
    stale = 'query Stale { profile(id: "p") { noSuchField } }'
    path = apollo_manifest(tmp_path, QUERY, stale)
    with pytest.raises(ConfigError) as raised:
        create_app(Settings(tokens_file=tokens_file, graphql_persisted_queries=path), graph=None)
    message = str(raised.value)
    assert "the query does not validate against the schema" in message
    assert "noSuchField" in message
    assert f"(in {path}, field 'operations[1] (Op1)')" in message
    # The server's own rules too: introspection where it is off.
    path = apollo_manifest(tmp_path, QUERY, "{ __schema { queryType { name } } }", name="i.json")
    development = Settings(tokens_file=tokens_file, graphql_persisted_queries=path)
    assert create_app(development, graph=None) is not None
    production = Settings(tokens_file=tokens_file, graphql_persisted_queries=path, env="production")
    with pytest.raises(ConfigError, match="introspection is disabled"):
        create_app(production, graph=None)


def test_a_missing_manifest_file_stops_the_start(tmp_path: Path, tokens_file: Path) -> None:
    path = tmp_path / "nowhere.json"
    settings = Settings(tokens_file=tokens_file, graphql_persisted_queries=path)
    with pytest.raises(ConfigError, match="cannot read the persisted query manifest"):
        create_app(settings, graph=None)


def test_the_openapi_request_body_allows_a_hash_in_place_of_the_text(
    make_api: Callable[..., Api],
) -> None:
    def body(api: Api) -> dict[str, Any]:
        document: dict[str, Any] = api.client.get("/openapi.json").json()
        post = document["paths"]["/graphql"]["post"]
        schema: dict[str, Any] = post["requestBody"]["content"]["application/json"]["schema"]
        return schema

    single = body(make_api())
    assert "required" not in single
    assert {"required": ["query"]} in single["anyOf"]
    assert "persistedQuery" in single["properties"]["extensions"]["properties"]
    batched = body(make_api(graphql_max_batch=4))
    assert batched["oneOf"][0] == single
    assert batched["oneOf"][1]["maxItems"] == 4
