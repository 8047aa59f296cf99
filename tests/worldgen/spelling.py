"""How one record writes a person down: names, dates, phone numbers and e-mail addresses.

Every function takes the random source and returns text as a real system would have it:
short forms, other transliterations, lost diacritics, typos, local date and phone formats.
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

import phonenumbers

from tests.worldgen import rates
from tests.worldgen.people import SOUTH_INDIA, Person, Phone
from tests.worldgen.world import country

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
KEYBOARD = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
GERMAN_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})
MISSPELT_DOMAINS = {
    "gmail.com": ("gmial.com", "gmail.co", "gamil.com", "gmail.con"),
    "hotmail.com": ("hotmial.com", "hotmail.co"),
    "hotmail.co.uk": ("hotmail.co", "hotmal.co.uk"),
    "yahoo.com": ("yaho.com", "yahoo.co"),
    "outlook.com": ("outlok.com",),
}
TITLES = {
    "DE": {"M": "Herr", "F": "Frau"},
    "PL": {"M": "Pan", "F": "Pani"},
    "TH": {"M": "Khun", "F": "Khun"},
}
ENGLISH_TITLES = {"M": ("Mr", "Mr.", "Mr"), "F": ("Mrs", "Ms", "Miss", "Mrs.")}


def _neighbours() -> dict[str, str]:
    found: dict[str, str] = {}
    for row_index, row in enumerate(KEYBOARD):
        for col, char in enumerate(row):
            near = [row[i] for i in (col - 1, col + 1) if 0 <= i < len(row)]
            for other in (row_index - 1, row_index + 1):
                if 0 <= other < len(KEYBOARD):
                    near += [KEYBOARD[other][i] for i in (col, col + 1) if i < len(KEYBOARD[other])]
            found[char] = "".join(near)
    return found


NEIGHBOURS = _neighbours()


def typo(rng: random.Random, text: str) -> str:
    """One slip of the keyboard: a neighbouring key, two letters swapped, one dropped or doubled.

    The first letter is left alone: people rarely get it wrong, and it keeps initials true.
    """
    positions = [i for i, c in enumerate(text) if c.isalpha()][1:]
    if len(positions) < 2:
        return text
    i = rng.choice(positions)
    kind = rng.randrange(4)
    char = text[i]
    if kind == 0 and char.lower() in NEIGHBOURS:
        near = rng.choice(NEIGHBOURS[char.lower()])
        return text[:i] + (near.upper() if char.isupper() else near) + text[i + 1 :]
    if kind == 1 and i - 1 in positions and text[i - 1] != char:
        return text[: i - 1] + char + text[i - 1] + text[i + 1 :]
    if kind == 2:
        return text[:i] + text[i + 1 :]
    return text[:i] + char + text[i:]


def fold(text: str, german: bool = False) -> str:
    """The name as a system without diacritics keeps it: Małgorzata Malgorzata, Müller Muller."""
    if german:
        text = text.translate(GERMAN_FOLD)
    text = text.replace("ł", "l").replace("Ł", "L").replace("ß", "ss")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def chance(rng: random.Random, table: dict[str, float], source: str) -> bool:
    return rng.random() < table.get(source, 0.0)


@dataclass(slots=True)
class WrittenName:
    given: str
    family: str
    middle: str = ""
    script: bool = False  # in the person's own script (Hanzi, Thai, Cyrillic)
    chinese: bool = False  # a Chinese name: family name first when written whole

    def full(self, family_first: bool | None = None) -> str:
        first = self.chinese if family_first is None else family_first
        if self.script and self.chinese:
            return f"{self.family}{self.given}"
        parts = [self.family, self.given] if first else [self.given, self.middle, self.family]
        return " ".join(p for p in parts if p)


def _given(rng: random.Random, person: Person, source: str, script: bool) -> str:
    given = person.given
    if person.goes_by and rng.random() < rates.SHORT_FORM_WHEN_GOES_BY.get(source, 0.0):
        if script and person.goes_by_script:
            return person.goes_by_script
        return person.goes_by
    if script and given.script:
        return given.script
    if given.short and rng.random() < rates.SHORT_FORM_OTHERWISE:
        return rng.choice(given.short)
    official = {"PL": given.pl, "DE": given.de}.get(person.country.code)
    if official and rng.random() < 0.5:
        return official
    if given.alt and chance(rng, rates.ALT_SPELLING, source):
        return rng.choice(given.alt)
    return given.name


def _family(rng: random.Random, person: Person, source: str, when: date, script: bool) -> str:
    entry = person.surname
    family = person.surname_at(when)
    if entry is not None and family == entry.for_sex(person.sex):
        if script and entry.script:
            return entry.script
        official = {"PL": entry.pl, "DE": entry.de}.get(person.country.code)
        if official and rng.random() < 0.5:
            family = official
        elif entry.alt and chance(rng, rates.ALT_SPELLING, source):
            family = rng.choice(entry.alt)
    if person.second_surname and family == person.family_name:
        roll = rng.random()
        if roll < 0.5:
            family = f"{family} {person.second_surname}"
        elif roll < 0.6:
            family = f"{family}-{person.second_surname}"
    if person.origin.code == "IN":
        south = person.household.address.city.name in SOUTH_INDIA
        share = rates.INDIAN_SURNAME_INITIAL * (3 if south else 1)
        if rng.random() < share:
            family = family[0] + rng.choice((".", ""))
    return family


def written_name(rng: random.Random, person: Person, source: str, when: date) -> WrittenName:
    """The person's name as this record holds it."""
    origin = person.origin
    own_script = rates.OWN_SCRIPT.get(source, 0.0)
    if person.country.code != origin.code:
        own_script /= 4  # abroad, forms and tills rarely take it
    script = (
        person.given.script is not None
        and person.surname is not None
        and person.surname.script is not None
        and person.surname_at(when) == person.family_name
        and rng.random() < own_script
    )
    given = _given(rng, person, source, script)
    family = _family(rng, person, source, when, script)
    middle = person.middle or ""
    if origin.code == "KE" and middle:
        roll = rng.random()
        if roll < 0.2:  # the African name kept as the surname
            family, middle = middle, ""
        elif roll < 0.4:  # the African name as the first name
            given, middle = middle, ""
    chinese = origin.code == "CN" and not (person.goes_by and given == person.goes_by)
    name = WrittenName(given, family, middle, script, chinese)
    if script:
        return name
    if chance(rng, rates.ASCII_ONLY, source):
        german = origin.code == "DE" and rng.random() < 0.5
        name.given, name.family = fold(name.given, german), fold(name.family, german)
        name.middle = fold(name.middle, german)
    if chance(rng, rates.TYPO, source):
        name.given = typo(rng, name.given)
    if chance(rng, rates.TYPO, source):
        name.family = typo(rng, name.family)
    if chance(rng, rates.INITIAL_ONLY, source):
        name.given = name.given[0] + rng.choice((".", ""))
    if chance(rng, rates.UPPER_CASE, source):
        name.family = name.family.upper()
        if source != "crm":
            name.given, name.middle = name.given.upper(), name.middle.upper()
    elif chance(rng, rates.LOWER_CASE, source):
        name.given, name.family, name.middle = (
            name.given.lower(),
            name.family.lower(),
            name.middle.lower(),
        )
    return name


