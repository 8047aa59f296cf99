"""Stewardship over HTTP: merge, split and separate that survive re-ingestion, undo, the
review queue, the profile change feed, the audit log, and the steward scope."""

from __future__ import annotations

from typing import Any

import pytest

from identity.graph import IdentityGraph
from identity.model import Link, LinkType, RecordRef
from tests.service.conftest import Api

pytestmark = pytest.mark.both_stores

PROFILE = """query ($kind: String!, $value: String!) {
  profileByIdentifier(kind: $kind, value: $value) {
    id mergedFrom splitFrom records { source key }
  }
}"""

RESULT = """
  __typename
  ... on StewardActionDone { actionId profileIds profiles { id records { source key } } }
  ... on StewardActionRefused { code message }
"""
MERGE = f"""mutation ($ids: [ID!]!, $reason: String!) {{
  mergeProfiles(ids: $ids, reason: $reason) {{ {RESULT} }} }}"""
SPLIT = f"""mutation ($id: ID!, $groups: [[RecordRefInput!]!]!, $reason: String!) {{
  splitProfile(profileId: $id, groups: $groups, reason: $reason) {{ {RESULT} }} }}"""
SEPARATE = f"""mutation ($a: RecordRefInput!, $b: RecordRefInput!, $reason: String!) {{
  separateRecords(a: $a, b: $b, reason: $reason) {{ {RESULT} }} }}"""
UNDO = f"""mutation ($id: Int!) {{ undo(actionId: $id, reason: "mistake") {{ {RESULT} }} }}"""
ACCEPT = f"""mutation ($a: RecordRefInput!, $b: RecordRefInput!) {{
  acceptMatch(a: $a, b: $b, reason: "same birth date and street") {{ {RESULT} }} }}"""
REJECT = f"""mutation ($a: RecordRefInput!, $b: RecordRefInput!) {{
  rejectMatch(a: $a, b: $b, reason: "twins") {{ {RESULT} }} }}"""
QUEUE = """query ($first: Int!, $after: String) {
  reviewQueue(first: $first, after: $after) {
    nodes { a { source key } b { source key } profileA profileB weight probability evidence }
    pageInfo { hasNextPage endCursor }
    cappedIdentifiers { kind value recordCount }
  }
}"""
CHANGES = """query ($after: String) {
  profileChanges(after: $after) {
    nodes { kind profileId related at } pageInfo { hasNextPage endCursor }
  }
}"""
AUDIT = """query ($actor: String, $action: String, $after: String) {
  auditLog(first: 50, actor: $actor, action: $action, after: $after) {
    nodes { id at actor action target reason before after undoes undoneBy }
    pageInfo { hasNextPage endCursor }
  }
}"""


def ref(source: str, key: str) -> dict[str, str]:
    return {"source": source, "key": key}


def profile(api: Api, email: str) -> dict[str, Any]:
    result = api.graphql(PROFILE, kind="email", value=email)
    assert "errors" not in result, result
    found: dict[str, Any] = result["data"]["profileByIdentifier"]
    return found


def act(api: Api, mutation: str, **variables: Any) -> dict[str, Any]:
    result = api.graphql(mutation, role="steward", **variables)
    assert "errors" not in result, result
    (outcome,) = result["data"].values()
    assert isinstance(outcome, dict)
    return outcome


def keys(found: dict[str, Any]) -> set[str]:
    return {r["key"] for r in found["records"]}


ANN = [
    {"id": "s1", "email": "ann@example.com", "phone": "07400 123456", "first": "Ann"},
    {"id": "s2", "email": "ann@example.com", "first": "Ann"},
    {"id": "s3", "email": "ann.work@example.com", "phone": "07400 123456", "first": "Ann"},
]
BO = [{"id": "b1", "email": "bo@example.com", "first": "Bo"}]


@pytest.fixture
def loaded(api: Api) -> Api:
    api.ingest("shop", ANN + BO)
    return api


def test_merge_joins_profiles_for_good_even_when_their_records_are_sent_again(
    loaded: Api,
) -> None:
    api = loaded
    ann, bo = profile(api, "ann@example.com"), profile(api, "bo@example.com")
    outcome = act(api, MERGE, ids=[bo["id"], ann["id"]], reason="same person, called in")
    assert outcome["__typename"] == "StewardActionDone"
    (survivor,) = outcome["profileIds"]
    assert survivor == min(ann["id"], bo["id"]), "the older id survives"
    api.ingest("shop", ANN + BO)
    assert profile(api, "bo@example.com")["id"] == survivor == profile(api, "ann@example.com")["id"]
    again = act(api, MERGE, ids=[ann["id"], bo["id"]], reason="again")
    assert again == {
        "__typename": "StewardActionRefused",
        "code": "STEWARD_CONFLICT",
        "message": "these ids are one profile already: nothing to merge",
    }
    unknown = act(api, MERGE, ids=["p_nope", ann["id"]], reason="x")
    assert unknown["code"] == "UNKNOWN_PROFILE"


