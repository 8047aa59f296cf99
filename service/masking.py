"""Masking personal values for callers without the ``pii:read`` scope.

Presentation only: the domain returns real values and the rules' ``[privacy]`` section says
which are personal; what leaves the API is decided here, once per request. Which fields and
values are personal is the domain's to find (``identity/privacy/personal_data.py``): a
field whose name has a personal word, however spelled (``customer_email``, ``FirstName``,
``billing_address``), is masked whole; in any other field, at any depth, e-mail addresses
and phone numbers are masked where they sit (``call +44********56 after 5``). A yes or no
is never masked. This module only draws the masks.

Masks are deterministic (the same value always shows the same mask) and readable (a
steward still sees that a value is an e-mail at a ``.com`` domain, a UK phone, a name
starting with A). They carry no fingerprint: two different e-mails can show the same
mask, so equal masks do not prove equal values. Which records share a value is what the
graph says (an identifier's ``recordCount``, a link's evidence), not what strings look
alike; a hash in the mask would let anyone holding two masked exports join them.

How to use it from a GraphQL module (clusters, stewardship, ...): the request's masker
is ``info.context.masker``. Pass it to every ``from_domain`` that carries personal data
(``Profile.from_domain(profile, info.context.masker)``, ``Event.from_domain(event,
masker)``); for values of your own types call ``masker.identifier(kind, value)`` for an
identifier value (a shared identifier in link evidence), ``masker.attribute(name,
value)`` for an attribute value (a compared field), ``masker.attributes(mapping)`` for a
record's attributes or an event's properties, and ``masker.field(name, value)`` when the
name may be either. Never put raw values in free text (reasons, messages, logs): name the
field instead. Outside GraphQL, build one with ``Masker.for_principal(rules, principal)``.
"""

from __future__ import annotations

from collections.abc import Mapping

import phonenumbers

from identity.model import JSONValue
from identity.privacy.personal_data import PrivacyRules
from identity.rules import Rules
from service.auth import PII_READ, Principal

HIDDEN = "***"
DATE = "****-**-**"


def mask_email(value: str) -> str:
    """``ann.lee@example.co.uk`` -> ``a***@e***.uk``: first letters and the top-level domain."""
    local, at, domain = value.strip().rpartition("@")
    if not at or not local or not domain:
        return HIDDEN
    top = domain.rsplit(".", 1)[1] if "." in domain else ""
    return f"{local[0]}***@{domain[0]}***" + (f".{top}" if top else "")


def mask_phone(value: str) -> str:
    """``+447400123456`` -> ``+44********56``: the country code and the last two digits.

    A number without a country code (as written in a source) keeps its last two digits.
    """
    digits = "".join(c for c in value if c.isdigit())
    prefix = ""
    if value.strip().startswith("+"):
        try:
            code = str(phonenumbers.parse(value.strip(), None).country_code)
        except phonenumbers.NumberParseException:
            code = ""
        if code and digits.startswith(code):
            prefix, digits = f"+{code}", digits[len(code) :]
    if len(digits) < 6:
        return prefix + HIDDEN
    return prefix + "*" * (len(digits) - 2) + digits[-2:]


def mask_initials(value: str) -> str:
    """``Ann Lee`` -> ``A*** L***``: the first letter of each word."""
    words = value.split()
    return " ".join(f"{w[0]}***" for w in words) if words else HIDDEN


def mask_year(value: str) -> str:
    """``1984-03-02`` -> ``1984-**-**``."""
    year = value.strip()[:4]
    return f"{year}-**-**" if len(year) == 4 and year.isdigit() else DATE


def mask_tail(value: str) -> str:
    """``dev-7f3a9c21`` -> ``***9c21``: enough to tell two ids apart, too little to use one."""
    value = value.strip()
    return HIDDEN + value[-4:] if len(value) >= 8 else HIDDEN


