"""People and households: who exists, where they live, which addresses and numbers are theirs.

This is the ground truth. How each source writes a person down (typos, short names,
formats) is decided later, per record, in `spelling.py`, `addresses.py` and `sources.py`.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

import phonenumbers

from tests.worldgen import rates
from tests.worldgen.world import (
    City,
    Country,
    District,
    GivenName,
    Street,
    Surname,
    Weighted,
    common,
    country,
    residences,
)

TODAY = date(2025, 6, 30)
"""The last day of the data: everyone is an adult by then."""
MICROSOFT = (
    "hotmail.com",
    "hotmail.co.uk",
    "hotmail.de",
    "outlook.com",
    "outlook.de",
    "live.com",
    "live.co.uk",
    "msn.com",
)
"""Separate mailboxes: jan@hotmail.com and jan@outlook.com are not the same person."""
UK_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
SOUTH_INDIA = frozenset({"Chennai", "Bengaluru", "Hyderabad"})
SHARED_SURNAME = {"CN": 0.0, "TH": 0.6}
"""Share of couples with one surname; 0.75 where not listed (Chinese wives keep theirs)."""
MIDDLE_NAME = {"GB": 0.5, "US": 0.7, "DE": 0.3, "PL": 0.2, "IN": 0.15, "KE": 1.0}


@dataclass(frozen=True, slots=True)
class Phone:
    number: phonenumbers.PhoneNumber
    written: str  # grouped as the pattern that made it (how people write it at home)
    region: str
    e164: str


@dataclass(frozen=True, slots=True)
class Address:
    country: Country
    city: City
    street: Street
    number: str
    postcode: str
    district: District | None = None
    unit: str | None = None  # flat / apartment / room
    building: str | None = None  # a building or house name
    po_box: str | None = None  # Kenya: P.O. Box number
    moo: str | None = None  # Thailand: village number outside Bangkok
    soi: str | None = None  # Thailand: side street


@dataclass(slots=True)
class Email:
    address: str
    since: date


@dataclass(slots=True)
class Person:
    index: int
    entity_id: str
    household: Household
    country: Country  # where they live
    origin: Country  # where their name comes from
    sex: str
    given: GivenName
    family_name: str
    surname: Surname | None  # the list entry, for its spellings; None for a rare surname
    birth: date
    middle: str | None = None
    second_surname: str | None = None
    maiden_name: str | None = None  # the surname before `married_on`
    married_on: date | None = None
    goes_by: str | None = None  # the name used day to day (Bill, Gosia, Kevin, Nok)
    goes_by_script: str | None = None
    emails: list[Email] = field(default_factory=list)  # oldest first, the last is current
    work_email: str | None = None
    mobiles: list[tuple[Phone, date]] = field(default_factory=list)  # (number, since)
    sources: tuple[str, ...] = ()
    namesake_of: str | None = None
    twin_of: str | None = None
    email_alias_of: str | None = None  # the person whose local part they share elsewhere
    twin: Person | None = field(default=None, repr=False)  # while the household is drawn
    model: Person | None = field(default=None, repr=False)  # whose name a namesake copied

    def email_at(self, when: date) -> str:
        current = self.emails[0].address
        for email in self.emails:
            if email.since <= when:
                current = email.address
        return current

    def mobile_at(self, when: date) -> Phone:
        current = self.mobiles[0][0]
        for phone, since in self.mobiles:
            if since <= when:
                current = phone
        return current

    def surname_at(self, when: date) -> str:
        if self.maiden_name and self.married_on and when < self.married_on:
            return self.maiden_name
        return self.family_name

    @property
    def adult_on(self) -> date:
        return _add_years(self.birth, 18)


@dataclass(slots=True)
class Household:
    hid: str
    kind: str
    country: Country
    address: Address
    old_address: Address | None = None  # before `moved_on`
    moved_on: date | None = None
    landline: Phone | None = None
    family_email: str | None = None
    shared_device: bool = False
    members: list[Person] = field(default_factory=list)

    def address_at(self, when: date) -> Address:
        if self.old_address and self.moved_on and when < self.moved_on:
            return self.old_address
        return self.address


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def random_day(rng: random.Random, start: date, end: date) -> date:
    if end <= start:
        return start
    return start + timedelta(days=rng.randrange((end - start).days + 1))


def ascii_name(text: str) -> str:
    """Lower-case ASCII letters of a name, as an e-mail local part spells it."""
    folded = text.replace("ł", "l").replace("Ł", "L").replace("ß", "ss")
    decomposed = unicodedata.normalize("NFKD", folded)
    return "".join(c for c in decomposed if c.isascii() and c.isalpha()).lower()


UKRAINIAN = (
    ("shch", "щ"),
    ("zh", "ж"),
    ("kh", "х"),
    ("ts", "ц"),
    ("ch", "ч"),
    ("sh", "ш"),
    ("yu", "ю"),
    ("ya", "я"),
    ("ye", "є"),
    ("yi", "ї"),
)
UKRAINIAN_LETTERS = dict(zip("abvhgdezyiklmnoprstuf", "абвгґдезиіклмнопрстуф", strict=True))


def cyrillic(romanised: str) -> str:
    """Ukrainian romanisation (KMU 2010) read back into Cyrillic: Kovalchuk, Ковалчук."""
    text, out = romanised.lower(), []
    i = 0
    while i < len(text):
        for latin, letter in UKRAINIAN:
            if text.startswith(latin, i):
                out.append(letter)
                i += len(latin)
                break
        else:
            out.append(UKRAINIAN_LETTERS.get(text[i], text[i]))
            i += 1
    return "".join(out).capitalize()


def gendered(surname: str, sex: str) -> str:
    """A Polish adjectival surname in the bearer's gender: Kowalski, Kowalska."""
    for masculine, feminine in (("ski", "ska"), ("cki", "cka"), ("dzki", "dzka")):
        if sex == "F" and surname.endswith(masculine):
            return surname.removesuffix(masculine) + feminine
        if sex == "M" and surname.endswith(feminine):
            return surname.removesuffix(feminine) + masculine
    return surname