def test_separate_splits_a_profile_and_holds_against_old_and_new_records(loaded: Api) -> None:
    api = loaded
    assert keys(profile(api, "ann@example.com")) == {"s1", "s2", "s3"}
    outcome = act(api, SEPARATE, a=ref("shop", "s1"), b=ref("shop", "s3"), reason="two people")
    assert outcome["__typename"] == "StewardActionDone"
    assert keys(profile(api, "ann@example.com")) == {"s1", "s2"}
    assert keys(profile(api, "ann.work@example.com")) == {"s3"}
    # The same records again, and a new one carrying both sides' e-mails: it joins one side.
    api.ingest("shop", ANN)
    api.ingest(
        "shop",
        [{"id": "s4", "email": "ann@example.com"}, {"id": "s5", "email": "ann.work@example.com"}],
    )
    api.ingest("shop", [{"id": "s6", "email": "ann.work@example.com", "phone": "07400 123456"}])
    home, work = profile(api, "ann@example.com"), profile(api, "ann.work@example.com")
    assert home["id"] != work["id"]
    assert {"s1", "s2", "s4"} <= keys(home) and {"s3", "s5"} <= keys(work)
    assert ("s6" in keys(home)) != ("s6" in keys(work)), "joins exactly one side"


def test_split_keeps_the_id_on_the_largest_part_and_new_ids_know_their_origin(
    loaded: Api,
) -> None:
    api = loaded
    before = profile(api, "ann@example.com")
    groups = [[ref("shop", "s3")], [ref("shop", "s1"), ref("shop", "s2")]]
    outcome = act(api, SPLIT, id=before["id"], groups=groups, reason="work account is her husband")
    assert outcome["__typename"] == "StewardActionDone"
    home, work = profile(api, "ann@example.com"), profile(api, "ann.work@example.com")
    assert home["id"] == before["id"] and keys(home) == {"s1", "s2"}
    assert work["splitFrom"] == before["id"] and keys(work) == {"s3"}
    api.ingest("shop", ANN)
    assert profile(api, "ann.work@example.com")["id"] == work["id"]
    assert keys(profile(api, "ann@example.com")) == {"s1", "s2"}

    bad = act(api, SPLIT, id=home["id"], groups=[[ref("shop", "s1")]], reason="x")
    assert bad["code"] == "INVALID_ARGUMENT"
    missing = act(
        api, SPLIT, id=home["id"], groups=[[ref("shop", "s1")], [ref("shop", "b1")]], reason="x"
    )
    assert (
        missing["code"] == "INVALID_ARGUMENT"
        and "1 missing, 1 from other profiles" in missing["message"]
    )


def test_undo_restores_the_partition_and_cannot_be_repeated(loaded: Api) -> None:
    api = loaded
    ann, bo = profile(api, "ann@example.com"), profile(api, "bo@example.com")
    merged = act(api, MERGE, ids=[ann["id"], bo["id"]], reason="oops")
    undone = act(api, UNDO, id=merged["actionId"])
    assert undone["__typename"] == "StewardActionDone"
    assert keys(profile(api, "ann@example.com")) == {"s1", "s2", "s3"}
    assert keys(profile(api, "bo@example.com")) == {"b1"}
    assert act(api, UNDO, id=merged["actionId"])["code"] == "STEWARD_CONFLICT"
    assert act(api, UNDO, id=99999)["code"] == "UNKNOWN_ACTION"

    separated = act(api, SEPARATE, a=ref("shop", "s1"), b=ref("shop", "s3"), reason="x")
    act(api, UNDO, id=separated["actionId"])
    assert keys(profile(api, "ann@example.com")) == {"s1", "s2", "s3"}


def test_separating_records_a_steward_merged_is_refused_until_the_merge_is_undone(
    loaded: Api,
) -> None:
    api = loaded
    ann, bo = profile(api, "ann@example.com"), profile(api, "bo@example.com")
    merged = act(api, MERGE, ids=[ann["id"], bo["id"]], reason="x")
    refused = act(api, SEPARATE, a=ref("shop", "s1"), b=ref("shop", "b1"), reason="y")
    assert refused["code"] == "STEWARD_CONFLICT"
    assert profile(api, "bo@example.com")["id"] == profile(api, "ann@example.com")["id"]
    act(api, UNDO, id=merged["actionId"])
    assert act(api, SEPARATE, a=ref("shop", "s1"), b=ref("shop", "b1"), reason="y")[
        "__typename"
    ] == ("StewardActionDone")
    assert act(api, MERGE, ids=[ann["id"], bo["id"]], reason="z")["code"] == "STEWARD_CONFLICT"


