"""Seeded demo data: the same synthetic people in five sources, with mappings and ground truth.

The structure of the population is in ``POPULATION`` and every kind of noise in ``RATES``.
On request the same people also produce events (``identity.demo.events``).
"""

from __future__ import annotations

import bisect
import csv
import itertools
import json
import random
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any, Final, Generic, NamedTuple, TypeVar

from anyascii import anyascii
from faker.providers.address import en_GB as address_en_gb
from faker.providers.internet import en_GB as internet_en_gb
from faker.providers.internet.el_GR import latinize
from faker.providers.person import de_DE, el_GR, en_GB, pl_PL, ru_RU
from faker.providers.person.ru_RU import translit

from identity.demo.events import (
    DEFAULT_UNTIL,
    Account,
    EventSubject,
    EventWriter,
    Subscription,
)

T = TypeVar("T")

SOURCES: Final = ("crm", "webshop", "pos", "support", "marketing")
FILE_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "crm": "crm.csv",
        "webshop": "webshop.jsonl",
        "pos": "pos.csv",
        "support": "support.jsonl",
        "marketing": "marketing.csv",
    }
)
KEYS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "crm": "customer_no",
        "webshop": "account_id",
        "pos": "transaction_id",
        "support": "ticket_id",
        "marketing": "subscriber_id",
    }
)
_CSV_COLUMNS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "crm": (
            "customer_no",
            "first_name",
            "last_name",
            "email",
            "mobile",
            "home_phone",
            "birth_date",
            "address_line",
            "city",
            "postcode",
            "updated_at",
        ),
        "pos": (
            "transaction_id",
            "loyalty_card",
            "customer_no",
            "first_name",
            "last_name",
            "phone",
            "postcode",
            "store",
            "purchased_at",
            "amount",
        ),
        "marketing": (
            "subscriber_id",
            "email",
            "first_name",
            "opt_in_email",
            "opt_in_sms",
            "subscribed_on",
        ),
    }
)

# Structure of the population: probabilities per person, household or account.
POPULATION: Final[Mapping[str, float]] = MappingProxyType(
    {
        "household_unit": 0.061,  # a new unit is a household of 2-4: about 15% of people
        "household_landline": 0.8,  # the household shares a landline
        "household_family_email": 0.3,  # the household has a family e-mail ("thesmiths@...")
        "family_email_use": 0.6,  # a member of such a household uses it as one of theirs
        "household_last_name": 0.8,  # a member carries the first member's last name
        "borrowed_phone": 0.12,  # a member's first pos/support record has another's mobile
        "no_email": 0.08,
        "two_emails": 0.30,  # of which half a work e-mail, half a second personal one
        "no_mobile": 0.05,
        "landline": 0.25,  # people outside households with a landline
        "moved": 0.12,  # moved house; some older webshop/pos records have the old address
        "old_address_record": 0.5,  # an older record of someone who moved has the old address
        "second_account": 0.08,  # webshop customers with a second account
        "pos_customer_no": 0.35,  # a pos transaction of a CRM customer carries customer_no
        "native_script_webshop": 0.6,  # Cyrillic/Greek names as typed by the person
        "native_script_marketing": 0.3,
        "ascii_fold_pos": 0.5,  # the till drops diacritics (Łukasz -> Lukasz, Müller -> Mueller)
        "upper_name_pos": 0.4,  # the till upper-cases names
        "two_subscriptions": 0.25,  # people with two e-mails subscribe both
    }
)

# Per-record noise, multiplied by the source's factor in ``SOURCE_NOISE``.
RATES: Final[Mapping[str, float]] = MappingProxyType(
    {
        "missing": 0.05,  # an optional field is empty
        "whitespace": 0.03,  # leading/trailing spaces around a value
        "email_upper": 0.04,  # "JOHN.SMITH@GMAIL.COM"
        "gmail_variant": 0.35,  # a gmail address written with other dots or a +tag
        "invalid_email": 0.01,  # the "@" is missing
        "invalid_phone": 0.01,  # three digits are missing
        "junk_email": 0.006,  # test@test.com, N/A, ...
        "junk_phone": 0.006,  # 0000000000, N/A, 01234 567890, ...
        "name_typo": 0.03,  # one substitution or transposition
        "name_upper": 0.03,
        "nickname": 0.15,  # Robert -> Bob where the table has one
        "dob_swap": 0.03,  # day and month swapped (when both are <= 12)
        "store_phone": 0.02,  # pos: the cashier types the shop's own number
        "store_card": 0.02,  # pos: the cashier swipes the store's generic loyalty card
    }
)
SOURCE_NOISE: Final[Mapping[str, float]] = MappingProxyType(
    {"crm": 0.5, "webshop": 1.0, "pos": 1.5, "support": 2.5, "marketing": 1.0}
)
# How many sources a person is in, and how likely each source is among them.
SOURCE_COUNT: Final[Mapping[int, float]] = MappingProxyType(
    {1: 0.12, 2: 0.33, 3: 0.33, 4: 0.17, 5: 0.05}
)
SOURCE_REACH: Final[Mapping[str, float]] = MappingProxyType(
    {"crm": 0.55, "webshop": 0.60, "pos": 0.45, "support": 0.30, "marketing": 0.45}
)
ORIGINS: Final[Mapping[str, float]] = MappingProxyType(
    {"en": 0.85, "pl": 0.05, "de": 0.04, "ru": 0.03, "el": 0.03}
)

