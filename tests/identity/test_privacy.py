"""Personal data by what it is: field names read by their words against the rules'
synonyms, e-mail addresses and phone numbers found in any text."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from identity.privacy.personal_data import PrivacyRules, name_words
from identity.resolution import _CROCKFORD
from identity.rules import Rules, load_rules

KINDS: dict[str, Any] = {
    "email": {"normaliser": "email"},
    "phone": {"normaliser": "phone"},
    "customer_id": {"normaliser": "id"},
}


@pytest.fixture(scope="module")
def privacy() -> PrivacyRules:
    return load_rules().privacy


def found(privacy: PrivacyRules, text: str) -> list[tuple[str, str]]:
    return [(kind, text[start:end]) for start, end, kind in privacy.personal_values(text)]


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("customer_email", ("customer", "email")),
        ("customerEMail2", ("customer", "e", "mail", "2")),
        ("billingAddress_line1", ("billing", "address", "line", "1")),
        ("Shipping Address-Line.2", ("shipping", "address", "line", "2")),
        ("IPAddress", ("ip", "address")),
        ("ZIPCode", ("zip", "code")),
        ("DeviceID", ("device", "id")),
        ("hotel", ("hotel",)),
        ("  ", ()),
    ],
)
def test_a_field_name_is_read_as_lower_case_words(name: str, words: tuple[str, ...]) -> None:
    assert name_words(name) == words


@pytest.mark.parametrize(
    ("name", "masked_as"),
    [
        # Personal attributes and kinds, however they are spelled.
        ("Email", "email"),
        ("EMAIL", "email"),
        ("FirstName", "first_name"),
        ("first-name", "first_name"),
        ("First Name", "first_name"),
        ("fullName", "full_name"),
        ("lastName", "last_name"),
        ("Birth-Date", "birth_date"),
        ("DeviceID", "device_id"),
        ("loyaltyId", "loyalty_id"),
        # A synonym as a word of the name.
        ("customer_email", "email"),
        ("e-mail", "email"),
        ("E-Mail", "email"),
        ("eMail", "email"),
        ("e_mail", "email"),
        ("mail", "email"),
        ("EmailAddress", "email"),
        ("email_address", "email"),
        ("contact.email", "email"),
        ("Phone", "phone"),
        ("mobile", "phone"),
        ("MobileNumber", "phone"),
        ("contactPhone", "phone"),
        ("tel", "phone"),
        ("Tel.", "phone"),
        ("telephone", "phone"),
        ("phone2", "phone"),
        ("home-phone", "phone"),
        ("cell", "phone"),
        ("firstname", "name"),
        ("given.name", "name"),
        ("familyName", "name"),
        ("surname", "name"),
        ("customer_name", "name"),
        ("display_name", "name"),
        ("username", "name"),
        ("user_name", "name"),
        ("nickname", "name"),
        ("company_contact_name", "name"),
        ("billing_address", "address"),
        ("Shipping Address Line 1", "address"),
        ("shippingAddressLine2", "address"),
        ("addr1", "address"),
        ("StreetName", "address"),
        ("ip_address", "address"),
        ("PostCode", "postcode"),
        ("post_code", "postcode"),
        ("Postal Code", "postcode"),
        ("ZIPCode", "postcode"),
        ("zipcode", "postcode"),
        ("DOB", "birth_date"),
        ("dateOfBirth", "birth_date"),
        ("birthday", "birth_date"),
        ("birth_year", "birth_date"),
        # A word anywhere counts: flags are masked (and a yes or no shows anyway).
        ("email_opt_in", "email"),
        ("is_mobile", "phone"),
        ("email_campaign_name", "email"),
    ],
)
def test_a_field_named_with_a_personal_word_is_personal(
    privacy: PrivacyRules, name: str, masked_as: str
) -> None:
    assert privacy.personal_field(name) == masked_as
    assert privacy.is_personal(name)


@pytest.mark.parametrize(
    "name",
    [
        # A thing's name, phone or address is not a person's.
        "product_name",
        "ProductName",
        "campaign_name",
        "utm_campaign",
        "brand-name",
        "store_phone",
        "hotel_address",
        "screen_name",
        "file_name",
        # Whole words only: tel is not in hotel, name not in filename, mail not in mailing.
        "filename",
        "hotel",
        "hotelier",
        "mailing_list",
        "voicemail",
        "telemetry",
        "addressee_count",
        # Nothing personal.
        "order_id",
        "order_value",
        "city",
        "tier",
        "quantity",
        "url",
        "customer_id",
    ],
)
def test_a_field_named_for_a_thing_or_nothing_personal_is_not(
    privacy: PrivacyRules, name: str
) -> None:
    assert privacy.personal_field(name) is None


def test_synonym_lists_are_tried_in_the_order_written() -> None:
    def rules(synonyms: dict[str, list[str]]) -> PrivacyRules:
        return Rules.from_document({"kinds": KINDS, "privacy": {"synonyms": synonyms}}).privacy

    street_first = rules({"address": ["street"], "name": ["name"]})
    name_first = rules({"name": ["name"], "address": ["street"]})
    assert street_first.personal_field("street_name") == "address"
    assert name_first.personal_field("street_name") == "name"


def test_synonyms_and_things_are_configuration() -> None:
    privacy = Rules.from_document(
        {
            "kinds": KINDS,
            "privacy": {
                "pii_attributes": ["email", "phone", "name", "passport_number"],
                "synonyms": {"passport_number": ["passport"], "phone": ["handy"]},
                "things": ["Pet"],
            },
        }
    ).privacy
    assert privacy.personal_field("PassportNo") == "passport_number"
    assert privacy.personal_field("HandyNummer") == "phone"
    # Only the lists written apply: without a name list, only "name" itself is personal.
    assert privacy.personal_field("customer_name") is None
    assert privacy.personal_field("name") == "name"
    assert privacy.personal_field("pet_handy") is None


def test_without_synonyms_the_defaults_apply_to_the_attributes_that_are_personal() -> None:
    privacy = Rules.from_document(
        {"kinds": KINDS, "privacy": {"pii_attributes": ["email", "postcode"]}}
    ).privacy
    assert list(privacy.synonyms) == ["email", "phone", "postcode"]  # phone: a kind
    assert privacy.personal_field("zipCode") == "postcode"
    assert privacy.personal_field("billing_address") is None


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("call +44 7400 123456 after 5", [("phone", "+44 7400 123456")]),
        (
            "ring 07400 123456 or 0113 496 0000",
            [("phone", "07400 123456"), ("phone", "0113 496 0000")],
        ),
        ("US office: +1 202 555 0143.", [("phone", "+1 202 555 0143")]),
        ("+447400123456", [("phone", "+447400123456")]),
        ("Ann.Lee@Example.co.uk", [("email", "Ann.Lee@Example.co.uk")]),
        (
            "write to <ann.lee+shop@example.com>, cc bob_o'neil@mail.example.org.",
            [("email", "ann.lee+shop@example.com"), ("email", "bob_o'neil@mail.example.org")],
        ),
        (
            "ann.07400123456@example.com then 07400 123456",
            [("email", "ann.07400123456@example.com"), ("phone", "07400 123456")],
        ),
    ],
)
def test_e_mails_and_phone_numbers_are_found_in_any_text(
    privacy: PrivacyRules, text: str, values: list[tuple[str, str]]
) -> None:
    assert found(privacy, text) == values


@pytest.mark.parametrize(
    "text",
    [
        "ORD-2026-000123",
        "order ORD-2026-000123 shipped",
        "2026-01-15",
        "2024-05-01T10:00:00+00:00",
        "15/01/2026 10:30",
        "£1,234,567.89",
        "1234567.89",
        "price 1234.56 GBP",
        "$1,299.00",
        "order 123456789",
        "1714557600",
        "SKU 1234567",
        "v1.2.3456789",
        "192.168.100.200",
        "3f2a9c21-1234-4567-8901-234567890123",
        "@ann_lee",
        "ann at example dot com",
        "ann@localhost",
        "7400 123456",
    ],
)
def test_dates_order_numbers_prices_and_ids_are_not_personal_values(
    privacy: PrivacyRules, text: str
) -> None:
    assert found(privacy, text) == []


PRIVACY = load_rules().privacy


@given(st.text(alphabet=_CROCKFORD, min_size=26, max_size=26).filter(lambda t: not t.isdigit()))
def test_profile_ids_are_never_taken_for_phone_numbers(profile_id: str) -> None:
    assert found(PRIVACY, profile_id) == []


YEARS = {"min_value": datetime(1900, 1, 1), "max_value": datetime(2100, 1, 1)}


@given(
    st.datetimes(**YEARS, timezones=st.just(UTC)),
    st.dates(YEARS["min_value"].date(), YEARS["max_value"].date()),
)
def test_dates_and_timestamps_are_never_phone_numbers(at: datetime, day: date) -> None:
    for text in (
        at.isoformat(),
        f"shipped {at.isoformat(sep=' ', timespec='seconds')} by courier",
        f"due {day.isoformat()}",
        f"due {day:%d/%m/%Y}",
    ):
        assert found(PRIVACY, text) == []


@given(st.decimals(min_value=0, max_value=10**7, places=2))
def test_prices_are_never_phone_numbers(price: Decimal) -> None:
    for text in (f"£{price:,}", f"total {price} GBP", f"${price:,.2f}"):
        assert found(PRIVACY, text) == []


def test_national_numbers_are_found_for_the_configured_regions_only() -> None:
    def regions(names: list[str]) -> PrivacyRules:
        return Rules.from_document({"kinds": KINDS, "privacy": {"phone_regions": names}}).privacy

    text = "UK 07400 123456, US (202) 555-0143, intl +49 30 901820"
    assert found(regions([]), text) == [("phone", "+49 30 901820")]
    assert [v for _, v in found(regions(["gb", "US"]), text)] == [
        "07400 123456",
        "(202) 555-0143",
        "+49 30 901820",
    ]
