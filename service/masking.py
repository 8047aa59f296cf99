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

An export masks the same few columns row after row: ``masker.row_masker(fields)`` decides
once per column what ``field`` decides per value (masked whole and how, shown, or looked
into) and shows exactly what ``field`` shows; with ``pii:read`` it hands rows back as they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

import phonenumbers

from identity.model import JSONValue
from identity.privacy.personal_data import PersonalValue, PrivacyRules
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
    An E.164 value (what a phone identifier holds) takes a shortcut with the same result:
    its country code is the one prefix of one to three digits that is a calling code
    (calling codes are prefix-free), which is how libphonenumber reads it too; anything
    else is read by :func:`mask_phone_parsed`.
    """
    match = _E164.fullmatch(value)
    if match is not None:
        digits = match[1]
        for size in (1, 2, 3):
            code = digits[:size]
            if code in _CALLING_CODES:
                rest = digits[size:]
                # libphonenumber refuses a national number outside 2-17 digits: no prefix then.
                if _MIN_NATIONAL <= len(rest) <= _MAX_NATIONAL:
                    return _phone_mask(f"+{code}", rest)
                break
    return mask_phone_parsed(value)


def mask_phone_parsed(value: str) -> str:
    """:func:`mask_phone` for any text, its country code read by ``phonenumbers.parse``
    (slow: tens of microseconds a value)."""
    digits = "".join(c for c in value if c.isdigit())
    prefix = ""
    if value.strip().startswith("+"):
        try:
            code = str(phonenumbers.parse(value.strip(), None).country_code)
        except phonenumbers.NumberParseException:
            code = ""
        if code and digits.startswith(code):
            prefix, digits = f"+{code}", digits[len(code) :]
    return _phone_mask(prefix, digits)


def _phone_mask(prefix: str, digits: str) -> str:
    if len(digits) < 6:
        return prefix + HIDDEN
    return prefix + "*" * (len(digits) - 2) + digits[-2:]


_E164 = re.compile(r"\+([1-9][0-9]{2,19})")
"""``+`` and ASCII digits only: the shape whose reading by libphonenumber is just its
calling code (no extension, no national prefix, no letters or other scripts' digits)."""
_CALLING_CODES = frozenset(str(code) for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
_MIN_NATIONAL, _MAX_NATIONAL = 2, 17


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


ColumnMask = Callable[[JSONValue], JSONValue]
"""What one column's values are shown as: ``Masker.field(name, value)`` with the name
decided once."""
RowMask = Callable[[dict[str, JSONValue]], dict[str, JSONValue]]


def _shown(value: JSONValue) -> JSONValue:
    return value


def _shown_row(row: dict[str, JSONValue]) -> dict[str, JSONValue]:
    return row


def _styled(style: str) -> ColumnMask:
    """:func:`_apply` of one style, a string (nearly every value) drawn straight away."""
    draw = _STYLES[style]

    def mask(value: JSONValue) -> JSONValue:
        if value.__class__ is str:
            return draw(value)
        if value is None:
            return None
        return _apply(style, value)

    return mask


_STYLED = {style: _styled(style) for style in _STYLES}


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
        self._find = self._privacy.personal_values
        self._columns = _ColumnMasks(self)
        """Masks of names met inside values (a mapping's keys), for :meth:`column`'s
        masks; bounded, as free-form property names are data."""

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

    def column(self, name: str) -> ColumnMask:
        """The mask of every value of a field named ``name``: ``column(name)(value)`` is
        ``field(name, value)``, with what the name says decided here, once, not per value."""
        if self.reveals or (name in self._kinds and name not in self._privacy.pii_kinds):
            return _shown
        personal = self._privacy.personal_field(name)
        if personal is None:
            return self._unnamed_value
        if personal in self._privacy.pii_kinds:
            return _STYLED[self._kind_styles.get(personal, "hidden")]
        return _STYLED[self._privacy.mask_of(personal)]

    def row_masker(self, fields: Iterable[str], computed: Iterable[str] = ()) -> RowMask:
        """Masks rows of an export whose columns are ``fields``: ``row_masker(fields)(row)``
        is ``{name: field(name, value) for name, value in row.items()}``, the columns'
        masks chosen once per export. With ``pii:read`` it is the row itself, not a copy.
        Columns named in ``computed`` hold values idgraph computes (``identity.export.
        computed_field``: traits, consent, the profile id) and are shown without a look.
        A column not in ``fields`` is still masked by its name."""
        if self.reveals:
            return _shown_row
        fields = list(fields)
        shown = set(computed)
        masks = _ColumnMasks(self)
        for name in fields:
            masks[name] = _shown if name in shown else self.column(name)
        looked = [(name, mask) for name, mask in masks.items() if mask is not _shown]
        expected = dict.fromkeys(fields).keys()

        def mask(row: dict[str, JSONValue]) -> dict[str, JSONValue]:
            if row.keys() != expected:
                return {
                    name: value if value is None or value.__class__ is bool else masks[name](value)
                    for name, value in row.items()
                }
            masked = row.copy()
            for name, column in looked:
                value = masked[name]
                # A missing value and a yes or no show as they are under any name (_apply,
                # _unnamed): most of an export's cells, shown without a call.
                if value is not None and value.__class__ is not bool:
                    masked[name] = column(value)
            return masked

        return mask

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

    def _unnamed_value(self, value: JSONValue) -> JSONValue:
        """:meth:`_unnamed`, with the values that cannot hold anything (a missing value,
        a yes or no, a number shorter than a phone number) shown without a look."""
        kind = value.__class__
        if kind is str:
            found = self._find(value)
            return self._draw(value, found) if found else value
        if value is None or kind is bool or kind is float:
            return value
        if kind is int and -_LONG_INTEGER < value < _LONG_INTEGER:
            return value
        if kind is dict:
            # Nested names (traits.event_counts' event types, a property's keys) repeat
            # row after row too.
            columns = self._columns
            return {name: columns[name](inner) for name, inner in value.items()}
        if kind is list:
            return [self._unnamed_value(inner) for inner in value]
        return self._unnamed(value)

    def _text(self, text: str) -> str:
        found = self._privacy.personal_values(text)
        if not found:
            return text
        return self._draw(text, found)

    @staticmethod
    def _draw(text: str, found: list[PersonalValue]) -> str:
        """``text`` with each e-mail address and phone number ``found`` in it masked."""
        parts: list[str] = []
        done = 0
        for start, end, kind in found:
            parts += [text[done:start], _VALUE_STYLES[kind](text[start:end])]
            done = end
        parts.append(text[done:])
        return "".join(parts)


class _ColumnMasks(dict[str, ColumnMask]):
    """Column masks by name, a name not compiled in advance compiled when first met."""

    def __init__(self, masker: Masker) -> None:
        super().__init__()
        self._masker = masker

    def __missing__(self, name: str) -> ColumnMask:
        if len(self) >= _COLUMN_CACHE:
            self.clear()
        mask = self[name] = self._masker.column(name)
        return mask


_COLUMN_CACHE = 4096
"""Names whose masks are kept; as many as identity.privacy.personal_data remembers."""
