"""The steward console's quality page over HTTP: one `quality` query whose figures agree
with each other and with the review queue, a history that follows steward decisions,
ingest warnings by source and field, the profiles:read scope, and no personal value."""

from __future__ import annotations

import json
from typing import Any

import pytest

from identity.graph import IdentityGraph
from identity.model import Link, LinkType, RecordRef
from tests.service.conftest import Api

pytestmark = pytest.mark.both_stores

QUALITY = """query ($width: Float!, $last: Int!) {
  quality {
    profiles
    records
    matchWeights(width: $width) { from to links reviews }
    clusterSizes { from to profiles }
    linksByMatcher { matcher kind links }
    reviewQueueSize
    reviewQueueHistory(last: $last) { at size }
    ingestWarnings { source field warnings loads }
  }
}"""
QUEUE = """query ($after: String) {
  reviewQueue(first: 2, after: $after) {
    nodes { a { source key } b { source key } }
    pageInfo { hasNextPage endCursor }
  }
}"""
ACCEPT = """mutation ($a: RecordRefInput!, $b: RecordRefInput!) {
  acceptMatch(a: $a, b: $b, reason: "same person") { __typename }
}"""

BAD_PHONE = "0739 111 222 333 444 xyzzy"
ROWS = [
    {"id": "s1", "email": "ann@example.com", "phone": "07400 123456", "first": "Ann"},
    {"id": "s2", "email": "ann@example.com", "first": "Ann"},
    {"id": "b1", "email": "bo@example.com", "first": "Bo"},
    {"id": "c1", "email": "cy@example.com", "first": "Cy", "phone": BAD_PHONE},
    {"id": "d1", "email": "di@example.com", "first": "Di"},
    {"id": "e1", "email": "ed@example.com", "first": "Ed"},
]
SCORED = [
    # (a, b, type, match weight): three undecided review pairs and two probabilistic links.
    ("s1", "b1", LinkType.REVIEW, -3.2),
    ("c1", "d1", LinkType.REVIEW, 1.5),
    ("b1", "c1", LinkType.REVIEW, 4.0),
    ("d1", "e1", LinkType.MATCH, 9.9),
    ("s2", "e1", LinkType.MATCH, 13.0),
]


def scored(graph: IdentityGraph) -> None:
    """Links as the probabilistic matcher writes them: weight and probability in evidence."""
    ids = graph.store.records.ids([RecordRef("shop", k) for a, b, _, _ in SCORED for k in (a, b)])
    with graph.store.unit_of_work():
        graph.store.links.put(
            [
                Link(
                    ids[RecordRef("shop", a)],
                    ids[RecordRef("shop", b)],
                    kind,
                    "fellegi_sunter",
                    0.9,
                    {"match_weight": weight, "match_probability": 0.9, "fields": {}},
                )
                for a, b, kind, weight in SCORED
            ]
        )
        graph.resolver.resolve(sorted(ids.values()))


def quality(api: Api, role: str = "reader", width: float = 2.0, last: int = 200) -> Any:
    response = api.client.post(
        "/graphql",
        json={"query": QUALITY, "variables": {"width": width, "last": last}},
        headers=api.auth(role),
    )
    assert response.status_code == 200, response.text
    return response.json()


def review_queue(api: Api) -> list[Any]:
    items: list[Any] = []
    after = None
    while True:
        page = api.graphql(QUEUE, role="steward", after=after)["data"]["reviewQueue"]
        items += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return items
        after = page["pageInfo"]["endCursor"]


@pytest.fixture
def loaded(api: Api, graph: IdentityGraph) -> Api:
    report = api.ingest("shop", ROWS)
    assert [w["field"] for w in report["warnings"]] == ["phone"], report["warnings"]
    scored(graph)
    return api


