"""Households over HTTP on both stores: `Profile.household` with its members (masked like
every profile) and evidence (kinds, never values), one store read for a page of profiles,
and the stewards' household corrections as result unions."""

from __future__ import annotations

from typing import Any

import pytest

from identity.graph import IdentityGraph
from identity.mapping import SourceMapping
from identity.model import RecordRef
from tests.service.conftest import Api

pytestmark = pytest.mark.both_stores

HOME: dict[str, Any] = {
    "source": "home",
    "key": "id",
    "phone_region": "GB",
    "identifiers": {"email": "email", "phone": "phone"},
    "attributes": {
        "first": {"name": "first_name", "type": "name"},
        "last": {"name": "last_name", "type": "name"},
        "street": "address",
        "postcode": "postcode",
    },
}
ROWS = [
    {"id": "1", "first": "Ann", "last": "Hale", "street": "1 Mill Lane", "postcode": "M1 1AE",
     "email": "ann@example.com"},
    {"id": "2", "first": "Bob", "last": "Hale", "street": "1 Mill Lane", "postcode": "M1 1AE",
     "email": "bob@example.com"},
    {"id": "3", "first": "Cy", "last": "Hale", "phone": "0161 496 0123", "email": "cy@example.com"},
    {"id": "4", "first": "Di", "last": "Hale", "phone": "0161 496 0123", "street": "1 Mill Lane",
     "postcode": "M1 1AE"},
    {"id": "5", "first": "Eve", "last": "Stone", "street": "1 Mill Lane", "postcode": "M1 1AE",
     "email": "eve@example.com"},
]  # fmt: skip
HOUSEHOLD = """query ($id: ID!) {
  profile(id: $id) {
    id
    household {
      id
      memberIds
      members { id attribute(name: "last_name") { value } }
      evidence { type profiles }
      evidenceTypes
    }
  }
}"""
CORRECT = """mutation ($a: ID!, $b: ID!, $reason: String!) {
  keepApartAsHouseholds(a: $a, b: $b, reason: $reason) {
    __typename
    ... on HouseholdCorrectionDone { actionId households { profileId household { memberIds } } }
    ... on StewardActionRefused { code message }
  }
}"""
UNDO = """mutation ($id: Int!) {
  undoHouseholdCorrection(actionId: $id, reason: "wrong pair") {
    __typename
    ... on HouseholdCorrectionDone { households { profileId household { memberIds } } }
    ... on StewardActionRefused { code }
  }
}"""


@pytest.fixture
def loaded(graph: IdentityGraph, api: Api) -> dict[str, str]:
    """The five people ingested over HTTP and households built; their profile ids by key."""
    graph.ingest.register_source(SourceMapping.from_document(HOME, rules=graph.rules))
    api.ingest("home", ROWS)
    graph.households.rebuild()
    refs = graph.store.records.ids([RecordRef("home", r["id"]) for r in ROWS])
    profiles = graph.store.profiles.ids_of(list(refs.values()))
    return {ref.key: profiles[rid] for ref, rid in refs.items()}


def test_a_profile_shows_its_household_with_members_and_evidence(
    api: Api, loaded: dict[str, str]
) -> None:
    result = api.graphql(HOUSEHOLD, id=loaded["1"])
    assert "errors" not in result, result
    household = result["data"]["profile"]["household"]
    family = sorted(loaded[k] for k in "1234")
    assert sorted(household["memberIds"]) == family
    assert sorted(m["id"] for m in household["members"]) == family
    assert {m["attribute"]["value"] for m in household["members"]} == {"Hale"}
    assert household["evidenceTypes"] == ["shared_address_surname", "shared_landline"]
    assert ["shared_landline", *sorted((loaded["3"], loaded["4"]))] in [
        [e["type"], *e["profiles"]] for e in household["evidence"]
    ]


def test_a_profile_in_no_household_has_none(api: Api, loaded: dict[str, str]) -> None:
    result = api.graphql(HOUSEHOLD, id=loaded["5"])
    assert result["data"]["profile"] == {"id": loaded["5"], "household": None}


def test_members_are_masked_and_evidence_holds_no_value_without_pii_read(
    api: Api, loaded: dict[str, str]
) -> None:
    result = api.graphql(HOUSEHOLD, role="reader", id=loaded["1"])
    assert "errors" not in result, result
    text = str(result)
    assert "Hale" not in text and "Mill" not in text and "496" not in text
    assert len(result["data"]["profile"]["household"]["members"]) == 4


def test_the_households_of_several_profiles_are_one_store_read(
    api: Api, graph: IdentityGraph, loaded: dict[str, str]
) -> None:
    query = (
        "query {"
        + " ".join(f'p{k}: profile(id: "{loaded[k]}") {{ household {{ id }} }}' for k in "12345")
        + "}"
    )
    before = graph.store.statements_per_operation().get("households.of_profiles", 0)
    result = api.graphql(query)
    assert "errors" not in result, result
    assert len({result["data"][f"p{k}"]["household"]["id"] for k in "1234"}) == 1
    after = graph.store.statements_per_operation().get("households.of_profiles", 0)
    assert after - before == 1


def test_a_steward_keeps_two_profiles_apart_and_undoes_it(api: Api, loaded: dict[str, str]) -> None:
    cy, di = loaded["3"], loaded["4"]
    done = api.graphql(CORRECT, role="steward", a=cy, b=di, reason="Cy moved out")
    answer = done["data"]["keepApartAsHouseholds"]
    assert answer["__typename"] == "HouseholdCorrectionDone"
    households = {h["profileId"]: h["household"] for h in answer["households"]}
    assert households[cy] is None
    assert sorted(households[di]["memberIds"]) == sorted(loaded[k] for k in "124")

    undone = api.graphql(UNDO, role="steward", id=answer["actionId"])
    again = {
        h["profileId"]: h["household"]
        for h in undone["data"]["undoHouseholdCorrection"]["households"]
    }
    assert sorted(again[cy]["memberIds"]) == sorted(loaded[k] for k in "1234")
    twice = api.graphql(UNDO, role="steward", id=answer["actionId"])
    assert twice["data"]["undoHouseholdCorrection"] == {
        "__typename": "StewardActionRefused",
        "code": "STEWARD_CONFLICT",
    }


def test_corrections_are_refused_as_answers_and_need_the_steward_scope(
    api: Api, loaded: dict[str, str]
) -> None:
    same = api.graphql(CORRECT, role="steward", a=loaded["1"], b=loaded["1"], reason="x")
    assert same["data"]["keepApartAsHouseholds"]["code"] == "INVALID_ARGUMENT"
    unknown = api.graphql(CORRECT, role="steward", a=loaded["1"], b="nope", reason="x")
    assert unknown["data"]["keepApartAsHouseholds"]["code"] == "UNKNOWN_PROFILE"
    no_reason = api.graphql(CORRECT, role="steward", a=loaded["1"], b=loaded["5"], reason=" ")
    assert no_reason["data"]["keepApartAsHouseholds"]["code"] == "INVALID_ARGUMENT"
    reader = api.graphql(CORRECT, role="reader", a=loaded["1"], b=loaded["5"], reason="x")
    assert reader["errors"][0]["extensions"]["code"] == "FORBIDDEN"
