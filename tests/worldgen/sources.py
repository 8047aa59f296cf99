"""The five record sources: what each system knows about a person and how it writes it down.

- crm: a CRM export (CSV), first/middle/last name, ISO country code, duplicate accounts.
- webshop: an e-commerce customer export (JSON Lines), nested contact and addresses.
- pos: a loyalty / point-of-sale member list (CSV), one full-name field and a card number.
- support: a help-desk ticket export (CSV), "Name <email>" requester, one-line address.
- newsletter: an e-mail service's subscriber list (CSV), e-mail addresses only.

The app's event log is in `events.py`.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, datetime, time, timedelta

from tests.worldgen import rates
from tests.worldgen.addresses import address_lines, one_line
from tests.worldgen.output import FileSpec, SortedSink
from tests.worldgen.people import TODAY, Person, Phone, Population, random_day
from tests.worldgen.spelling import (
    chance,
    day_and_month,
    email_text,
    full_name,
    phone_text,
    swapped_digits,
    written_date,
    written_name,
)
from tests.worldgen.world import City, Country, common

SPANS = {
    "crm": (date(2012, 1, 1), TODAY),
    "webshop": (date(2016, 1, 1), TODAY),
    "pos": (date(2014, 1, 1), TODAY),
    "support": (date(2022, 1, 1), TODAY),
    "newsletter": (date(2013, 1, 1), TODAY),
    "app": (date(2024, 7, 1), TODAY),
}
"""When each system has records from."""
EPOCH = datetime(2000, 1, 1)
LANGUAGE = {
    "GB": "en",
    "US": "en",
    "IN": "en",
    "KE": "en",
    "PL": "pl",
    "DE": "de",
    "CN": "zh",
    "TH": "th",
    "UA": "uk",
}
STORE_KINDS = ("Central", "Mall", "Station", "Retail Park", "High Street", "Airport", "Outlet")

FILES = {
    "crm": FileSpec(
        "crm",
        "crm_accounts.csv",
        (
            "account_id",
            "title",
            "first_name",
            "middle_name",
            "last_name",
            "email",
            "phone",
            "mobile",
            "date_of_birth",
            "address_line1",
            "address_line2",
            "city",
            "region",
            "postcode",
            "country_code",
            "account_created",
            "last_modified",
        ),
        key="account_id",
        sequential_key=lambda n: f"ACC-{1_000_000 + n * 7}",
    ),
    "webshop": FileSpec("webshop", "webshop_customers.jsonl", key="customer_ref"),
    "pos": FileSpec(
        "pos",
        "pos_loyalty_members.csv",
        (
            "card_number",
            "member_name",
            "phone",
            "email",
            "postcode",
            "birthday",
            "home_store",
            "enrolled_on",
            "last_purchase_at",
            "points_balance",
        ),
        key="card_number",
    ),
    "support": FileSpec(
        "support",
        "support_tickets.csv",
        (
            "ticket_id",
            "created_at",
            "channel",
            "requester",
            "subject",
            "phone",
            "address",
            "status",
        ),
        key="ticket_id",
        sequential_key=lambda n: str(40_000 + n),
    ),
    "newsletter": FileSpec(
        "newsletter",
        "newsletter_subscribers.csv",
        ("subscriber_id", "email", "opted_in_at", "status", "lists", "signup_source"),
        key="subscriber_id",
        sequential_key=lambda n: f"{n * 131 + 10_007}",
    ),
    "app": FileSpec("app", "app_events.jsonl", key="event_id"),
}


def epoch(moment: datetime) -> int:
    """Milliseconds since 2000: the order of rows in a file."""
    return (moment - EPOCH) // timedelta(milliseconds=1)


def luhn_digit(digits: str) -> str:
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char) * (2 if i % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return str((10 - total % 10) % 10)


class Sources:
    """Writes each person's records into the sources they are in."""

    def __init__(
        self,
        rng: random.Random,
        population: Population,
        sinks: dict[str, SortedSink],
        counts: Counter[str],
    ) -> None:
        self.rng = rng
        self.population = population
        self.sinks = sinks
        self.counts = counts
        self.accounts: dict[str, tuple[str, str]] = {}  # entity -> (customer_ref, e-mail)
        self._refs: set[str] = set()
        self._cards: set[str] = set()
        self._newsletter: set[str] = set()
        self._stores: dict[str, tuple[str, Phone]] = {}

    # -- shared ----------------------------------------------------------------------------

    def moment(self, person: Person, source: str, after: date | None = None) -> datetime:
        start, end = SPANS[source]
        start = max(start, person.adult_on, after or start)
        day = random_day(self.rng, start, max(start, end))
        seconds = self.rng.randrange(7 * 3600, 23 * 3600)
        return datetime.combine(day, time()) + timedelta(seconds=seconds)

    def later(self, moment: datetime, days: int) -> datetime:
        last = datetime.combine(TODAY, time(23, 0))
        return min(
            last,
            moment + timedelta(days=self.rng.randrange(1, days), seconds=self.rng.randrange(86400)),
        )

    def contact_email(self, person: Person, source: str, when: date) -> str:
        house = person.household
        if house.family_email and self.rng.random() < rates.FAMILY_EMAIL_USE:
            self.counts[f"{source}: family e-mail shared by a household"] += 1
            return house.family_email
        return person.email_at(when)

    def phone(self, person: Person, source: str, when: date, landline_ok: bool = True) -> Phone:
        landline = person.household.landline
        if landline_ok and landline and self.rng.random() < rates.LANDLINE_USE:
            self.counts[f"{source}: household landline"] += 1
            chosen = landline
        else:
            chosen = person.mobile_at(when)
        if chance(self.rng, rates.PHONE_TYPO, source):
            slipped = swapped_digits(self.rng, chosen)
            if slipped is not None:
                self.counts[f"{source}: phone digits swapped"] += 1
                return slipped
        return chosen

    def store(self, city: City, home: Country) -> tuple[str, Phone]:
        key = f"{home.code}:{city.name}"
        if key not in self._stores:
            name = f"{city.name} {self.rng.choice(STORE_KINDS)}"
            self._stores[key] = (name, self.population.phone(city.landline, home.code))
        return self._stores[key]

    def add(self, person: Person) -> None:
        for source in person.sources:
            if source != "app":
                getattr(self, source)(person)

    # -- crm -------------------------------------------------------------------------------

    def crm(self, person: Person) -> None:
        created = self.moment(person, "crm")
        self._crm_row(person, created, duplicate=False)
        if self.rng.random() < rates.CRM_DUPLICATE:
            self.counts["crm: duplicate accounts"] += 1
            self._crm_row(person, self.later(created, 1500), duplicate=True)

    def _crm_row(self, person: Person, created: datetime, duplicate: bool) -> None:
        rng = self.rng
        modified = self.later(created, 2000)
        as_of = created.date() if rng.random() < 0.5 else modified.date()
        name = written_name(rng, person, "crm", as_of)
        first, middle, last = name.given, name.middle, name.family
        if name.chinese and not name.script and rng.random() < rates.FAMILY_NAME_FIRST:
            self.counts["crm: Chinese family name in first_name"] += 1
            first, last = last, first
        if person.origin.code == "IN" and rng.random() < rates.PLACEHOLDER_SURNAME:
            self.counts["crm: '.' as last name"] += 1
            first, last = f"{first} {last}", "."
        email = ""
        if rng.random() < 0.9:
            address = self.contact_email(person, "crm", as_of)
            if duplicate and person.work_email and rng.random() < 0.4:
                address = person.work_email
            email = email_text(rng, address, "crm")
        phone = mobile = ""
        if rng.random() < 0.7:
            phone = phone_text(rng, self.phone(person, "crm", as_of))
        if rng.random() < 0.6:
            mobile = phone_text(rng, self.phone(person, "crm", as_of, landline_ok=False))
        birth = ""
        if rng.random() < rates.BIRTH_DATE["crm"]:
            birth = written_date(rng, person.birth, person.country.code)
        hanzi = name.script and person.origin.code == "CN"
        ascii_only = chance(rng, rates.ASCII_ONLY, "crm")
        lines = address_lines(rng, person.household.address_at(as_of), ascii_only, hanzi)
        code = person.country.code
        roll = rng.random()
        if roll < rates.COUNTRY_CODE_MISSING:
            code = ""
        elif code == "GB" and roll < rates.COUNTRY_CODE_MISSING + rates.UK_FOR_GB:
            code = "UK"
        elif roll > 0.97:
            code = code.lower()
        title = ""
        if rng.random() < 0.7:
            title = rng.choice(("Mr", "Mr.") if person.sex == "M" else ("Mrs", "Ms", "Miss"))
            title = "Dr" if rng.random() < 0.03 else title
        row = [
            None,
            title,
            first,
            middle,
            last,
            email,
            phone,
            mobile,
            birth,
            lines.line1,
            lines.line2,
            lines.city,
            lines.region,
            lines.postcode,
            code,
            created.strftime("%Y-%m-%d %H:%M:%S"),
            modified.strftime("%Y-%m-%d %H:%M:%S"),
        ]
        self.sinks["crm"].add(epoch(created), person.entity_id, row)

    # -- webshop ---------------------------------------------------------------------------

    def _ref(self) -> str:
        alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
        while True:
            ref = "cus_" + "".join(self.rng.choice(alphabet) for _ in range(14))
            if ref not in self._refs:
                self._refs.add(ref)
                return ref

    def webshop(self, person: Person) -> None:
        created = self.moment(person, "webshop")
        email = self.contact_email(person, "webshop", created.date())
        ref = self._webshop_row(person, created, email)
        self.accounts[person.entity_id] = (ref, email)
        if self.rng.random() < rates.WEBSHOP_SECOND_ACCOUNT:
            other = person.work_email or person.emails[0].address
            if other != email:
                self.counts["webshop: second accounts"] += 1
                self._webshop_row(person, self.later(created, 1200), other)

    def _country_name(self, country: Country) -> str | None:
        roll = self.rng.random()
        if roll < rates.COUNTRY_NAME_MISSING:
            return None
        if roll < rates.COUNTRY_NAME_MISSING + rates.COUNTRY_NAME_ISO:
            return country.code
        if roll < rates.COUNTRY_NAME_MISSING + rates.COUNTRY_NAME_ISO + rates.COUNTRY_NAME_LOCAL:
            return self.rng.choice(country.local_names) if country.local_names else country.name
        return country.name

    def _webshop_row(self, person: Person, created: datetime, email: str) -> str:
        rng = self.rng
        updated = self.later(created, 1500)
        as_of = updated.date() if rng.random() < 0.7 else created.date()
        if email == person.email_at(created.date()) and rng.random() < 0.6:
            email = person.email_at(as_of)  # people update their account e-mail, some do
        name = written_name(rng, person, "webshop", as_of)
        phones: list[str] = []
        styles = ("international",) * 3 + ("written", "compact")
        if rng.random() < 0.8:
            phones.append(phone_text(rng, person.mobile_at(as_of), styles))
        landline = person.household.landline
        if landline and rng.random() < 0.15:
            phones.append(phone_text(rng, landline, styles))
        house = person.household
        hanzi = (name.script and person.origin.code == "CN") or (
            person.country.code == "CN" and rng.random() < 0.1
        )
        ascii_only = chance(rng, rates.ASCII_ONLY, "webshop")
        addresses = []
        places = [("shipping", house.address_at(as_of))]
        if house.old_address and house.moved_on and created.date() < house.moved_on <= as_of:
            places.append(("shipping", house.old_address))
        if rng.random() < 0.2:
            places.append(("billing", places[0][1]))
        for kind, place in places:
            lines = address_lines(rng, place, ascii_only, hanzi)
            entry: dict[str, str | None] = {"type": kind, "line1": lines.line1}
            if lines.line2:
                entry["line2"] = lines.line2
            entry.update(
                city=lines.city,
                region=lines.region or None,
                postcode=lines.postcode,
                country=self._country_name(place.country),
            )
            addresses.append(entry)
        birth = person.birth.isoformat() if rng.random() < rates.BIRTH_DATE["webshop"] else None
        orders = rng.choice((0, 1, 1, 2, 3, 5, 8, 13))
        ref = self._ref()
        row = {
            "customer_ref": ref,
            "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "updated_at": updated.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "name": {"first": name.given, "last": name.family},
            "date_of_birth": birth,
            "contact": {
                "email": email_text(rng, email, "webshop"),
                "email_verified": rng.random() < 0.8,
                "phones": phones,
                "marketing_opt_in": rng.random() < 0.45,
            },
            "addresses": addresses,
            "orders": {
                "count": orders,
                "total": {
                    "amount": f"{orders * rng.uniform(15, 120):.2f}",
                    "currency": person.country.currency,
                },
            },
            "locale": f"{LANGUAGE[person.origin.code]}-{person.country.code}",
        }
        self.sinks["webshop"].add(epoch(created), person.entity_id, row)
        return ref

    # -- pos -------------------------------------------------------------------------------

    def _card(self) -> str:
        while True:
            digits = "6338" + "".join(str(self.rng.randrange(10)) for _ in range(11))
            card = digits + luhn_digit(digits)
            if card not in self._cards:
                self._cards.add(card)
                return card

    def pos(self, person: Person) -> None:
        enrolled = self.moment(person, "pos")
        self._pos_row(person, enrolled)
        if self.rng.random() < rates.POS_SECOND_CARD:
            self.counts["pos: second cards"] += 1
            self._pos_row(person, self.later(enrolled, 2000))

    def _pos_row(self, person: Person, enrolled: datetime) -> None:
        rng = self.rng
        when = enrolled.date()
        house = person.household
        place = house.address_at(when)
        home = person.country
        store_city = place.city
        if home.cities is not None and rng.random() < 0.2:
            store_city = home.cities.draw(rng)
        store, store_phone = self.store(store_city, home)
        phone = ""
        if rng.random() < rates.STORE_PHONE:
            self.counts["pos: the store's own phone number"] += 1
            phone = phone_text(rng, store_phone, ("written", "compact"))
        elif rng.random() < rates.POS_PHONE:
            phone = phone_text(rng, self.phone(person, "pos", when), ("written", "compact", "nsn"))
        email = ""
        if rng.random() < rates.POS_EMAIL:
            email = email_text(rng, self.contact_email(person, "pos", when), "pos")
        birthday = ""
        if rng.random() < rates.POS_BIRTHDAY:
            birthday = day_and_month(rng, person.birth, home.code)
        date_format = "%m/%d/%Y" if home.code == "US" else "%d/%m/%Y"
        last = self.later(enrolled, 900)
        row = [
            self._card(),
            full_name(rng, person, "pos", when),
            phone,
            email,
            address_lines(rng, place).postcode,
            birthday,
            store,
            enrolled.strftime(date_format),
            last.strftime("%Y-%m-%d %H:%M"),
            rng.randrange(0, 5000),
        ]
        self.sinks["pos"].add(epoch(enrolled), person.entity_id, row)

    # -- support ---------------------------------------------------------------------------

    def support(self, person: Person) -> None:
        tickets = 1
        while tickets < 6 and self.rng.random() < rates.SUPPORT_MORE_TICKETS:
            tickets += 1
        for _ in range(tickets):
            self._ticket(person, self.moment(person, "support"))

    def _ticket(self, person: Person, created: datetime) -> None:
        rng = self.rng
        when = created.date()
        channel = rng.choice(("email", "email", "email", "web", "chat", "phone"))
        address = self.contact_email(person, "support", when)
        if person.work_email and rng.random() < 0.2:
            address = person.work_email
        address = email_text(rng, address, "support")
        display = full_name(rng, person, "support", when)
        if '"' in display or "," in display:
            display = '"' + display.replace('"', "") + '"'
        if channel == "phone" and rng.random() < 0.5:
            requester = display.strip('"')
        elif rng.random() < rates.SUPPORT_BARE_SENDER:
            requester = address
        else:
            requester = f"{display} <{address}>"
        phone = ""
        if channel == "phone" or rng.random() < rates.SUPPORT_PHONE:
            phone = phone_text(rng, self.phone(person, "support", when))
        written = ""
        if rng.random() < rates.SUPPORT_ADDRESS:
            place = person.household.address_at(when)
            country_name = place.country.name if rng.random() < 0.3 else None
            hanzi = place.country.code == "CN" and rng.random() < 0.2
            ascii_only = chance(rng, rates.ASCII_ONLY, "support")
            written = one_line(rng, place, ascii_only, hanzi, country_name)
        row = [
            None,
            created.strftime("%Y-%m-%d %H:%M:%S"),
            channel,
            requester,
            rng.choice(common().ticket_subjects),
            phone,
            written,
            rng.choice(("solved", "solved", "closed", "open", "pending")),
        ]
        self.sinks["support"].add(epoch(created), person.entity_id, row)

    # -- newsletter ------------------------------------------------------------------------

    def newsletter(self, person: Person) -> None:
        rng = self.rng
        first = self.moment(person, "newsletter")
        signups = [(person.email_at(first.date()), first, False)]
        house = person.household
        family = house.family_email
        if family and Population.mailbox(family) not in self._newsletter and rng.random() < 0.3:
            signups[0] = (family, first, False)  # one member signs the family up, once
        changed = person.emails[-1].since if len(person.emails) > 1 else None
        if changed and first.date() < changed and rng.random() < rates.NEWSLETTER_RESUBSCRIBE:
            signups[0] = (signups[0][0], first, True)  # the old address goes stale
            again = self.moment(person, "newsletter", after=changed)
            signups.append((person.emails[-1].address, again, False))
        if person.work_email and rng.random() < rates.NEWSLETTER_WORK:
            signups.append((person.work_email, self.moment(person, "newsletter"), False))
        for address, when, stale in signups:
            box = Population.mailbox(address)
            if box in self._newsletter:  # the list holds an address once
                continue
            self._newsletter.add(box)
            if address == house.family_email:
                self.counts["newsletter: family e-mail"] += 1
            written = email_text(rng, address, "newsletter")
            if rng.random() < rates.NEWSLETTER_SPACES:
                written = f" {written} " if rng.random() < 0.5 else f"{written} "
            if stale:
                status = "cleaned" if rng.random() < 0.6 else "subscribed"
            else:
                status = "unsubscribed" if rng.random() < 0.15 else "subscribed"
            row = [
                None,
                written,
                when.strftime("%d/%m/%Y %H:%M"),
                status,
                rng.choice(("weekly", "offers", "weekly;offers")),
                rng.choice(("website", "checkout", "in-store", "app", "import")),
            ]
            self.sinks["newsletter"].add(epoch(when), person.entity_id, row)