JUNK_EMAILS: Final = ("test@test.com", "N/A", "none@none.com", "noreply@example.com", "a@a.com")
JUNK_PHONES: Final = ("0000000000", "N/A", "01234 567890", "00000 000000")
STORE_PHONE: Final = "0161 496 0000"
STORE_CARD: Final = "LC999999999"

NICKNAMES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "Robert": ("Bob", "Rob"),
        "William": ("Bill", "Will"),
        "Elizabeth": ("Liz", "Beth"),
        "Margaret": ("Maggie", "Peggy"),
        "James": ("Jim", "Jamie"),
        "Richard": ("Rich", "Dick"),
        "Michael": ("Mike",),
        "Thomas": ("Tom",),
        "Christopher": ("Chris",),
        "Catherine": ("Cathy", "Kate"),
        "Katherine": ("Kate", "Kathy"),
        "Jennifer": ("Jen", "Jenny"),
        "Daniel": ("Dan", "Danny"),
        "Matthew": ("Matt",),
        "Anthony": ("Tony",),
        "Joseph": ("Joe",),
        "Samuel": ("Sam",),
        "Alexander": ("Alex",),
        "Rebecca": ("Becky",),
        "Susan": ("Sue",),
        "Deborah": ("Debbie",),
        "Patricia": ("Pat", "Trish"),
        "Victoria": ("Vicky",),
        "Edward": ("Ed", "Ted"),
        "Benjamin": ("Ben",),
        "Jonathan": ("Jon",),
        "Nicholas": ("Nick",),
        "Andrew": ("Andy",),
        "Stephen": ("Steve",),
        "Peter": ("Pete",),
        "David": ("Dave",),
        "Jacqueline": ("Jackie",),
        "Kimberley": ("Kim",),
    }
)

_START: Final = datetime(2018, 1, 1)
_END: Final = datetime(2025, 6, 30, 18, 0)
_POSTCODE_LETTERS: Final = "ABDEFGHJLNPQRSTUWXYZ"
_SUBJECTS: Final = (
    "Where is my order?",
    "Refund request",
    "Change of address",
    "Loyalty points missing",
    "Damaged item",
    "Cannot log in",
    "Unsubscribe me",
)
_PHONE_FORMATS: Final[Mapping[str, Mapping[str, float]]] = MappingProxyType(
    {
        "crm": {"intl": 0.45, "national": 0.45, "compact": 0.10},
        "webshop": {"compact": 0.5, "intl_compact": 0.3, "national": 0.2},
        "pos": {"national": 0.9, "compact": 0.1},
        "support": {
            "national": 0.25,
            "intl": 0.15,
            "intl_00": 0.15,
            "intl_paren0": 0.15,
            "dashed": 0.15,
            "paren": 0.15,
        },
    }
)
# Lost on the way from a German or Polish name to an ASCII-only till.
_FOLD: Final = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue",
                             "ß": "ss", "ł": "l", "Ł": "L"})  # fmt: skip


@dataclass(frozen=True, slots=True)
class DemoFiles:
    """What :func:`generate` wrote: a data file per source, the mappings, the truth, counts."""

    files: Mapping[str, Path]
    mappings_dir: Path
    truth: Path
    people: int
    records: Mapping[str, int]
    events_file: Path | None = None  # events.jsonl, when events were asked for
    events_truth: Path | None = None  # events_truth.csv: event_id,entity_id
    events: int = 0  # distinct events (lines sent twice count once)
    event_duplicate_lines: int = 0
    events_per_type: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    household_truth: Path | None = None
    """household_truth.csv: ``entity_id,household_id`` for every person, the household
    empty for a person who lives alone (or the only customer of their home), else the
    entity id of its first member: a household of one pairs no one, and listing everyone
    lets a measurement tell "no household" from "not generated"."""


class _Random(random.Random):
    """``random.Random`` with cheaper draws: the stdlib's rejection sampling is the hot path."""

    def below(self, n: int) -> int:
        return int(self.random() * n)

    def between(self, low: int, high: int) -> int:
        """An integer in [low, high)."""
        return low + int(self.random() * (high - low))

    def pick(self, items: Sequence[T]) -> T:
        return items[int(self.random() * len(items))]


