"""Duplicate accounts within one source over HTTP: records sent to a store with a trained
model are scored as they arrive; the pair the customer-id limit holds apart shows in the
review queue with its reason, accepting it merges the two accounts, undo splits them."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from identity.graph import IdentityGraph
from identity.migration import migrate_store
from identity.rules import load_rules
from tests.identity.test_duplicate_accounts import TWICE, trained_store_at
from tests.service.conftest import Api
from tests.store.conftest import BACKENDS

pytestmark = pytest.mark.both_stores

QUEUE = """query {
  reviewQueue(first: 500) {
    nodes {
      a { source key } b { source key } profileA profileB probability reason
      duplicateAccount { source kinds rule reachedLinkThreshold countsAgainst }
    }
    pageInfo { hasNextPage }
  }
}"""
RESULT = """
  __typename
  ... on StewardActionDone { actionId profileIds }
  ... on StewardActionRefused { code message }
"""
ACCEPT = f"""mutation ($a: RecordRefInput!, $b: RecordRefInput!) {{
  acceptMatch(a: $a, b: $b, reason: "one person, signed up twice") {{ {RESULT} }} }}"""
UNDO = f"""mutation ($id: Int!) {{ undo(actionId: $id, reason: "two people after all") {{
  {RESULT} }} }}"""
PROFILE = """query ($value: String!) {
  profileByIdentifier(kind: "customer_id", value: $value) {
    id records { source key } identifiers { kind value }
  }
}"""


@pytest.fixture(scope="module")
def trained_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("duplicates-http") / "trained.db"
    trained_store_at(path, [])
    return path


@pytest.fixture
def graph(store_backend: str, trained_store: Path, tmp_path: Path) -> Iterator[IdentityGraph]:
    """The API's store: a copy of the trained one (the demo's mappings, a match model); on
    Neo4j copied in by `idgraph migrate`'s own copy."""
    copy = tmp_path / "store.db"
    shutil.copy(trained_store, copy)
    opened = IdentityGraph.open(f"sqlite:///{copy}")
    if store_backend != "sqlite":
        target = BACKENDS[store_backend](tmp_path)
        migrate_store(opened.store, target)
        opened.close()
        opened = IdentityGraph(target, load_rules(None))
    yield opened
    opened.close()


def pair_in_queue(api: Api) -> dict[str, Any] | None:
    result = api.graphql(QUEUE, role="steward")
    assert "errors" not in result, result
    queue = result["data"]["reviewQueue"]
    assert not queue["pageInfo"]["hasNextPage"]
    keys = {"C-DUP-1", "C-DUP-2"}
    found = [i for i in queue["nodes"] if {i["a"]["key"], i["b"]["key"]} == keys]
    return found[0] if found else None


def profile_of(api: Api, customer_no: str) -> dict[str, Any]:
    result = api.graphql(PROFILE, value=customer_no)
    assert "errors" not in result, result
    found: dict[str, Any] = result["data"]["profileByIdentifier"]
    return found


def act(api: Api, mutation: str, **variables: Any) -> dict[str, Any]:
    result = api.graphql(mutation, role="steward", **variables)
    assert "errors" not in result, result
    (outcome,) = result["data"].values()
    assert isinstance(outcome, dict) and outcome["__typename"] == "StewardActionDone", outcome
    return outcome


def test_a_duplicate_account_is_queued_with_its_reason_accepted_and_undone(api: Api) -> None:
    for row in TWICE:
        report = api.ingest("crm", [row])
        assert report["probabilistic_skipped"] is None
    first, second = profile_of(api, "C-DUP-1"), profile_of(api, "C-DUP-2")
    assert first["id"] != second["id"]

    item = pair_in_queue(api)
    assert item is not None
    assert {item["profileA"], item["profileB"]} == {first["id"], second["id"]}
    assert item["probability"] >= 0.99
    assert item["reason"] == (
        "likely duplicate account within source crm: the match reaches the link threshold, "
        'but a profile holds at most 1 customer_id (duplicates = "review")'
    )
    assert item["duplicateAccount"] == {
        "source": "crm",
        "kinds": ["customer_id"],
        "rule": "review",
        "reachedLinkThreshold": True,
        "countsAgainst": [],
    }

    accepted = act(api, ACCEPT, a=item["a"], b=item["b"])
    merged = profile_of(api, "C-DUP-2")
    assert merged["id"] == profile_of(api, "C-DUP-1")["id"]
    assert accepted["profileIds"] == [merged["id"]]
    assert {r["key"] for r in merged["records"]} == {"C-DUP-1", "C-DUP-2"}
    held = {i["value"] for i in merged["identifiers"] if i["kind"] == "customer_id"}
    assert held == {"C-DUP-1", "C-DUP-2"}
    assert pair_in_queue(api) is None

    act(api, UNDO, id=accepted["actionId"])
    assert profile_of(api, "C-DUP-1")["id"] != profile_of(api, "C-DUP-2")["id"]
    again = pair_in_queue(api)
    assert again is not None and again["duplicateAccount"]["source"] == "crm"
