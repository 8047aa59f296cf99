"""Addresses written the way each country writes them, in lines or on one line.

One `Address` (people.py) is the truth; a record gets one rendering of it: abbreviated or
not, the flat before or after the street, the postcode spaced or not, the city under
another of its names, Chinese addresses sometimes in Hanzi from the province down.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from tests.worldgen import rates
from tests.worldgen.people import Address
from tests.worldgen.spelling import fold

ABBREVIATIONS = (
    ("Street", "St"),
    ("Road", "Rd"),
    ("Avenue", "Ave"),
    ("Lane", "Ln"),
    ("Crescent", "Cres"),
    ("Drive", "Dr"),
    ("Boulevard", "Blvd"),
    ("Court", "Ct"),
    ("Place", "Pl"),
    ("straße", "str."),
    ("Straße", "Str."),
)
US_TYPES = (
    ("Street", "St"),
    ("Avenue", "Ave"),
    ("Road", "Rd"),
    ("Drive", "Dr"),
    ("Lane", "Ln"),
    ("Boulevard", "Blvd"),
    ("Court", "Ct"),
    ("Place", "Pl"),
)


@dataclass(slots=True)
class AddressLines:
    line1: str
    line2: str
    city: str
    region: str
    postcode: str


def _abbreviate(text: str) -> str:
    for long, short in ABBREVIATIONS:
        if text.endswith(long) or f"{long} " in text:
            return text.replace(long, short)
    return text


def _street(rng: random.Random, address: Address) -> str:
    street = address.street.name
    if address.country.address_style == "us":
        long, short = US_TYPES[int(address.number) % len(US_TYPES)]
        abbreviated = rng.random() < 0.7  # US addresses are mostly written abbreviated
        street = f"{street} {short + rng.choice(('', '', '.')) if abbreviated else long}"
    elif rng.random() < rates.ADDRESS_ABBREVIATED:
        street = _abbreviate(street)
    return street


def _city(rng: random.Random, address: Address) -> str:
    city = address.city
    if city.local_names and rng.random() < rates.CITY_OTHER_NAME:
        return rng.choice(city.local_names)
    return city.name


def _postcode(rng: random.Random, address: Address) -> str:
    postcode = address.postcode
    style = address.country.address_style
    if style == "gb":
        if rng.random() < 0.15:
            postcode = postcode.replace(" ", "")
        if rng.random() < 0.05:
            postcode = postcode.lower()
    elif style == "pl" and rng.random() < 0.05:
        postcode = postcode.replace("-", "")
    elif style == "us" and rng.random() < 0.1:
        postcode = f"{postcode}-{int(address.number) * 7 % 10000:04d}"
    elif style == "in" and rng.random() < 0.1:
        postcode = f"{postcode[:3]} {postcode[3:]}"
    return postcode


def _gb(rng: random.Random, a: Address) -> tuple[str, str]:
    street = _street(rng, a)
    if a.building:
        return a.building, street
    if a.unit:
        roll = rng.random()
        if roll < 0.5:
            return f"Flat {a.unit}, {a.number} {street}", ""
        if roll < 0.8:
            return f"{a.number} {street}", f"Flat {a.unit}"
        return f"Apartment {a.unit}, {a.number} {street}", ""
    return f"{a.number} {street}", ""


def _us(rng: random.Random, a: Address) -> tuple[str, str]:
    street = f"{a.number} {_street(rng, a)}"
    if not a.unit:
        return street, ""
    unit = rng.choice((f"Apt {a.unit}", f"#{a.unit}", f"Unit {a.unit}", f"Apt. {a.unit}"))
    return (street, unit) if rng.random() < 0.6 else (f"{street} {unit}", "")


def _in(rng: random.Random, a: Address) -> tuple[str, str]:
    flat = rng.choice((f"Flat {a.unit}", f"Flat No. {a.unit}", f"#{a.unit}", f"{a.unit}"))
    district = a.district.name if a.district else ""
    return f"{flat}, {a.building}", f"{a.number}, {_street(rng, a)}, {district}"


def _pl(rng: random.Random, a: Address) -> tuple[str, str]:
    roll = rng.random()
    prefix = "ul. " if roll < 0.6 else ("ulica " if roll < 0.65 else "")
    number = a.number
    if a.unit:
        roll = rng.random()
        number += (
            f"/{a.unit}" if roll < 0.7 else (f" m. {a.unit}" if roll < 0.9 else f" lok. {a.unit}")
        )
    return f"{prefix}{a.street.name} {number}", ""


def _de(rng: random.Random, a: Address) -> tuple[str, str]:
    street = a.street.name
    roll = rng.random()
    if roll < rates.ADDRESS_ABBREVIATED:
        street = _abbreviate(street)
    elif roll < rates.ADDRESS_ABBREVIATED + 0.1:
        street = street.replace("ß", "ss")
    return f"{street} {a.number}", ""


def _ke(rng: random.Random, a: Address) -> tuple[str, str]:
    if a.po_box:
        box = rng.choice(("P.O. Box", "P.O Box", "PO Box", "P. O. Box", "Box"))
        return f"{box} {a.po_box}-{a.postcode}", ""
    district = a.district.name if a.district else ""
    if a.building:
        return f"{a.building}, {a.unit}", f"{district}, {_street(rng, a)}"
    return f"{_street(rng, a)}, {district}", ""


def _cn(rng: random.Random, a: Address) -> tuple[str, str]:
    building, _, room = (a.unit or "").partition("-")
    district = a.district.name if a.district else ""
    street = _street(rng, a)
    if rng.random() < 0.5:
        return f"Room {room}, Building {building}, No. {a.number} {street}", district
    return f"No. {a.number} {street}, Bldg {building} Rm {room}", district


def _cn_hanzi(a: Address) -> str:
    building, _, room = (a.unit or "").partition("-")
    district = a.district.script if a.district and a.district.script else ""
    return f"{a.city.script}{district}{a.street.script}{a.number}号{building}栋{room}室"


def _th(rng: random.Random, a: Address) -> tuple[str, str]:
    street = _street(rng, a)
    parts = [a.number]
    if a.moo:
        parts.append(f"Moo {a.moo}")
    if a.soi:
        lane = a.street.name.removesuffix(" Road")
        parts.append(f"Soi {lane} {a.soi}")
    parts.append(street)
    district = a.district.name if a.district else ""
    return ", ".join(parts), district


LINES = {"gb": _gb, "us": _us, "in": _in, "pl": _pl, "de": _de, "ke": _ke, "cn": _cn, "th": _th}


def address_lines(
    rng: random.Random, address: Address, ascii_only: bool = False, hanzi: bool = False
) -> AddressLines:
    """The address in the fields of a form: two lines, city, region, postcode."""
    if hanzi and address.country.address_style == "cn":
        return AddressLines(_cn_hanzi(address), "", address.city.script or "", "", address.postcode)
    line1, line2 = LINES[address.country.address_style](rng, address)
    lines = AddressLines(
        line1, line2, _city(rng, address), address.city.region, _postcode(rng, address)
    )
    if ascii_only:
        german = address.country.code == "DE" and rng.random() < 0.5
        lines.line1, lines.line2 = fold(lines.line1, german), fold(lines.line2, german)
        lines.city, lines.region = fold(lines.city, german), fold(lines.region, german)
    return lines


def one_line(
    rng: random.Random,
    address: Address,
    ascii_only: bool = False,
    hanzi: bool = False,
    country_name: str | None = None,
) -> str:
    """The address in one field, in the order its country writes it."""
    if hanzi and address.country.address_style == "cn":
        return f"{_cn_hanzi(address)} {address.postcode}".strip()
    lines = address_lines(rng, address, ascii_only)
    street = ", ".join(part for part in (lines.line1, lines.line2) if part)
    style = address.country.address_style
    if style in ("pl", "de"):
        text = f"{street}, {lines.postcode} {lines.city}"
    elif style == "us":
        text = f"{street}, {lines.city}, {lines.region} {lines.postcode}"
    elif style == "in":
        text = f"{street}, {lines.city} - {lines.postcode}"
    elif style == "ke":
        text = f"{street}, {lines.city}"  # Kenyan street addresses go without a postcode
    else:
        text = f"{street}, {lines.city} {lines.postcode}"
    return f"{text}, {country_name}" if country_name else text
