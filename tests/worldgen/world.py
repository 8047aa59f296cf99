"""The world's reference data: countries, their names, places and phone plans, from data/*.toml.

Nothing here is random: the generator draws from these lists with its own seeded random
source. Lists are ordered by frequency rank and weighted by rank (a Zipf-like curve), so
the data files need no invented counts.
"""

from __future__ import annotations

import bisect
import random
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from itertools import accumulate
from pathlib import Path
from typing import Any, Generic, TypeVar

DATA = Path(__file__).resolve().parent / "data"
COUNTRIES = ("GB", "US", "IN", "PL", "DE", "KE", "CN", "TH")
"""Countries people live in; UA is a name origin only."""
SURNAME_EXPONENT = 0.5
"""Weight of the k-th most frequent surname of a list is 1 / k**SURNAME_EXPONENT (k from 1):
Smith is about a tenth of the British top 40, as in the counts."""
GIVEN_EXPONENT = 0.3
"""Flatter for given names: the short lists stand for all names, and the most frequent
adult name is some 3-5% of its sex, not a tenth."""

T = TypeVar("T")


class Weighted(Generic[T]):
    """Items drawn by weight, in O(log n) per draw."""

    def __init__(self, items: Sequence[T], weights: Sequence[float]) -> None:
        if not items or len(items) != len(weights):
            raise ValueError("a weighted list needs as many weights as items, and at least one")
        self.items = tuple(items)
        self._cumulative = list(accumulate(weights))
        self._total = self._cumulative[-1]

    @classmethod
    def by_rank(cls, items: Sequence[T], exponent: float) -> Weighted[T]:
        return cls(items, [1.0 / (rank**exponent) for rank in range(1, len(items) + 1)])

    def draw(self, rng: random.Random) -> T:
        index = bisect.bisect_right(self._cumulative, rng.random() * self._total)
        return self.items[min(index, len(self.items) - 1)]


@dataclass(frozen=True, slots=True)
class GivenName:
    name: str
    sex: str  # "M" or "F"
    short: tuple[str, ...] = ()  # diminutives and everyday forms
    alt: tuple[str, ...] = ()  # other spellings and transliterations
    en: tuple[str, ...] = ()  # English names people of this origin go by abroad
    script: str | None = None  # the name in its own script (Hanzi, Thai, Cyrillic)
    pl: str | None = None  # as a Polish office transliterates it
    de: str | None = None  # as a German office transliterates it


@dataclass(frozen=True, slots=True)
class Surname:
    name: str
    female: str | None = None  # feminine form (Kowalska, Kaur)
    alt: tuple[str, ...] = ()
    script: str | None = None
    pl: str | None = None
    de: str | None = None

    def for_sex(self, sex: str) -> str:
        return self.female if sex == "F" and self.female else self.name


@dataclass(frozen=True, slots=True)
class District:
    name: str
    script: str | None = None
    postcode: str | None = None  # a pattern, when the district fixes the postcode


@dataclass(frozen=True, slots=True)
class City:
    name: str
    region: str
    postcodes: tuple[str, ...]  # patterns: '#' digit, '@' inward-code letter
    landline: tuple[str, ...]  # patterns: '#' digit, '%' digit 2-9
    districts: tuple[District, ...] = ()
    streets: tuple[str, ...] = ()  # overrides the country's streets
    local_names: tuple[str, ...] = ()  # other names of the city (Warsaw, Bangalore)
    script: str | None = None


@dataclass(frozen=True, slots=True)
class Street:
    name: str
    script: str | None = None


@dataclass(frozen=True, repr=False)
class Country:
    code: str
    name: str
    local_names: tuple[str, ...]
    currency: str
    address_style: str
    weight: float
    surname_list_share: float
    landline_share: float
    mobile: tuple[str, ...]
    phone_styles: tuple[str, ...]
    email_domains: Weighted[str]
    old_email_domains: Weighted[str]
    diaspora: tuple[tuple[str, float], ...]
    male: Weighted[GivenName]
    female: Weighted[GivenName]
    given_borrow: tuple[str, float] | None  # (country, share): given names from its lists
    given_parts_share: float  # share of given names composed from `given_parts`
    given_parts_male: tuple[tuple[tuple[str, str | None], ...], ...]  # (romanised, script)
    given_parts_female: tuple[tuple[tuple[str, str | None], ...], ...]
    middle: tuple[str, ...]
    middle_male: tuple[str, ...]
    middle_female: tuple[str, ...]
    surnames: Weighted[Surname]
    patronymic_share: float  # share of surnames that are a (male) given name
    surname_parts: tuple[tuple[str, ...], ...]
    streets: tuple[Street, ...]
    street_types: tuple[tuple[str, str], ...]
    buildings: tuple[str, ...]
    building_types: tuple[str, ...]
    house_names: tuple[str, ...]
    cities: Weighted[City] | None
    english_male: tuple[str, ...]
    english_female: tuple[str, ...]
    nicknames_male: tuple[tuple[str, str], ...]
    nicknames_female: tuple[tuple[str, str], ...]

    def given(self, sex: str) -> Weighted[GivenName]:
        return self.male if sex == "M" else self.female

    def given_parts(self, sex: str) -> tuple[tuple[tuple[str, str | None], ...], ...]:
        return self.given_parts_male if sex == "M" else self.given_parts_female

    def __repr__(self) -> str:
        return f"Country({self.code})"


@dataclass(frozen=True)
class Common:
    company_words: tuple[tuple[str, ...], ...]
    company_tlds: dict[str, str]
    products: tuple[str, ...]
    ticket_subjects: tuple[str, ...]