_STYLES = {
    "hidden": lambda value: HIDDEN,
    "initial": mask_initials,
    "date": lambda value: DATE,
    "year": mask_year,
    "email": mask_email,
    "phone": mask_phone,
    "tail": mask_tail,
}
_KIND_STYLES = {"email": "email", "phone": "phone", "id": "tail"}
"""An identifier kind is masked as its normaliser's values look."""


def _apply(style: str, value: JSONValue) -> JSONValue:
    if value is None or isinstance(value, bool):
        # That a value is missing is not personal, nor is a yes or no (email_verified,
        # consent.email): neither can hold an address, a number or a name.
        return value
    if isinstance(value, list):
        return [_apply(style, v) for v in value]
    if isinstance(value, str):
        return _STYLES[style](value)
    return HIDDEN


_VALUE_STYLES = {"email": mask_email, "phone": mask_phone}
_LONG_INTEGER = 10**6
"""An integer of seven digits or more may be a phone number written as a number."""


class Masker:
    """Shows personal values masked, unless the caller may read them (``reveals``)."""

    def __init__(self, rules: Rules, reveals: bool) -> None:
        self.reveals = reveals
        self._privacy: PrivacyRules = rules.privacy
        self._kinds = frozenset(rules.kinds)
        self._kind_styles = {
            kind: _KIND_STYLES[rule.normaliser] for kind, rule in rules.kinds.items()
        }

    @classmethod
    def for_principal(cls, rules: Rules, principal: Principal | None) -> Masker:
        """The masker for a caller: values in full with ``pii:read`` (or ``admin``)."""
        return cls(rules, reveals=principal is not None and principal.has(PII_READ))

    def identifier(self, kind: str, value: str) -> str:
        """An identifier value (normalised or as received) of ``kind``."""
        if self.reveals or kind not in self._privacy.pii_kinds:
            return value
        return str(_apply(self._kind_styles.get(kind, "hidden"), value))

    def attribute(self, name: str, value: JSONValue) -> JSONValue:
        """An attribute value (golden or of a record), or an event property."""
        return self.field(name, value)

    def field(self, name: str, value: JSONValue) -> JSONValue:
        """A value named by an identifier kind or an attribute name (an export column, a
        free-form property); an identifier kind's mask wins where a name is both."""
        if self.reveals:
            return value
        return self._named(name, value)

    def attributes(self, values: Mapping[str, JSONValue]) -> dict[str, JSONValue]:
        """A record's attributes or an event's properties, masked at any depth
        (``{"shipping": {"postcode": ...}}``, ``{"notes": ["call 07400 123456"]}`` too)."""
        if self.reveals:
            return dict(values)
        return {name: self._named(name, value) for name, value in values.items()}

    def _named(self, name: str, value: JSONValue) -> JSONValue:
        if name in self._kinds and name not in self._privacy.pii_kinds:
            # Our sources' own keys (customer_id) show as their identifiers do: in full, so
            # a steward can find the record.
            return value
        personal = self._privacy.personal_field(name)
        if personal is None:
            return self._unnamed(value)
        if personal in self._privacy.pii_kinds:
            return _apply(self._kind_styles.get(personal, "hidden"), value)
        return _apply(self._privacy.mask_of(personal), value)

    def _unnamed(self, value: JSONValue) -> JSONValue:
        """A value in a field whose name says nothing: look inside it."""
        if isinstance(value, str):
            return self._text(value)
        if isinstance(value, Mapping):
            return self.attributes(value)
        if isinstance(value, list):
            return [self._unnamed(v) for v in value]
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= _LONG_INTEGER:
            text = str(value)
            masked = self._text(text)
            return value if masked == text else masked
        return value

    def _text(self, text: str) -> str:
        found = self._privacy.personal_values(text)
        if not found:
            return text
        parts: list[str] = []
        done = 0
        for start, end, kind in found:
            parts += [text[done:start], _VALUE_STYLES[kind](text[start:end])]
            done = end
        parts.append(text[done:])
        return "".join(parts)
