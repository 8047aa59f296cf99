"""Personal values over HTTP: masked for a token without pii:read (profiles, records,
journeys, segment exports), in full with pii:read or admin; masks are deterministic.
What is personal is found by a field's words, however it is spelled, and by the values
themselves: e-mail addresses and phone numbers wherever they sit."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from identity.graph import IdentityGraph
from identity.mapping import SourceMapping
from identity.rules import load_rules
from service.masking import (
    Masker,
    mask_email,
    mask_initials,
    mask_phone,
    mask_tail,
    mask_year,
)
from tests.service.conftest import Api

pytestmark = pytest.mark.both_stores

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


# -- Personal data by what it is, not by how a field is spelled ------------------------------

PROPERTIES = """query ($kind: String!, $value: String!) {
  profileByIdentifier(kind: $kind, value: $value) { journey { nodes { properties } } }
}"""


def properties_shown(api: Api, role: str, properties: dict[str, Any]) -> dict[str, Any]:
    """Post one purchase of Ann's carrying ``properties``; what ``role`` reads back."""
    api.post_events(
        {
            "event_id": "e-props",
            "type": "purchase",
            "timestamp": "2024-05-01T10:00:00+00:00",
            "identifiers": {"customer_id": "c-100"},
            "properties": properties,
        }
    )
    [event] = read(api, role, PROPERTIES)["journey"]["nodes"]
    shown: dict[str, Any] = event["properties"]
    return shown


SPELLINGS = [
    # e-mail
    ("Email", "Ann.Lee@Example.com", "A***@E***.com"),
    ("EMAIL", "ann.lee@example.com", "a***@e***.com"),
    ("customer_email", "ann.lee@example.com", "a***@e***.com"),
    ("e-mail", "ann.lee@example.com", "a***@e***.com"),
    ("eMail", "ann.lee@example.com", "a***@e***.com"),
    ("EmailAddress", "ann.lee@example.com", "a***@e***.com"),
    ("contact.email", "ann.lee@example.com", "a***@e***.com"),
    ("mail", "ann.lee@example.com", "a***@e***.com"),
    # A mangled address is found by its field's name alone.
    ("customer_email", "ann.lee at example.com", "***"),
    # phone
    ("Phone", "+44 7400 123456", "+44********56"),
    ("mobile", "07400 123456", "*********56"),
    ("Mobile Number", "07400 123456", "*********56"),
    ("contactPhone", "+447400123456", "+44********56"),
    ("tel", "07400 123456", "*********56"),
    ("Telephone", "07400 123456", "*********56"),
    ("home-phone", "0113 496 0000", "*********00"),
    ("phone2", "07400 123456 ext 12", "***********12"),
    # names
    ("FirstName", "Ann", "A***"),
    ("first-name", "Ann", "A***"),
    ("firstname", "Ann", "A***"),
    ("fullName", "Ann Lee", "A*** L***"),
    ("Full Name", "Ann Lee", "A*** L***"),
    ("LastName", "Lee", "L***"),
    ("surname", "Lee", "L***"),
    ("given_name", "Ann", "A***"),
    ("familyName", "Lee", "L***"),
    ("customer_name", "Ann Lee", "A*** L***"),
    ("display_name", "Ann L", "A*** L***"),
    ("username", "annlee84", "a***"),
    # addresses and postcodes
    ("billing_address", "1 High Street, Leeds", "***"),
    ("Shipping Address Line 1", "1 High Street", "***"),
    ("shippingAddressLine2", "Flat 2", "***"),
    ("Street", "High Street", "***"),
    ("addr1", "1 High Street", "***"),
    ("ip_address", "192.0.2.44", "***"),
    ("PostCode", "LS1 4AB", "***"),
    ("post_code", "LS1 4AB", "***"),
    ("Postal Code", "LS1 4AB", "***"),
    ("ZIP", "90210", "***"),
    ("zipCode", "90210", "***"),
    # birth date
    ("DOB", "1984-03-02", "****-**-**"),
    ("dateOfBirth", "1984-03-02", "****-**-**"),
    ("Birth-Date", "1984-03-02", "****-**-**"),
    # identifier kinds
    ("DeviceID", "tablet-7f3a9c21", "***9c21"),
    ("loyaltyId", "LC-99887766", "***7766"),
]


@pytest.mark.parametrize(("name", "value", "shown"), SPELLINGS)
def test_a_personal_property_is_masked_however_its_name_is_spelled(
    ann: Api, name: str, value: str, shown: str
) -> None:
    properties = {name: value, "order_value": 42}
    assert properties_shown(ann, "reader", properties) == {name: shown, "order_value": 42}
    assert properties_shown(ann, "pii", properties) == properties


def test_e_mails_and_phones_are_masked_in_free_text_at_any_depth_and_the_rest_kept(
    ann: Api,
) -> None:
    properties = {
        "note": "call +44 7400 123456 after 5",
        "comments": ["mail ann.lee@example.com or ring 07400 123456, thanks", "all fine"],
        "support": {"ticket": "T-1", "transcript": "Customer (ann.lee@example.com) called."},
        "contact": "07400 123456",
        "alt_contact": 447400123456,
    }
    assert properties_shown(ann, "reader", properties) == {
        "note": "call +44********56 after 5",
        "comments": ["mail a***@e***.com or ring *********56, thanks", "all fine"],
        "support": {"ticket": "T-1", "transcript": "Customer (a***@e***.com) called."},
        "contact": "*********56",
        "alt_contact": "**********56",
    }
    assert properties_shown(ann, "pii", properties) == properties