def _review(graph: IdentityGraph, *pairs: tuple[str, str]) -> None:
    ids = graph.store.records.ids([RecordRef("shop", k) for pair in pairs for k in pair])
    graph.store.links.put(
        [
            Link(
                ids[RecordRef("shop", a)],
                ids[RecordRef("shop", b)],
                LinkType.REVIEW,
                "probabilistic",
                0.8,  # as the matcher writes it: the weight and probability in the evidence
                {
                    "match_weight": 2.0,
                    "match_probability": 0.8,
                    "fields": {"first_name": {"level": "exact", "weight": 2.1}},
                },
            )
            for a, b in pairs
        ]
    )


def test_the_review_queue_pages_and_accept_and_reject_decide_pairs(
    loaded: Api, graph: IdentityGraph
) -> None:
    api = loaded
    api.ingest(
        "shop", [{"id": "c1", "email": "cy@example.com"}, {"id": "d1", "email": "di@example.com"}]
    )
    _review(graph, ("s1", "b1"), ("c1", "d1"), ("b1", "c1"))
    first = api.graphql(QUEUE, role="steward", first=2)["data"]["reviewQueue"]
    assert len(first["nodes"]) == 2 and first["pageInfo"]["hasNextPage"]
    after = first["pageInfo"]["endCursor"]
    rest = api.graphql(QUEUE, role="steward", first=2, after=after)["data"]["reviewQueue"]
    items = first["nodes"] + rest["nodes"]
    assert not rest["pageInfo"]["hasNextPage"] and len(items) == 3
    assert (
        items[0]["probability"] == 0.8
        and items[0]["weight"] == 2.0
        and items[0]["evidence"]["fields"]["first_name"]["weight"] == 2.1
    )

    accepted = act(api, ACCEPT, a=ref("shop", "c1"), b=ref("shop", "d1"))
    assert accepted["__typename"] == "StewardActionDone"
    assert profile(api, "cy@example.com")["id"] == profile(api, "di@example.com")["id"]
    rejected = act(api, REJECT, a=ref("shop", "b1"), b=ref("shop", "s1"))
    assert rejected["__typename"] == "StewardActionDone"
    remaining = api.graphql(QUEUE, role="steward", first=10)["data"]["reviewQueue"]["nodes"]
    assert [(i["a"]["key"], i["b"]["key"]) for i in remaining] == [("b1", "c1")]
    # A decided pair the matcher states again stays out of the queue.
    _review(graph, ("s1", "b1"))
    remaining = api.graphql(QUEUE, role="steward", first=10)["data"]["reviewQueue"]["nodes"]
    assert len(remaining) == 1
    # The rejected pair stays apart even when a record would join them.
    api.ingest(
        "shop", [{"id": "x", "email": "bo@example.com"}, {"id": "x", "email": "ann@example.com"}]
    )
    assert profile(api, "bo@example.com")["id"] != profile(api, "ann@example.com")["id"]
    assert act(api, ACCEPT, a=ref("shop", "s1"), b=ref("shop", "s2"))["code"] == "STEWARD_CONFLICT"


def test_profile_changes_feed_reports_created_merged_and_split_ids_once(loaded: Api) -> None:
    api = loaded
    feed = api.graphql(CHANGES)["data"]["profileChanges"]
    assert {c["kind"] for c in feed["nodes"]} == {"CREATED"}
    cursor = feed["pageInfo"]["endCursor"]
    ann, bo = profile(api, "ann@example.com"), profile(api, "bo@example.com")
    act(api, MERGE, ids=[ann["id"], bo["id"]], reason="x")
    survivor = profile(api, "ann@example.com")["id"]
    gone = ({ann["id"], bo["id"]} - {survivor}).pop()
    feed = api.graphql(CHANGES, after=cursor)["data"]["profileChanges"]
    assert [(c["kind"], c["profileId"], c["related"]) for c in feed["nodes"]] == [
        ("MERGED", gone, survivor)
    ]
    cursor = feed["pageInfo"]["endCursor"]
    assert api.graphql(CHANGES, after=cursor)["data"]["profileChanges"]["nodes"] == []
    groups = [[ref("shop", "b1")], [ref("shop", k) for k in ("s1", "s2", "s3")]]
    act(api, SPLIT, id=survivor, groups=groups, reason="y")
    feed = api.graphql(CHANGES, after=cursor)["data"]["profileChanges"]
    new_bo = profile(api, "bo@example.com")["id"]
    assert [(c["kind"], c["profileId"], c["related"]) for c in feed["nodes"]] == [
        ("SPLIT", new_bo, survivor)
    ]