class _Pool(Generic[T]):
    """Values to draw from: uniformly from a sequence, or by weight from a mapping of weights.

    Faker's locale data comes as tuples or as (Ordered)dicts of weights; both work.
    """

    __slots__ = ("_cum", "_values")

    def __init__(self, data: Sequence[T] | Mapping[T, float]) -> None:
        self._values = tuple(data)
        self._cum: tuple[float, ...] | None = None
        if isinstance(data, Mapping):
            self._cum = tuple(itertools.accumulate(float(w) for w in data.values()))

    def pick(self, rng: _Random) -> T:
        if self._cum is None:
            return rng.pick(self._values)
        return self._values[bisect.bisect(self._cum, rng.random() * self._cum[-1])]


_ORIGINS: Final = _Pool(ORIGINS)
_SOURCE_COUNT: Final = _Pool(SOURCE_COUNT)
_PHONE_STYLES: Final = {source: _Pool(styles) for source, styles in _PHONE_FORMATS.items()}


@dataclass(frozen=True, slots=True)
class _Names:
    male: _Pool[str]
    female: _Pool[str]
    last_male: _Pool[str]
    last_female: _Pool[str]
    latin: Callable[[str], str]  # how the name is written in Latin script


class _Address(NamedTuple):
    line: str
    city: str
    postcode: str


@dataclass(slots=True)
class _Person:
    entity_id: str
    origin: str
    first: str  # as the person writes it, possibly in Cyrillic or Greek
    last: str
    birth: date
    address: _Address
    old_address: _Address | None
    moved_at: datetime
    emails: list[str]
    mobile: str | None  # national digits, "07..."
    landline: str | None
    borrowed_phone: str | None = None
    borrow_in: str | None = None
    customer_no: str | None = None
    loyalty_card: str | None = None
    sources: tuple[str, ...] = ()
    household: str | None = None  # the first member's entity id


def _feminine_polish(name: str) -> str:
    return name[:-1] + "a" if name.endswith(("ski", "cki", "dzki")) else name


def _names() -> dict[str, _Names]:
    en, pl, de, ru, el = (m.Provider for m in (en_GB, pl_PL, de_DE, ru_RU, el_GR))
    pl_male = (*pl.male_last_names, *pl.unisex_last_names)
    pl_female = (*(_feminine_polish(n) for n in pl.male_last_names), *pl.unisex_last_names)

    def same(name: str) -> str:
        return name

    return {
        "en": _Names(
            _Pool(en.first_names_male),
            _Pool(en.first_names_female),
            _Pool(en.last_names),
            _Pool(en.last_names),
            same,
        ),
        "pl": _Names(
            _Pool(pl.first_names_male),
            _Pool(pl.first_names_female),
            _Pool(pl_male),
            _Pool(pl_female),
            same,
        ),
        "de": _Names(
            _Pool(de.first_names_male),
            _Pool(de.first_names_female),
            _Pool(de.last_names),
            _Pool(de.last_names),
            same,
        ),
        "ru": _Names(
            _Pool(ru.first_names_male),
            _Pool(ru.first_names_female),
            _Pool(ru.last_names_male),
            _Pool(ru.last_names_female),
            translit,
        ),
        "el": _Names(
            _Pool(el.first_names_male),
            _Pool(el.first_names_female),
            _Pool(el.last_names_male),
            _Pool(el.last_names_female),
            latinize,
        ),
    }


