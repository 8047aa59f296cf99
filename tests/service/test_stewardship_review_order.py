"""The review queue ordered by probability over HTTP: most likely first, every undecided
pair once however small the pages, the queue's length, a decided pair leaving it, and
cursors that belong to one order."""

from __future__ import annotations

import math
from typing import Any

import pytest

from identity.graph import IdentityGraph
from identity.model import Link, LinkType, RecordRef
from tests.service.conftest import Api

pytestmark = pytest.mark.both_stores

QUEUE = """query ($first: Int!, $after: String, $order: ReviewOrder!) {
  reviewQueue(first: $first, after: $after, order: $order) {
    nodes { a { source key } b { source key } probability weight }
    edges { cursor }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}"""
ACCEPT = """mutation ($a: RecordRefInput!, $b: RecordRefInput!) {
  acceptMatch(a: $a, b: $b, reason: "same person") {
    __typename ... on StewardActionRefused { code message }
  }
}"""

KEYS = [f"k{i}" for i in range(8)]
# (a, b, probability): ties at 0.8 are ordered by record ids, (k0, k7) is decided already.
REVIEWS = [
    ("k0", "k1", 0.62),
    ("k2", "k3", 0.8),
    ("k1", "k4", 0.8),
    ("k5", "k6", 0.95),
    ("k3", "k7", 0.71),
    ("k0", "k5", 0.8),
    ("k6", "k7", 0.55),
    ("k0", "k7", 0.9),
]


def _put_reviews(graph: IdentityGraph) -> None:
    ids = graph.store.records.ids([RecordRef("shop", k) for k in KEYS])
    graph.store.links.put(
        [
            # As the matcher writes them: the probability is the link's weight.
            Link(
                ids[RecordRef("shop", a)],
                ids[RecordRef("shop", b)],
                LinkType.REVIEW,
                "probabilistic",
                p,
                {"match_probability": p, "match_weight": math.log2(p / (1 - p))},
            )
            for a, b, p in REVIEWS
        ]
        + [
            Link(
                ids[RecordRef("shop", "k0")],
                ids[RecordRef("shop", "k7")],
                LinkType.CANNOT_LINK,
                "steward",
            )
        ]
    )


@pytest.fixture
def queued(api: Api, graph: IdentityGraph) -> Api:
    api.ingest("shop", [{"id": k, "email": f"{k}@example.com"} for k in KEYS])
    _put_reviews(graph)
    return api


def read(api: Api, first: int, after: str | None = None, order: str = "PROBABILITY") -> Any:
    return api.graphql(QUEUE, role="steward", first=first, after=after, order=order)


def page(api: Api, first: int, after: str | None = None, order: str = "PROBABILITY") -> Any:
    result = read(api, first, after, order)
    assert "errors" not in result, result
    return result["data"]["reviewQueue"]


def pair(node: dict[str, Any]) -> tuple[str, str]:
    return node["a"]["key"], node["b"]["key"]


def whole_queue(api: Api, first: int) -> tuple[list[dict[str, Any]], list[int]]:
    """Every item of the queue by probability, read ``first`` at a time, and the
    totalCount each page gave."""
    items: list[dict[str, Any]] = []
    counts: list[int] = []
    after = None
    while True:
        found = page(api, first, after)
        items += found["nodes"]
        counts.append(found["totalCount"])
        assert found["pageInfo"]["endCursor"] == (
            found["edges"][-1]["cursor"] if found["edges"] else None
        )
        if not found["pageInfo"]["hasNextPage"]:
            return items, counts
        assert len(found["nodes"]) == first
        after = found["pageInfo"]["endCursor"]


def test_the_queue_by_probability_gives_every_undecided_pair_once_most_likely_first(
    queued: Api,
) -> None:
    items, counts = whole_queue(queued, first=2)
    assert [pair(i) for i in items] == [
        ("k5", "k6"),
        ("k0", "k5"),
        ("k1", "k4"),
        ("k2", "k3"),
        ("k3", "k7"),
        ("k0", "k1"),
        ("k6", "k7"),
    ]
    probabilities = [i["probability"] for i in items]
    assert probabilities == sorted(probabilities, reverse=True)
    weights = [i["weight"] for i in items]
    assert weights == sorted(weights, reverse=True)
    assert counts == [len(items)] * len(counts) == [7] * 4
    # The same pairs as the queue by record ids, which pages the same count.
    by_pair = page(queued, 50, order="PAIR")
    assert sorted(pair(i) for i in by_pair["nodes"]) == sorted(pair(i) for i in items)
    assert by_pair["totalCount"] == 7


def test_an_accepted_pair_leaves_the_queue_and_its_count_while_pages_are_read(
    queued: Api,
) -> None:
    api = queued
    first = page(api, 3)
    assert [pair(i) for i in first["nodes"]] == [("k5", "k6"), ("k0", "k5"), ("k1", "k4")]
    # The pair the cursor points at is decided before the next page is read.
    a, b = pair(first["nodes"][-1])
    done = api.graphql(
        ACCEPT, role="steward", a={"source": "shop", "key": a}, b={"source": "shop", "key": b}
    )
    assert done["data"]["acceptMatch"]["__typename"] == "StewardActionDone", done
    # The page after the first is the same: nothing skipped, nothing repeated.
    rest = page(api, 10, after=first["pageInfo"]["endCursor"])
    assert [pair(i) for i in rest["nodes"]] == [
        ("k2", "k3"),
        ("k3", "k7"),
        ("k0", "k1"),
        ("k6", "k7"),
    ]
    assert rest["totalCount"] == 6 and not rest["pageInfo"]["hasNextPage"]
    again = page(api, 10)
    assert ("k1", "k4") not in [pair(i) for i in again["nodes"]]
    assert len(again["nodes"]) == again["totalCount"] == 6


def test_a_cursor_of_one_order_is_refused_in_the_other(queued: Api) -> None:
    by_pair = page(queued, 2, order="PAIR")["pageInfo"]["endCursor"]
    refused = read(queued, 2, after=by_pair, order="PROBABILITY")
    (error,) = refused["errors"]
    assert error["extensions"]["code"] == "INVALID_CURSOR"
    assert "review queue in pair order" in error["message"]
    by_probability = page(queued, 2)["pageInfo"]["endCursor"]
    refused = read(queued, 2, after=by_probability, order="PAIR")
    (error,) = refused["errors"]
    assert error["extensions"]["code"] == "INVALID_CURSOR"
    assert "review queue in probability order" in error["message"]
    assert read(queued, 2, after="nope")["errors"][0]["extensions"]["code"] == "INVALID_CURSOR"


def test_the_queue_is_by_pair_unless_asked_and_totalcount_is_zero_when_empty(api: Api) -> None:
    result = api.graphql(
        "{ reviewQueue(first: 5) { nodes { probability } pageInfo { hasNextPage } totalCount } }",
        role="steward",
    )
    assert result == {
        "data": {"reviewQueue": {"nodes": [], "pageInfo": {"hasNextPage": False}, "totalCount": 0}}
    }