def _given(entry: dict[str, Any], sex: str) -> GivenName:
    return GivenName(
        name=entry["name"],
        sex=sex,
        short=tuple(entry.get("short", ())),
        alt=tuple(entry.get("alt", ())),
        en=tuple(entry.get("en", ())),
        script=entry.get("script"),
        pl=entry.get("pl"),
        de=entry.get("de"),
    )


def _surname(entry: dict[str, Any]) -> Surname:
    return Surname(
        name=entry["name"],
        female=entry.get("female"),
        alt=tuple(entry.get("alt", ())),
        script=entry.get("script"),
        pl=entry.get("pl"),
        de=entry.get("de"),
    )


def _district(entry: Any, style: str) -> District:
    if isinstance(entry, str):
        return District(entry)
    first, second = entry
    # Thai districts fix the postcode; Chinese ones carry their Hanzi.
    return District(first, postcode=second) if style == "th" else District(first, script=second)


def _city(entry: dict[str, Any], style: str) -> City:
    return City(
        name=entry["name"],
        region=entry["region"],
        postcodes=tuple(entry.get("postcodes", ())),
        landline=tuple(entry["landline"]),
        districts=tuple(_district(d, style) for d in entry.get("districts", ())),
        streets=tuple(entry.get("streets", ())),
        local_names=tuple(entry.get("local_names", ())),
        script=entry.get("script"),
    )


def _street(entry: Any) -> Street:
    return Street(entry) if isinstance(entry, str) else Street(entry[0], entry[1])


def _parts(lists: Sequence[Sequence[str]]) -> tuple[tuple[tuple[str, str | None], ...], ...]:
    """Name parts written `Pinyin|Hanzi` (or just romanised) as (romanised, script)."""
    return tuple(
        tuple((roman, script or None) for roman, _, script in (p.partition("|") for p in part))
        for part in lists
    )


def _pairs(entries: Sequence[Sequence[Any]]) -> Weighted[str]:
    return Weighted([e[0] for e in entries], [float(e[1]) for e in entries])


@cache
def country(code: str) -> Country:
    """The country (or name origin) `code` (GB, US, ..., UA), read once."""
    doc = tomllib.loads((DATA / f"{code.lower()}.toml").read_text("utf-8"))
    given = doc["given"]
    parts = given.get("parts", {})
    borrow = given.get("borrow")
    address = doc.get("address", {})
    style = doc.get("address_style", "")
    cities = [_city(c, style) for c in doc.get("cities", ())]
    weights = [float(c["weight"]) for c in doc.get("cities", ())]
    no_domains = [["", 1]]
    return Country(
        code=doc["country"],
        name=doc["name"],
        local_names=tuple(doc.get("local_names", ())),
        currency=doc.get("currency", ""),
        address_style=style,
        weight=float(doc["weight"]),
        surname_list_share=float(doc["surname_list_share"]),
        landline_share=float(doc.get("landline_share", 0.0)),
        mobile=tuple(doc.get("mobile", ())),
        phone_styles=tuple(doc.get("phone_styles", ("national",))),
        email_domains=_pairs(doc.get("email_domains", no_domains)),
        old_email_domains=_pairs(doc.get("old_email_domains", no_domains)),
        diaspora=tuple((origin.upper(), float(w)) for origin, w in doc.get("diaspora", ())),
        male=Weighted.by_rank([_given(e, "M") for e in given["male"]], GIVEN_EXPONENT),
        female=Weighted.by_rank([_given(e, "F") for e in given["female"]], GIVEN_EXPONENT),
        given_borrow=(borrow[0], float(borrow[1])) if borrow else None,
        given_parts_share=float(parts.get("share", 0.0)),
        given_parts_male=_parts(parts.get("male", ())),
        given_parts_female=_parts(parts.get("female", ())),
        middle=tuple(given.get("middle", ())),
        middle_male=tuple(given.get("middle_male", ())),
        middle_female=tuple(given.get("middle_female", ())),
        surnames=Weighted.by_rank([_surname(e) for e in doc["surnames"]["list"]], SURNAME_EXPONENT),
        patronymic_share=float(doc["surnames"].get("patronymic_share", 0.0)),
        surname_parts=tuple(tuple(part) for part in doc["surnames"].get("surname_parts", ())),
        streets=tuple(_street(s) for s in address.get("streets", ())),
        street_types=tuple((long, short) for long, short in address.get("street_types", ())),
        buildings=tuple(address.get("buildings", ())),
        building_types=tuple(address.get("building_types", ())),
        house_names=tuple(address.get("house_names", ())),
        cities=Weighted(cities, weights) if cities else None,
        english_male=tuple(doc.get("english_male", ())),
        english_female=tuple(doc.get("english_female", ())),
        nicknames_male=tuple((n, s) for n, s in doc.get("nicknames_male", ())),
        nicknames_female=tuple((n, s) for n, s in doc.get("nicknames_female", ())),
    )


@cache
def common() -> Common:
    doc = tomllib.loads((DATA / "common.toml").read_text("utf-8"))
    return Common(
        company_words=tuple(tuple(words) for words in doc["company_words"]),
        company_tlds=dict(doc["company_tlds"]),
        products=tuple(doc["products"]),
        ticket_subjects=tuple(doc["ticket_subjects"]),
    )


@cache
def residences() -> Weighted[Country]:
    """Where people live, by the countries' weights."""
    countries = [country(code) for code in COUNTRIES]
    return Weighted(countries, [c.weight for c in countries])