class _World:
    """The random source, the name and place pools, and the registries keeping values unique."""

    def __init__(self, seed: int, visits: int = 1) -> None:
        self.rng = _Random(seed)
        self.visits = visits
        self.names = _names()
        en = en_GB.Provider
        self.uk_first = _Pool((*en.first_names_male, *en.first_names_female))
        self.uk_last = _Pool(en.last_names)
        self.streets = _Pool(self._streets(2000))
        self.cities = self._cities(300)
        self.email_domains = _Pool(
            {
                **{
                    d: (4.0 if d == "gmail.com" else 1.0)
                    for d in internet_en_gb.Provider.free_email_domains
                },
                "btinternet.com": 0.6,
                "sky.com": 0.5,
                "icloud.com": 0.5,
            }
        )
        self._emails: set[str] = set()
        self._phones: set[str] = {_digits(STORE_PHONE)}
        self._numbers: dict[str, set[int]] = {}
        self._entities = 0
        self._rates = {(r, s): RATES[r] * SOURCE_NOISE[s] for r in RATES for s in SOURCES}

    def chance(self, rate: str, source: str) -> bool:
        return self.rng.random() < self._rates[rate, source]

    def likely(self, name: str) -> bool:
        return self.rng.random() < POPULATION[name]

    def when(self, after: datetime, before: datetime) -> datetime:
        span = int((before - after).total_seconds())
        return after + timedelta(seconds=self.rng.below(max(span, 1)))

    def entity_id(self) -> str:
        self._entities += 1
        return f"E{self._entities:07d}"

    def number(self, kind: str, low: int, high: int) -> int:
        """A random integer in [low, high) not drawn before for ``kind``."""
        used = self._numbers.setdefault(kind, set())
        while True:
            value = self.rng.between(low, high)
            if value not in used:
                used.add(value)
                return value

    def phone(self, prefixes: Sequence[str]) -> str:
        while True:
            prefix = prefixes[self.rng.below(len(prefixes))]
            digits = prefix + str(self.rng.below(10 ** (11 - len(prefix)))).zfill(11 - len(prefix))
            if digits not in self._phones:
                self._phones.add(digits)
                return digits

    def email(self, local: str, domain: str) -> str:
        """``local@domain``, or with a number added when it would link to someone else's."""
        candidate = local
        while _canonical_email(f"{candidate}@{domain}") in self._emails:
            candidate = f"{local}{self.rng.between(1, 1000)}"
        address = f"{candidate}@{domain}"
        self._emails.add(_canonical_email(address))
        return address

    def address(self) -> _Address:
        rng = self.rng
        city, zone = self.cities[rng.below(len(self.cities))]
        line = f"{rng.between(1, 200)} {self.streets.pick(rng)}"
        if rng.random() < 0.1:
            line = f"Flat {rng.between(1, 30)}, {line}"
        letters = "".join(rng.pick(_POSTCODE_LETTERS) for _ in range(2))
        return _Address(line, city, f"{zone}{rng.between(1, 20)} {rng.below(10)}{letters}")

    def _streets(self, count: int) -> list[str]:
        suffixes = _Pool(address_en_gb.Provider.street_suffixes)
        names = (self.uk_first, self.uk_last)
        return [f"{names[i % 2].pick(self.rng)} {suffixes.pick(self.rng)}" for i in range(count)]

    def _cities(self, count: int) -> list[tuple[str, str]]:
        provider = address_en_gb.Provider
        prefixes, suffixes = _Pool(provider.city_prefixes), _Pool(provider.city_suffixes)
        zones = _Pool(provider.POSTAL_ZONES)
        rng = self.rng
        cities: list[tuple[str, str]] = []
        seen: set[str] = set()
        while len(cities) < count:
            first, last = self.uk_first.pick(rng), self.uk_last.pick(rng)
            name = (
                f"{prefixes.pick(rng)} {first}{suffixes.pick(rng)}",
                f"{prefixes.pick(rng)} {first}",
                f"{first}{suffixes.pick(rng)}",
                f"{last}{suffixes.pick(rng)}",
            )[rng.below(4)]
            if name not in seen:
                seen.add(name)
                cities.append((name, zones.pick(rng)))
        return cities


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _slug(name: str) -> str:
    return "".join(c for c in anyascii(name).lower() if c.isalnum())


def _canonical_email(address: str) -> str:
    """The form the matcher compares (rules.toml providers), so variants never collide.
    Stricter than the rules for Microsoft's domains, which it still treats as one: kept,
    since loosening it would change every generated population, and it only means the
    demo never gives two people jsmith@hotmail.com and jsmith@outlook.com."""
    local, _, domain = address.lower().partition("@")
    if domain in ("gmail.com", "googlemail.com"):
        return f"{local.split('+')[0].replace('.', '')}@gmail.com"
    if domain in ("outlook.com", "hotmail.com", "live.com"):
        return f"{local.split('+')[0]}@outlook.com"
    return f"{local}@{domain}"


# --- people ---------------------------------------------------------------------------------


def _person(world: _World, origin: str, last: str | None = None) -> _Person:
    rng = world.rng
    pools = world.names[origin]
    female = rng.random() < 0.5
    first = (pools.female if female else pools.male).pick(rng)
    last = last or (pools.last_female if female else pools.last_male).pick(rng)
    birth = date(1940, 1, 1) + timedelta(days=rng.below(24_000))
    moved = world.likely("moved")
    person = _Person(
        entity_id=world.entity_id(),
        origin=origin,
        first=first,
        last=last,
        birth=birth,
        address=world.address(),
        old_address=world.address() if moved else None,
        moved_at=world.when(datetime(2020, 1, 1), datetime(2024, 12, 31)) if moved else _START,
        emails=[],
        mobile=None if world.likely("no_mobile") else world.phone(("074", "075", "077", "078")),
        landline=world.phone(("0141", "0151", "0161")) if world.likely("landline") else None,
    )
    f, la = _slug(pools.latin(first)), _slug(pools.latin(last))
    if not world.likely("no_email"):
        person.emails.append(_personal_email(world, f, la, birth))
        if world.likely("two_emails"):
            if rng.random() < 0.5:
                company = _slug(world.uk_last.pick(rng)) + rng.pick(("", "-group", "ltd", "-uk"))
                person.emails.append(world.email(f"{f}.{la}", f"{company}.co.uk"))
            else:
                person.emails.append(_personal_email(world, f, la, birth))
    return person


