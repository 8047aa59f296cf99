"""Cluster inspection over HTTP: the cluster view, explanations of deterministic,
probabilistic and steward links, each over-merge signal on crafted data, and the ranked,
paginated list of suspicious clusters."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from identity.clusters import SuspicionSettings
from identity.graph import IdentityGraph
from identity.mapping import SourceMapping
from identity.model import JSONValue, Link, LinkType, RecordRef
from tests.service.conftest import Api

pytestmark = pytest.mark.both_stores

CLUB: dict[str, Any] = {
    "source": "club",
    "key": "id",
    "phone_region": "GB",
    "identifiers": {
        "cust": "customer_id",
        "old_cust": "customer_id",
        "email": "email",
        "phone": "phone",
    },
    "attributes": {
        "first": {"name": "first_name", "type": "name"},
        "last": {"name": "last_name", "type": "name"},
        "born": {"name": "birth_date", "type": "date"},
    },
}

CLUSTER = """query ($id: ID!, $max: Int! = 200) {
  cluster(profileId: $id, maxRecords: $max) {
    profileId size truncated
    records { source key attributes identifiers { kind value } }
    identifiers { kind value links notLinkingReason recordCount records { source key } }
    links { a { key } b { key } type matcher weight identifier { kind value } matchWeight
            probability contributions { field level weight } evidence }
    externalLinks { a { key } b { key } type otherProfileId }
    stewardLinks { a { key } b { key } type matcher }
    suspicion { score reasons { type message score details } }
  }
}"""

EXPLAIN = """query ($a: RecordRefInput!, $b: RecordRefInput!) {
  explainLink(recordA: $a, recordB: $b) {
    __typename
    ... on LinkExplained {
      profileId
      paths { length hops { from { source key } to { source key }
        evidence { kind matcher identifier { kind value } matchWeight probability
                   contributions { field level weight } details } } }
    }
    ... on RecordsNotLinked { profileA profileB message }
    ... on UnknownRecord { record { source key } message }
  }
}"""

SUSPICIOUS = """query ($first: Int!, $after: String, $refresh: Boolean! = false) {
  suspiciousClusters(first: $first, after: $after, refresh: $refresh) {
    nodes { rank profileId score size reasons { type message details } }
    pageInfo { hasNextPage endCursor }
    totalCount profilesAnalysed sizeThreshold
  }
}"""

PROFILE = """query ($kind: String!, $value: String!) {
  profileByIdentifier(kind: $kind, value: $value) { id }
}"""

FIELDS = {
    "first_name": {"level": "exact", "weight": 8.2},
    "last_name": {"level": "exact", "weight": 9.1},
    "email": {"level": "else", "weight": -2.2},
    "phone": {"level": "missing", "weight": 0.0},
}


def evidence(weight: float) -> dict[str, JSONValue]:
    return {"match_weight": weight, "match_probability": 0.99, "fields": FIELDS}


@pytest.fixture
def club(graph: IdentityGraph) -> IdentityGraph:
    graph.ingest.register_source(SourceMapping.from_document(CLUB, rules=graph.rules))
    return graph


def ok(result: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in result, result
    data: dict[str, Any] = result["data"]
    return data


def pid(api: Api, kind: str, value: str) -> str:
    return str(ok(api.graphql(PROFILE, kind=kind, value=value))["profileByIdentifier"]["id"])


def cluster(api: Api, profile_id: str, **variables: Any) -> dict[str, Any]:
    found: dict[str, Any] = ok(api.graphql(CLUSTER, id=profile_id, **variables))["cluster"]
    return found


def explain(api: Api, a: tuple[str, str], b: tuple[str, str]) -> dict[str, Any]:
    result = api.graphql(EXPLAIN, a={"source": a[0], "key": a[1]}, b={"source": b[0], "key": b[1]})
    found: dict[str, Any] = ok(result)["explainLink"]
    return found


def link(graph: IdentityGraph, a: tuple[str, str], b: tuple[str, str], *links: Any) -> None:
    """Store links between two records (through the store, as a matcher or a steward's
    action would) and re-resolve them."""
    store = graph.store
    ids = store.records.ids([RecordRef(*a), RecordRef(*b)])
    ra, rb = ids[RecordRef(*a)], ids[RecordRef(*b)]
    with store.unit_of_work():
        store.links.put(
            [Link(ra, rb, kind, matcher, weight, ev) for kind, matcher, weight, ev in links]
        )
        graph.resolver.resolve([ra, rb])


def reason(found: dict[str, Any], type_: str) -> dict[str, Any]:
    reasons = {r["type"]: r for r in found["suspicion"]["reasons"]}
    assert type_ in reasons, found["suspicion"]
    return reasons[type_]


# -- the cluster view ----------------------------------------------------------------------


def test_cluster_view_lists_records_identifiers_with_counts_and_links_with_evidence(
    api: Api,
) -> None:
    api.ingest(
        "crm",
        [{"customer_no": "C1", "email": "ann@example.com", "phone": "07400 123456",
          "first_name": "Ann", "city": "Leeds"}],
    )  # fmt: skip
    api.ingest(
        "shop",
        [
            {"id": "s1", "email": "ann@example.com", "first": "Ann"},
            {"id": "s2", "email": "test@test.com", "phone": "07400 123456", "first": "Ann"},
        ],
    )
    found = cluster(api, pid(api, "customer_id", "C1"))
    assert found["size"] == 3 and found["truncated"] is False
    assert {(r["source"], r["key"]) for r in found["records"]} == {
        ("crm", "C1"), ("shop", "s1"), ("shop", "s2")
    }  # fmt: skip
    crm = next(r for r in found["records"] if r["key"] == "C1")
    assert crm["attributes"] == {"first_name": "Ann", "city": "Leeds"}
    idents = {(i["kind"], i["value"]): i for i in found["identifiers"]}
    email = idents["email", "ann@example.com"]
    assert email["links"] and email["recordCount"] == 2
    assert {r["key"] for r in email["records"]} == {"C1", "s1"}
    junk = idents["email", "test@test.com"]
    assert not junk["links"] and junk["notLinkingReason"] == "blocklisted"
    deterministic = [x for x in found["links"] if x["matcher"] == "deterministic"]
    assert {(x["identifier"]["kind"], x["type"]) for x in deterministic} == {
        ("email", "MATCH"), ("phone", "MATCH")
    }  # fmt: skip
    assert all(x["contributions"] == [] and x["matchWeight"] is None for x in deterministic)


def test_cluster_view_follows_merge_redirects_and_says_when_it_is_truncated(api: Api) -> None:
    api.ingest("shop", [{"id": "s1", "email": "ann@example.com", "first": "Ann"}])
    api.ingest("shop", [{"id": "s2", "phone": "07400 123456", "first": "Ann"}])
    older, younger = pid(api, "email", "ann@example.com"), pid(api, "phone", "+447400123456")
    api.ingest(
        "shop",
        [{"id": "s3", "email": "ann@example.com", "phone": "07400 123456", "first": "Ann"}],
    )
    found = cluster(api, younger, max=2)
    assert found["profileId"] == older
    assert found["size"] == 3 and found["truncated"] is True
    assert [r["key"] for r in found["records"]] == ["s1", "s2"]


def test_cluster_of_an_unknown_profile_is_an_unknown_profile_error(api: Api) -> None:
    result = api.graphql(CLUSTER, id="p_NOPE")
    assert result["errors"][0]["extensions"]["code"] == "UNKNOWN_PROFILE"


def test_cluster_inspection_needs_profiles_read(api: Api) -> None:
    result = api.graphql(SUSPICIOUS, role="activator", first=5)
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"


# -- explanations --------------------------------------------------------------------------


def test_explain_link_gives_the_shared_identifiers_of_a_deterministic_path(api: Api) -> None:
    api.ingest(
        "shop",
        [
            {"id": "a", "email": "ann@example.com", "first": "Ann"},
            {"id": "b", "email": "ann@example.com", "phone": "07400 123456", "first": "Ann"},
            {"id": "c", "phone": "07400 123456", "first": "Ann"},
        ],
    )
    found = explain(api, ("shop", "a"), ("shop", "c"))
    assert found["__typename"] == "LinkExplained"
    shortest = found["paths"][0]
    assert shortest["length"] == 2
    hops = [(h["from"]["key"], h["to"]["key"], h["evidence"][0]) for h in shortest["hops"]]
    assert [(x, y) for x, y, _ in hops] == [("a", "b"), ("b", "c")]
    assert [e["kind"] for _, _, e in hops] == ["SHARED_IDENTIFIER"] * 2
    assert [e["identifier"] for _, _, e in hops] == [
        {"kind": "email", "value": "ann@example.com"},
        {"kind": "phone", "value": "+447400123456"},
    ]


def test_explain_link_gives_each_fields_weight_of_a_probabilistic_link(
    api: Api, graph: IdentityGraph
) -> None:
    api.ingest(
        "shop",
        [
            {"id": "a", "email": "ann@example.com", "first": "Ann"},
            {"id": "b", "email": "ann.w@work.example", "first": "Ann"},
        ],
    )
    link(
        graph,
        ("shop", "a"),
        ("shop", "b"),
        (LinkType.MATCH, "fellegi_sunter", 0.99, evidence(15.1)),
    )
    found = explain(api, ("shop", "a"), ("shop", "b"))
    assert found["__typename"] == "LinkExplained"
    (hop,) = found["paths"][0]["hops"]
    (ev,) = hop["evidence"]
    assert ev["kind"] == "PROBABILISTIC" and ev["matcher"] == "fellegi_sunter"
    assert ev["matchWeight"] == 15.1 and ev["probability"] == 0.99
    contributions = {c["field"]: (c["level"], c["weight"]) for c in ev["contributions"]}
    assert contributions["first_name"] == ("exact", 8.2)
    assert contributions["email"] == ("else", -2.2)
    # The cluster view shows the same link with its contributions.
    view = cluster(api, pid(api, "email", "ann@example.com"))
    (stored,) = [x for x in view["links"] if x["matcher"] == "fellegi_sunter"]
    assert stored["matchWeight"] == 15.1
    assert {c["field"] for c in stored["contributions"]} == set(FIELDS)


def test_explain_link_names_a_stewards_must_link_and_offers_disjoint_alternatives(
    api: Api, graph: IdentityGraph
) -> None:
    api.ingest(
        "shop",
        [
            {"id": "a", "email": "ann@example.com", "first": "Ann"},
            {"id": "b", "email": "ann@example.com", "phone": "07400 123456", "first": "Ann"},
            {"id": "c", "phone": "07400 123456", "first": "Ann"},
        ],
    )
    link(graph, ("shop", "a"), ("shop", "c"), (LinkType.MUST_LINK, "steward", 1.0, {"reason": "x"}))
    found = explain(api, ("shop", "a"), ("shop", "c"))
    first, second = found["paths"]
    assert first["length"] == 1
    assert first["hops"][0]["evidence"][0]["kind"] == "STEWARD"
    assert first["hops"][0]["evidence"][0]["details"] == {"reason": "x"}
    assert second["length"] == 2


def test_explain_link_of_records_in_different_profiles_or_unknown_says_so(api: Api) -> None:
    api.ingest(
        "shop",
        [
            {"id": "a", "email": "ann@example.com", "first": "Ann"},
            {"id": "b", "email": "bob@example.com", "first": "Bob"},
        ],
    )
    apart = explain(api, ("shop", "a"), ("shop", "b"))
    assert apart["__typename"] == "RecordsNotLinked"
    assert apart["profileA"] != apart["profileB"]
    unknown = explain(api, ("shop", "a"), ("shop", "nope"))
    assert unknown["__typename"] == "UnknownRecord"
    assert unknown["record"] == {"source": "shop", "key": "nope"}


# -- over-merge signals --------------------------------------------------------------------


def test_two_customer_ids_forced_together_by_a_must_link_conflict(
    api: Api, club: IdentityGraph
) -> None:
    api.ingest(
        "club",
        [
            {"id": "k1", "cust": "C1", "first": "Ann", "born": "1980-01-02"},
            {"id": "k2", "cust": "C2", "first": "Bob", "born": "1975-06-30"},
        ],
    )
    link(club, ("club", "k1"), ("club", "k2"), (LinkType.MUST_LINK, "steward", 1.0, {}))
    found = cluster(api, pid(api, "customer_id", "C1"))
    assert found["size"] == 2
    assert [(x["type"], x["matcher"]) for x in found["stewardLinks"]] == [("MUST_LINK", "steward")]
    conflict = reason(found, "conflicting_identifiers")
    assert conflict["details"]["kind"] == "customer_id"
    assert set(conflict["details"]["values"]) == {"C1", "C2"}
    reason(found, "conflicting_birth_dates")
    reason(found, "conflicting_first_names")


def test_a_record_carrying_two_customer_ids_conflicts_but_a_mistyped_date_does_not(
    api: Api, club: IdentityGraph
) -> None:
    api.ingest(
        "club",
        [
            {"id": "k1", "cust": "C1", "old_cust": "C2", "first": "Ann", "born": "1980-01-02"},
            {"id": "k2", "cust": "C1", "first": "Ann", "born": "1980-02-01"},  # day/month swapped
            {"id": "k3", "cust": "C2", "first": "Annie", "born": "1980-01-02"},  # a nickname
        ],
    )
    found = cluster(api, pid(api, "customer_id", "C1"))
    assert found["size"] == 3
    types = {r["type"] for r in found["suspicion"]["reasons"]}
    assert "conflicting_identifiers" in types
    assert not types & {"conflicting_birth_dates", "conflicting_first_names"}


def test_a_bridge_record_between_two_people_is_the_cut_and_its_parts_disagree(
    api: Api, club: IdentityGraph
) -> None:
    api.ingest(
        "club",
        [
            {"id": "a1", "email": "ann@example.com", "first": "Ann", "born": "1980-01-02"},
            {"id": "a2", "email": "ann@example.com", "first": "Ann"},
            {"id": "b1", "email": "bob@example.com", "first": "Bob", "born": "1975-06-30"},
            {"id": "b2", "email": "bob@example.com", "first": "Bob"},
            # No first names: the shared phone joins them, and through them both people.
            {"id": "x", "email": "ann@example.com", "phone": "07400 123457"},
            {"id": "y", "email": "bob@example.com", "phone": "07400 123457"},
        ],
    )
    found = cluster(api, pid(api, "email", "ann@example.com"))
    assert found["size"] == 6
    cut = reason(found, "cut_splits_cluster")
    assert cut["details"]["part_sizes"] == [3, 3]
    assert "phone +447400123457" in cut["details"]["cut"]
    assert set(cut["details"]["disagree_on"]) == {"birth_date", "first_name"}


def test_without_pii_read_a_reason_keeps_its_signal_sizes_and_counts_and_masks_values(
    api: Api, club: IdentityGraph
) -> None:
    api.ingest(
        "club",
        [
            {"id": "a1", "email": "ann@example.com", "first": "Ann", "born": "1980-01-02"},
            {"id": "a2", "email": "ann@example.com", "first": "Ann"},
            {"id": "b1", "email": "bob@example.com", "first": "Bob", "born": "1975-06-30"},
            {"id": "b2", "email": "bob@example.com", "first": "Bob"},
            {"id": "x", "email": "ann@example.com", "phone": "07400 123457"},
            {"id": "y", "email": "bob@example.com", "phone": "07400 123457"},
        ],
    )
    profile_id = pid(api, "email", "ann@example.com")
    full = cluster(api, profile_id)["suspicion"]
    masked = ok(api.graphql(CLUSTER, role="reader", id=profile_id))["cluster"]["suspicion"]
    assert [(r["type"], r["score"]) for r in masked["reasons"]] == [
        (r["type"], r["score"]) for r in full["reasons"]
    ]
    assert {r["type"] for r in masked["reasons"]} >= {
        "conflicting_birth_dates",
        "conflicting_first_names",
        "cut_splits_cluster",
    }
    text = json.dumps(masked)
    for value in ("Ann", "Bob", "1980-01-02", "1975-06-30", "447400123457"):
        assert value not in text, value
    shown = {r["type"]: r for r in masked["reasons"]}
    births = shown["conflicting_birth_dates"]
    assert [g["count"] for g in births["details"]["groups"]] == [1, 1]
    assert births["message"].startswith("2 unrelated birth dates: ")
    assert all(r["records"] for r in births["details"]["groups"])
    cut = shown["cut_splits_cluster"]
    assert cut["details"]["part_sizes"] == [3, 3]
    assert set(cut["details"]["disagree_on"]) == {"birth_date", "first_name"}
    assert "the shared phone +44" in cut["message"] and "parts of 3, 3 records" in cut["message"]
    assert cut["details"]["cut"] in cut["message"]

    # Two customer ids forced together: the kind and the count show, and the values as
    # the rules' [privacy] decides (customer ids are source keys, not personal).
    api.ingest("club", [{"id": "k1", "cust": "C100001"}, {"id": "k2", "cust": "C200002"}])
    link(club, ("club", "k1"), ("club", "k2"), (LinkType.MUST_LINK, "steward", 1.0, {}))
    held = pid(api, "customer_id", "C100001")
    found = ok(api.graphql(CLUSTER, role="reader", id=held))["cluster"]
    ids = reason(found, "conflicting_identifiers")
    assert ids["details"]["kind"] == "customer_id" and ids["details"]["limit"] == 1
    assert len(ids["details"]["values"]) == 2
    assert "2 different customer_id values in one profile" in ids["message"]
    assert set(ids["details"]["values"]) == {"C100001", "C200002"}


def test_a_weak_probabilistic_link_holding_two_parts_together_is_reported(
    api: Api, club: IdentityGraph
) -> None:
    api.ingest(
        "club",
        [
            {"id": "a1", "email": "ann@example.com", "first": "Ann"},
            {"id": "a2", "email": "ann@example.com", "first": "Ann"},
            {"id": "b1", "email": "ann.smith@work.example", "first": "Ann"},
            {"id": "b2", "email": "ann.smith@work.example", "first": "Ann"},
        ],
    )
    link(
        club,
        ("club", "a2"),
        ("club", "b1"),
        (LinkType.MATCH, "fellegi_sunter", 0.97, evidence(6.5)),
    )
    found = cluster(api, pid(api, "email", "ann@example.com"))
    assert found["size"] == 4
    weak = reason(found, "weak_link_holds_cluster")
    assert weak["details"]["part_sizes"] == [2, 2]
    assert weak["details"]["link"]["match_weight"] == 6.5


def test_suspicious_clusters_are_ranked_paginated_and_flag_an_oversized_cluster(
    make_api: Callable[..., Api], club: IdentityGraph
) -> None:
    api = make_api()
    club.clusters.settings = SuspicionSettings(large_percentile=90, min_large_size=3)
    api.ingest("club", [{"id": f"solo{i}", "email": f"p{i}@example.com"} for i in range(12)])
    api.ingest("club", [{"id": f"big{i}", "email": f"b{i}@example.com"} for i in range(6)])
    for i in range(5):
        link(club, ("club", f"big{i}"), ("club", f"big{i + 1}"),
             (LinkType.MUST_LINK, "steward", 1.0, {}))  # fmt: skip
    api.ingest(
        "club",
        [
            {"id": "k1", "cust": "C1", "old_cust": "C2", "first": "Ann", "born": "1980-01-02"},
            {"id": "k2", "cust": "C2", "first": "Bob", "born": "1975-06-30"},
        ],
    )
    conflicted = pid(api, "customer_id", "C1")
    first = ok(api.graphql(SUSPICIOUS, first=1, refresh=True))["suspiciousClusters"]
    assert first["profilesAnalysed"] == 12 + 1 + 1
    assert first["totalCount"] == 2 and first["pageInfo"]["hasNextPage"]
    (top,) = first["nodes"]
    assert top["profileId"] == conflicted and top["rank"] == 1
    assert {r["type"] for r in top["reasons"]} >= {"conflicting_identifiers"}
    after = first["pageInfo"]["endCursor"]
    second = ok(api.graphql(SUSPICIOUS, first=5, after=after))["suspiciousClusters"]
    (large,) = second["nodes"]
    assert large["rank"] == 2 and large["size"] == 6
    size_reason = next(r for r in large["reasons"] if r["type"] == "large_cluster")
    assert size_reason["details"]["threshold"] == first["sizeThreshold"] < 6
    assert not second["pageInfo"]["hasNextPage"]
    # A refreshed ranking invalidates cursors of the old one.
    ok(api.graphql(SUSPICIOUS, first=1, refresh=True))
    stale = api.graphql(SUSPICIOUS, first=5, after=after)
    assert stale["errors"][0]["extensions"]["code"] == "INVALID_CURSOR"


def test_a_refresh_asked_while_one_runs_gets_the_cached_ranking(
    api: Api, club: IdentityGraph
) -> None:
    api.ingest("club", [{"id": f"solo{i}", "email": f"p{i}@example.com"} for i in range(3)])
    before = club.clusters.suspicious(refresh=True).computed_at
    started, release = threading.Event(), threading.Event()
    rankings: list[datetime] = []

    def slow_clock() -> datetime:
        # The ranking reads the clock once, when it is done: hold it there.
        started.set()
        release.wait(10)
        rankings.append(datetime.now(UTC))
        return rankings[-1]

    club.clusters.clock = slow_clock
    running = threading.Thread(target=club.clusters.suspicious, kwargs={"refresh": True})
    running.start()
    assert started.wait(10)
    # While it runs, twenty more refreshes over HTTP answer at once from the cache.
    query = (
        "{ "
        + " ".join(f"a{i}: suspiciousClusters(refresh: true) {{ computedAt }}" for i in range(2))
        + " }"
    )
    for _ in range(10):
        found = ok(api.graphql(query, role="reader"))
        assert {v["computedAt"] for v in found.values()} == {before.isoformat()}
    release.set()
    running.join(10)
    assert len(rankings) == 1
    assert club.clusters.suspicious().computed_at == rankings[0]
