"""Personal data by what it is, not by how a field is spelled: field names matched by their
words against the rules' synonyms, e-mail addresses and phone numbers found in any text.

The rules' ``[privacy]`` section is the data (identity/config/rules.toml says what counts
and why), read here into :class:`PrivacyRules` (at the end of the module); the service
draws the masks (``service/masking.py``). Both matchers are built
once per rules and remember the names they have seen, because an export asks about the
same few columns on every row.

How a name is read. It is cut into lower-case words at separators (``_ - . /`` and
spaces), at camelCase humps and between letters and digits: ``customerEMail2`` is
``customer e mail 2``. A name is personal when

- its words spell a personal attribute or kind (``FirstName`` and ``first-name`` are
  ``first_name``; ``DeviceID`` is ``device_id``), masked as that one; or
- a synonym occurs in it as whole words (``customer_email``, ``billingAddress``,
  ``contactPhone``), or a several-word synonym as one word (``firstname``, ``zipcode``),
  masked as the personal attribute the synonym group is named after. Groups are tried in
  the order written, so ``email_address`` is an e-mail, not an address.

A synonym right after a word that names a thing (``product_name``, ``campaign_name``,
``store_phone``) belongs to the thing and does not count: a product's name is not a
person's. An occurrence anywhere else counts, so a name mixing both is masked
(``email_campaign_name``): a false alarm costs a reader one value, a miss costs a person
their data. Words are whole: ``tel`` is not in ``hotel``, ``name`` not in ``filename``.

Values need no name: an e-mail address or a phone number is found wherever it sits, in
free text too (``call +44 7400 123456 after 5``). Phone numbers are found by libphonenumber's
matcher at its ``VALID`` leniency (a real number of a real plan, not a date, an order number
or a price), in international form for any country and in national form for the rules'
``phone_regions``. Text without an ``@`` or a run of seven digits (the shortest
international number, Niue's ``+683 4002``; punctuation and spaces may sit between them)
and ISO dates are not searched: that is most values, and the matcher is slow.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import phonenumbers

from identity.config_tables import only_settings
from identity.errors import ConfigError

ValueKind = Literal["email", "phone"]

_RUNS = re.compile(r"[^\W\d_]+|\d+")
_LOCAL = r"\w.!#$%&'*+/=?^`{|}~-"
_EMAIL = re.compile(
    rf"(?<![{_LOCAL}])[{_LOCAL}]+@[^\W_][\w-]*(?:\.[\w-]+)*\.[^\W\d_]{{2,}}(?![\w-])"
)
"""An e-mail address as people write one: a local part, an ``@``, a domain with a
top-level part of letters. Starts only where a local part can start, so a long run of
word characters is read once."""
_PHONE_SHAPED = re.compile(r"\d(?:[\WxX]{0,4}\d){6}")
"""Seven digits apart by at most four marks (spaces, dashes, brackets, dots, an ``x``):
what libphonenumber's matcher needs before it looks further. An id with letters between
its digits (a profile id, a UUID) has no such run."""
_ISO_DATE = re.compile(
    r"\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d(?::?\d\d)?)?)?"
)
"""A date or timestamp as exports and events write them: never a phone number, and the
commonest string with seven digits."""
_NAME_CACHE = 4096
"""Distinct field names remembered; far more than any deployment's attributes, few
enough that free-form property names cannot grow the memory without bound."""


def name_words(name: str) -> tuple[str, ...]:
    """The lower-case words of a field name: ``billingAddress_line1`` -> ``billing
    address line 1``; an acronym is one word (``IPAddress`` -> ``ip address``)."""
    words: list[str] = []
    for run in _RUNS.findall(name):
        start = 0
        for i in range(1, len(run)):
            before, here = run[i - 1], run[i]
            hump = before.islower() and here.isupper()
            acronym_ends = (
                before.isupper() and here.isupper() and i + 1 < len(run) and run[i + 1].islower()
            )
            if hump or acronym_ends:
                words.append(run[start:i])
                start = i
        words.append(run[start:])
    return tuple(word.casefold() for word in words)


@dataclass(frozen=True, slots=True)
class _Synonym:
    words: tuple[str, ...]
    joined: str
    """The words written as one (``first name`` -> ``firstname``)."""


class PersonalNames:
    """Says which personal attribute or kind a field name stands for, if any."""

    def __init__(
        self,
        personal: Collection[str],
        synonyms: Mapping[str, Sequence[str]],
        things: Iterable[str],
    ) -> None:
        self._exact = set(personal)
        self._spelled: dict[str, str] = {}
        for name in sorted(personal):
            self._spelled.setdefault("_".join(name_words(name)), name)
        self._groups = [
            (group, [_Synonym(words, "".join(words)) for words in map(name_words, phrases)])
            for group, phrases in synonyms.items()
        ]
        self._things = frozenset(word.casefold() for word in things)
        self._seen: dict[str, str | None] = {}

    def personal(self, name: str) -> str | None:
        """The personal attribute or kind ``name`` is masked as, or None."""
        if name in self._exact:
            return name
        try:
            return self._seen[name]
        except KeyError:
            pass
        found = self._read(name_words(name))
        if len(self._seen) >= _NAME_CACHE:
            self._seen.clear()
        self._seen[name] = found
        return found

    def _read(self, words: tuple[str, ...]) -> str | None:
        spelled = self._spelled.get("_".join(words))
        if spelled is not None:
            return spelled
        for group, synonyms in self._groups:
            if any(self._occurs(synonym, words) for synonym in synonyms):
                return group
        return None

    def _occurs(self, synonym: _Synonym, words: tuple[str, ...]) -> bool:
        size = len(synonym.words)
        for at in range(len(words)):
            here = words[at : at + size] == synonym.words or words[at] == synonym.joined
            if here and (at == 0 or words[at - 1] not in self._things):
                return True
        return False


class PersonalValue(NamedTuple):
    """Where an e-mail address or a phone number sits in a text: ``text[start:end]``."""

    start: int
    end: int
    kind: ValueKind


class PersonalValues:
    """Finds e-mail addresses and phone numbers in text."""

    def __init__(self, phone_regions: Sequence[str]) -> None:
        # None finds numbers in international form only; a region adds its national form.
        self._regions: tuple[str | None, ...] = tuple(phone_regions) or (None,)

    def find(self, text: str) -> list[PersonalValue]:
        """Every e-mail address and phone number in ``text``, in order, none overlapping."""
        found: list[PersonalValue] = []
        if "@" in text:
            found = [PersonalValue(m.start(), m.end(), "email") for m in _EMAIL.finditer(text)]
        if _PHONE_SHAPED.search(text) is None or _ISO_DATE.fullmatch(text.strip()):
            return found
        for region in self._regions:
            for match in phonenumbers.PhoneNumberMatcher(
                text, region, leniency=phonenumbers.Leniency.VALID
            ):
                number = PersonalValue(match.start, match.end, "phone")
                if not any(number.start < f.end and f.start < number.end for f in found):
                    found.append(number)
        return sorted(found)


def unknown_phone_regions(regions: Iterable[str]) -> list[str]:
    """Regions libphonenumber does not know (it knows ISO 3166 codes like ``GB``, ``DE``)."""
    return [r for r in regions if r not in phonenumbers.SUPPORTED_REGIONS]


# -- the rules' [privacy] section ------------------------------------------------------------

MASK_STYLES: tuple[str, ...] = ("hidden", "initial", "date", "year", "email", "phone", "tail")
"""How a personal attribute may be shown to a caller without the right to read it; the
service draws them (``service/masking.py``), the rules only name them."""
DEFAULT_PII_KINDS: tuple[str, ...] = ("email", "phone", "loyalty_id", "device_id", "cookie_id")
DEFAULT_PII_ATTRIBUTES: tuple[str, ...] = (
    "first_name",
    "middle_name",
    "last_name",
    "name",
    "full_name",
    "birth_date",
    "address",
    "address_line",
    "address_line1",
    "address_line2",
    "street",
    "postcode",
    "zip",
    "email",
    "phone",
)
DEFAULT_MASKS: Mapping[str, str] = {
    "first_name": "initial",
    "middle_name": "initial",
    "last_name": "initial",
    "name": "initial",
    "full_name": "initial",
    "birth_date": "date",
    "email": "email",
    "phone": "phone",
}
DEFAULT_SYNONYMS: Mapping[str, tuple[str, ...]] = {
    "email": ("email", "e-mail", "mail"),
    "phone": ("phone", "mobile", "tel", "telephone", "cell"),
    "postcode": ("postcode", "post code", "postal code", "zip", "zip code"),
    "address": ("address", "addr", "street", "house number"),
    "name": (
        "name",
        "first name",
        "last name",
        "full name",
        "given name",
        "family name",
        "middle name",
        "maiden name",
        "surname",
        "forename",
        "user name",
        "nick name",
    ),
    "birth_date": ("birth", "birth date", "date of birth", "dob", "birthday"),
}
"""See identity/config/rules.toml for why these words and this order."""
DEFAULT_THINGS: tuple[str, ...] = (
    "product",
    "item",
    "sku",
    "brand",
    "category",
    "variant",
    "campaign",
    "promo",
    "promotion",
    "coupon",
    "offer",
    "experiment",
    "company",
    "business",
    "organisation",
    "organization",
    "merchant",
    "vendor",
    "supplier",
    "store",
    "shop",
    "hotel",
    "venue",
    "restaurant",
    "bank",
    "carrier",
    "event",
    "page",
    "screen",
    "app",
    "site",
    "website",
    "domain",
    "file",
    "list",
    "segment",
    "plan",
    "template",
    "step",
    "form",
    "field",
    "channel",
    "city",
    "town",
    "country",
    "region",
)
DEFAULT_PHONE_REGIONS: tuple[str, ...] = ("GB",)


@dataclass(frozen=True, slots=True)
class PrivacyRules:
    """Which values are personal: shown masked to callers who may not read them.

    Names are matched by their words and values by what they are (this module); the
    matchers are built here, once per rules.
    """

    pii_kinds: frozenset[str] = frozenset()
    """Identifier kinds whose values are personal."""
    pii_attributes: frozenset[str] = frozenset()
    """Attribute names (and event property names) whose values are personal."""
    masks: Mapping[str, str] = field(default_factory=dict)
    """How a personal attribute is masked (one of :data:`MASK_STYLES`); ``hidden`` when
    not named."""
    synonyms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Personal attribute or kind -> words that name it in a field name (``email`` ->
    ``e-mail``, ``mail``); a field whose name holds one is masked as that attribute.
    Tried in order: the first group found wins."""
    things: frozenset[str] = frozenset()
    """Words that name a thing, not a person: a synonym right after one does not count
    (``product_name``, ``store_phone``)."""
    phone_regions: tuple[str, ...] = ()
    """Regions whose national phone numbers are found in text (``07400 123456`` for GB);
    numbers in international form (``+44 7400 123456``) are found whatever the region."""
    names: PersonalNames = field(init=False, repr=False, compare=False)
    values: PersonalValues = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        personal = self.pii_kinds | self.pii_attributes
        object.__setattr__(self, "names", PersonalNames(personal, self.synonyms, self.things))
        object.__setattr__(self, "values", PersonalValues(self.phone_regions))

    def personal_field(self, name: str) -> str | None:
        """The personal attribute or kind a field named ``name`` is masked as, or None:
        ``customer_email`` -> ``email``, ``FirstName`` -> ``first_name``."""
        return self.names.personal(name)

    def is_personal(self, name: str) -> bool:
        """Whether a field named ``name`` (an identifier kind or an attribute) is personal."""
        return self.personal_field(name) is not None

    def mask_of(self, attribute: str) -> str:
        return self.masks.get(attribute, "hidden")

    def personal_values(self, text: str) -> list[PersonalValue]:
        """The e-mail addresses and phone numbers in ``text``, whatever field it is in."""
        return self.values.find(text)