def full_name(rng: random.Random, person: Person, source: str, when: date) -> str:
    """A name in one field, in one of the shapes tills and mail clients produce."""
    name = written_name(rng, person, source, when)
    if name.script:
        return name.full()
    code = person.country.code
    roll = rng.random()
    if name.chinese:
        abroad = code != "CN"
        if roll < (0.3 if abroad else 0.6):
            return name.full(family_first=True)
        if roll < (0.4 if abroad else 0.75):
            return f"{name.family.upper()} {name.given}"
        return name.full(family_first=False)
    if code == "TH" and roll < 0.15:
        return f"Khun {name.given}"
    if roll < 0.5:
        return name.full()
    if roll < 0.7:
        return f"{name.family}, {name.given}"
    initial = name.given[:1]
    if roll < 0.85 and initial:
        title = TITLES.get(code, {}).get(person.sex) or rng.choice(ENGLISH_TITLES[person.sex])
        return f"{title} {initial}. {name.family}"
    if roll < 0.93 and initial:
        return f"{initial}. {name.family}"
    return f"{name.given} {name.family}"


# -- dates ---------------------------------------------------------------------------------


def written_date(rng: random.Random, day: date, country_code: str) -> str:
    """A date as a CRM column collects it from people and imports: several formats at once.

    US rows are month first (03/01/2024 is 1 March); elsewhere day first.
    """
    roll = rng.random()
    if country_code == "US":
        if roll < 0.6:
            return day.strftime("%m/%d/%Y")
        if roll < 0.9:
            return day.isoformat()
        return f"{MONTHS[day.month - 1]} {day.day}, {day.year}"
    if roll < 0.4:
        return day.isoformat()
    if roll < 0.7:
        return day.strftime("%d/%m/%Y")
    if roll < 0.85:
        return f"{day.day} {MONTHS[day.month - 1]} {day.year}"
    if country_code in ("DE", "PL"):
        return day.strftime("%d.%m.%Y")
    return day.isoformat()


