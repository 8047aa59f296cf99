"""The GraphQL API over a real store: lookups, golden record, merges, errors, limits."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
import strawberry

from service.graphql.schema import MaskUnexpected, Schema, _unexpected
from tests.service.conftest import Api

pytestmark = pytest.mark.both_stores

FIELDS = """fragment P on Profile {
  id mergedFrom createdAt updatedAt
  attributes { name value rule candidates provenance { source recordKey timestamp } }
  city: attribute(name: "city") { value }
  identifiers { kind value originals recordCount links }
  records { source key timestamp attributes ingestedAt updatedAt
            identifiers { kind value original } }
}"""
BY_ID = "query ($id: ID!) { profile(id: $id) { ...P } }" + FIELDS
BY_IDENTIFIER = (
    "query ($kind: String!, $value: String!) "
    "{ profileByIdentifier(kind: $kind, value: $value) { ...P } }" + FIELDS
)
ALL_BY_IDENTIFIER = """query ($kind: String!, $value: String!) {
  profilesByIdentifier(kind: $kind, value: $value) { id records { key } }
}"""


def by_identifier(api: Api, kind: str, value: str) -> Any:
    result = api.graphql(BY_IDENTIFIER, kind=kind, value=value)
    assert "errors" not in result, result
    return result["data"]["profileByIdentifier"]


def test_records_from_two_sources_sharing_an_email_are_one_profile(api: Api) -> None:
    api.ingest("shop", [{"id": "s1", "email": "Ann.Lee@Example.com", "first": "Annie"}])
    api.ingest(
        "crm",
        [
            {
                "customer_no": "c1",
                "email": "ann.lee@example.com",
                "first_name": "Ann",
                "city": "Leeds",
                "updated": "2024-03-01T10:00:00+00:00",
            }
        ],
    )

    profile = by_identifier(api, "email", "  ANN.LEE@EXAMPLE.COM ")
    assert [(r["source"], r["key"]) for r in profile["records"]] == [("crm", "c1"), ("shop", "s1")]
    attributes = {a["name"]: a for a in profile["attributes"]}
    # The CRM has the higher priority: its value wins, and says where it came from.
    assert attributes["first_name"]["value"] == "Ann"
    assert attributes["first_name"]["rule"] == "source_priority"
    assert attributes["first_name"]["candidates"] == 2
    assert attributes["first_name"]["provenance"] == {
        "source": "crm",
        "recordKey": "c1",
        "timestamp": "2024-03-01T10:00:00+00:00",
    }
    assert profile["city"] == {"value": "Leeds"}
    [email] = [i for i in profile["identifiers"] if i["kind"] == "email"]
    assert email["value"] == "ann.lee@example.com"
    assert sorted(email["originals"]) == ["Ann.Lee@Example.com", "ann.lee@example.com"]
    assert (email["recordCount"], email["links"]) == (2, True)
    crm = profile["records"][0]
    assert crm["attributes"] == {"first_name": "Ann", "city": "Leeds"}
    assert {"kind": "customer_id", "value": "C1", "original": "c1"} in crm["identifiers"]
    assert profile["mergedFrom"] == []
    assert profile["createdAt"] and profile["updatedAt"]

    again = api.graphql(BY_ID, id=profile["id"])
    assert again == {"data": {"profile": profile}}


def test_a_merged_away_id_resolves_to_the_survivor(api: Api) -> None:
    api.ingest("shop", [{"id": "a", "email": "x@example.com"}])
    api.ingest("shop", [{"id": "b", "phone": "+44 7400 123456"}])
    first = by_identifier(api, "email", "x@example.com")["id"]
    second = by_identifier(api, "phone", "+447400123456")["id"]
    assert first != second

    report = api.ingest(
        "crm", [{"customer_no": "c", "email": "x@example.com", "phone": "07400 123456"}]
    )
    assert report["profiles_merged"] == 1

    query = """query ($a: ID!, $b: ID!) {
      a: profile(id: $a) { id mergedFrom records { key } }
      b: profile(id: $b) { id mergedFrom records { key } }
    }"""
    data = api.graphql(query, a=first, b=second)["data"]
    assert data["a"] == data["b"]
    survivor = data["a"]
    assert {first, second} == {survivor["id"], *survivor["mergedFrom"]}
    assert sorted(r["key"] for r in survivor["records"]) == ["a", "b", "c"]


def test_an_unknown_id_or_identifier_is_null(api: Api) -> None:
    assert api.graphql(BY_ID, id="no-such-profile") == {"data": {"profile": None}}
    assert by_identifier(api, "email", "nobody@example.com") is None
    result = api.graphql(ALL_BY_IDENTIFIER, kind="email", value="nobody@example.com")
    assert result == {"data": {"profilesByIdentifier": []}}


def test_an_identifier_held_by_several_profiles_is_ambiguous(api: Api) -> None:
    # One customer_id per profile: two customers sharing an e-mail stay apart.
    api.ingest(
        "crm",
        [
            {"customer_no": "c1", "email": "family@example.com"},
            {"customer_no": "c2", "email": "family@example.com"},
        ],
    )
    result = api.graphql(BY_IDENTIFIER, kind="email", value="family@example.com")
    assert result["data"] == {"profileByIdentifier": None}
    [error] = result["errors"]
    assert error["extensions"]["code"] == "AMBIGUOUS_IDENTIFIER"
    assert error["path"] == ["profileByIdentifier"]
    assert "profilesByIdentifier" in error["message"]

    result = api.graphql(ALL_BY_IDENTIFIER, kind="email", value="family@example.com")
    profiles = result["data"]["profilesByIdentifier"]
    assert sorted(p["records"][0]["key"] for p in profiles) == ["c1", "c2"]


def test_an_invalid_identifier_or_kind_is_an_error_with_a_code(api: Api) -> None:
    for kind, value, code, words in [
        ("email", "not-an-email", "INVALID_IDENTIFIER", "invalid email"),
        ("phone", "07400 123456", "INVALID_IDENTIFIER", "country code"),
        ("fax", "123", "UNKNOWN_IDENTIFIER_KIND", "unknown identifier kind 'fax'; the rules"),
    ]:
        result = api.graphql(ALL_BY_IDENTIFIER, kind=kind, value=value)
        assert result["data"] is None
        [error] = result["errors"]
        assert error["extensions"]["code"] == code
        assert error["extensions"].get("argument") == ("kind" if kind == "fax" else None)
        assert words in error["message"]


def test_queries_deeper_than_the_limit_are_refused(make_api: Callable[..., Api]) -> None:
    api = make_api(graphql_max_depth=2)
    shallow = api.graphql('{ profile(id: "p") { records { key } } }')
    assert shallow == {"data": {"profile": None}}
    deep = api.graphql('{ profile(id: "p") { attributes { provenance { source } } } }')
    assert "data" not in deep or deep["data"] is None
    [error] = deep["errors"]
    assert "exceeds maximum operation depth of 2" in error["message"]


def test_graphiql_is_served_to_a_browser_without_a_token(api: Api) -> None:
    response = api.client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


def test_a_query_over_get_needs_a_token(api: Api) -> None:
    query = {"query": '{ profile(id: "p") { id } }'}
    assert api.client.get("/graphql", params=query).status_code == 401
    response = api.client.get("/graphql", params=query, headers=api.auth("reader"))
    assert response.json() == {"data": {"profile": None}}


def test_the_api_docs_pages_load_nothing_from_outside(api: Api) -> None:
    for page in ("/docs", "/redoc"):
        response = api.client.get(page)
        assert response.status_code == 200
        sources = re.findall(r'(?:src|href)="([^"]+)"', response.text)
        sources += re.findall(r"(?:url|openapi_url): *'([^']+)'", response.text)
        assert sources, page
        for source in sources:
            assert source.startswith("/"), (page, source)
            assert api.client.get(source).status_code == 200, source


def test_a_failure_of_ours_leaves_as_internal_with_nothing_of_it() -> None:
    @strawberry.type
    class Broken:
        @strawberry.field
        def boom(self) -> str:
            raise ValueError("cannot read ann@example.com")

    schema = Schema(
        query=Broken, extensions=[partial(MaskUnexpected, should_mask_error=_unexpected)]
    )
    result = schema.execute_sync("{ boom }")
    assert result.errors is not None
    [error] = [e.formatted for e in result.errors]
    assert error["message"] == "Unexpected error."
    assert error["extensions"] == {"code": "INTERNAL"}
    assert "ann@example.com" not in str(error)
