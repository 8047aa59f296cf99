"""Personal values over HTTP: masked for a token without pii:read (profiles, records,
journeys, segment exports), in full with pii:read or admin; masks are deterministic."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from identity.graph import IdentityGraph
from identity.mapping import SourceMapping
from service.masking import mask_email, mask_initials, mask_phone, mask_tail, mask_year
from tests.service.conftest import Api

PEOPLE: dict[str, Any] = {
    "source": "people",
    "key": "id",
    "phone_region": "GB",
    "identifiers": {
        "customer_no": "customer_id",
        "email": "email",
        "mobile": "phone",
        "device": "device_id",
    },
    "attributes": {
        "first": {"name": "first_name", "type": "name"},
        "last": {"name": "last_name", "type": "name"},
        "dob": {"name": "birth_date", "type": "date"},
        "street": "address_line",
        "postcode": "postcode",
        "city": "city",
        "tier": "tier",
    },
}
ANN = {
    "id": "p1",
    "customer_no": "c-100",
    "email": "Ann.Lee@Example.com",
    "mobile": "07400 123456",
    "device": "tablet-7f3a9c21",
    "first": "Ann",
    "last": "Lee",
    "dob": "1984-03-02",
    "street": "1 High Street",
    "postcode": "LS1 4AB",
    "city": "York",
    "tier": "gold",
}
PROFILE = """query ($kind: String!, $value: String!) {
  profileByIdentifier(kind: $kind, value: $value) {
    id
    attributes { name value provenance { source recordKey } }
    identifiers { kind value originals recordCount }
    records { key attributes identifiers { kind value original } }
  }
}"""
JOURNEY = """query ($kind: String!, $value: String!) {
  profileByIdentifier(kind: $kind, value: $value) {
    journey { nodes { id type properties identifiers { kind value original } } }
  }
}"""
MASKED_ATTRIBUTES = {
    "first_name": "A***",
    "last_name": "L***",
    "birth_date": "****-**-**",
    "address_line": "***",
    "postcode": "***",
    "city": "York",
    "tier": "gold",
}
FULL_ATTRIBUTES = {
    "first_name": "Ann",
    "last_name": "Lee",
    "birth_date": "1984-03-02",
    "address_line": "1 High Street",
    "postcode": "LS1 4AB",
    "city": "York",
    "tier": "gold",
}


@pytest.fixture
def ann(api: Api, graph: IdentityGraph) -> Api:
    graph.ingest.register_source(SourceMapping.from_document(PEOPLE, rules=graph.rules))
    api.ingest("people", [ANN])
    return api


def read(api: Api, role: str, query: str = PROFILE) -> dict[str, Any]:
    result = api.graphql(query, role=role, kind="customer_id", value="C-100")
    assert "errors" not in result, result
    found: dict[str, Any] = result["data"]["profileByIdentifier"]
    return found


def identifiers(profile: dict[str, Any]) -> dict[str, tuple[str, list[str]]]:
    return {i["kind"]: (i["value"], i["originals"]) for i in profile["identifiers"]}


@pytest.mark.parametrize(
    ("mask", "value", "shown"),
    [
        (mask_email, "ann.lee@example.co.uk", "a***@e***.uk"),
        (mask_email, "Ann.Lee@Example.com", "A***@E***.com"),
        (mask_email, "not-an-email", "***"),
        (mask_phone, "+447400123456", "+44********56"),
        (mask_phone, "+12025550143", "+1********43"),
        (mask_phone, "07400 123456", "*********56"),
        (mask_phone, "123", "***"),
        (mask_initials, "Mary Ann", "M*** A***"),
        (mask_initials, " ", "***"),
        (mask_year, "1984-03-02", "1984-**-**"),
        (mask_tail, "tablet-7f3a9c21", "***9c21"),
        (mask_tail, "ck-1", "***"),
    ],
)
def test_masks_keep_only_what_a_steward_without_pii_read_may_see(
    mask: Any, value: str, shown: str
) -> None:
    assert mask(value) == shown


def test_without_pii_read_personal_values_are_masked_and_the_rest_shown(ann: Api) -> None:
    profile = read(ann, "reader")
    assert identifiers(profile) == {
        "customer_id": ("C-100", ["c-100"]),
        "email": ("a***@e***.com", ["A***@E***.com"]),
        "phone": ("+44********56", ["*********56"]),
        "device_id": ("***9c21", ["***9c21"]),
    }
    assert {a["name"]: a["value"] for a in profile["attributes"]} == MASKED_ATTRIBUTES
    # Where a value came from is not personal.
    assert {a["provenance"]["recordKey"] for a in profile["attributes"]} == {"p1"}
    [record] = profile["records"]
    assert record["attributes"] == MASKED_ATTRIBUTES
    assert {i["kind"]: (i["value"], i["original"]) for i in record["identifiers"]} == {
        "customer_id": ("C-100", "c-100"),
        "email": ("a***@e***.com", "A***@E***.com"),
        "phone": ("+44********56", "*********56"),
        "device_id": ("***9c21", "***9c21"),
    }
    text = json.dumps(profile)
    for secret in ("ann", "Lee", "123456", "High Street", "LS1", "1984", "7f3a"):
        assert secret not in text


@pytest.mark.parametrize("role", ["pii", "admin"])
def test_with_pii_read_or_admin_values_are_in_full(ann: Api, role: str) -> None:
    profile = read(ann, role)
    assert identifiers(profile) == {
        "customer_id": ("C-100", ["c-100"]),
        "email": ("ann.lee@example.com", ["Ann.Lee@Example.com"]),
        "phone": ("+447400123456", ["07400 123456"]),
        "device_id": ("tablet-7f3a9c21", ["tablet-7f3a9c21"]),
    }
    assert {a["name"]: a["value"] for a in profile["attributes"]} == FULL_ATTRIBUTES
    assert profile["records"][0]["attributes"] == FULL_ATTRIBUTES


def test_a_value_masks_the_same_everywhere_and_the_graph_shows_what_records_share(
    ann: Api,
) -> None:
    ann.ingest(
        "people",
        [
            {"id": "p2", "email": "ann.lee@example.com", "first": "Annie"},
            {"id": "p3", "email": "alice@example.com", "customer_no": "c-100"},
        ],
    )
    first, again = read(ann, "reader"), read(ann, "reader")
    assert first == again
    emails = [i for i in first["identifiers"] if i["kind"] == "email"]
    # Two different e-mails may show the same mask: a mask is no fingerprint. That p1 and
    # p2 share one address is what recordCount says, not what the strings look like.
    assert sorted((i["value"], i["recordCount"]) for i in emails) == [
        ("a***@e***.com", 1),
        ("a***@e***.com", 2),
    ]
    by_key = {r["key"]: r for r in first["records"]}
    shown = {
        k: [i["value"] for i in r["identifiers"] if i["kind"] == "email"] for k, r in by_key.items()
    }
    assert shown == {"p1": ["a***@e***.com"], "p2": ["a***@e***.com"], "p3": ["a***@e***.com"]}


def test_journey_identifiers_and_personal_properties_are_masked(ann: Api) -> None:
    ann.post_events(
        {
            "event_id": "e1",
            "type": "purchase",
            "timestamp": "2024-05-01T10:00:00+00:00",
            "identifiers": {"customer_id": "c-100", "email": "ann.lee@example.com"},
            "properties": {
                "order_value": 42,
                "email": "ann.lee@example.com",
                "shipping": {"postcode": "LS1 4AB", "city": "York"},
                "first_name": ["Ann", "Lee"],
            },
        }
    )
    [event] = read(ann, "reader", JOURNEY)["journey"]["nodes"]
    assert {i["kind"]: (i["value"], i["original"]) for i in event["identifiers"]} == {
        "customer_id": ("C-100", "c-100"),
        "email": ("a***@e***.com", "a***@e***.com"),
    }
    assert event["properties"] == {
        "order_value": 42,
        "email": "a***@e***.com",
        "shipping": {"postcode": "***", "city": "York"},
        "first_name": ["A***", "L***"],
    }
    [full] = read(ann, "pii", JOURNEY)["journey"]["nodes"]
    assert full["properties"]["shipping"] == {"postcode": "LS1 4AB", "city": "York"}
    assert ("email", "ann.lee@example.com") in {
        (i["kind"], i["value"]) for i in full["identifiers"]
    }


def export(api: Api, role: str, format: str = "ndjson") -> Any:
    fields = "profile_id,customer_id,email,phone,first_name,birth_date,city,consent.email"
    response = api.client.get(
        "/v1/segments/everyone/members",
        params={"fields": fields, "format": format},
        headers=api.auth(role),
    )
    assert response.status_code == 200, response.text
    return response


def test_the_export_is_masked_without_pii_read_and_in_full_with_it(ann: Api) -> None:
    result = ann.graphql(
        'mutation { defineSegment(name: "everyone", definition: {where: {identifier: "email"}}) '
        "{ __typename } }",
        role="admin",
    )
    assert result["data"]["defineSegment"]["__typename"] == "SegmentDefined"
    pid = read(ann, "reader")["id"]

    [masked] = [json.loads(line) for line in export(ann, "activator").text.splitlines()]
    assert masked == {
        "profile_id": pid,
        "customer_id": "C-100",
        "email": "a***@e***.com",
        "phone": "+44********56",
        "first_name": "A***",
        "birth_date": "****-**-**",
        "city": "York",
        "consent.email": False,
    }
    rows = list(csv.reader(io.StringIO(export(ann, "activator", "csv").text)))
    assert rows[1] == [
        pid,
        "C-100",
        "a***@e***.com",
        "+44********56",
        "A***",
        "****-**-**",
        "York",
        "false",
    ]

    for role in ("exporter", "admin"):
        [full] = [json.loads(line) for line in export(ann, role).text.splitlines()]
        assert (full["email"], full["phone"], full["first_name"], full["birth_date"]) == (
            "ann.lee@example.com",
            "+447400123456",
            "Ann",
            "1984-03-02",
        )


def test_a_stewards_corrections_answer_with_masked_profiles_without_pii_read(ann: Api) -> None:
    ann.ingest("people", [{"id": "p2", "customer_no": "c-200", "email": "bob@example.org"}])
    ids = [read(ann, "reader")["id"]]
    result = ann.graphql(
        'query { profileByIdentifier(kind: "customer_id", value: "C-200") { id } }'
    )
    ids.append(result["data"]["profileByIdentifier"]["id"])
    merge = """mutation ($ids: [ID!]!) { mergeProfiles(ids: $ids, reason: "same person") {
      ... on StewardActionDone { profiles { identifiers { kind value } } } } }"""
    result = ann.graphql(merge, role="steward", ids=ids)
    assert "errors" not in result, result
    [merged] = result["data"]["mergeProfiles"]["profiles"]
    emails = sorted(i["value"] for i in merged["identifiers"] if i["kind"] == "email")
    assert emails == ["a***@e***.com", "b***@e***.org"]
