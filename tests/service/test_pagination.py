"""Every long list of the GraphQL API is one connection shape, paged with `first`/`after`:
checked on the schema itself, then by paging lists to their end."""

from __future__ import annotations

from typing import Any

import pytest

from tests.service.conftest import Api

pytestmark = pytest.mark.both_stores

INTROSPECT = """{
  __schema {
    types {
      name kind
      fields {
        name
        args { name type { ...Ref } }
        type { ...Ref }
      }
    }
  }
}
fragment Ref on __Type {
  kind name ofType { kind name ofType { kind name ofType { kind name } } }
}"""

PAGED = {
    "Profile.journey",
    "Query.searchProfiles",
    "Query.suspiciousClusters",
    "Query.reviewQueue",
    "Query.auditLog",
    "Query.profileChanges",
    "Segment.members",
    "Segment.changes",
}
"""Every field that pages: a new one is added here on purpose, not by accident."""


def shown(ref: dict[str, Any]) -> str:
    """A type reference as SDL writes it: ``[Event!]!``."""
    if ref["kind"] == "NON_NULL":
        return shown(ref["ofType"]) + "!"
    if ref["kind"] == "LIST":
        return f"[{shown(ref['ofType'])}]"
    return str(ref["name"])


def schema_types(api: Api) -> dict[str, dict[str, dict[str, Any]]]:
    """Each object type's fields by name."""
    result = api.graphql(INTROSPECT, role="admin")
    assert "errors" not in result, result
    return {
        t["name"]: {f["name"]: f for f in t["fields"]}
        for t in result["data"]["__schema"]["types"]
        if t["kind"] == "OBJECT" and not t["name"].startswith("__")
    }


def test_every_field_taking_first_and_after_answers_one_connection_shape(api: Api) -> None:
    types = schema_types(api)
    paged = {
        f"{owner}.{name}": field
        for owner, fields in types.items()
        for name, field in fields.items()
        if {"first", "after"} <= {a["name"] for a in field["args"]}
    }
    assert set(paged) == PAGED
    for where, field in paged.items():
        args = {a["name"]: shown(a["type"]) for a in field["args"]}
        assert args["first"] == "Int!" and args["after"] == "String", where
        connection = shown(field["type"]).rstrip("!")
        assert shown(field["type"]) == f"{connection}!", where
        page = {name: shown(f["type"]) for name, f in types[connection].items()}
        edge = page["edges"].strip("[]!")
        node = page["nodes"].strip("[]!")
        assert page["edges"] == f"[{edge}!]!" and page["nodes"] == f"[{node}!]!", where
        assert page["pageInfo"] == "PageInfo!", where
        assert edge == f"{node}Edge", where
        edge_fields = {name: shown(f["type"]) for name, f in types[edge].items()}
        assert edge_fields == {"cursor": "String!", "node": f"{node}!"}, where
    page_info = {name: shown(f["type"]) for name, f in types["PageInfo"].items()}
    assert page_info == {"hasNextPage": "Boolean!", "endCursor": "String"}
    # One page info, one cursor argument: no list has a page shape or a feed cursor of its own.
    assert [t for t, fields in types.items() if "hasNextPage" in fields] == ["PageInfo"]
    assert not [
        f"{owner}.{name}"
        for owner, fields in types.items()
        for name, field in fields.items()
        if {"since", "cursor"} & {a["name"] for a in field["args"]}
    ]


PROFILE_CHANGES = """query ($first: Int!, $after: String) {
  list: profileChanges(first: $first, after: $after) {
    edges { cursor node { kind profileId } } nodes { kind profileId }
    pageInfo { hasNextPage endCursor }
  }
}"""
SEGMENT_CHANGES = """query ($first: Int!, $after: String) {
  segment(name: "everyone") {
    list: changes(first: $first, after: $after) {
      edges { cursor node { kind profileId } } nodes { kind profileId }
      pageInfo { hasNextPage endCursor }
    }
  }
}"""
MEMBERS = """query ($first: Int!, $after: String) {
  segment(name: "everyone") {
    list: members(first: $first, after: $after) {
      edges { cursor node { profileId } } nodes { profileId }
      pageInfo { hasNextPage endCursor }
    }
  }
}"""
AUDIT = """query ($first: Int!, $after: String) {
  list: auditLog(first: $first, after: $after) {
    edges { cursor node { id action } } nodes { id action }
    pageInfo { hasNextPage endCursor }
  }
}"""
LISTS = {
    "profileChanges": (PROFILE_CHANGES, "reader"),
    "Segment.changes": (SEGMENT_CHANGES, "activator"),
    "Segment.members": (MEMBERS, "activator"),
    "auditLog": (AUDIT, "admin"),
}


def page(api: Api, list_name: str, first: int, after: str | None) -> dict[str, Any]:
    query, role = LISTS[list_name]
    result = api.graphql(query, role=role, first=first, after=after)
    assert "errors" not in result, result
    data = result["data"]
    found: dict[str, Any] = data.get("segment", data)["list"]
    assert found["nodes"] == [e["node"] for e in found["edges"]], "nodes are the edges' nodes"
    if found["edges"]:
        assert found["pageInfo"]["endCursor"] == found["edges"][-1]["cursor"]
    return found


def page_through(api: Api, list_name: str, first: int) -> tuple[list[Any], str | None]:
    """Every item from the beginning, ``first`` at a time by endCursor; and the last cursor."""
    items: list[Any] = []
    after = None
    while True:
        found = page(api, list_name, first, after)
        items += found["nodes"]
        after = found["pageInfo"]["endCursor"]
        if not found["pageInfo"]["hasNextPage"]:
            return items, after


@pytest.fixture
def seven(api: Api) -> Api:
    """Seven people ingested one by one (seven audit entries), all in one segment."""
    for n in range(7):
        api.ingest("shop", [{"id": f"s{n}", "email": f"p{n}@example.com"}])
    defined = api.graphql(
        'mutation ($d: JSON!) { defineSegment(name: "everyone", definition: $d) { __typename } }',
        role="admin",
        d={"where": {"identifier": "email"}},
    )
    assert defined["data"]["defineSegment"]["__typename"] == "SegmentDefined", defined
    return api


@pytest.mark.parametrize("list_name", sorted(LISTS))
def test_paging_a_list_to_the_end_by_end_cursor_visits_every_item_once(
    seven: Api, list_name: str
) -> None:
    whole = page(seven, list_name, 500, None)
    assert not whole["pageInfo"]["hasNextPage"]
    assert len(whole["nodes"]) >= 7
    for first in (1, 2, 3):
        items, _ = page_through(seven, list_name, first)
        assert items == whole["nodes"], f"first={first}"


@pytest.mark.parametrize("list_name", ["profileChanges", "Segment.changes"])
def test_a_feed_consumer_keeps_the_end_cursor_and_later_gets_only_what_is_new(
    seven: Api, list_name: str
) -> None:
    seen, cursor = page_through(seven, list_name, 2)
    assert cursor is not None
    empty = page(seven, list_name, 2, cursor)
    assert empty["nodes"] == [] and not empty["pageInfo"]["hasNextPage"]
    assert empty["pageInfo"]["endCursor"] == cursor, "an empty pull keeps the consumer's place"
    seven.ingest("shop", [{"id": "late", "email": "late@example.com"}])
    late, _ = page_through(seven, list_name, 2)
    assert late[: len(seen)] == seen
    new = page(seven, list_name, 2, cursor)
    assert new["nodes"] == late[len(seen) :] and len(new["nodes"]) == 1
    assert new["nodes"][0]["kind"] in ("CREATED", "ENTERED")