def test_the_figures_add_up_and_agree_with_the_review_queue(
    loaded: Api, graph: IdentityGraph
) -> None:
    answer = quality(loaded)
    assert "errors" not in answer, answer
    q = answer["data"]["quality"]
    counts = graph.store.counts()
    assert (q["profiles"], q["records"]) == (counts.profiles, counts.records) == (3, 6)
    # Bins of 2 from the one holding -3.2 to the one holding 13.0, empty ones included.
    bins = q["matchWeights"]
    assert (bins[0]["from"], bins[-1]["to"]) == (-4.0, 14.0) and len(bins) == 9
    assert all(b["to"] - b["from"] == 2.0 for b in bins)
    assert sum(b["links"] for b in bins) == 2
    assert sum(b["reviews"] for b in bins) == 3 == q["reviewQueueSize"]
    assert {b["from"]: (b["links"], b["reviews"]) for b in bins if b["links"] or b["reviews"]} == {
        -4.0: (0, 1),
        0.0: (0, 1),
        4.0: (0, 1),
        8.0: (1, 0),
        12.0: (1, 0),
    }
    assert q["reviewQueueSize"] == len(review_queue(loaded))
    # s1, s2 share an e-mail; d1, e1 and s2 are linked: {s1, s2, d1, e1}, {b1}, {c1}.
    assert q["clusterSizes"] == [
        {"from": 1, "to": 1, "profiles": 2},
        {"from": 4, "to": 4, "profiles": 1},
    ]
    assert sum(s["profiles"] for s in q["clusterSizes"]) == q["profiles"]
    # Every stored link once, most first (a store may keep the shared e-mail's link too).
    per_matcher = q["linksByMatcher"]
    assert sum(x["links"] for x in per_matcher) == counts.links
    assert per_matcher == sorted(per_matcher, key=lambda x: -x["links"])
    assert [x for x in per_matcher if x["matcher"] == "fellegi_sunter"] == [
        {"matcher": "fellegi_sunter", "kind": "REVIEW", "links": 3},
        {"matcher": "fellegi_sunter", "kind": "MATCH", "links": 2},
    ]
    assert q["ingestWarnings"] == [{"source": "shop", "field": "phone", "warnings": 1, "loads": 1}]
    # The load was recorded with the queue as it was then (empty: the pairs came after).
    assert [p["size"] for p in q["reviewQueueHistory"]] == [0]


def test_the_history_gains_a_point_one_smaller_after_accepting_a_pair(loaded: Api) -> None:
    before = quality(loaded)["data"]["quality"]
    outcome = loaded.graphql(
        ACCEPT, role="steward", a={"source": "shop", "key": "c1"}, b={"source": "shop", "key": "d1"}
    )
    assert outcome["data"]["acceptMatch"]["__typename"] == "StewardActionDone", outcome
    after = quality(loaded)["data"]["quality"]
    assert len(after["reviewQueueHistory"]) == len(before["reviewQueueHistory"]) + 1
    assert after["reviewQueueHistory"][-1]["size"] == before["reviewQueueSize"] - 1
    assert after["reviewQueueSize"] == before["reviewQueueSize"] - 1 == len(review_queue(loaded))
    assert after["reviewQueueHistory"][-1]["at"] >= before["reviewQueueHistory"][-1]["at"]
    assert quality(loaded, last=1)["data"]["quality"]["reviewQueueHistory"] == [
        after["reviewQueueHistory"][-1]
    ]


def test_the_answer_holds_no_personal_value(loaded: Api) -> None:
    text = json.dumps(quality(loaded))
    for value in ("111222333444", "111 222", "xyzzy", "example.com", "ann", "Cy", "07400"):
        assert value not in text


def test_the_quality_page_needs_profiles_read(loaded: Api) -> None:
    for role in ("steward_only", "ingester", "activator"):
        answer = quality(loaded, role=role)
        assert answer["data"] is None
        (error,) = answer["errors"]
        assert error["extensions"]["code"] == "FORBIDDEN" and error["path"] == ["quality"]


@pytest.mark.parametrize(("width", "last"), [(0.0, 10), (-1.0, 10), (1e-6, 10), (2.0, 0)])
def test_a_width_or_length_out_of_range_is_refused(loaded: Api, width: float, last: int) -> None:
    answer = quality(loaded, width=width, last=last)
    codes = {e["extensions"]["code"] for e in answer["errors"]}
    assert codes == {"INVALID_ARGUMENT"}, answer
