"""A rule change's dry run over GraphQL (`previewRules`): it reports what the new rules
would merge and split, with the records, leaves the store exactly as it was, needs admin,
answers bad rules with INVALID_CONFIG naming the field, and gives the figures the apply
then reports on the same data."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from identity.errors import TimeBudgetExceeded
from identity.graph import IdentityGraph
from identity.rule_changes.rebase import RuleChanges
from identity.rules import rules_text
from tests.service.conftest import Api

pytestmark = pytest.mark.both_stores

SHARED = "family@example.com"
ROWS = [
    # Ann and Bo are two people who share a family address: the e-mail joins them.
    {"id": "a1", "email": SHARED, "phone": "07400 111111", "first": "Ann"},
    {"id": "a2", "phone": "07400 111111", "first": "Ann"},
    {"id": "b1", "email": SHARED, "phone": "07400 222222", "first": "Bo"},
    {"id": "c1", "email": "cy@example.com", "first": "Cy"},
]
CURRENT = rules_text()
BLOCKED = CURRENT.replace(
    'email = [\n    "test@test.com",', f'email = [\n    "{SHARED}", "test@test.com",'
)
PREVIEW = """query ($rules: String!) {
  previewRules(rules: $rules) {
    changes notRetroactive
    profilesBefore profilesAfter merged split stayed recordsMoved
    startedLinking stoppedLinking linksToMatch linksToReview linksRemoved readModelRows
    households seconds
    largest {
      kind records
      before { profileId records moved { source key } }
      after { profileId records moved { source key } }
    }
    segments { segment entered exited }
  }
}"""
STATE = """{
  quality { profiles records }
  auditLog(first: 500) { nodes { id } }
  profileChanges(first: 1000) { nodes { kind profileId } }
  segment(name: "everyone") { size changes(first: 1000) { nodes { kind profileId } } }
}"""
PROFILE_OF = """query ($kind: String!, $value: String!) {
  profilesByIdentifier(kind: $kind, value: $value) { id records { source key } }
}"""


@pytest.fixture
def shared(api: Api) -> Api:
    """Two people joined by a shared e-mail, one on their own, and a segment of everyone."""
    api.ingest("shop", ROWS)
    defined = api.graphql(
        'mutation ($d: JSON!) { defineSegment(name: "everyone", definition: $d) { __typename } }',
        role="admin",
        d={"where": {"identifier": "email"}},
    )
    assert defined["data"]["defineSegment"]["__typename"] == "SegmentDefined", defined
    return api


def preview(api: Api, text: str, role: str = "admin") -> dict[str, Any]:
    return api.graphql(PREVIEW, role=role, rules=text)


def profiles_of_records(api: Api) -> dict[tuple[str, str], str]:
    """Each record's profile id, read through the API by the identifiers of the rows."""
    found: dict[tuple[str, str], str] = {}
    for kind, value in [("email", SHARED), ("email", "cy@example.com")] + [
        ("phone", p) for p in ("+447400111111", "+447400222222")
    ]:
        result = api.graphql(PROFILE_OF, role="pii", kind=kind, value=value)
        for profile in result["data"]["profilesByIdentifier"]:
            for record in profile["records"]:
                found[(record["source"], record["key"])] = profile["id"]
    return found


def state(api: Api, graph: IdentityGraph) -> dict[str, Any]:
    """What a dry run must not change: the counts, the audit log, the profile change log,
    segment membership and its change log (over HTTP), and every record's profile."""
    answer = api.graphql(STATE, role="admin")
    assert "errors" not in answer, answer
    return {
        **answer["data"],
        "profile_of": profiles_of_records(api),
        "store": graph.store.counts(),
        "scan": dict(graph.store.records.scan_profiles()),
    }


def test_a_blocklisted_shared_email_is_reported_as_a_split_with_its_records(
    shared: Api,
) -> None:
    before = profiles_of_records(shared)
    family = before[("shop", "a1")]
    assert before[("shop", "b1")] == family == before[("shop", "a2")]

    result = preview(shared, BLOCKED)

    assert "errors" not in result, result
    report = result["data"]["previewRules"]
    assert report["changes"] == [f"blocklist.email: + {SHARED}"]
    assert report["notRetroactive"] == []
    assert report["stoppedLinking"] == 1
    assert report["startedLinking"] == 0
    assert (report["profilesBefore"], report["profilesAfter"]) == (2, 3)
    assert (report["merged"], report["split"], report["stayed"]) == (0, 1, 1)
    [change] = report["largest"]
    assert change["kind"] == "SPLIT"
    [old] = change["before"]
    assert old["profileId"] == family
    assert old["records"] == 3
    assert old["moved"] == [{"source": "shop", "key": "b1"}]
    # Bo's record leaves for a profile of its own, whose id a dry run cannot know.
    [new] = change["after"]
    assert new == {"profileId": None, "records": 1, "moved": [{"source": "shop", "key": "b1"}]}
    assert change["records"] == report["recordsMoved"] == 1
    # A blocklisted value is junk, not an e-mail a profile holds: the family's profile
    # would leave the segment of profiles with one, and Bo's new one would not enter it.
    assert report["segments"] == [{"segment": "everyone", "entered": 0, "exited": 1}]


def test_the_store_is_untouched_by_a_preview(shared: Api, graph: IdentityGraph) -> None:
    before = state(shared, graph)

    result = preview(shared, BLOCKED)

    assert "errors" not in result, result
    assert result["data"]["previewRules"]["split"] == 1
    assert state(shared, graph) == before
    # Bo's record still shares the family's profile.
    after = profiles_of_records(shared)
    assert after[("shop", "b1")] == after[("shop", "a1")]


