"""DataLoaders over HTTP: a page of profiles with every per-profile field costs the same
number of store statements whether it holds 10 profiles or 100, on both stores."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from identity.graph import IdentityGraph
from tests.service.conftest import Api

pytestmark = pytest.mark.both_stores

PEOPLE = 100
NOW = datetime.now(UTC).replace(microsecond=0)

# Everything a profile page shows that reads the store per profile.
HEAVY = """query ($first: Int!) {
  segment(name: "everyone") {
    members(first: $first) {
      nodes {
        profileId
        profile {
          id
          attributes { name value }
          identifiers { kind value recordCount }
          records { source key identifiers { kind value } }
          traits { events orders lastSeen }
          consent { purpose granted }
          segments
          journey(first: 5) { nodes { id type } pageInfo { hasNextPage endCursor } }
          oldest: journey(first: 2, order: OLDEST_FIRST, types: ["visit"]) { nodes { id } }
        }
      }
    }
  }
}"""


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    """Bodies large enough for a hundred people in one request."""
    return make_api(max_body_bytes=1_000_000)


NEXT_PAGES = """query ($first: Int!, $after: String) {
  segment(name: "everyone") {
    members(first: $first) {
      nodes {
        profile { journey(first: 5, after: $after) { nodes { id } pageInfo { hasNextPage } } }
      }
    }
  }
}"""


def _people(api: Api) -> None:
    api.ingest(
        "crm",
        [
            {"customer_no": f"C{n:03}", "email": f"p{n:03}@example.com", "first_name": "Ann"}
            for n in range(PEOPLE)
        ],
    )
    api.ingest("shop", [{"id": f"s{n:03}", "email": f"p{n:03}@example.com"} for n in range(PEOPLE)])
    api.post_events(
        [
            {
                "event_id": f"e{n:03}-{k}",
                "type": "purchase" if k % 2 else "visit",
                "timestamp": (NOW - timedelta(hours=k)).isoformat(),
                "identifiers": {"email": f"p{n:03}@example.com"},
                "properties": {"value": 10},
            }
            for n in range(PEOPLE)
            for k in range(7)
        ]
    )
    result = api.graphql(
        """mutation { defineSegment(name: "everyone", definition: {where: {identifier: "email"}})
          { __typename } }""",
        role="admin",
    )
    assert result["data"]["defineSegment"]["__typename"] == "SegmentDefined", result


def _statements(graph: IdentityGraph, api: Api, first: int) -> tuple[int, dict[str, int]]:
    before = graph.store.statements_per_operation()
    result = api.graphql(HEAVY, role="admin", first=first)
    after = graph.store.statements_per_operation()
    assert "errors" not in result, result
    members = result["data"]["segment"]["members"]["nodes"]
    assert len(members) == first
    for member in members:
        profile: dict[str, Any] = member["profile"]
        assert len(profile["records"]) == 2
        assert profile["segments"] == ["everyone"]
        assert profile["traits"]["events"] == 7
        assert len(profile["journey"]["nodes"]) == 5
        assert profile["journey"]["pageInfo"]["hasNextPage"] is True
        assert [n["id"][-1] for n in profile["oldest"]["nodes"]] == ["6", "4"]
    sent = {op: n - before.get(op, 0) for op, n in after.items() if n != before.get(op, 0)}
    return sum(sent.values()), sent


def test_a_page_of_100_profiles_sends_as_many_statements_as_a_page_of_10(
    api: Api, graph: IdentityGraph
) -> None:
    _people(api)
    small, small_ops = _statements(graph, api, 10)
    large, large_ops = _statements(graph, api, 100)
    # Equal, not merely close: each loader sends one batch per distinct set of arguments (two
    # journeys here), whatever the page size. The page itself is one constant more (the
    # segment and its member ids); the Neo4j adapter splits a batch only past its batch size
    # (10,000 ids), far above a page.
    assert large == small, (small_ops, large_ops)
    assert large_ops == small_ops
    assert "events.journey" not in large_ops


def test_a_journey_page_from_a_loader_is_the_page_the_profile_alone_gets(api: Api) -> None:
    _people(api)
    alone = api.graphql(
        """query ($id: ID!) { profile(id: $id) {
             journey(first: 5) { nodes { id } pageInfo { endCursor } } } }""",
        role="admin",
        id=_member_ids(api)[3],
    )["data"]["profile"]["journey"]
    listed = api.graphql(HEAVY, role="admin", first=10)["data"]["segment"]["members"]["nodes"][3]
    assert [n["id"] for n in listed["profile"]["journey"]["nodes"]] == [
        n["id"] for n in alone["nodes"]
    ]
    assert listed["profile"]["journey"]["pageInfo"]["endCursor"] == alone["pageInfo"]["endCursor"]
    after = alone["pageInfo"]["endCursor"]
    both = api.graphql(
        NEXT_PAGES,
        role="admin",
        first=10,
        after=after,
    )["data"]["segment"]["members"]["nodes"]
    # The same cursor for every profile: the fourth member's next page is its last two.
    rest = both[3]["profile"]["journey"]
    assert len(rest["nodes"]) == 2
    assert rest["pageInfo"]["hasNextPage"] is False


def _member_ids(api: Api) -> list[str]:
    result = api.graphql(
        'query { segment(name: "everyone") { members(first: 10) { nodes { profileId } } } }',
        role="admin",
    )
    return [n["profileId"] for n in result["data"]["segment"]["members"]["nodes"]]