def privacy_rules(doc: object, kinds: Collection[str], path: str) -> PrivacyRules:
    """The ``[privacy]`` section of a rules file; ``kinds`` are the declared identifier kinds."""
    if not isinstance(doc, Mapping):
        raise ConfigError("must be a [privacy] table", path=path, field="privacy")
    only_settings(
        doc,
        {"pii_kinds", "pii_attributes", "masks", "synonyms", "things", "phone_regions"},
        path,
        "privacy.",
    )

    def names(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = doc.get(name, list(default))
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ConfigError("must be a list of names", path=path, field=f"privacy.{name}")
        return tuple(value)

    pii_kinds = names("pii_kinds", DEFAULT_PII_KINDS)
    if "pii_kinds" not in doc:
        # The defaults apply to the kinds this deployment declares.
        pii_kinds = tuple(k for k in pii_kinds if k in kinds)
    for kind in pii_kinds:
        if kind not in kinds:
            raise ConfigError(
                f"'{kind}' is not a declared identifier kind ({', '.join(sorted(kinds))})",
                path=path,
                field="privacy.pii_kinds",
            )
    pii_attributes = names("pii_attributes", DEFAULT_PII_ATTRIBUTES)
    raw_masks = doc.get("masks")
    if raw_masks is None:
        raw_masks = {a: m for a, m in DEFAULT_MASKS.items() if a in pii_attributes}
    if not isinstance(raw_masks, Mapping):
        raise ConfigError(
            'must be a table of attribute = mask, e.g. first_name = "initial"',
            path=path,
            field="privacy.masks",
        )
    masks: dict[str, str] = {}
    for attribute, style in raw_masks.items():
        where = f"privacy.masks.{attribute}"
        if attribute not in pii_attributes:
            raise ConfigError(
                "only personal attributes are masked: add it to privacy.pii_attributes "
                "or remove it here",
                path=path,
                field=where,
            )
        if style not in MASK_STYLES:
            raise ConfigError(
                f"must be one of {', '.join(MASK_STYLES)}, got {style!r}", path=path, field=where
            )
        masks[attribute] = style
    personal = {*pii_kinds, *pii_attributes}
    things = names("things", DEFAULT_THINGS)
    for thing in things:
        if name_words(thing) != (thing.casefold(),):
            raise ConfigError(
                f'must be a list of single words, e.g. "product"; {thing!r} is not one',
                path=path,
                field="privacy.things",
            )
    regions = tuple(r.upper() for r in names("phone_regions", DEFAULT_PHONE_REGIONS))
    unknown = unknown_phone_regions(regions)
    if unknown:
        raise ConfigError(
            f"unknown phone region {unknown[0]!r}; use an ISO 3166 code like 'GB' or 'DE'",
            path=path,
            field="privacy.phone_regions",
        )
    return PrivacyRules(
        pii_kinds=frozenset(pii_kinds),
        pii_attributes=frozenset(pii_attributes),
        masks=masks,
        synonyms=_synonyms(doc.get("synonyms"), personal, path),
        things=frozenset(t.casefold() for t in things),
        phone_regions=regions,
    )


def _synonyms(raw: object, personal: set[str], path: str) -> dict[str, tuple[str, ...]]:
    if raw is None:
        # The defaults apply to the attributes and kinds this deployment calls personal.
        return {g: words for g, words in DEFAULT_SYNONYMS.items() if g in personal}
    if not isinstance(raw, Mapping):
        raise ConfigError(
            'must be a table of attribute = [words], e.g. email = ["email", "e-mail"]',
            path=path,
            field="privacy.synonyms",
        )
    synonyms: dict[str, tuple[str, ...]] = {}
    for group, words in raw.items():
        where = f"privacy.synonyms.{group}"
        if group not in personal:
            raise ConfigError(
                f"{group!r} is not a personal attribute or kind, and a field holding one of "
                "these words is masked as the one the list is named after: add it to "
                "privacy.pii_attributes (or pii_kinds), or name the list after one of them",
                path=path,
                field=where,
            )
        if (
            not isinstance(words, list)
            or not words
            or not all(isinstance(w, str) and name_words(w) for w in words)
        ):
            raise ConfigError(
                'must be a list of words or phrases, e.g. ["phone", "mobile", "tel"]',
                path=path,
                field=where,
            )
        synonyms[group] = tuple(words)
    return synonyms
