"""Erasure and identifier removal over HTTP, as a privacy team uses them: `erasePerson` and
`removeIdentifier` need privacy:write, delete the person (the feeds say so), keep them out
of later loads of the same records and events, and refuse a request that names nobody,
names two people at once or gives no reason as an answer with nothing changed."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from identity.graph import IdentityGraph
from identity.mapping import SourceMapping
from tests.service.conftest import Api

pytestmark = pytest.mark.both_stores

ERASE = """mutation ($reason: String!, $identifier: IdentifierInput, $profileId: ID,
                     $identifiers: [IdentifierInput!], $profileIds: [ID!]) {
  erasePerson(reason: $reason, identifier: $identifier, profileId: $profileId,
              identifiers: $identifiers, profileIds: $profileIds) {
    __typename
    ... on ErasureDone { auditId profileIds records events suppressed }
    ... on PrivacyActionRefused { code message }
  }
}"""
REMOVE = """mutation ($profileId: ID!, $identifier: IdentifierInput!, $reason: String!) {
  removeIdentifier(profileId: $profileId, identifier: $identifier, reason: $reason) {
    __typename
    ... on IdentifierRemoved { auditId records profileIds }
    ... on PrivacyActionRefused { code message }
  }
}"""
PROFILE = """query ($kind: String!, $value: String!) {
  profileByIdentifier(kind: $kind, value: $value) {
    id segments identifiers { kind value } records { source key }
  }
}"""
PROFILE_CHANGES = """{ profileChanges(first: 1000) { nodes { kind profileId } } }"""
SEGMENT_CHANGES = """{ segment(name: "emailable") {
  changes(first: 1000) { nodes { kind profileId } } } }"""
AUDIT = """{ auditLog { nodes { action actor target reason } } }"""

ANN_CRM = {
    "customer_no": "C1",
    "email": "Ann.Lee@example.com",
    "phone": "07400 123456",
    "first_name": "Ann",
    "city": "York",
}
ANN_SHOP = {"id": "s1", "email": "ann.lee@example.com", "first": "Annie"}
# Bob shares Ann's phone (a household line); his own customer number keeps them apart.
BOB_CRM = {"customer_no": "C2", "email": "bob@example.com", "phone": "07400 123456"}
# Cy's shop record carries an e-mail an agent mistyped; his phone joins it to his CRM record.
CY_CRM = {"customer_no": "C3", "email": "cy@example.com", "phone": "07400 333333"}
CY_SHOP = {"id": "s3", "email": "cy.typo@example.com", "phone": "07400 333333"}
KIOSK = {
    "source": "kiosk",
    "key": "id",
    "timestamp": "at",
    "retention_days": 1,
    "identifiers": {"email": "email"},
}
ANN_EVENT = {
    "event_id": "ev-ann",
    "type": "purchase",
    "timestamp": "2025-02-01T10:00:00Z",
    "identifiers": {"email": "ann.lee@example.com"},
    "properties": {"total": 20},
}


@pytest.fixture
def people(api: Api) -> dict[str, str]:
    """Ann (a CRM and a shop record, one event), Bob (sharing her phone) and Cy (a mistyped
    e-mail on his shop record), all in the segment `emailable`; their profile ids."""
    defined = api.graphql(
        'mutation ($d: JSON!) { defineSegment(name: "emailable", definition: $d) { __typename } }',
        role="admin",
        d={"where": {"identifier": "email"}},
    )
    assert defined["data"]["defineSegment"]["__typename"] == "SegmentDefined", defined
    api.ingest("crm", [ANN_CRM, BOB_CRM, CY_CRM])
    api.ingest("shop", [ANN_SHOP, CY_SHOP])
    api.post_events(ANN_EVENT)
    found = {name: profile(api, "email", email) for name, email in EMAILS.items()}
    assert all(found.values()) and len({p["id"] for p in found.values() if p}) == 3
    return {name: p["id"] for name, p in found.items() if p}


EMAILS = {"Ann": "ann.lee@example.com", "Bob": "bob@example.com", "Cy": "cy@example.com"}


def profile(api: Api, kind: str, value: str) -> dict[str, Any] | None:
    result = api.graphql(PROFILE, role="pii", kind=kind, value=value)
    assert "errors" not in result, result
    found: dict[str, Any] | None = result["data"]["profileByIdentifier"]
    return found


def erase(api: Api, role: str = "privacy_writer", **variables: Any) -> dict[str, Any]:
    result = api.graphql(ERASE, role=role, **variables)
    assert "errors" not in result, result
    answer: dict[str, Any] = result["data"]["erasePerson"]
    return answer


def remove(api: Api, **variables: Any) -> dict[str, Any]:
    result = api.graphql(REMOVE, role="privacy_writer", **variables)
    assert "errors" not in result, result
    answer: dict[str, Any] = result["data"]["removeIdentifier"]
    return answer


def profile_changes(api: Api) -> list[tuple[str, str]]:
    nodes = api.graphql(PROFILE_CHANGES, role="reader")["data"]["profileChanges"]["nodes"]
    return [(n["kind"], n["profileId"]) for n in nodes]


def segment_changes(api: Api) -> list[tuple[str, str]]:
    result = api.graphql(SEGMENT_CHANGES, role="activator")
    return [(n["kind"], n["profileId"]) for n in result["data"]["segment"]["changes"]["nodes"]]


def audit_actions(api: Api) -> list[str]:
    return [e["action"] for e in api.graphql(AUDIT, role="admin")["data"]["auditLog"]["nodes"]]


def test_erasing_by_identifier_deletes_the_person_and_the_feeds_say_so(
    api: Api, people: dict[str, str]
) -> None:
    ann = people["Ann"]
    done = erase(
        api, reason="DSAR 2026-114", identifier={"kind": "email", "value": " ANN.LEE@example.com"}
    )

    assert done["__typename"] == "ErasureDone"
    assert (done["profileIds"], done["records"], done["events"]) == ([ann], 2, 1)
    # Her two records, her e-mail and her customer number; not the phone Bob still uses.
    assert done["suppressed"] == 4
    assert profile(api, "email", "ann.lee@example.com") is None
    assert profile(api, "customer_id", "c1") is None
    assert ("DELETED", ann) in profile_changes(api)
    assert segment_changes(api)[-1] == ("EXITED", ann)
    # Nobody else is touched.
    for name in ("Bob", "Cy"):
        found = profile(api, "email", EMAILS[name])
        assert found is not None and found["id"] == people[name]
    [entry] = [
        e
        for e in api.graphql(AUDIT, role="admin")["data"]["auditLog"]["nodes"]
        if e["action"] == "erase"
    ]
    assert (entry["actor"], entry["target"], entry["reason"]) == (
        "privacy_writer",
        ann,
        "DSAR 2026-114",
    )


def test_erasing_by_profile_id_deletes_that_profile(api: Api, people: dict[str, str]) -> None:
    done = erase(api, reason="DSAR 7", profileId=people["Cy"])

    assert done["__typename"] == "ErasureDone"
    assert (done["profileIds"], done["records"], done["events"]) == ([people["Cy"]], 2, 0)
    assert profile(api, "email", "cy@example.com") is None
    assert profile(api, "email", "cy.typo@example.com") is None
    assert ("DELETED", people["Cy"]) in profile_changes(api)


def test_several_identifiers_and_profile_ids_name_one_request(
    api: Api, people: dict[str, str]
) -> None:
    done = erase(
        api,
        reason="DSAR 8",
        identifiers=[
            {"kind": "email", "value": "ann.lee@example.com"},
            {"kind": "customer_id", "value": "C1"},
        ],
        profileIds=[people["Cy"]],
    )

    assert done["__typename"] == "ErasureDone"
    assert sorted(done["profileIds"]) == sorted([people["Ann"], people["Cy"]])
    assert done["records"] == 4
    assert profile(api, "email", "bob@example.com") is not None


def test_the_same_records_and_events_sent_again_are_counted_as_suppressed_and_not_stored(
    api: Api, people: dict[str, str]
) -> None:
    erase(api, reason="DSAR 9", identifier={"kind": "email", "value": "ann.lee@example.com"})
    feed = profile_changes(api)

    crm = api.ingest("crm", [ANN_CRM])
    shop = api.ingest("shop", [ANN_SHOP])
    events = api.post_events(ANN_EVENT)

    assert (crm["received"], crm["suppressed"], crm["created"], crm["errors"]) == (1, 1, 0, [])
    assert (shop["suppressed"], shop["created"]) == (1, 0)
    assert (events["suppressed"], events["created"]) == (1, 0)
    assert profile(api, "email", "ann.lee@example.com") is None
    assert profile(api, "customer_id", "c1") is None
    assert profile_changes(api) == feed  # no profile created for her again


def test_an_identifier_the_person_shared_does_not_keep_the_other_holder_out(
    api: Api, people: dict[str, str]
) -> None:
    erase(api, reason="DSAR 10", identifier={"kind": "email", "value": "ann.lee@example.com"})

    # Bob moves: his record, still carrying the household phone, is updated.
    report = api.ingest("crm", [{**BOB_CRM, "city": "Leeds"}])

    assert (report["suppressed"], report["updated"]) == (0, 1)
    bob = profile(api, "phone", "+447400123456")
    assert bob is not None and bob["id"] == people["Bob"]


def test_erasure_needs_the_privacy_write_scope_and_a_refused_token_deletes_nothing(
    api: Api, people: dict[str, str]
) -> None:
    named = {"kind": "email", "value": "ann.lee@example.com"}
    for role in ("pii", "reader", "steward", "privacy_reader", "ingester"):
        for query, variables in (
            (ERASE, {"identifier": named}),
            (REMOVE, {"identifier": named, "profileId": people["Ann"]}),
        ):
            result = api.graphql(query, role=role, reason="DSAR", **variables)
            codes = [e["extensions"]["code"] for e in result["errors"]]
            assert codes == ["FORBIDDEN"], (role, result)
            assert "'privacy:write'" in result["errors"][0]["message"]
            assert result["data"] is None
    found = profile(api, "email", "ann.lee@example.com")
    assert found is not None and len(found["records"]) == 2
    assert "erase" not in audit_actions(api)


@pytest.mark.parametrize(
    ("variables", "code", "words"),
    [
        (
            {"identifier": {"kind": "email", "value": "nobody@example.com"}},
            "UNKNOWN_PROFILE",
            "email",
        ),
        ({"profileId": "p_nobody"}, "UNKNOWN_PROFILE", "p_nobody"),
        # One known person and one unknown profile: all or nothing.
        (
            {"identifier": {"kind": "email", "value": "cy@example.com"}, "profileId": "p_nobody"},
            "UNKNOWN_PROFILE",
            "p_nobody",
        ),
        (
            {"identifier": {"kind": "phone", "value": "+447400123456"}},
            "AMBIGUOUS_IDENTIFIER",
            "2 profiles",
        ),
        ({}, "INVALID_ARGUMENT", "at least one identifier or profile id"),
        (
            {"identifier": {"kind": "email", "value": "cy@example.com"}, "reason": "  "},
            "INVALID_ARGUMENT",
            "reason",
        ),
        ({"identifier": {"kind": "email", "value": "not an address"}}, "INVALID_IDENTIFIER", ""),
        ({"identifier": {"kind": "shoe_size", "value": "42"}}, "UNKNOWN_IDENTIFIER_KIND", ""),
    ],
    ids=[
        "unknown-identifier",
        "unknown-profile",
        "one-of-two-unknown",
        "ambiguous",
        "nothing-named",
        "blank-reason",
        "invalid-identifier",
        "unknown-kind",
    ],
)
def test_a_refused_erasure_is_an_answer_with_its_code_and_changes_nothing(
    api: Api, people: dict[str, str], variables: dict[str, Any], code: str, words: str
) -> None:
    feed = profile_changes(api)

    answer = erase(api, **({"reason": "DSAR 11"} | variables))

    assert answer["__typename"] == "PrivacyActionRefused"
    assert answer["code"] == code
    assert words in answer["message"]
    assert profile_changes(api) == feed
    for name, email in EMAILS.items():
        found = profile(api, "email", email)
        assert found is not None and found["id"] == people[name]
    assert "erase" not in audit_actions(api)
    # Nothing went on the suppression list: the same records load as before.
    assert api.ingest("crm", [ANN_CRM, CY_CRM])["suppressed"] == 0


def test_a_missing_reason_is_a_validation_error_not_a_server_error(
    api: Api, people: dict[str, str]
) -> None:
    response = api.client.post(
        "/graphql",
        json={
            "query": f'mutation {{ erasePerson(profileId: "{people["Ann"]}") {{ __typename }} }}'
        },
        headers=api.auth("privacy_writer"),
    )
    assert response.status_code == 200, response.text
    assert "reason" in response.json()["errors"][0]["message"]
    assert profile(api, "email", "ann.lee@example.com") is not None


def test_remove_identifier_takes_a_mistyped_email_off_the_profile_for_good(
    api: Api, people: dict[str, str]
) -> None:
    cy = people["Cy"]
    done = remove(
        api,
        profileId=cy,
        identifier={"kind": "email", "value": "Cy.Typo@example.com"},
        reason="ticket 42: agent typo",
    )

    assert done["__typename"] == "IdentifierRemoved"
    assert (done["records"], done["profileIds"]) == (1, [cy])
    assert profile(api, "email", "cy.typo@example.com") is None
    found = profile(api, "email", "cy@example.com")
    assert found is not None and found["id"] == cy
    assert {(r["source"], r["key"]) for r in found["records"]} == {("crm", "C3"), ("shop", "s3")}
    emails = {i["value"] for i in found["identifiers"] if i["kind"] == "email"}
    assert emails == {"cy@example.com"}

    # The shop sends the same record again: it is kept, without the mistyped e-mail.
    report = api.ingest("shop", [CY_SHOP])
    assert (report["suppressed"], report["errors"]) == (0, [])
    assert profile(api, "email", "cy.typo@example.com") is None
    again = profile(api, "email", "cy@example.com")
    assert again is not None and again["id"] == cy
    assert {i["value"] for i in again["identifiers"] if i["kind"] == "email"} == emails
    assert "remove-identifier" in audit_actions(api)


@pytest.mark.parametrize(
    ("profile_of", "identifier", "reason", "code"),
    [
        ("Cy", {"kind": "email", "value": "ann.lee@example.com"}, "typo", "INVALID_ARGUMENT"),
        (None, {"kind": "email", "value": "cy.typo@example.com"}, "typo", "UNKNOWN_PROFILE"),
        ("Cy", {"kind": "email", "value": "cy.typo@example.com"}, " ", "INVALID_ARGUMENT"),
        ("Cy", {"kind": "email", "value": "not an address"}, "typo", "INVALID_IDENTIFIER"),
        ("Cy", {"kind": "shoe_size", "value": "42"}, "typo", "UNKNOWN_IDENTIFIER_KIND"),
    ],
    ids=["not-held", "unknown-profile", "blank-reason", "invalid", "unknown-kind"],
)
def test_a_refused_removal_is_an_answer_and_changes_nothing(
    api: Api,
    people: dict[str, str],
    profile_of: str | None,
    identifier: dict[str, str],
    reason: str,
    code: str,
) -> None:
    answer = remove(
        api,
        profileId=people[profile_of] if profile_of else "p_nobody",
        identifier=identifier,
        reason=reason,
    )

    assert (answer["__typename"], answer["code"]) == ("PrivacyActionRefused", code)
    found = profile(api, "email", "cy.typo@example.com")
    assert found is not None and found["id"] == people["Cy"]
    assert profile(api, "email", "ann.lee@example.com") is not None
    assert "remove-identifier" not in audit_actions(api)


def test_the_server_applies_retention_on_its_schedule(make_api: Any, graph: IdentityGraph) -> None:
    graph.ingest.register_source(SourceMapping.from_document(KIOSK, rules=graph.rules))
    api: Api = make_api(retention_seconds=1)
    # A kiosk keeps sign-ups one day: Fay's is past it three seconds from now, Gus's is new.
    soon = datetime.now(UTC) - timedelta(days=1) + timedelta(seconds=3)
    api.ingest(
        "kiosk",
        [
            {"id": "k1", "email": "fay@example.com", "at": soon.isoformat()},
            {"id": "k2", "email": "gus@example.com", "at": datetime.now(UTC).isoformat()},
        ],
    )
    fay = profile(api, "email", "fay@example.com")
    assert fay is not None

    deadline = time.monotonic() + 20
    while profile(api, "email", "fay@example.com") and time.monotonic() < deadline:
        time.sleep(0.5)

    assert profile(api, "email", "fay@example.com") is None
    assert ("DELETED", fay["id"]) in profile_changes(api)
    assert profile(api, "email", "gus@example.com") is not None
    [entry] = [
        e
        for e in api.graphql(AUDIT, role="admin")["data"]["auditLog"]["nodes"]
        if e["action"] == "retention"
    ]
    assert entry["actor"] == "system"