def _personal_email(world: _World, first: str, last: str, birth: date) -> str:
    rng = world.rng
    year = f"{birth.year % 100:02d}"
    local = (
        f"{first}.{last}",
        f"{first}{last}",
        f"{first[:1]}{last}",
        f"{first}.{last}{year}",
        f"{first}_{last}",
        f"{last}.{first}",
        f"{first}{rng.between(1, 100)}",
    )[rng.below(7)]
    return world.email(local, world.email_domains.pick(rng))


def _household(world: _World, size: int) -> list[_Person]:
    origin = _ORIGINS.pick(world.rng)
    head = _person(world, origin)
    members = [head]
    for _ in range(size - 1):
        member = _person(world, origin, head.last if world.likely("household_last_name") else None)
        member.address, member.old_address, member.moved_at = (
            head.address,
            head.old_address,
            head.moved_at,
        )
        members.append(member)
    landline = world.phone(("0141", "0151", "0161")) if world.likely("household_landline") else None
    for member in members:
        member.landline = landline
    if world.likely("household_family_email"):
        family = world.email(f"the{_slug(world.names[origin].latin(head.last))}s", "gmail.com")
        for member in members:
            if world.likely("family_email_use"):
                member.emails.append(family)
    for member in members:
        member.household = head.entity_id
        others = [m.mobile for m in members if m is not member and m.mobile]
        if others and world.likely("borrowed_phone"):
            member.borrowed_phone = world.rng.pick(others)
    return members


def _choose_sources(world: _World, person: _Person) -> tuple[str, ...]:
    rng, has_phone = world.rng, bool(person.mobile or person.landline)
    # Webshop and newsletter need an e-mail; support needs some way to reach the person.
    reach = [
        (s, w)
        for s, w in SOURCE_REACH.items()
        if (person.emails or s not in ("webshop", "marketing"))
        and (person.emails or has_phone or s != "support")
    ]
    chosen: set[str] = set()
    for _ in range(min(_SOURCE_COUNT.pick(rng), len(reach))):
        # Weighted draw without replacement.
        x = rng.random() * sum(w for _, w in reach)
        i = 0
        while i < len(reach) - 1 and x >= reach[i][1]:
            x -= reach[i][1]
            i += 1
        chosen.add(reach.pop(i)[0])
    return tuple(s for s in SOURCES if s in chosen)


def _people(world: _World, count: int) -> Iterator[_Person]:
    made = 0
    while made < count:
        size = 1
        if world.likely("household_unit"):
            size = world.rng.pick((2, 2, 2, 2, 2, 3, 3, 3, 4, 4))
        size = min(size, count - made)
        unit = _household(world, size) if size > 1 else [_person(world, _ORIGINS.pick(world.rng))]
        for person in unit:
            person.sources = _choose_sources(world, person)
            if "crm" in person.sources:
                person.customer_no = f"C{world.number('customer', 1, 10_000_000):07d}"
            if "pos" in person.sources:
                person.loyalty_card = f"LC{world.number('loyalty', 10**8, 10**9 - 1)}"
            person.borrow_in = next((s for s in person.sources if s in ("pos", "support")), None)
            made += 1
            yield person


# --- noisy values ---------------------------------------------------------------------------


def _spaces(world: _World, source: str, value: str) -> str:
    if world.chance("whitespace", source):
        return world.rng.pick((" ", "  ", "")) + value + world.rng.pick((" ", "\t", ""))
    return value


def _typo(rng: _Random, name: str) -> str:
    if len(name) < 4:
        return name
    i = rng.between(1, len(name) - 1)
    if rng.random() < 0.5:
        return name[:i] + name[i + 1] + name[i] + name[i + 2 :]
    return name[:i] + rng.pick("aeiourlnst") + name[i + 1 :]


def _name(world: _World, source: str, name: str, first: bool = False) -> str:
    rng = world.rng
    if first and name in NICKNAMES and world.chance("nickname", source):
        name = rng.pick(NICKNAMES[name])
    if world.chance("name_typo", source):
        name = _typo(rng, name)
    if world.chance("name_upper", source):
        name = name.upper()
    return _spaces(world, source, name)


def _gmail_variant(rng: _Random, local: str) -> str:
    plain = local.replace(".", "")
    if rng.random() < 0.5 or len(plain) < 3:
        return f"{local}+{rng.pick(('shop', 'orders', 'news', 'promo'))}"
    cut = rng.between(1, len(plain))
    return f"{plain[:cut]}.{plain[cut:]}"


def _email(world: _World, source: str, address: str) -> str:
    rng = world.rng
    if world.chance("junk_email", source):
        return rng.pick(JUNK_EMAILS)
    local, _, domain = address.partition("@")
    if domain == "gmail.com" and source != "crm" and world.chance("gmail_variant", source):
        address = f"{_gmail_variant(rng, local)}@{domain}"
    if world.chance("invalid_email", source):
        address = address.replace("@", "", 1)
    if world.chance("email_upper", source):
        address = address.upper()
    return _spaces(world, source, address)


