"""The rules file: validated at load with errors naming the file, the field and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from identity.errors import ConfigError
from identity.model import IdentifierFlagReason, IdentifierKey
from identity.privacy.personal_data import DEFAULT_SYNONYMS, DEFAULT_THINGS
from identity.rules import Rules, load_rules

BASE: dict[str, Any] = {
    "cardinality_cap": 10,
    "kinds": {
        "email": {"normaliser": "email", "priority": 80, "max_per_profile": 3},
        "phone": {"normaliser": "phone", "priority": 60, "cardinality_cap": 4},
        "customer_id": {"normaliser": "id", "case": "upper", "priority": 100},
    },
    "blocklist": {"email": ["Test@Test.com"], "phone": ["+441234567890"], "any": ["N/A"]},
}


def test_the_packaged_rules_load() -> None:
    rules = load_rules()
    assert rules.kind("customer_id").max_per_profile == 1
    assert rules.kind("email").providers["googlemail.com"].domain == "gmail.com"
    assert rules.survivorship.rules_for("city")[0] == "most_recent"
    assert rules.survivorship.rules_for("first_name")[0] == "source_priority"


def test_the_packaged_rules_say_which_values_are_personal() -> None:
    privacy = load_rules().privacy
    assert {"email", "phone", "device_id", "cookie_id"} <= privacy.pii_kinds
    assert "customer_id" not in privacy.pii_kinds
    assert privacy.is_personal("first_name") and privacy.is_personal("postcode")
    assert not privacy.is_personal("city")
    assert privacy.mask_of("last_name") == "initial"
    assert privacy.mask_of("birth_date") == "date"
    assert privacy.mask_of("address_line") == "hidden"
    # Field names are read by their words; e-mails and phones are found in any text.
    assert privacy.synonyms == {g: tuple(words) for g, words in DEFAULT_SYNONYMS.items()}
    assert privacy.things == set(DEFAULT_THINGS)
    assert privacy.personal_field("customer_email") == "email"
    assert "product" in privacy.things
    assert privacy.phone_regions == ("GB",)


def test_without_a_privacy_section_the_default_personal_kinds_that_are_declared_apply() -> None:
    privacy = Rules.from_document(BASE).privacy
    assert privacy.pii_kinds == {"email", "phone"}
    assert privacy.is_personal("birth_date")
    assert privacy.mask_of("first_name") == "initial"


def test_blocklisted_values_are_normalised_like_identifiers() -> None:
    rules = Rules.from_document(BASE)
    assert rules.is_blocklisted(IdentifierKey("email", "test@test.com"))
    assert rules.is_blocklisted(IdentifierKey("customer_id", "n/a"))
    assert not rules.is_blocklisted(IdentifierKey("email", "ann@test.com"))


def test_a_value_over_its_kinds_cap_stops_linking_and_the_kind_default_applies() -> None:
    rules = Rules.from_document(BASE)
    phone, email = IdentifierKey("phone", "+447400123456"), IdentifierKey("email", "a@b.co")
    assert rules.link_block_reason(phone, 4) is None
    assert rules.link_block_reason(phone, 5) is IdentifierFlagReason.OVER_CAP
    assert rules.link_block_reason(email, 10) is None
    assert rules.link_block_reason(email, 11) is IdentifierFlagReason.OVER_CAP
    assert (
        rules.link_block_reason(IdentifierKey("email", "test@test.com"), 1)
        is IdentifierFlagReason.BLOCKLISTED
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kinds": {}}, "kinds"),
        ({"kinds": {"email": {"normaliser": "mail"}}}, "kinds.email.normaliser"),
        (
            {"kinds": {"email": {"normaliser": "email", "max_per_profile": 0}}},
            "kinds.email.max_per_profile",
        ),
        ({"kinds": {"email": {"normaliser": "email", "prio": 1}}}, "kinds.email.prio"),
        ({"kinds": {"id": {"normaliser": "id", "case": "title"}}}, "kinds.id.case"),
        ({"blocklist": {"passport": ["x"]}}, "blocklist.passport"),
        ({"cardinality_cap": -1}, "cardinality_cap"),
        ({"survivorship": {"default": ["newest"]}}, "survivorship.default"),
        ({"colour": "blue"}, "colour"),
        ({"privacy": {"pii_kinds": ["email", "passport"]}}, "privacy.pii_kinds"),
        ({"privacy": {"pii_attributes": "first_name"}}, "privacy.pii_attributes"),
        ({"privacy": {"masks": {"city": "initial"}}}, "privacy.masks.city"),
        ({"privacy": {"masks": {"first_name": "blur"}}}, "privacy.masks.first_name"),
        ({"privacy": {"mask": {}}}, "privacy.mask"),
        ({"privacy": {"synonyms": {"city": ["town"]}}}, "privacy.synonyms.city"),
        ({"privacy": {"synonyms": {"email": "e-mail"}}}, "privacy.synonyms.email"),
        ({"privacy": {"synonyms": {"email": []}}}, "privacy.synonyms.email"),
        ({"privacy": {"synonyms": {"email": ["--"]}}}, "privacy.synonyms.email"),
        ({"privacy": {"synonyms": ["email"]}}, "privacy.synonyms"),
        ({"privacy": {"things": ["product name"]}}, "privacy.things"),
        ({"privacy": {"things": "product"}}, "privacy.things"),
        ({"privacy": {"phone_regions": ["UK"]}}, "privacy.phone_regions"),
        ({"limits": {"max_depth": 0}}, "limits.max_depth"),
        ({"limits": {"max_depth": 65}}, "limits.max_depth"),
        ({"limits": {"max_number": 2**63}}, "limits.max_number"),
        ({"limits": {"max_string_lenght": 10}}, "limits.max_string_lenght"),
        ({"limits": {"fields": {"notes": 100}}}, "limits.fields.notes"),
        (
            {"kinds": {"customer_id": {"normaliser": "id", "duplicates": "link"}}},
            "kinds.customer_id.duplicates",
        ),
        (
            {"kinds": {"c": {"normaliser": "id", "max_per_profile": 1, "duplicates": "merge"}}},
            "kinds.c.duplicates",
        ),
        (
            {"kinds": {"c": {"normaliser": "id", "max_per_profile": 1, "duplicates": ["crm"]}}},
            "kinds.c.duplicates",
        ),
        (
            {
                "kinds": {
                    "c": {"normaliser": "id", "max_per_profile": 1, "duplicates": {"CRM": "link"}}
                }
            },
            "kinds.c.duplicates.CRM",
        ),
        (
            {
                "kinds": {
                    "c": {"normaliser": "id", "max_per_profile": 1, "duplicates": {"crm": True}}
                }
            },
            "kinds.c.duplicates.crm",
        ),
        (
            {"limits": {"fields": {"notes": {"max_string_length": "long"}}}},
            "limits.fields.notes.max_string_length",
        ),
    ],
)
def test_bad_rules_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Rules.from_document({**BASE, **change}, path="my-rules.toml")
    assert caught.value.field == field
    assert "my-rules.toml" in str(caught.value)


def test_a_rules_file_that_is_not_toml_is_reported_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text("kinds = [unclosed")
    with pytest.raises(ConfigError, match="not valid TOML") as caught:
        load_rules(path)
    assert caught.value.path == str(path)


def test_limits_default_to_the_packaged_ones_and_a_field_inherits_what_it_does_not_set() -> None:
    assert Rules.from_document(BASE).limits == load_rules().limits
    limits = Rules.from_document(
        {
            **BASE,
            "limits": {
                "max_string_length": 100,
                "max_number": 1000,
                "fields": {"notes": {"max_string_length": 5000}},
            },
        }
    ).limits
    assert limits.for_field("notes").max_string_length == 5000
    assert limits.for_field("notes").max_number == 1000
    assert limits.for_field("city").max_string_length == 100


def test_duplicate_accounts_are_reviewed_unless_a_kind_says_link_for_every_or_one_source() -> None:
    kinds = {
        "customer_id": {"normaliser": "id", "max_per_profile": 1},
        "loyalty_id": {"normaliser": "id", "max_per_profile": 1, "duplicates": "link"},
        "account_id": {"normaliser": "id", "max_per_profile": 3, "duplicates": {"crm": "link"}},
    }
    rules = Rules.from_document({"kinds": kinds})
    assert rules.kind("customer_id").duplicates.policy("crm") == "review"
    assert rules.kind("loyalty_id").duplicates.policy("pos") == "link"
    assert rules.kind("account_id").duplicates.policy("crm") == "link"
    assert rules.kind("account_id").duplicates.policy("webshop") == "review"
    packaged = load_rules()
    assert all(rule.duplicates.policy("crm") == "review" for rule in packaged.kinds.values())


def test_the_fields_a_duplicate_must_not_disagree_on_default_to_names_and_birth_date() -> None:
    packaged = load_rules().matching
    assert packaged is not None
    assert packaged.duplicates_require_agreement == (
        "first_name",
        "last_name",
        "full_name",
        "birth_date",
    )
    matching = {"fields": {"last_name": "name", "dob": "date"}, "blocking": [["last_name"]]}
    found = Rules.from_document({**BASE, "matching": matching}).matching
    assert found is not None and found.duplicates_require_agreement == ("last_name",)
    chosen = {**matching, "duplicates_require_agreement": ["dob"]}
    found = Rules.from_document({**BASE, "matching": chosen}).matching
    assert found is not None and found.duplicates_require_agreement == ("dob",)
    wrong = {**matching, "duplicates_require_agreement": ["birth_date"]}
    with pytest.raises(ConfigError) as caught:
        Rules.from_document({**BASE, "matching": wrong}, path="my-rules.toml")
    assert caught.value.field == "matching.duplicates_require_agreement"


def test_the_fields_a_link_needs_beside_names_are_compared_fields_and_none_by_default() -> None:
    matching = {"fields": {"last_name": "name", "dob": "date"}, "blocking": [["last_name"]]}
    found = Rules.from_document({**BASE, "matching": matching}).matching
    assert found is not None and found.link_requires_one_of == ()
    chosen = {**matching, "link_requires_one_of": ["dob"]}
    found = Rules.from_document({**BASE, "matching": chosen}).matching
    assert found is not None and found.link_requires_one_of == ("dob",)
    wrong = {**matching, "link_requires_one_of": ["birth_date"]}
    with pytest.raises(ConfigError) as caught:
        Rules.from_document({**BASE, "matching": wrong}, path="my-rules.toml")
    assert caught.value.field == "matching.link_requires_one_of"