def test_other_readers_see_the_stored_graph_while_a_preview_runs(
    shared: Api, graph: IdentityGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = dict(graph.store.records.scan_profiles())
    seen: dict[str, Any] = {}
    segment_changes = RuleChanges._segment_changes

    def meanwhile(self: RuleChanges, after_seq: int) -> dict[str, tuple[int, int]]:
        # The rebase has re-resolved the profiles and not yet rolled back: its own thread
        # sees Bo apart, a reader in another thread sees what is stored.
        seen["inside"] = dict(self.store.records.scan_profiles())
        with ThreadPoolExecutor(1) as other:
            read = other.submit(lambda: dict(graph.store.records.scan_profiles()))
            seen["outside"] = read.result(timeout=60)
        return segment_changes(self, after_seq)

    monkeypatch.setattr(RuleChanges, "_segment_changes", meanwhile)
    result = preview(shared, BLOCKED)

    assert result["data"]["previewRules"]["split"] == 1, result
    assert seen["outside"] == stored
    moved = {ref for ref, pid in seen["inside"].items() if stored[ref] != pid}
    assert {(ref.source, ref.key) for ref in moved} == {("shop", "b1")}


def test_the_preview_gives_the_figures_the_apply_then_reports(
    shared: Api, graph: IdentityGraph
) -> None:
    result = preview(shared, BLOCKED)
    assert "errors" not in result, result
    previewed = result["data"]["previewRules"]

    applied = RuleChanges(graph, CURRENT).apply(BLOCKED, "test", "family address")

    counts = applied.counts()
    assert {
        "profiles_before": previewed["profilesBefore"],
        "profiles_after": previewed["profilesAfter"],
        "merged": previewed["merged"],
        "split": previewed["split"],
        "stayed": previewed["stayed"],
        "records_moved": previewed["recordsMoved"],
        "started_linking": previewed["startedLinking"],
        "stopped_linking": previewed["stoppedLinking"],
        "links_to_match": previewed["linksToMatch"],
        "links_to_review": previewed["linksToReview"],
        "links_removed": previewed["linksRemoved"],
        "read_model_rows": previewed["readModelRows"],
        "households": previewed["households"],
        "segments": {s["segment"]: [s["entered"], s["exited"]] for s in previewed["segments"]},
    } == counts
    assert previewed["changes"] == applied.changes
    assert [
        tuple(
            sorted(
                (frozenset((r["source"], r["key"]) for r in side["moved"]) for side in c["after"]),
                key=sorted,
            )
        )
        for c in previewed["largest"]
    ] == [
        tuple(frozenset((r.source, r.key) for r in part) for part in c.partition())
        for c in applied.largest
    ]
    # The profile the preview could not name is the one the apply made for Bo.
    after = profiles_of_records(shared)
    assert after[("shop", "b1")] != after[("shop", "a1")]


def test_a_preview_needs_admin(shared: Api) -> None:
    for role in ("reader", "steward", "pii"):
        result = preview(shared, BLOCKED, role=role)
        assert result["data"] is None
        [error] = result["errors"]
        assert error["extensions"]["code"] == "FORBIDDEN"
        assert "'admin'" in error["message"]


@pytest.mark.parametrize(
    ("text", "field", "says"),
    [
        ("[kinds.email\nnormaliser = 1", None, "(at line 1, column 13) (in the posted rules)"),
        (
            CURRENT.replace(
                '[kinds.customer_id]\nnormaliser = "id"\ncase = "upper"',
                '[kinds.customer_id]\nnormaliser = "id"\ncase = "lower"',
            ),
            "kinds.customer_id.case",
            "re-ingest the sources",
        ),
        (
            CURRENT.replace("cardinality_cap = 25", "cardinality_cap = -3"),
            "cardinality_cap",
            "in the posted rules",
        ),
    ],
    ids=["not-toml", "changed-normaliser", "invalid-setting"],
)
def test_bad_rules_answer_invalid_config_naming_the_field(
    shared: Api, graph: IdentityGraph, text: str, field: str | None, says: str
) -> None:
    before = state(shared, graph)
    response = shared.client.post(
        "/graphql",
        json={"query": PREVIEW, "variables": {"rules": text}},
        headers=shared.auth("admin"),
    )

    assert response.status_code == 200, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "INVALID_CONFIG", error
    assert error["extensions"].get("field") == field
    if field is not None:
        assert f"field '{field}'" in error["message"]
    assert says in error["message"]
    assert "Traceback" not in response.text
    assert state(shared, graph) == before


def test_a_preview_past_the_time_budget_answers_timeout(
    shared: Api, make_api: Callable[..., Api], graph: IdentityGraph
) -> None:
    before = state(shared, graph)
    api = make_api(graphql_time_budget_seconds=0.000_001)

    result = preview(api, BLOCKED)

    assert result["data"] is None
    assert [e["extensions"]["code"] for e in result["errors"]] == ["TIMEOUT"]
    assert state(shared, graph) == before


def test_a_preview_stopped_after_the_rebase_wrote_stores_nothing(
    shared: Api, graph: IdentityGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = state(shared, graph)

    def spent(self: RuleChanges, after_seq: int) -> dict[str, tuple[int, int]]:
        # The budget runs out once the profiles are re-resolved, before the segments are read.
        raise TimeBudgetExceeded(10.0, "IDGRAPH_GRAPHQL_TIME_BUDGET_SECONDS")

    monkeypatch.setattr(RuleChanges, "_segment_changes", spent)
    result = preview(shared, BLOCKED)
    monkeypatch.undo()

    assert [e["extensions"]["code"] for e in result["errors"]] == ["TIMEOUT"]
    assert state(shared, graph) == before
    assert preview(shared, BLOCKED)["data"]["previewRules"]["split"] == 1