def _format_phone(digits: str, style: str) -> str:
    groups = (
        [digits[:5], digits[5:]]
        if digits.startswith("07")
        else [digits[:4], digits[4:7], digits[7:]]
    )
    intl = [groups[0][1:], *groups[1:]]
    if style == "national":
        return " ".join(groups)
    if style == "intl":
        return "+44 " + " ".join(intl)
    if style == "intl_compact":
        return "+44" + digits[1:]
    if style == "intl_00":
        return "0044 " + " ".join(intl)
    if style == "intl_paren0":
        return "+44 (0) " + " ".join(intl)
    if style == "dashed":
        return "-".join(groups)
    if style == "paren":
        return f"({groups[0]}) " + "".join(groups[1:])
    return digits


def _phone(world: _World, source: str, digits: str) -> str:
    rng = world.rng
    if world.chance("junk_phone", source):
        return rng.pick(JUNK_PHONES)
    if world.chance("invalid_phone", source):
        return digits[:-3]
    return _spaces(world, source, _format_phone(digits, _PHONE_STYLES[source].pick(rng)))


def _birth_date(world: _World, source: str, birth: date, *, iso: bool) -> str:
    """``YYYY-MM-DD`` or, as UK systems write it, ``DD/MM/YYYY``."""
    if birth.day <= 12 and birth.day != birth.month and world.chance("dob_swap", source):
        birth = birth.replace(day=birth.month, month=birth.day)
    return birth.isoformat() if iso else f"{birth.day:02d}/{birth.month:02d}/{birth.year}"


def _fold(name: str) -> str:
    text = unicodedata.normalize("NFKD", name.translate(_FOLD))
    return "".join(c for c in text if not unicodedata.combining(c))


def _optional(world: _World, source: str, value: str | None) -> str | None:
    """``value`` unless it is missing in this record."""
    return None if value is None or world.chance("missing", source) else value


# --- records per source ---------------------------------------------------------------------

Row = dict[str, Any]


def _crm(world: _World, p: _Person) -> Iterator[Row]:
    s, latin = "crm", world.names[p.origin].latin
    email = _optional(world, s, p.emails[0] if p.emails else None)
    mobile = _optional(world, s, p.mobile)
    birth = _optional(world, s, _birth_date(world, s, p.birth, iso=False))
    updated = world.when(max(p.moved_at, datetime(2023, 1, 1)), _END)
    yield {
        "customer_no": p.customer_no,
        "first_name": _name(world, s, latin(p.first), first=True),
        "last_name": _name(world, s, latin(p.last)),
        "email": email and _email(world, s, email),
        "mobile": mobile and _phone(world, s, mobile),
        "home_phone": p.landline and _phone(world, s, p.landline),
        "birth_date": birth,
        "address_line": p.address.line,
        "city": p.address.city,
        "postcode": p.address.postcode,
        "updated_at": updated.isoformat(),
    }


def _webshop(world: _World, p: _Person) -> Iterator[Row]:
    s, rng = "webshop", world.rng
    accounts: list[tuple[str, str | None]] = [(p.emails[0], p.mobile)]
    if world.likely("second_account"):
        local, _, domain = p.emails[0].partition("@")
        if len(p.emails) > 1:
            accounts.append((p.emails[1], p.mobile))
        elif domain == "gmail.com":
            accounts.append((f"{_gmail_variant(rng, local)}@{domain}", p.mobile))
        else:
            # A fresh address: only the phone can tell it is the same person.
            fresh = world.email(f"{local}.shop", world.email_domains.pick(rng))
            accounts.append((fresh, p.mobile or p.landline))
    native = p.origin in ("ru", "el") and world.likely("native_script_webshop")
    latin = world.names[p.origin].latin
    first, last = (p.first, p.last) if native else (latin(p.first), latin(p.last))
    for email, mobile in accounts:
        old = p.old_address is not None and world.likely("old_address_record")
        address = p.old_address if old and p.old_address else p.address
        created = world.when(_START, p.moved_at) if old else world.when(p.moved_at, _END)
        mobile = _optional(world, s, mobile)
        birth = p.birth if rng.random() < 0.6 else None
        yield {
            "account_id": f"w{world.number('account', 10**6, 10**7)}",
            "email": _email(world, s, email),
            "mobile": mobile and _phone(world, s, mobile),
            "first_name": _name(world, s, first, first=True),
            "last_name": _name(world, s, last),
            "birth_date": birth and _birth_date(world, s, birth, iso=True),
            "address_line": _optional(world, s, address.line),
            "city": _optional(world, s, address.city),
            "postcode": _optional(world, s, address.postcode),
            "marketing_opt_in": rng.random() < 0.45,
            "created": f"{created.isoformat()}+00:00",
        }


