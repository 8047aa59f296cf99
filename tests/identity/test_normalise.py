"""Identifier normalisation: libraries made for it, provider canonicalisation, clear errors."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from identity.errors import InvalidIdentifier, UnknownIdentifierKind
from identity.normalise import Normaliser, normalise_name, normalise_text, validated_email
from identity.rules import load_rules


@pytest.fixture(scope="module")
def normaliser() -> Normaliser:
    return Normaliser(load_rules())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ann.Lee@Example.com", "ann.lee@example.com"),
        ("  ann.lee@example.com ", "ann.lee@example.com"),
        ("John.Smith+shop@GoogleMail.com", "johnsmith@gmail.com"),
        ("j.o.h.n.smith@gmail.com", "johnsmith@gmail.com"),
        # Plus addressing at Microsoft's consumer mail, each domain its own namespace.
        ("ann+news@hotmail.com", "ann@hotmail.com"),
        ("Ann+News@Outlook.com", "ann@outlook.com"),
        ("ann.lee+x@live.com", "ann.lee@live.com"),
        # Apple: one name is one account at icloud.com, me.com and mac.com.
        ("ann.lee@me.com", "ann.lee@icloud.com"),
        ("ann.lee@mac.com", "ann.lee@icloud.com"),
        # Dots matter at providers that do not ignore them.
        ("ann.lee+x@example.com", "ann.lee+x@example.com"),
    ],
)
def test_emails_are_validated_lower_cased_and_canonicalised_per_provider(
    normaliser: Normaliser, raw: str, expected: str
) -> None:
    ident = normaliser.identifier("email", raw)
    assert ident.value == expected
    assert ident.original == raw


def test_only_equivalences_a_provider_documents_join_two_addresses(normaliser: Normaliser) -> None:
    def value(raw: str) -> str:
        return normaliser.identifier("email", raw).value

    # Different mailboxes: hotmail.com, live.com and outlook.com are separate namespaces.
    assert (
        len({value("jsmith@hotmail.com"), value("jsmith@outlook.com"), value("jsmith@live.com")})
        == 3
    )
    # Dots are part of a Microsoft address, unlike a Gmail one.
    assert value("j.smith@outlook.com") != value("jsmith@outlook.com")
    assert value("j.smith@gmail.com") == value("jsmith@gmail.com")
    # googlemail.com is gmail.com.
    assert value("J.Smith+news@GoogleMail.com") == value("jsmith@gmail.com")


@pytest.mark.parametrize(
    "raw", ["not-an-email", "ann@", "@example.com", "ann@localhost", "a b@c.com"]
)
def test_invalid_emails_are_refused_with_the_problem(normaliser: Normaliser, raw: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normaliser.identifier("email", raw)
    assert caught.value.kind == "email"
    assert caught.value.problem


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("07400 123456", "GB", "+447400123456"),
        ("+44 (0) 7400 123456", None, "+447400123456"),
        ("+44 7400 123456", "DE", "+447400123456"),
        ("0141 496 0000", "GB", "+441414960000"),
        ("030 901820", "DE", "+4930901820"),
    ],
)
def test_phones_become_e164_using_the_source_region(
    normaliser: Normaliser, raw: str, region: str | None, expected: str
) -> None:
    assert normaliser.identifier("phone", raw, phone_region=region).value == expected


def test_a_national_phone_without_a_region_is_refused_with_the_fix(normaliser: Normaliser) -> None:
    # The fix depends on the caller (a mapping's phone_region, or +CC in a lookup).
    with pytest.raises(InvalidIdentifier, match=r"no country code: write it as \+CC") as refused:
        normaliser.identifier("phone", "07400 123456")
    assert refused.value.needs_region


@pytest.mark.parametrize("raw", ["07400 1234", "12", "hello", "0000000000"])
def test_impossible_phone_numbers_are_refused(normaliser: Normaliser, raw: str) -> None:
    with pytest.raises(InvalidIdentifier):
        normaliser.identifier("phone", raw, phone_region="GB")


def test_ids_are_trimmed_and_cased_as_the_kind_says(normaliser: Normaliser) -> None:
    assert normaliser.identifier("customer_id", " c 0001234 ").value == "C0001234"
    assert normaliser.identifier("account_id", "Ann_Lee").value == "ann_lee"
    assert normaliser.identifier("cookie_id", "AbC-123").value == "AbC-123"


def test_an_empty_value_is_not_an_identifier(normaliser: Normaliser) -> None:
    with pytest.raises(InvalidIdentifier, match="empty"):
        normaliser.identifier("customer_id", "   ")


def test_an_undeclared_kind_is_an_unknown_kind_naming_those_declared(
    normaliser: Normaliser,
) -> None:
    # A lookup's argument, not a configuration error: mappings check their kinds at load.
    with pytest.raises(
        UnknownIdentifierKind, match="unknown identifier kind 'passport'; the rules"
    ):
        normaliser.identifier("passport", "X1")


def test_names_compare_after_unicode_normalisation_and_transliteration() -> None:
    assert normalise_name("Zoë") == normalise_name("ZOE") == "zoe"
    assert normalise_name("Зоя") == "zoya"
    assert normalise_name("  Łukasz   Wiśniewski ") == "lukasz wisniewski"
    assert normalise_name("ﬁona") == "fiona"  # compatibility ligature


def test_text_comparison_folds_case_and_space_but_keeps_letters() -> None:
    assert normalise_text("  Main   STREET ") == "main street"
    assert normalise_text("Zoë") != normalise_text("Zoe")


# -- e-mail domains validated once ---------------------------------------------------------

_ATEXT_CHARS = "abcXYZ019_!#$%&'*+-/=?^`{|}~."
_DOMAINS_SEEN = [
    "example.com",
    "Gmail.COM",
    "sub.domain.co.uk",
    "x.test",
    "x.local",
    "localhost",
    "invalid",
    "com",
    "-bad.com",
    "exa_mple.com",
    "münchen.de",
    "xn--mnchen-3ya.de",
    "[127.0.0.1]",
    "1.2.3.4",
    "a" * 63 + ".com",
    "b" * 64 + ".com",
    "x.com.",
]


@settings(max_examples=400, deadline=None)
@given(
    local=st.one_of(
        st.text(alphabet=_ATEXT_CHARS, max_size=70),
        st.text(alphabet=_ATEXT_CHARS + ' "<>@éÄ\\', max_size=12),
        st.sampled_from(["Postmaster", "ABUSE", "info", "Info.Desk", "a" * 64, "a" * 65]),
    ),
    domain=st.sampled_from(_DOMAINS_SEEN),
    labels=st.integers(0, 4),
)
def test_an_address_at_a_domain_seen_before_normalises_as_email_validator_says(
    local: str, domain: str, labels: int
) -> None:
    def outcome(check: Callable[[str], tuple[str, str]], text: str) -> object:
        try:
            return check(text)
        except EmailNotValidError as error:
            return str(error)

    def oracle(text: str) -> tuple[str, str]:
        checked = validate_email(text, check_deliverability=False)
        return checked.local_part, checked.domain

    # Long addresses too (labels of 50 letters: one may have 63): the length limits
    # hold on the fast path.
    if not domain.startswith("["):
        domain = "".join(f"{'d' * 50}." for _ in range(labels)) + domain
    outcome(validated_email, f"warm.up@{domain}")  # the domain is now known, if valid
    text = f"{local}@{domain}"
    assert outcome(validated_email, text) == outcome(oracle, text)