def test_every_action_is_audited_with_actor_reason_before_and_after(loaded: Api) -> None:
    api = loaded
    ann, bo = profile(api, "ann@example.com"), profile(api, "bo@example.com")
    merged = act(api, MERGE, ids=[ann["id"], bo["id"]], reason="called in")
    act(api, UNDO, id=merged["actionId"])
    act(api, SEPARATE, a=ref("shop", "s1"), b=ref("shop", "s3"), reason="two people")
    log = api.graphql(AUDIT, role="admin")["data"]["auditLog"]["nodes"]
    assert [e["action"] for e in log] == ["separate_records", "undo", "merge_profiles", "ingest"]
    separate, undo, merge, ingest = log
    assert {e["actor"] for e in (separate, undo, merge)} == {"steward"}
    assert ingest["actor"] == "ingester" and ingest["target"] == "shop"
    assert ingest["after"]["created"] == 4
    assert merge["reason"] == "called in" and merge["undoneBy"] == undo["id"]
    assert undo["undoes"] == merge["id"]
    assert len(merge["before"]["profiles"]) == 2 and len(merge["after"]["profiles"]) == 1
    assert merge["after"]["links_added"][0]["type"] == "must_link"
    only = api.graphql(AUDIT, role="admin", action="undo")["data"]["auditLog"]["nodes"]
    assert [e["id"] for e in only] == [undo["id"]]
    by = api.graphql(AUDIT, role="admin", actor="ingester")["data"]["auditLog"]["nodes"]
    assert [e["action"] for e in by] == ["ingest"]
    refused = act(api, UNDO, id=ingest["id"])
    assert refused["code"] == "STEWARD_CONFLICT"
    assert refused["message"].startswith(f"action {ingest['id']} is an ingest, which cannot be")


def test_segment_definitions_and_exports_are_audited(loaded: Api) -> None:
    api = loaded
    define = (
        'mutation { defineSegment(name: "all", definition: {where: {identifier: "email"}}) '
        "{ __typename } }"
    )
    api.graphql(define, role="admin")
    api.client.get("/v1/segments/all/members", headers=api.auth("activator"))
    log = api.graphql(AUDIT, role="admin")["data"]["auditLog"]["nodes"]
    export, defined = log[0], log[1]
    assert (export["action"], export["actor"], export["target"]) == (
        "export_segment",
        "activator",
        "all",
    )
    assert export["after"]["size"] == 2
    assert (defined["action"], defined["actor"]) == ("define_segment", "admin")


@pytest.mark.parametrize(
    ("operation", "variables"),
    [
        (MERGE, {"ids": ["p1", "p2"], "reason": "x"}),
        (UNDO, {"id": 1}),
        (SEPARATE, {"a": ref("shop", "s1"), "b": ref("shop", "s2"), "reason": "x"}),
        (QUEUE, {"first": 5}),
    ],
)
def test_steward_operations_need_the_steward_scope(
    api: Api, operation: str, variables: dict[str, Any]
) -> None:
    for role in ("reader", "ingester", "activator"):
        result = api.graphql(operation, role=role, **variables)
        assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN", role


def test_the_audit_log_needs_admin(api: Api) -> None:
    for role in ("reader", "steward", "activator"):
        result = api.graphql(AUDIT, role=role)
        assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN", role


def test_splits_and_review_decisions_are_audited_too(loaded: Api, graph: IdentityGraph) -> None:
    api = loaded
    _review(graph, ("s1", "b1"))
    ann = profile(api, "ann@example.com")
    groups = [[ref("shop", "s3")], [ref("shop", "s1"), ref("shop", "s2")]]
    act(api, SPLIT, id=ann["id"], groups=groups, reason="husband")
    act(api, REJECT, a=ref("shop", "s1"), b=ref("shop", "b1"))
    log = api.graphql(AUDIT, role="admin")["data"]["auditLog"]["nodes"]
    reject, split = log[0], log[1]
    assert (reject["action"], reject["reason"], reject["actor"]) == (
        "reject_match",
        "twins",
        "steward",
    )
    assert [x["type"] for x in reject["after"]["links_removed"]] == ["review"]
    assert [x["type"] for x in reject["after"]["links_added"]] == ["cannot_link"]
    assert (split["action"], split["target"], split["reason"]) == (
        "split_profile",
        ann["id"],
        "husband",
    )
    assert len(split["before"]["profiles"]) == 1 and len(split["after"]["profiles"]) == 2