def _pos(world: _World, p: _Person) -> Iterator[Row]:
    s, rng = "pos", world.rng
    first, last = world.names[p.origin].latin(p.first), world.names[p.origin].latin(p.last)
    if p.origin in ("pl", "de") and world.likely("ascii_fold_pos"):
        first, last = _fold(first), _fold(last)
    if world.likely("upper_name_pos"):
        first, last = first.upper(), last.upper()
    for i in range(rng.pick((1, 1, 1, 2, 2, 3)) * world.visits):
        old = p.old_address is not None and world.likely("old_address_record")
        address = p.old_address if old and p.old_address else p.address
        when = world.when(_START, p.moved_at) if old else world.when(p.moved_at, _END)
        if i == 0 and p.borrow_in == s and p.borrowed_phone:
            phone: str | None = _phone(world, s, p.borrowed_phone)
        elif world.chance("store_phone", s):
            phone = STORE_PHONE
        else:
            own = _optional(world, s, p.mobile or p.landline)
            phone = own and _phone(world, s, own)
        linked = p.customer_no is not None and world.likely("pos_customer_no")
        yield {
            "transaction_id": f"T{world.number('transaction', 10**8, 10**9)}",
            "loyalty_card": STORE_CARD if world.chance("store_card", s) else p.loyalty_card,
            "customer_no": p.customer_no if linked else None,
            "first_name": _name(world, s, first, first=True),
            "last_name": _name(world, s, last),
            "phone": phone,
            "postcode": _optional(world, s, address.postcode),
            "store": f"Store {rng.between(1, 41):03d}",
            "purchased_at": f"{when.day:02d}/{when.month:02d}/{when:%Y %H:%M}",
            "amount": f"{rng.uniform(1.5, 180):.2f}",
        }


def _support(world: _World, p: _Person) -> Iterator[Row]:
    s, rng = "support", world.rng
    # Agents romanise by ear, not by Faker's table: a second transliteration of the same name.
    first, last = anyascii(p.first), anyascii(p.last)
    tickets = 1
    while tickets < 5 and rng.random() < 0.4:
        tickets += 1
    for i in range(tickets * world.visits):
        own_phone = p.mobile if p.mobile and rng.random() < 0.8 else p.landline or p.mobile
        if i == 0 and p.borrow_in == s and p.borrowed_phone:
            own_phone = p.borrowed_phone
        mode = rng.random()
        email = rng.pick(p.emails) if p.emails and (mode < 0.8 or not own_phone) else None
        phone = own_phone if own_phone and (mode >= 0.3 or not email) else None
        yield {
            "ticket_id": f"TCK-{world.number('ticket', 10**6, 10**7)}",
            "opened_at": f"{world.when(p.moved_at, _END).isoformat()}+00:00",
            "channel": rng.pick(("email", "phone", "chat")),
            "subject": rng.pick(_SUBJECTS),
            "first_name": _optional(world, s, _name(world, s, first, first=True)),
            "last_name": _name(world, s, last),
            "email": email and _email(world, s, email),
            "phone": phone and _phone(world, s, phone),
        }


def _marketing(world: _World, p: _Person) -> Iterator[Row]:
    s, rng = "marketing", world.rng
    emails = [rng.pick(p.emails)]
    if len(p.emails) > 1 and world.likely("two_subscriptions"):
        emails = list(p.emails)
    native = p.origin in ("ru", "el") and world.likely("native_script_marketing")
    first = p.first if native else world.names[p.origin].latin(p.first)
    for email in emails:
        yield {
            "subscriber_id": f"S{world.number('subscriber', 10**7, 10**8)}",
            "email": _email(world, s, email),
            "first_name": _optional(world, s, _name(world, s, first, first=True)),
            "opt_in_email": "true" if rng.random() < 0.8 else "false",
            "opt_in_sms": "true" if rng.random() < 0.3 else "false",
            "subscribed_on": world.when(_START, _END).date().isoformat(),
        }


_RECORDS: Final[Mapping[str, Callable[[_World, _Person], Iterator[Row]]]] = MappingProxyType(
    {"crm": _crm, "webshop": _webshop, "pos": _pos, "support": _support, "marketing": _marketing}
)


# --- output ---------------------------------------------------------------------------------