def day_and_month(rng: random.Random, day: date, country_code: str) -> str:
    """A loyalty card's birthday: no year."""
    if rng.random() < 0.2:
        return f"{day.day} {MONTHS[day.month - 1]}"
    if country_code == "US":
        return day.strftime("%m/%d")
    return day.strftime("%d/%m")


# -- phones --------------------------------------------------------------------------------


def _styled(phone: Phone, style: str) -> str:
    number = phone.number
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    groups = re.findall(r"\d+", national)
    if style == "written":
        return phone.written
    if style == "national":
        return national
    if style == "compact":
        return "".join(groups)
    if style == "nsn":
        return phonenumbers.national_significant_number(number)
    if style == "international":
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    if style == "e164":
        return phone.e164
    if style == "idd":
        return "00" + phonenumbers.format_number(
            number, phonenumbers.PhoneNumberFormat.INTERNATIONAL
        ).removeprefix("+")
    if style == "cc":
        return phone.e164.removeprefix("+")
    if style == "dashed":
        return "-".join(groups)
    if style == "dotted":
        return ".".join(groups)
    if style == "slash":
        head, _, tail = phone.written.partition(" ")
        return f"{head}/{tail.replace(' ', '')}" if tail else phone.written
    if style == "us_one":
        return "1-" + "-".join(groups)
    raise ValueError(f"unknown phone style {style!r}")


def phone_text(rng: random.Random, phone: Phone, styles: tuple[str, ...] | None = None) -> str:
    """The number in one of its country's usual ways of writing it, always still valid."""
    style = rng.choice(styles or phone_styles(phone))
    text = _styled(phone, style)
    try:
        parsed = phonenumbers.parse(text, phone.region)
    except phonenumbers.NumberParseException:
        return _styled(phone, "national")
    if (
        phonenumbers.is_valid_number(parsed)
        and parsed.national_number == phone.number.national_number
    ):
        return text
    return _styled(phone, "national")


def phone_styles(phone: Phone) -> tuple[str, ...]:
    return ("written", *country(phone.region).phone_styles)


def swapped_digits(rng: random.Random, phone: Phone) -> Phone | None:
    """Two neighbouring digits swapped: a slip that still dials somebody, or None."""
    digits = phonenumbers.national_significant_number(phone.number)
    i = rng.randrange(2, len(digits) - 1)
    if digits[i] == digits[i + 1]:
        return None
    slipped = digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :]
    try:
        number = phonenumbers.parse("+" + str(phone.number.country_code) + slipped)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    if phonenumbers.region_code_for_number(number) != phone.region:
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return Phone(number, national, phone.region, e164)


# -- e-mail --------------------------------------------------------------------------------


def email_text(rng: random.Random, address: str, source: str) -> str:
    """An address as a form or a person typed it; the same mailbox unless a typo struck."""
    local, _, domain = address.partition("@")
    if domain == "googlemail.com" and rng.random() < 0.3:
        domain = "gmail.com"
    elif domain == "gmail.com" and rng.random() < 0.02:
        domain = "googlemail.com"
    if domain in ("gmail.com", "googlemail.com"):
        if rng.random() < rates.GMAIL_DOTS:
            plain = local.replace(".", "")
            cut = rng.randrange(1, len(plain)) if len(plain) > 2 else 1
            local = plain if "." in local else f"{plain[:cut]}.{plain[cut:]}"
        if source == "webshop" and rng.random() < rates.GMAIL_TAG:
            local = f"{local}+{rng.choice(('shop', 'orders', 'deals', 'online'))}"
    if chance(rng, rates.EMAIL_TYPO, source):
        if domain in MISSPELT_DOMAINS and rng.random() < 0.5:
            domain = rng.choice(MISSPELT_DOMAINS[domain])
        else:
            local = typo(rng, local)
    if rng.random() < rates.EMAIL_MIXED_CASE:
        local = ".".join(part.capitalize() for part in local.split("."))
        domain = domain.capitalize()
    return f"{local}@{domain}"
