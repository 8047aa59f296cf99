"""Personal data by what it is, not by how a field is spelled: field names matched by their
words against the rules' synonyms, e-mail addresses and phone numbers found in any text.

The rules' ``[privacy]`` section is the data (identity/config/rules.toml says what counts
and why); the service draws the masks (``service/masking.py``). Both matchers are built
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
from dataclasses import dataclass
from typing import Literal, NamedTuple

import phonenumbers

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
