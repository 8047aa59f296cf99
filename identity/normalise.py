"""Normalisation of identifiers and names with libraries made for it.

E-mails are validated by ``email-validator`` and canonicalised per provider (gmail dots and
+tags), phones parsed by ``phonenumbers`` into E.164, ids trimmed and case-folded; names are
Unicode-normalised and transliterated with ``anyascii`` for comparison. The value as received
is always kept alongside (``Identifier.original``) for display.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import phonenumbers
from anyascii import anyascii
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES

from identity.errors import InvalidIdentifier
from identity.model import Identifier
from identity.rules import KindRule, Rules

_SPACE = re.compile(r"\s+")
# Punctuation people put in phone numbers; a number written only with these and digits is
# cached under its digits, so "07400 123456" and "(07400) 123-456" are parsed once.
_PHONE_PUNCTUATION = re.compile(r"[\s().\-/]+")
_PHONE_PLAIN = re.compile(r"^\+?[0-9]+$")
_CACHE_SIZE = 200_000


def normalise_text(value: str) -> str:
    """Compatibility-normalised, case-folded, whitespace-collapsed text (for comparisons)."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", value)).strip().casefold()


def normalise_name(value: str) -> str:
    """A person's name for comparison: ``Zoë``, ``ZOE`` and ``Зоя`` become ``zoe``/``zoya``."""
    return normalise_text(anyascii(normalise_text(value)))


class Normaliser:
    """Turns raw identifier values into identifier keys as the rules say.

    Results are cached: a feed repeats the same e-mails and phones many times, and
    validation is the costliest step of mapping a row.
    """

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self._cached = lru_cache(maxsize=_CACHE_SIZE)(self._normalise)

    def identifier(self, kind: str, raw: str, phone_region: str | None = None) -> Identifier:
        """Normalise ``raw`` as ``kind``. Raises InvalidIdentifier (with the problem) for a
        value that is not a valid identifier of that kind and ConfigError for an unknown kind."""
        text = raw
        rule = self.rules.kinds.get(kind)
        if rule is not None and rule.normaliser == "phone":
            compact = _PHONE_PUNCTUATION.sub("", raw)
            if _PHONE_PLAIN.match(compact):
                text = compact
        value = self._cached(kind, text, phone_region)
        return Identifier(kind=kind, value=value, original=raw)

    def _normalise(self, kind: str, raw: str, phone_region: str | None) -> str:
        rule = self.rules.kind(kind)
        text = unicodedata.normalize("NFKC", raw).strip()
        if not text:
            raise InvalidIdentifier(rule.kind, "empty value")
        if rule.normaliser == "email":
            return _email(rule, text)
        if rule.normaliser == "phone":
            return _phone(rule, text, phone_region)
        return _id(rule, text)


_ATEXT = r"a-zA-Z0-9_!#$%&'*+\-/=?^`{|}~"
_PLAIN_LOCAL = re.compile(rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*")
"""A local part of ASCII letters, digits and symbols between single dots (RFC 5322's
dot-atom): one that email-validator accepts as it is written."""
_ROLE_MAILBOXES = frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)
"""Mailbox names email-validator lower-cases (postmaster, abuse ...; RFC 2142)."""
_DOMAINS: dict[str, str] = {}
"""ASCII domains email-validator accepted, as written, to its normalised form."""
_DOMAINS_KEPT = 100_000


def validated_email(text: str) -> tuple[str, str]:
    """The local part and domain email-validator makes of ``text``, or
    EmailNotValidError. Most of its work is the domain's (internationalised name rules,
    character by character), and a feed repeats few domains: an address of a plain
    local part at an ASCII domain accepted before is not validated again, which gives
    what validation gives (a test holds the two to each other)."""
    local, at, domain = text.rpartition("@")
    plain = bool(at) and len(local) <= 64 and _PLAIN_LOCAL.fullmatch(local) is not None
    if plain and len(text) <= 254 and local.lower() not in _ROLE_MAILBOXES:
        known = _DOMAINS.get(domain)
        if known is not None:
            return local, known
    checked = validate_email(text, check_deliverability=False)
    if plain and domain.isascii() and len(_DOMAINS) < _DOMAINS_KEPT:
        _DOMAINS[domain] = checked.domain
    return checked.local_part, checked.domain


def _email(rule: KindRule, text: str) -> str:
    try:
        local, domain = validated_email(text)
    except EmailNotValidError as error:
        raise InvalidIdentifier(rule.kind, str(error)) from None
    domain = domain.lower()
    provider = rule.providers.get(domain)
    if provider is not None:
        if provider.remove_plus_tag:
            local = local.split("+", 1)[0]
        if provider.remove_dots:
            local = local.replace(".", "")
        domain = provider.domain
        if not local:
            raise InvalidIdentifier(rule.kind, "nothing left of the address before the @-sign")
    return f"{local.casefold()}@{domain}" if rule.case != "keep" else f"{local}@{domain}"


def _phone(rule: KindRule, text: str, region: str | None) -> str:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        if error.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            if region is None:
                raise InvalidIdentifier(
                    rule.kind, "no country code: write it as +CC...", needs_region=True
                ) from None
            problem = "unknown country code"
        else:
            problem = f"not a phone number ({error._msg})"
        raise InvalidIdentifier(rule.kind, problem) from None
    if not phonenumbers.is_valid_number(number):
        where = phonenumbers.region_code_for_number(number) or region or "any region"
        raise InvalidIdentifier(rule.kind, f"not a valid number for {where}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _id(rule: KindRule, text: str) -> str:
    value = _SPACE.sub("", text)
    if rule.case == "upper":
        return value.upper()
    if rule.case == "lower":
        return value.casefold()
    return value
