"""Access requests over GraphQL: `personData` needs privacy:read, answers with the person's
data unmasked, refuses a request that names nobody or two ways at once, and is audited."""

from __future__ import annotations

from typing import Any

import pytest

from tests.service.conftest import Api

pytestmark = pytest.mark.both_stores

PERSON_DATA = """query ($identifier: IdentifierInput, $profileId: ID) {
  personData(identifier: $identifier, profileId: $profileId)
}"""
AUDIT = """{ auditLog(action: "access-export") { nodes { actor action target before after } } }"""


@pytest.fixture
def ann(api: Api) -> Api:
    """Ann, with two records (a CRM and a shop one) and a consent event."""
    api.ingest(
        "crm",
        [
            {
                "customer_no": "C1",
                "email": "Ann.Lee@example.com",
                "phone": "07400 123456",
                "first_name": "Ann",
                "city": "York",
                "updated": "2025-01-02T03:04:05Z",
            }
        ],
    )
    api.ingest("shop", [{"id": "s1", "email": "ann.lee@example.com", "first": "Annie"}])
    api.post_events(
        {
            "event_id": "ev-1",
            "type": "consent",
            "timestamp": "2025-02-01T10:00:00Z",
            "source": "shop",
            "identifiers": {"email": "ann.lee@example.com"},
            "properties": {"purpose": "email", "granted": True},
        }
    )
    return api


def errors(result: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors", [])]


def test_person_data_needs_the_privacy_read_scope(ann: Api) -> None:
    identifier = {"kind": "email", "value": "ann.lee@example.com"}
    for role in ("pii", "reader", "steward", "exporter"):
        result = ann.graphql(PERSON_DATA, role=role, identifier=identifier)
        assert errors(result) == ["FORBIDDEN"], role
        assert "'privacy:read'" in result["errors"][0]["message"]
        assert result["data"] is None
    assert ann.graphql(AUDIT, role="admin")["data"]["auditLog"]["nodes"] == []


def test_person_data_answers_the_whole_document_unmasked(ann: Api) -> None:
    result = ann.graphql(
        PERSON_DATA,
        role="privacy_reader",
        identifier={"kind": "email", "value": " ANN.LEE@example.com"},
    )
    assert "errors" not in result, result
    document = result["data"]["personData"]
    assert document["subject"] == {
        "by": "identifier",
        "kind": "email",
        "value": " ANN.LEE@example.com",
    }
    [profile] = document["profiles"]
    assert [(r["source"], r["key"]) for r in profile["records"]] == [("crm", "C1"), ("shop", "s1")]
    # Values in full, though the token has no pii:read: the person asked for their own data.
    crm = profile["records"][0]
    assert crm["raw"]["email"] == "Ann.Lee@example.com"
    assert {(i["kind"], i["value"]) for i in crm["identifiers"]} >= {
        ("email", "ann.lee@example.com"),
        ("phone", "+447400123456"),
    }
    assert profile["golden_record"]["first_name"] == {
        "value": "Ann",
        "source": "crm",
        "record_key": "C1",
    }
    assert [e["event_id"] for e in profile["events"]] == ["ev-1"]
    assert profile["consent"]["current"]["email"]["granted"] is True
    assert [(s["purpose"], s["via"], s["reference"]) for s in profile["consent"]["history"]] == [
        ("email", "event", "ev-1")
    ]


def test_a_profile_id_names_the_person_as_an_identifier_does(ann: Api) -> None:
    [profile] = ann.graphql(
        PERSON_DATA, role="privacy_reader", identifier={"kind": "customer_id", "value": "c1"}
    )["data"]["personData"]["profiles"]
    again = ann.graphql(PERSON_DATA, role="privacy_reader", profileId=profile["id"])
    assert again["data"]["personData"]["profiles"][0]["id"] == profile["id"]
    assert again["data"]["personData"]["subject"] == {
        "by": "profile_id",
        "profile_id": profile["id"],
    }


def test_every_export_is_audited_with_the_actor_and_profile_ids_never_the_identifier(
    ann: Api,
) -> None:
    result = ann.graphql(
        PERSON_DATA, role="privacy_reader", identifier={"kind": "phone", "value": "+447400123456"}
    )
    profile_id = result["data"]["personData"]["profiles"][0]["id"]
    [entry] = ann.graphql(AUDIT, role="admin")["data"]["auditLog"]["nodes"]
    assert (entry["actor"], entry["action"], entry["target"]) == (
        "privacy_reader",
        "access-export",
        profile_id,
    )
    assert "7400" not in str(entry)


def test_a_request_must_name_the_person_exactly_one_way(ann: Api) -> None:
    neither = ann.graphql(PERSON_DATA, role="privacy_reader")
    assert errors(neither) == ["INVALID_ARGUMENT"]
    assert "exactly one" in neither["errors"][0]["message"]
    both = ann.graphql(
        PERSON_DATA,
        role="privacy_reader",
        identifier={"kind": "email", "value": "ann.lee@example.com"},
        profileId="p_1",
    )
    assert errors(both) == ["INVALID_ARGUMENT"]


def test_unknown_ambiguous_and_malformed_identifiers_are_refused_with_their_codes(
    ann: Api,
) -> None:
    ann.ingest("crm", [{"customer_no": "C2", "phone": "07400 123456", "first_name": "Bo"}])

    def code(**variables: Any) -> list[str]:
        return errors(ann.graphql(PERSON_DATA, role="privacy_reader", **variables))

    assert code(identifier={"kind": "email", "value": "nobody@example.com"}) == ["UNKNOWN_PROFILE"]
    assert code(profileId="p_nobody") == ["UNKNOWN_PROFILE"]
    # Ann's phone is Bo's too, and a profile holds one customer id: two profiles.
    assert code(identifier={"kind": "phone", "value": "+447400123456"}) == ["AMBIGUOUS_IDENTIFIER"]
    assert code(identifier={"kind": "shoe_size", "value": "42"}) == ["UNKNOWN_IDENTIFIER_KIND"]
    assert code(identifier={"kind": "email", "value": "not an address"}) == ["INVALID_IDENTIFIER"]
    unknown = ann.graphql(
        PERSON_DATA, role="privacy_reader", identifier={"kind": "email", "value": "nobody@x.org"}
    )
    assert "nobody" not in unknown["errors"][0]["message"]
    assert ann.graphql(AUDIT, role="admin")["data"]["auditLog"]["nodes"] == []