def generate(
    out_dir: Path,
    people: int = 3000,
    seed: int = 7,
    progress: Callable[[int], None] | None = None,
    events: int = 0,
    until: datetime | None = None,
    visits: int = 1,
) -> DemoFiles:
    """Write the five source files, their mappings, ``truth.csv`` and
    ``household_truth.csv`` into ``out_dir``.

    ``progress`` is called with the number of people written so far, every 1,000 people.
    With ``events`` above 0, also write about that many events of the same people in the
    two years before ``until`` (time-zone aware; default 2025-06-30 18:00 UTC) to
    ``events.jsonl`` (format in ``identity.demo.events``) and who did each one to
    ``events_truth.csv``. The other files are the same with or without events.

    ``visits`` multiplies each person's till transactions and support tickets (default 1:
    the demo as it always was; 5 gives about ten records a person, for benchmarks of a
    store of a million records without a million people).
    """
    if people < 0:
        raise ValueError(f"people must be 0 or more, not {people}")
    if events < 0:
        raise ValueError(f"events must be 0 or more, not {events}")
    if visits < 1:
        raise ValueError(f"visits must be 1 or more, not {visits}")
    if until is not None and until.utcoffset() is None:
        raise ValueError(f"until must carry a time zone, not {until.isoformat()}")
    out_dir.mkdir(parents=True, exist_ok=True)
    mappings_dir = out_dir / "mappings"
    mappings_dir.mkdir(exist_ok=True)
    packaged = resources.files("identity.demo") / "mappings"
    for source in SOURCES:
        (mappings_dir / f"{source}.toml").write_bytes((packaged / f"{source}.toml").read_bytes())

    files = {source: out_dir / FILE_NAMES[source] for source in SOURCES}
    truth_path = out_dir / "truth.csv"
    households_path = out_dir / "household_truth.csv"
    records = dict.fromkeys(SOURCES, 0)
    world = _World(seed, visits)
    summary = None
    with ExitStack() as stack:
        journeys = None
        if events > 0:
            journeys = stack.enter_context(
                EventWriter(
                    out_dir, seed=seed, people=people, events=events, until=until or DEFAULT_UNTIL
                )
            )

        def open_text(path: Path) -> IO[str]:
            return stack.enter_context(path.open("w", encoding="utf-8", newline=""))

        truth = csv.writer(open_text(truth_path), lineterminator="\n")
        truth.writerow(("source", "record_key", "entity_id"))
        households = csv.writer(open_text(households_path), lineterminator="\n")
        households.writerow(("entity_id", "household_id"))
        writers: dict[str, Callable[[Row], object]] = {}
        for source, path in files.items():
            handle = open_text(path)
            if source in _CSV_COLUMNS:
                table = csv.DictWriter(handle, _CSV_COLUMNS[source], lineterminator="\n")
                table.writeheader()
                writers[source] = table.writerow
            else:
                writers[source] = _json_line_writer(handle)

        for done, person in enumerate(_people(world, people), 1):
            households.writerow((person.entity_id, person.household or ""))
            rows: dict[str, list[Row]] = {}
            for source in person.sources:
                for row in _RECORDS[source](world, person):
                    writers[source](row)
                    truth.writerow((source, row[KEYS[source]], person.entity_id))
                    records[source] += 1
                    rows.setdefault(source, []).append(row)
            if journeys is not None:
                journeys.add(_event_subject(person, rows))
            if progress is not None and (done % 1000 == 0 or done == people):
                progress(done)
        if journeys is not None:
            summary = journeys.finish()
    return DemoFiles(
        files=MappingProxyType(files),
        mappings_dir=mappings_dir,
        truth=truth_path,
        people=people,
        records=MappingProxyType(records),
        events_file=journeys.path if journeys else None,
        events_truth=journeys.truth_path if journeys else None,
        events=summary.events if summary else 0,
        event_duplicate_lines=summary.duplicate_lines if summary else 0,
        events_per_type=summary.per_type if summary else MappingProxyType({}),
        household_truth=households_path,
    )


_JUNK: Final = frozenset(e.lower() for e in JUNK_EMAILS)


def _usable_email(value: str | None) -> str | None:
    """The record's e-mail as an event would carry it, or None when it could reach no one."""
    address = (value or "").strip().lower()
    return address if "@" in address and address not in _JUNK else None


def _event_subject(person: _Person, rows: Mapping[str, list[Row]]) -> EventSubject:
    """The identifiers a person's events may carry: those their own records have."""
    accounts = tuple(
        Account(
            account_id=row["account_id"],
            email=_usable_email(row["email"]),
            created=int(datetime.fromisoformat(row["created"]).timestamp()),
            marketing_opt_in=row["marketing_opt_in"],
        )
        for row in rows.get("webshop", ())
    )
    subscriptions = tuple(
        Subscription(email, row["opt_in_email"] == "true", row["opt_in_sms"] == "true")
        for row in rows.get("marketing", ())
        if (email := _usable_email(row["email"]))
    )
    support = [e for row in rows.get("support", ()) if (e := _usable_email(row["email"]))]
    if "support" in person.sources and not support:
        # Tickets by phone only: the helpdesk still has an address from the customer's mail.
        support = [e for e in map(_usable_email, person.emails[:1]) if e]
    return EventSubject(
        entity_id=person.entity_id,
        household=person.household,
        continental=person.origin != "en",
        accounts=accounts,
        loyalty_id=person.loyalty_card,
        subscriptions=subscriptions,
        support_emails=tuple(dict.fromkeys(support)),
    )


def _json_line_writer(handle: IO[str]) -> Callable[[Row], object]:
    def write(row: Row) -> object:
        return handle.write(json.dumps(row, ensure_ascii=False) + "\n")

    return write