def _hispanic(entry: Surname | None) -> bool:
    """A US list surname with a Spanish spelling (García): its bearer may carry two."""
    return entry is not None and any(not c.isascii() for c in "".join(entry.alt))


def fill(rng: random.Random, pattern: str) -> str:
    out = []
    for char in pattern:
        if char == "#":
            out.append(str(rng.randrange(10)))
        elif char == "%":
            out.append(str(rng.randrange(2, 10)))
        elif char == "@":
            out.append(rng.choice(UK_INWARD_LETTERS))
        else:
            out.append(char)
    return "".join(out)


class Population:
    """Draws households one at a time, keeping identifiers unique where reality does.

    Two different people never share a mobile or a personal mailbox by accident; they share
    one only where a quirk says so (a family address, a household landline).
    """

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.people = 0
        self.households = 0
        self._mailboxes: set[str] = set()
        self._phones: set[str] = set()
        self._namesakes: dict[tuple[str, str], list[Person]] = {}

    # -- identifiers -----------------------------------------------------------------------

    def phone(self, patterns: tuple[str, ...], region: str) -> Phone:
        for _ in range(200):
            written = fill(self.rng, self.rng.choice(patterns))
            try:
                number = phonenumbers.parse(written, region)
            except phonenumbers.NumberParseException:
                continue  # 179 0x…: China strips 17900-17909 as a carrier prefix
            if not phonenumbers.is_valid_number(number):
                continue
            if phonenumbers.region_code_for_number(number) != region:
                continue  # +44 7781 is Jersey's, +44 7624 the Isle of Man's
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            if e164 in self._phones:
                continue
            self._phones.add(e164)
            return Phone(number, written, region, e164)
        raise RuntimeError(f"no valid unused phone number from {patterns} in {region}")

    @staticmethod
    def mailbox(address: str) -> str:
        """The mailbox an address reaches: Gmail ignores dots and +tags, googlemail is gmail."""
        local, _, domain = address.lower().partition("@")
        if domain in ("gmail.com", "googlemail.com"):
            return local.split("+", 1)[0].replace(".", "") + "@gmail.com"
        return f"{local}@{domain}"

    def claim(self, address: str) -> bool:
        box = self.mailbox(address)
        if box in self._mailboxes:
            return False
        self._mailboxes.add(box)
        return True

    def personal_email(self, person: Person, domain: str, since: date) -> str:
        rng = self.rng
        given = ascii_name(person.goes_by or person.given.name)
        if person.origin.code in ("TH", "KE", "IN") and rng.random() < 0.3:
            given = ascii_name(person.given.name)
        surname = ascii_name(person.surname_at(since)) or given
        year = f"{person.birth.year % 100:02d}"
        if domain == "qq.com":  # QQ mail is the account number
            candidates = [str(rng.randrange(10_000_000, 3_999_999_999)) for _ in range(3)]
        else:
            candidates = [
                f"{given}.{surname}",
                f"{given}{surname}",
                f"{given[0]}{surname}",
                f"{given}.{surname}{year}",
                f"{given}_{surname}",
                f"{surname}.{given}",
                f"{given[0]}.{surname}",
                f"{given}{year}",
                f"{surname}{given}",
                f"{given}{surname}{rng.randrange(1, 100)}",
            ]
            if person.origin.code == "CN":
                candidates.insert(0, f"{surname}{given}")
                candidates.insert(1, f"{surname}{given}{year}")
            start = rng.randrange(min(4, len(candidates)))
            candidates = candidates[start:] + candidates[:start]
        for local in candidates:
            if self.claim(f"{local}@{domain}"):
                return f"{local}@{domain}"
        while True:  # as the provider's sign-up page does: digits until it is free
            local = f"{candidates[0]}{rng.randrange(1, 10_000)}"
            if self.claim(f"{local}@{domain}"):
                return f"{local}@{domain}"

    def _gmail_era(self, person: Person, address: str, since: date) -> str:
        if (
            address.endswith("@gmail.com")
            and person.country.code in ("GB", "DE")
            and since.year < 2012
            and self.rng.random() < rates.GOOGLEMAIL_EARLY
        ):
            return address.replace("@gmail.com", "@googlemail.com")
        return address

    def _emails(self, person: Person) -> list[Email]:
        rng = self.rng
        first_since = random_day(rng, max(person.adult_on, date(2004, 1, 1)), date(2015, 12, 31))
        emails: list[Email] = []
        if rng.random() < rates.EMAIL_CHANGED:
            domain = person.country.old_email_domains.draw(rng)
            old = self.personal_email(person, domain, first_since)
            emails.append(Email(self._gmail_era(person, old, first_since), first_since))
            changed = random_day(rng, date(2016, 1, 1), date(2024, 6, 30))
            domain = person.country.email_domains.draw(rng)
            emails.append(Email(self.personal_email(person, domain, changed), changed))
        else:
            domain = person.country.email_domains.draw(rng)
            address = self.personal_email(person, domain, first_since)
            emails.append(Email(self._gmail_era(person, address, first_since), first_since))
        return emails

    def _work_email(self, person: Person) -> str:
        rng = self.rng
        words = common().company_words
        tld = common().company_tlds[person.country.code]
        company = "".join(w.lower() for w in (rng.choice(words[0]), rng.choice(words[1])))
        given = ascii_name(person.given.name)
        surname = ascii_name(person.family_name) or given
        for local in (f"{given}.{surname}", f"{given[0]}{surname}", f"{given}{surname[0]}"):
            if self.claim(f"{local}@{company}.{tld}"):
                return f"{local}@{company}.{tld}"
        local = f"{given}.{surname}{rng.randrange(2, 99)}"
        self.claim(f"{local}@{company}.{tld}")
        return f"{local}@{company}.{tld}"

    # -- names -----------------------------------------------------------------------------

    def _rare_surname(self, origin: Country, sex: str) -> str:
        return gendered("".join(self.rng.choice(part) for part in origin.surname_parts), sex)

    def _surname(self, origin: Country, sex: str) -> tuple[str, Surname | None]:
        roll = self.rng.random()
        if not origin.surname_parts or roll < origin.surname_list_share:
            entry = origin.surnames.draw(self.rng)
            if entry.female and sex == "F" and origin.code == "IN" and self.rng.random() < 0.3:
                return entry.name, entry  # not every Sikh woman is registered as Kaur
            return entry.for_sex(sex), entry
        if roll < origin.surname_list_share + origin.patronymic_share:
            return self.given_name(origin, "M").name, None  # the father's name
        name = self._rare_surname(origin, sex)
        if origin.code == "UA":  # written back in Cyrillic, so that it can appear so
            return name, Surname(name, script=cyrillic(name))
        return name, None

    def given_name(self, origin: Country, sex: str) -> GivenName:
        """A given name of this origin: from its list, another country's, or composed."""
        rng = self.rng
        if origin.given_borrow and rng.random() < origin.given_borrow[1]:
            return country(origin.given_borrow[0]).given(sex).draw(rng)
        parts = origin.given_parts(sex)
        if parts and rng.random() < origin.given_parts_share:
            chosen = [rng.choice(part) for part in parts]
            romanised = [roman for roman, _ in chosen]
            scripts = [script for _, script in chosen]
            return GivenName(
                "".join(romanised).capitalize(),
                sex,
                alt=(" ".join(romanised), "-".join(romanised)),
                script="".join(s for s in scripts if s) if all(scripts) else None,
            )
        return origin.given(sex).draw(rng)

    @staticmethod
    def _for_sex(name: str, entry: Surname | None, sex: str) -> str:
        """A shared family surname as this member carries it (Kowalski, Kowalska)."""
        return entry.for_sex(sex) if entry is not None else gendered(name, sex)

    def _goes_by(self, person: Person) -> None:
        rng = self.rng
        origin, given = person.origin, person.given
        abroad = person.country.code != origin.code
        if origin.code == "TH":
            nicknames = origin.nicknames_male if person.sex == "M" else origin.nicknames_female
            if rng.random() < rates.GOES_BY_SHORT:
                person.goes_by, person.goes_by_script = rng.choice(nicknames)
        elif origin.code == "CN":
            english = origin.english_male if person.sex == "M" else origin.english_female
            if rng.random() < rates.CHINESE_ENGLISH_NAME:
                person.goes_by = rng.choice(english)
        elif abroad and given.en and rng.random() < rates.GOES_BY_ENGLISH:
            person.goes_by = rng.choice(given.en)
        elif given.short and rng.random() < rates.GOES_BY_SHORT:
            person.goes_by = rng.choice(given.short)

    def _middle(self, person: Person) -> None:
        origin = person.origin
        if self.rng.random() >= MIDDLE_NAME.get(origin.code, 0.0):
            return
        names = origin.middle_male if person.sex == "M" else origin.middle_female
        if names:
            person.middle = self.rng.choice(names)
        elif origin.middle and self.rng.random() < 0.4:
            person.middle = self.rng.choice(origin.middle)  # an initial (US)
        else:
            for _ in range(5):
                name = origin.given(person.sex).draw(self.rng).name
                if name != person.given.name:
                    person.middle = name
                    return

    # -- households ------------------------------------------------------------------------

    def _kind(self, home: Country) -> str:
        kinds = dict(rates.HOUSEHOLD_KINDS)
        kinds["multigen"] = rates.MULTIGEN_COUNTRIES.get(home.code, kinds["multigen"])
        return Weighted(list(kinds), list(kinds.values())).draw(self.rng)

    def _origin(self, home: Country) -> Country:
        rng = self.rng
        share = sum(weight for _, weight in home.diaspora) / 100.0
        if home.diaspora and rng.random() < share:
            codes = [code for code, _ in home.diaspora]
            return country(Weighted(codes, [w for _, w in home.diaspora]).draw(rng))
        return home

    def address(self, home: Country, city: City | None = None) -> Address:
        rng = self.rng
        assert home.cities is not None
        city = city or home.cities.draw(rng)
        district = rng.choice(city.districts) if city.districts else None
        streets = tuple(Street(s) for s in city.streets) or home.streets
        street = rng.choice(streets)
        style = home.address_style
        postcode_pattern = (
            district.postcode if district and district.postcode else rng.choice(city.postcodes)
        )
        postcode = fill(rng, postcode_pattern)
        unit = building = po_box = moo = soi = None
        if style == "gb":
            number = str(rng.randrange(1, 180))
            if rng.random() < 0.25:
                unit = str(rng.randrange(1, 30))
            elif rng.random() < 0.05:
                building = rng.choice(home.house_names)
        elif style == "us":
            number = str(rng.randrange(1, 99) * 100 + rng.randrange(1, 99))
            if rng.random() < 0.35:
                unit = f"{rng.randrange(1, 20)}{rng.choice('ABCDEF')}"
        elif style == "in":
            number = str(rng.randrange(1, 400))
            unit = f"{rng.randrange(1, 15)}0{rng.randrange(1, 6)}"
            building = f"{rng.choice(home.buildings)} {rng.choice(home.building_types)}"
        elif style == "pl":
            number = str(rng.randrange(1, 120))
            if rng.random() < 0.6:
                unit = str(rng.randrange(1, 90))
        elif style == "de":
            number = str(rng.randrange(1, 140)) + (rng.choice("abc") if rng.random() < 0.08 else "")
        elif style == "ke":
            number = str(rng.randrange(1, 300))
            if rng.random() < 0.45:
                po_box = str(rng.randrange(100, 99999))
            if rng.random() < 0.4:
                building = rng.choice(home.buildings)
                unit = f"{rng.choice('ABCD')}{rng.randrange(1, 30)}"
        elif style == "cn":
            number = str(rng.randrange(1, 600))
            unit = f"{rng.randrange(1, 8)}-{rng.randrange(1, 30)}{rng.randrange(1, 5):02d}"
        elif style == "th":
            number = f"{rng.randrange(1, 300)}/{rng.randrange(1, 120)}"
            if city.name == "Bangkok":
                if rng.random() < 0.7:
                    soi = str(rng.randrange(1, 80))
            elif rng.random() < 0.6:
                moo = str(rng.randrange(1, 15))
        else:
            raise ValueError(f"unknown address style {style!r}")
        return Address(
            home, city, street, number, postcode, district, unit, building, po_box, moo, soi
        )

    def _birth(self, age_low: int, age_high: int) -> date:
        age_high = max(age_low, age_high)
        start = _add_years(TODAY, -age_high - 1) + timedelta(days=1)
        return random_day(self.rng, start, _add_years(TODAY, -age_low))

    def _roles(self, kind: str) -> list[str]:
        rng = self.rng
        if kind == "single":
            return ["head"]
        if kind == "couple":
            return ["head", "partner"]
        if kind == "family":
            return ["head", "partner"] + ["child"] * rng.choice((1, 2, 2, 3))
        if kind == "parent_child":
            return ["head", "child"]
        if kind == "flatmates":
            return ["flatmate"] * rng.choice((2, 2, 3))
        return ["grandparent", "head", "partner", "child"]

    def _member_birth(
        self, role: str, kind: str, members: list[Person], head: Person | None
    ) -> date:
        rng = self.rng
        if role == "grandparent":
            return self._birth(66, 92)
        if role == "head" and members:  # the grandparent's son or daughter
            age = TODAY.year - members[0].birth.year
            return self._birth(max(38, age - 38), age - 22)
        if role == "head":
            low, high = {"single": (18, 88), "couple": (22, 82), "parent_child": (42, 86)}.get(
                kind, (40, 72)
            )
            return self._birth(low, high)
        if role == "partner" and head is not None:
            year = head.birth.year + rng.randint(-6, 6)
            birth = self._birth(TODAY.year - year - 1, TODAY.year - year)
            return max(min(birth, _add_years(TODAY, -19)), date(1933, 1, 1))
        if role == "child":
            parent = head or members[0]
            return self._birth(18, max(18, min(36, TODAY.year - parent.birth.year - 20)))
        return self._birth(19, 36)  # a flatmate

    def household(self, limit: int) -> Household:
        """The next household, with at most `limit` members who are customers.

        The whole household is drawn (its surnames, ages, twins); then the first member and
        each other member with the chance `MEMBER_IS_CUSTOMER` are kept: only customers are
        in any source, and most customers share their home with no other customer.
        """
        rng = self.rng
        home = residences().draw(rng)
        kind = self._kind(home)
        roles = self._roles(kind)[:limit]
        if len(roles) == 1:
            kind = "single" if roles[0] == "head" else kind
        self.households += 1
        house = Household(f"H{self.households:07d}", kind, home, self.address(home))
        origin = self._origin(home)
        if rng.random() < rates.MOVED:
            house.old_address = self.address(home)
            house.moved_on = random_day(rng, date(2016, 1, 1), date(2024, 12, 31))
        if kind != "flatmates" and rng.random() < home.landline_share:
            house.landline = self.phone(house.address.city.landline, home.code)

        family: tuple[str, Surname | None] | None = None  # the family surname and its entry
        head: Person | None = None
        couple_shares = rng.random() < SHARED_SURNAME.get(origin.code, 0.75)
        twins_pending = kind in ("family", "multigen") and rng.random() < rates.TWINS_IN_FAMILY
        last_child: Person | None = None
        members: list[Person] = []
        for role in roles:
            sex = rng.choice("MF")
            if role == "partner" and head is not None and rng.random() < 0.9:
                sex = "F" if head.sex == "M" else "M"
            member_origin = self._origin(home) if role == "flatmate" else origin
            birth = self._member_birth(role, kind, members, head)
            surname, entry = self._surname(member_origin, sex)
            shares = family is not None and (
                role in ("head", "child") or (role == "partner" and couple_shares)
            )
            if family is not None and shares:
                surname, entry = self._for_sex(family[0], family[1], sex), family[1]
            founder = family is None and role != "flatmate"
            person = self._person(
                house, member_origin, sex, birth, surname, entry, may_copy=not shares
            )
            if founder:
                family = (person.family_name, person.surname)
            if role == "head":
                head = person
            if role == "partner" and shares and sex == "F" and rng.random() < rates.MARRIED_NAME:
                maiden, _ = self._surname(member_origin, sex)
                if maiden != person.family_name:
                    person.maiden_name = maiden
                    person.married_on = random_day(rng, date(2016, 1, 1), date(2024, 6, 30))
            if role == "child":
                if twins_pending and last_child is not None:
                    person.birth = last_child.birth
                    person.twin, last_child.twin = last_child, person
                    if person.given.name == last_child.given.name:
                        self._rename(person)
                    twins_pending = False
                last_child = person
            members.append(person)

        twins_are_customers = rng.random() < rates.MEMBER_IS_CUSTOMER  # as a pair
        for position, person in enumerate(members):
            if position == 0 or (
                twins_are_customers if person.twin else rng.random() < rates.MEMBER_IS_CUSTOMER
            ):
                house.members.append(person)
        for person in house.members:
            self._register(person)
        for person in house.members:
            if person.twin is not None and person.twin.entity_id:
                person.twin_of = person.twin.entity_id
        self._finish(house)
        return house

    def _register(self, person: Person) -> None:
        """A customer: an entity id, and a name later customers may share."""
        self.people += 1
        person.index = self.people
        person.entity_id = f"person-{self.people:07d}"
        if person.model is not None:
            person.namesake_of = person.model.entity_id
            return
        pool = self._namesakes.setdefault((person.origin.code, person.sex), [])
        if len(pool) < 400:
            pool.append(person)
        else:
            pool[self.rng.randrange(len(pool))] = person

    def _rename(self, person: Person) -> None:
        for _ in range(20):
            given = self.given_name(person.origin, person.sex)
            if given.name != person.given.name:
                person.given = given
                person.goes_by = None
                self._goes_by(person)
                return

    def _person(
        self,
        house: Household,
        origin: Country,
        sex: str,
        birth: date,
        surname: str,
        entry: Surname | None,
        may_copy: bool,
    ) -> Person:
        rng = self.rng
        given = self.given_name(origin, sex)
        person = Person(
            index=0,
            entity_id="",  # given if the person turns out to be a customer
            household=house,
            country=house.country,
            origin=origin,
            sex=sex,
            given=given,
            family_name=surname,
            surname=entry,
            birth=birth,
        )
        pool = self._namesakes.setdefault((origin.code, sex), [])
        if may_copy and pool and rng.random() < rates.NAMESAKE:
            model = rng.choice(pool)
            person.given, person.family_name, person.surname = (
                model.given,
                model.family_name,
                model.surname,
            )
            person.model = model
        if (
            origin.code == "US"
            and _hispanic(person.surname)
            and rng.random() < rates.HISPANIC_SECOND_SURNAME
        ):
            for _ in range(10):
                second = origin.surnames.draw(rng)
                if _hispanic(second) and second.name != person.family_name:
                    person.second_surname = second.name
                    break
        self._middle(person)
        self._goes_by(person)
        return person

    def _finish(self, house: Household) -> None:
        """Identifiers, once every member's name is known."""
        rng = self.rng
        for person in house.members:
            person.emails = self._emails(person)
            if person.model is not None:
                self._copy_alias(person, person.model)
            if rng.random() < rates.WORK_EMAIL:
                person.work_email = self._work_email(person)
            patterns = person.country.mobile or house.address.city.landline
            since = random_day(rng, max(person.adult_on, date(2008, 1, 1)), date(2015, 12, 31))
            person.mobiles = [(self.phone(patterns, person.country.code), since)]
            if rng.random() < rates.MOBILE_CHANGED:
                changed = random_day(rng, date(2016, 1, 1), date(2024, 12, 31))
                person.mobiles.append((self.phone(patterns, person.country.code), changed))
            person.sources = self._sources()
            person.twin = person.model = None  # let drawn households go
        if (
            house.kind != "flatmates"
            and len(house.members) >= 2
            and rng.random() < rates.FAMILY_EMAIL
        ):
            house.family_email = self._family_email(house)

    def _copy_alias(self, person: Person, model: Person) -> None:
        """hotmail.com and outlook.com are different mailboxes: namesakes hold one each."""
        theirs = model.emails[-1].address if model.emails else ""
        local, _, domain = theirs.partition("@")
        if domain not in MICROSOFT or self.rng.random() >= rates.MS_ALIAS_COPY:
            return
        others = [d for d in MICROSOFT if d != domain and not d.endswith((".de", ".co.uk"))]
        for other in others:
            address = f"{local}@{other}"
            if self.claim(address):
                person.emails[-1] = Email(address, person.emails[-1].since)
                person.email_alias_of = model.entity_id
                return

    def _family_email(self, house: Household) -> str:
        rng = self.rng
        head = house.members[0]
        surname = ascii_name(head.family_name) or ascii_name(head.given.name)
        code = house.country.code
        firsts = [ascii_name(m.goes_by or m.given.name) for m in house.members[:2]]
        if code == "DE":
            locals_ = [f"familie.{surname}", f"fam{surname}", f"{firsts[0]}und{firsts[1]}"]
        elif code == "PL":
            locals_ = [f"dom.{surname}", f"{surname}.rodzina", f"{firsts[0]}i{firsts[1]}"]
        elif code == "CN":
            locals_ = [f"{surname}jia", f"{surname}family"]
        elif code == "TH":
            locals_ = [f"baan{surname}", f"{surname}family"]
        else:
            locals_ = [f"the{surname}s", f"{surname}family", f"{firsts[0]}and{firsts[1]}"]
        domain = house.country.email_domains.draw(rng)
        if domain == "qq.com":
            domain = "163.com"
        rng.shuffle(locals_)
        for local in locals_:
            if self.claim(f"{local}@{domain}"):
                return f"{local}@{domain}"
        while True:
            local = f"{locals_[0]}{rng.randrange(1, 1000)}"
            if self.claim(f"{local}@{domain}"):
                return f"{local}@{domain}"

    def _sources(self) -> tuple[str, ...]:
        rng = self.rng
        chosen = tuple(s for s, share in rates.IN_SOURCE.items() if rng.random() < share)
        return chosen or (rng.choice(list(rates.IN_SOURCE)),)

    def households_for(self, people: int) -> Iterator[Household]:
        """Households until `people` people exist."""
        while self.people < people:
            yield self.household(people - self.people)