def test_things_names_order_ids_dates_prices_counts_and_flags_are_shown(ann: Api) -> None:
    properties = {
        "product_name": "Blue Widget",
        "ProductName": "Blue Widget",
        "campaign_name": "Spring Sale",
        "utm_campaign": "spring-2026",
        "store_phone_extension": "12",
        "screen_name": "Checkout",
        "filename": "invoice-2026.pdf",
        "hotel": "Grand Hotel",
        "order_id": "ORD-2026-000123",
        "order_number": 1234567890,
        "ordered_on": "2026-01-15",
        "shipped_at": "2026-01-16T09:30:00+00:00",
        "delivery_window": "between 2026-01-17 09:00 and 2026-01-17 12:00",
        "price": "£1,234.56",
        "total": "1234.56",
        "order_value": 1234.56,
        "quantity": 3,
        "sku": "SKU-0012345",
        "email_opt_in": True,
        "is_mobile": False,
        "url": "/account",
        "city": "York",
    }
    assert properties_shown(ann, "reader", properties) == properties


CRM_NOTES: dict[str, Any] = {
    "source": "crm_notes",
    "key": "id",
    "phone_region": "GB",
    "identifiers": {"customer_no": "customer_id"},
}
"""Unmapped fields are kept as attributes under the names the source gives them."""


def test_record_attributes_and_export_columns_are_masked_by_their_words_and_values(
    ann: Api, graph: IdentityGraph
) -> None:
    graph.ingest.register_source(SourceMapping.from_document(CRM_NOTES, rules=graph.rules))
    row = {
        "id": "n1",
        "customer_no": "c-100",
        "Email Address": "ann.lee@example.com",
        "contactPhone": "07400 123456",
        "FullName": "Ann Lee",
        "Billing Address": "1 High Street",
        "notes": "prefers calls on +44 7400 123456",
        "product_name": "Blue Widget",
    }
    ann.ingest("crm_notes", [row])
    masked = {
        "Email Address": "a***@e***.com",
        "contactPhone": "*********56",
        "FullName": "A*** L***",
        "Billing Address": "***",
        "notes": "prefers calls on +44********56",
        "product_name": "Blue Widget",
    }
    profile = read(ann, "reader")
    golden = {a["name"]: a["value"] for a in profile["attributes"]}
    assert {name: golden[name] for name in masked} == masked
    [notes] = [r for r in profile["records"] if r["key"] == "n1"]
    assert notes["attributes"] == masked

    result = ann.graphql(
        'mutation { defineSegment(name: "everyone", definition: {where: {identifier: '
        '"customer_id"}}) { __typename } }',
        role="admin",
    )
    assert result["data"]["defineSegment"]["__typename"] == "SegmentDefined"
    columns = ",".join(["customer_id", *masked])
    for role, expected in (("activator", masked), ("exporter", row)):
        response = ann.client.get(
            "/v1/segments/everyone/members",
            params={"fields": columns, "format": "ndjson"},
            headers=ann.auth(role),
        )
        assert response.status_code == 200, response.text
        [exported] = [json.loads(line) for line in response.text.splitlines()]
        assert exported == {"customer_id": "C-100"} | {name: expected[name] for name in masked}


# -- The masker on its own -------------------------------------------------------------------


@pytest.fixture(scope="module")
def masker() -> Masker:
    return Masker(load_rules(), reveals=False)


def test_the_masker_masks_a_personal_field_whole_at_any_depth(masker: Masker) -> None:
    assert masker.attributes(
        {
            "customer": {"FirstName": "Ann", "contactPhone": ["07400 123456", None]},
            "orders": [{"ShippingAddress": {"line1": "1 High Street"}, "product_name": "Kettle"}],
        }
    ) == {
        "customer": {"FirstName": "A***", "contactPhone": ["*********56", None]},
        "orders": [{"ShippingAddress": "***", "product_name": "Kettle"}],
    }
    assert masker.field("customerEmail", "ann@example.com") == "a***@e***.com"
    assert masker.attribute("Post Code", "LS1 4AB") == "***"


def test_the_masker_finds_e_mails_and_phones_under_any_name(masker: Masker) -> None:
    assert masker.field("note", "call +44 7400 123456 after 5") == "call +44********56 after 5"
    assert masker.attribute("tags", ["vip", "ann@example.com"]) == ["vip", "a***@e***.com"]
    assert masker.field("note", "ring 07400 123456 or 07400 123457") == (
        "ring *********56 or *********57"
    )


def test_the_masker_shows_ids_yes_or_no_and_what_is_not_personal(masker: Masker) -> None:
    assert masker.field("customer_id", "07400123456") == "07400123456"  # our sources' key
    assert masker.field("email_verified", True) is True
    assert masker.field("consent.email", False) is False
    assert masker.field("traits.last_seen", "2024-05-01T10:00:00+00:00") == (
        "2024-05-01T10:00:00+00:00"
    )
    assert masker.field("order_id", "ORD-2026-000123") == "ORD-2026-000123"
    assert masker.field("quantity", 12) == 12


def test_the_masker_is_deterministic(masker: Masker) -> None:
    properties = {"note": "mail ann@example.com", "Phone": "07400 123456"}
    assert masker.attributes(properties) == masker.attributes(dict(properties))


def test_with_pii_read_the_masker_changes_nothing() -> None:
    masker = Masker(load_rules(), reveals=True)
    properties = {"customer_email": "ann@example.com", "note": "call +44 7400 123456"}
    assert masker.attributes(properties) == properties
    assert masker.field("FirstName", "Ann") == "Ann"
