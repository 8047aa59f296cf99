"""Seeded demo events for the demo people: web and app journeys, store visits, e-mail
campaigns, support tickets and consent, with the anonymous history that a login stitches.

The ingest format, one JSON object per line of ``events.jsonl``::

    {"event_id": "ev-3f9c0a17d2b4e851", "type": "page_view",
     "timestamp": "2025-06-01T10:00:00+01:00", "channel": "web", "source": "webshop",
     "identifiers": {"cookie_id": "c5d1e0b2a9f4c7e36"}, "properties": {"url": "/p/SKU-10423"}}

- ``event_id``: unique per event; a line sent twice is the same event (idempotent ingest).
- ``type``: one of :data:`EVENT_TYPES`. ``channel``: web, app, store, email or support.
  ``source``: the system that sent it (webshop, pos, marketing, support), as in the mappings.
- ``timestamp``: ISO 8601 with a time-zone offset, always; local time of the sender (UK
  shops and apps: +00:00 or +01:00 in summer, some phones on Central European time: +01:00
  or +02:00; the mailer's servers: +00:00).
- ``identifiers``: identifier kind (as in ``identity/config/rules.toml``) to a value or a
  list of values, written as the sender has them (the normaliser makes them comparable).
- ``properties``: free, schemaless; purchases carry ``order_id``, ``order_value`` (a number),
  ``currency`` and ``skus``; consent events ``purpose`` and ``granted``.

Cookies and devices are new values that appear in no record file: anonymous history joins
a profile only through a login (or checkout) that carries the cookie or device together
with a known identifier. The lines are sorted by time, as a collector would export them.
"""

from __future__ import annotations

import csv
import json
import random
import shutil
import tempfile
import time
from bisect import bisect
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import IO, Any, Final, Self

EVENT_TYPES: Final = (
    "page_view",
    "product_view",
    "login",
    "add_to_cart",
    "checkout",
    "purchase",
    "store_visit",
    "email_open",
    "email_click",
    "ticket_opened",
    "consent",
)
CONSENT_PURPOSES: Final = ("email", "sms", "ads", "personalisation")
# The generator's records end at 2025-06-30 18:00 UTC; events end there too by default.
DEFAULT_UNTIL: Final = datetime(2025, 6, 30, 18, 0, tzinfo=UTC)
EVENTS_FILE: Final = "events.jsonl"
EVENTS_TRUTH_FILE: Final = "events_truth.csv"

# Behaviour of people and noise of the senders, as probabilities.
BEHAVIOUR: Final[Mapping[str, float]] = MappingProxyType(
    {
        "never_logs_in": 0.12,  # a webshop customer whose browsing is never seen logged in
        "cookie_never_logs_in": 0.2,  # a browser (a work PC, say) never used to log in
        "app_user": 0.35,  # a webshop customer with the app on a phone: a device_id
        "family_device": 0.35,  # a household with 2+ webshop members shares a tablet
        "continental_clock": 0.4,  # a person of non-UK origin whose phone runs on CET
        "relogin": 0.25,  # a logged-in session starts with another login
        "add_to_cart": 0.35,
        "checkout": 0.6,  # of sessions with a cart
        "purchase": 0.9,  # of checkouts
        "store_purchase": 0.6,  # of store visits
        "email_click": 0.3,  # of opens
        "cookie_banner": 0.5,  # a logged-in customer answers the consent banner
        "ads_granted": 0.45,
        "personalisation_granted": 0.75,
        "withdrawn": 0.15,  # a granted consent withdrawn later
        "second_ticket": 0.3,
        "ticket_lists_emails": 0.2,  # a ticket carries all the e-mails the customer gave
        "email_upper": 0.02,  # "JOHN.SMITH@GMAIL.COM" in an event
        "account_upper": 0.01,  # "W1234567"
        "duplicate": 0.001,  # the sender retries: the same line again, a little later
    }
)
# Share of a person's events per stream, among the streams the person has.
_STREAMS: Final[Mapping[str, float]] = MappingProxyType({"web": 0.74, "store": 0.10, "email": 0.16})
_DAY: Final = 86_400
_WEEK: Final = 7 * _DAY
_WINDOW: Final = 730 * _DAY
# Time zones of senders: no summer time, Europe/London, Central European (EU rules).
_UTC, _LONDON, _CET = 0, 1, 2
_BASE_OFFSET: Final = {_UTC: 0, _LONDON: 0, _CET: 3600}
_SUFFIX: Final = {0: "+00:00", 3600: "+01:00", 7200: "+02:00"}
_CATEGORIES: Final = (
    "women",
    "men",
    "kids",
    "shoes",
    "home",
    "kitchen",
    "garden",
    "beauty",
    "sport",
    "toys",
    "electronics",
    "books",
)
_SEARCHES: Final = ("dress", "trainers", "kettle", "jeans", "gift", "lamp", "coat", "sale")
_PAGES: Final = ("/help", "/account", "/basket", "/stores", "/delivery", "/returns")
_SUBJECTS: Final = ("Where is my order?", "Refund request", "Damaged item", "Cannot log in")


@dataclass(frozen=True, slots=True)
class Account:
    """A webshop account of the person, with its identifiers as its record has them."""

    account_id: str
    email: str | None  # None when the record's e-mail is junk or invalid
    created: int  # epoch seconds
    marketing_opt_in: bool


@dataclass(frozen=True, slots=True)
class Subscription:
    """A newsletter subscription, with the opt-ins its record has."""

    email: str
    email_opt_in: bool
    sms_opt_in: bool


@dataclass(frozen=True, slots=True)
class EventSubject:
    """What the events of one person can carry: only identifiers the records know, plus
    the cookies and devices made up here."""

    entity_id: str
    household: str | None
    continental: bool  # non-UK origin
    accounts: tuple[Account, ...]
    loyalty_id: str | None
    subscriptions: tuple[Subscription, ...]
    support_emails: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EventSummary:
    """What :class:`EventWriter` wrote."""

    events: int  # distinct events, one line each in events_truth.csv
    duplicate_lines: int  # lines sent a second time
    per_type: Mapping[str, int]


class _Rng(random.Random):
    def between(self, low: int, high: int) -> int:
        """An integer in [low, high)."""
        return low + int(self.random() * (high - low))

    def chance(self, name: str) -> bool:
        return self.random() < BEHAVIOUR[name]


class _Clock:
    """Epoch seconds to ISO 8601 local time; Europe's summer time starts and ends at 01:00
    UTC on the last Sunday of March and of October, for London and for Central Europe."""

    def __init__(self, start: int, end: int) -> None:
        first, last = _year_of(start) - 1, _year_of(end) + 1
        self._changes = [
            change
            for year in range(first, last + 1)
            for change in (_last_sunday_1am(year, 3), _last_sunday_1am(year, 10))
        ]

    def stamp(self, when: int, zone: int) -> str:
        offset = _BASE_OFFSET[zone]
        if zone != _UTC and bisect(self._changes, when) % 2 == 1:
            offset += 3600
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when + offset)) + _SUFFIX[offset]


def _year_of(when: int) -> int:
    return time.gmtime(when).tm_year


def _last_sunday_1am(year: int, month: int) -> int:
    last = date(year, month, 31)
    sunday = last - timedelta(days=(last.weekday() + 1) % 7)
    return int(datetime(sunday.year, sunday.month, sunday.day, 1, tzinfo=UTC).timestamp())


class _Catalogue:
    """Products and their prices; a few are far more popular than the rest."""

    def __init__(self, rng: _Rng, size: int = 3000) -> None:
        self.skus = tuple(f"SKU-{10_000 + i}" for i in range(size))
        self.prices = tuple(
            round(min(max(rng.lognormvariate(3.0, 0.8), 2.0), 400.0)) - 0.01 for _ in self.skus
        )

    def pick(self, rng: _Rng) -> int:
        return int(len(self.skus) * rng.random() ** 2)


Identifiers = Mapping[str, str | list[str]]
Properties = dict[str, Any]


class EventWriter:
    """Makes each person's events (:meth:`add`) and writes them, sorted by time, on
    :meth:`finish`.

    Lines first go to weekly buckets in a scratch folder, so sorting 2M events never
    holds more than a week of them in memory.
    """

    def __init__(
        self, out_dir: Path, *, seed: int, people: int, events: int, until: datetime
    ) -> None:
        if until.utcoffset() is None:
            raise ValueError(f"until must carry a time zone, not {until.isoformat()}")
        # Separate from the records' random source: asking for events never changes them.
        self.rng = _Rng(f"idgraph demo events {seed}")
        self.end = int(until.timestamp())
        self._start = self.end - _WINDOW
        self._clock = _Clock(self._start, self.end)
        self.catalogue = _Catalogue(self.rng)
        self._people, self._target = people, events
        self._seen = self._eligible = self._asked = 0
        self._written = self._duplicates = 0
        self._per_type: Counter[str] = Counter()
        self._id_salt = self.rng.getrandbits(64)
        self._order_salt = self.rng.getrandbits(40)
        self._orders = 0
        self._family: tuple[str | None, str | None] = (None, None)
        self.path = out_dir / EVENTS_FILE
        self.truth_path = out_dir / EVENTS_TRUTH_FILE
        self._scratch = Path(tempfile.mkdtemp(prefix=".events-", dir=out_dir))
        self._truth_handle = self.truth_path.open("w", encoding="utf-8", newline="")
        self._truth = csv.writer(self._truth_handle, lineterminator="\n")
        self._truth.writerow(("event_id", "entity_id"))
        self._buckets = [
            (self._scratch / f"{i:04d}").open("w", encoding="utf-8", newline="")
            for i in range(_WINDOW // _WEEK + 1)
        ]

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._close()

    def _close(self) -> None:
        for handle in self._buckets:
            handle.close()
        self._truth_handle.close()
        shutil.rmtree(self._scratch, ignore_errors=True)

    def finish(self) -> EventSummary:
        """Sort the buckets into ``events.jsonl`` and clean up."""
        for handle in self._buckets:
            handle.close()
        with self.path.open("w", encoding="utf-8", newline="") as out:
            for i in range(len(self._buckets)):
                with (self._scratch / f"{i:04d}").open(encoding="utf-8", newline="") as bucket:
                    lines = bucket.readlines()
                lines.sort()
                out.writelines(line[_KEY_WIDTH:] for line in lines)
        self._close()
        per_type = {kind: self._per_type[kind] for kind in EVENT_TYPES}
        return EventSummary(self._written, self._duplicates, MappingProxyType(per_type))

    # --- one person ---------------------------------------------------------------------

    def add(self, subject: EventSubject) -> None:
        """Make and write the events of one person (people come one after another)."""
        self._seen += 1
        streams = {
            "web": bool(subject.accounts),
            "store": subject.loyalty_id is not None,
            "email": bool(subject.subscriptions)
            or any(a.marketing_opt_in and a.email for a in subject.accounts),
        }
        if not (any(streams.values()) or subject.support_emails):
            return
        self._eligible += 1
        count = self._count()
        last, first = self._active_span()
        writer = _Journey(self, subject, first, last)
        before = self._written
        weights = {name: w for name, w in _STREAMS.items() if streams[name]}
        if "web" in weights:
            self._web(writer, count * weights.pop("web"))
            rest_share = 1.0
        else:
            # Someone who never shops online does somewhat more elsewhere, not all of it.
            rest_share = min(sum(weights.values()) * 2, 1.0)
        # The few statements and tickets of a quiet person would be most of their events.
        if count >= 8:
            self._consents(writer)
        if count >= 4:
            self._tickets(writer)
        rest = max(count * rest_share - (self._written - before), 0)
        total = sum(weights.values())
        if "email" in weights:
            self._emails(writer, rest * weights["email"] / total)
        if "store" in weights:
            self._store(writer, rest * weights["store"] / total)

    def _count(self) -> int:
        """About target/people events per person with events, kept on target as it goes."""
        rng = self.rng
        rate = (self._eligible + 8) / (self._seen + 10)  # share of people with any event
        # Sessions end past `until`, quiet people skip consent: fewer events come out than
        # asked for, by a ratio learnt as we go.
        output = (self._written + 1000) / (self._asked + 1000)
        base = self._target / max(self._people * rate * output, 1.0)
        remaining = max((self._people - self._seen + 1) * rate * output, 1.0)
        mean = min(max((self._target - self._written) / remaining, 0.5 * base), 2 * base)
        # Heavy-tailed activity: most people do little, a few very much (mean 1).
        count = self.rounded(mean * rng.lognormvariate(-0.5, 1.0))
        self._asked += count
        return count

    def _active_span(self) -> tuple[int, int]:
        """When the person was last and first active: many recently, some long gone."""
        rng, end = self.rng, self.end
        x = rng.random()
        if x < 0.5:
            last = end - rng.between(0, 30 * _DAY)
        elif x < 0.75:
            last = end - rng.between(30 * _DAY, 120 * _DAY)
        else:
            last = rng.between(self._start + 30 * _DAY, end)
        return last, self._start + int((last - self._start) * rng.random() * 0.9)

    def rounded(self, x: float) -> int:
        """``x`` rounded up or down at random: small budgets add up to the right total."""
        return int(x + self.rng.random())

    def when(self, first: int, last: int) -> int:
        """A time in [first, last], more likely recent: journeys grow denser near the end."""
        return last - int((last - first) * self.rng.random() ** 2)

    def _web(self, p: _Journey, budget: float) -> None:
        rng, s = self.rng, p.subject
        device = self._family_device(s)
        logs_in = device is not None or not rng.chance("never_logs_in")
        if device is None and rng.chance("app_user"):
            device = _device_id(rng)
        app_budget = budget * 0.25 if device else 0.0
        browsers = rng.choice((1, 1, 2, 2, 2, 3))
        cuts = sorted(p.first + int((p.last - p.first) * rng.random()) for _ in range(browsers - 1))
        bounds = [p.first, *cuts, p.last]
        for i in range(browsers):
            cookie = f"c{rng.getrandbits(64):016x}"
            signs_in = logs_in and not rng.chance("cookie_never_logs_in")
            share = (budget - app_budget) / browsers
            self._browser(p, cookie, bounds[i], bounds[i + 1], share, signs_in)
        if device:
            self._app(p, device, app_budget, logs_in)

    def _family_device(self, s: EventSubject) -> str | None:
        """The household's shared tablet: members come one after another, so one slot."""
        if s.household is None:
            return None
        household, device = self._family
        if household != s.household:
            device = _device_id(self.rng) if self.rng.chance("family_device") else None
            self._family = (s.household, device)
        return device

    def _browser(
        self, p: _Journey, cookie: str, start: int, end: int, budget: float, signs_in: bool
    ) -> None:
        rng = self.rng
        sessions = sorted(self.when(start, end) for _ in range(self.rounded(budget / 4.2)))
        account = p.account()
        login_at = len(sessions)
        if signs_in:
            # The cookie browses anonymously first, then logs in: its history stitches back.
            usable = [i for i, t in enumerate(sessions) if t >= account.created]
            if usable:
                login_at = usable[0] + int(len(usable) * rng.uniform(0.25, 0.6))
        for i, t in enumerate(sessions):
            anonymous = {"cookie_id": cookie}
            if i < login_at:
                for _ in range(rng.between(1, 7)):
                    t = p.page_view(t, anonymous)
                for _ in range(rng.between(0, 3)):
                    t = p.product_view(t, "web", anonymous)
                continue
            known = {"cookie_id": cookie, **p.account_identifiers(account)}
            if i == login_at or rng.chance("relogin"):
                t = p.emit(t, "login", "web", "webshop", known, {"method": "password"})
                if p.first_login is None:
                    p.first_login = (t, account)
            for _ in range(rng.between(0, 3)):
                t = p.page_view(t, anonymous)
            for _ in range(rng.between(1, 4)):
                t = p.product_view(t, "web", anonymous)
            if rng.chance("add_to_cart"):
                p.basket(t, "web", known)

    def _app(self, p: _Journey, device: str, budget: float, logs_in: bool) -> None:
        rng = self.rng
        sessions = sorted(self.when(p.first, p.last) for _ in range(self.rounded(budget / 3.0)))
        account = p.account()
        for i, t in enumerate(sessions):
            anonymous = {"device_id": device}
            signed_in = logs_in and t >= account.created
            known = {"device_id": device, **p.account_identifiers(account)}
            if signed_in and (i == 0 or rng.chance("relogin")):
                t = p.emit(t, "login", "app", "webshop", known, {"method": "app"})
            for _ in range(rng.between(1, 5)):
                t = p.product_view(t, "app", anonymous)
            if signed_in and rng.chance("add_to_cart"):
                sku = self.catalogue.pick(rng)
                t = p.emit(t, "add_to_cart", "app", "webshop", known, self.item(sku))

    def _consents(self, p: _Journey) -> None:
        """Statements per purpose, each perhaps withdrawn later: the latest one wins."""
        rng, s = self.rng, p.subject
        if s.accounts:
            when, account = p.first_login or (self.when(p.first, p.last), s.accounts[0])
            ids = p.account_identifiers(account)
            if rng.chance("cookie_banner"):
                for purpose in ("personalisation", "ads"):
                    p.consent(when, "webshop", ids, purpose, rng.chance(f"{purpose}_granted"))
            if account.marketing_opt_in and account.email:
                p.consent(when, "webshop", ids, "email", True, stops=account.email)
        for sub in s.subscriptions:
            # Subscribed before the campaigns of the window reach the address.
            when = p.first + rng.between(0, 7 * _DAY)
            ids = {"email": p.email(sub.email)}
            p.consent(when, "marketing", ids, "email", sub.email_opt_in, stops=sub.email)
            if sub.sms_opt_in:
                p.consent(when + 1, "marketing", ids, "sms", True)

    def _tickets(self, p: _Journey) -> None:
        rng, emails = self.rng, p.subject.support_emails
        if not emails:
            return
        for _ in range(2 if rng.chance("second_ticket") else 1):
            carried: str | list[str] = p.email(rng.choice(emails))
            if len(emails) > 1 and rng.chance("ticket_lists_emails"):
                carried = [p.email(e) for e in emails]
            # Not the records' "TCK-" numbers: a ticket event need not be a support record.
            props = {"subject": rng.choice(_SUBJECTS), "case": f"CASE-{rng.getrandbits(32):08x}"}
            when = self.when(p.first, p.last)
            p.emit(when, "ticket_opened", "support", "support", {"email": carried}, props)

    def _emails(self, p: _Journey, budget: float) -> None:
        rng = self.rng
        receivers = p.receivers()
        if not receivers:
            return
        for _ in range(self.rounded(budget / (1 + BEHAVIOUR["email_click"]))):
            address = rng.choice(receivers)
            t = self.when(p.first, p.last)
            if t >= p.withdrawn.get(address, self.end + 1):
                continue  # no campaign reaches an address after it unsubscribed
            campaign = {"campaign": f"nl-{(t - self._start) // _WEEK:03d}"}
            ids = {"email": p.email(address)}
            t = p.emit(t, "email_open", "email", "marketing", ids, campaign, _UTC, spread=3 * 3600)
            if rng.chance("email_click"):
                props = {**campaign, "url": f"/c/{rng.choice(_CATEGORIES)}"}
                p.emit(t, "email_click", "email", "marketing", ids, props, _UTC)

    def _store(self, p: _Journey, budget: float) -> None:
        rng, loyalty = self.rng, p.subject.loyalty_id
        assert loyalty is not None
        home = f"Store {rng.between(1, 41):03d}"
        for _ in range(self.rounded(budget / (1 + BEHAVIOUR["store_purchase"]))):
            t = self.when(p.first, p.last)
            store = home if rng.random() < 0.8 else f"Store {rng.between(1, 41):03d}"
            ids = {"loyalty_id": loyalty}
            t = p.emit(t, "store_visit", "store", "pos", ids, {"store": store}, _LONDON, 900)
            if rng.chance("store_purchase"):
                order = {"store": store, **self.order(self.basket())}
                p.emit(t, "purchase", "store", "pos", ids, order, _LONDON, 900)

    # --- values -------------------------------------------------------------------------

    def basket(self) -> list[int]:
        rng = self.rng
        return [self.catalogue.pick(rng) for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4)))]

    def item(self, index: int) -> Properties:
        return {
            "sku": self.catalogue.skus[index],
            "price": self.catalogue.prices[index],
            "quantity": 1 if self.rng.random() < 0.85 else 2,
        }

    def order(self, items: list[int]) -> Properties:
        catalogue = self.catalogue
        self._orders += 1
        # An odd multiplier modulo 2**40 is a bijection: unique ids that look random.
        number = (self._orders * 0x9E3779B97 + self._order_salt) % (1 << 40)
        return {
            "order_id": f"ORD-{number:010x}",
            "order_value": round(sum(catalogue.prices[i] for i in items), 2),
            "currency": "GBP",
            "skus": [catalogue.skus[i] for i in items],
        }

    def write(
        self,
        subject: EventSubject,
        when: int,
        kind: str,
        channel: str,
        source: str,
        identifiers: Identifiers,
        properties: Properties,
        zone: int,
    ) -> None:
        self._written += 1
        event_id = f"ev-{(self._written * 0x9E3779B97F4A7C15 + self._id_salt) % (1 << 64):016x}"
        line = json.dumps(
            {
                "event_id": event_id,
                "type": kind,
                "timestamp": self._clock.stamp(when, zone),
                "channel": channel,
                "source": source,
                "identifiers": identifiers,
                "properties": properties,
            },
            ensure_ascii=False,
        )
        self._bucket(when).write(f"{when:011d}{self._written:09d}{line}\n")
        if self.rng.chance("duplicate"):
            self._duplicates += 1
            later = when + self.rng.between(60, 6 * 3600)
            self._bucket(later).write(f"{later:011d}{self._written:09d}{line}\n")
        self._truth.writerow((event_id, subject.entity_id))
        self._per_type[kind] += 1

    def _bucket(self, when: int) -> IO[str]:
        index = min(max((when - self._start) // _WEEK, 0), len(self._buckets) - 1)
        return self._buckets[index]


_KEY_WIDTH: Final = 20  # the sort key in front of a bucket line: 11 digits time, 9 sequence


def _device_id(rng: random.Random) -> str:
    """A lower-case UUID, as Android and iOS advertising ids look."""
    hex_ = f"{rng.getrandbits(128):032x}"
    return f"{hex_[:8]}-{hex_[8:12]}-{hex_[12:16]}-{hex_[16:20]}-{hex_[20:]}"


class _Journey:
    """One person's journey while it is made: the times it spans and what it has done."""

    def __init__(self, writer: EventWriter, subject: EventSubject, first: int, last: int) -> None:
        self.writer, self.subject = writer, subject
        self.rng = writer.rng
        self.first, self.last = first, last
        self.first_login: tuple[int, Account] | None = None
        self.withdrawn: dict[str, int] = {}  # address -> when its e-mail consent ended
        self.clock = (
            _CET if subject.continental and self.rng.chance("continental_clock") else _LONDON
        )

    def emit(
        self,
        when: int,
        kind: str,
        channel: str,
        source: str,
        identifiers: Identifiers,
        properties: Properties,
        zone: int | None = None,
        spread: int = 180,
    ) -> int:
        """Write the event; returns a moment later, when the next one in a session happens."""
        if when <= self.writer.end:
            zone = self.clock if zone is None else zone
            event = (when, kind, channel, source, identifiers, properties, zone)
            self.writer.write(self.subject, *event)
        return when + self.rng.between(5, spread)

    def page_view(self, when: int, ids: Identifiers) -> int:
        rng, catalogue = self.rng, self.writer.catalogue
        x = rng.random()
        if x < 0.4:
            url = f"/p/{catalogue.skus[catalogue.pick(rng)]}"
        elif x < 0.65:
            url = f"/c/{rng.choice(_CATEGORIES)}"
        elif x < 0.8:
            url = "/"
        elif x < 0.9:
            url = f"/search?q={rng.choice(_SEARCHES)}"
        else:
            url = rng.choice(_PAGES)
        return self.emit(when, "page_view", "web", "webshop", ids, {"url": url})

    def product_view(self, when: int, channel: str, ids: Identifiers) -> int:
        catalogue = self.writer.catalogue
        index = catalogue.pick(self.rng)
        props = {"sku": catalogue.skus[index], "price": catalogue.prices[index]}
        return self.emit(when, "product_view", channel, "webshop", ids, props)

    def basket(self, when: int, channel: str, known: Identifiers) -> int:
        """Add to cart, perhaps check out and pay."""
        writer, rng = self.writer, self.rng
        items = writer.basket()
        for index in items:
            when = self.emit(when, "add_to_cart", channel, "webshop", known, writer.item(index))
        order = writer.order(items)
        if rng.chance("checkout"):
            when = self.emit(when, "checkout", channel, "webshop", known, order, spread=600)
            if rng.chance("purchase"):
                when = self.emit(when, "purchase", channel, "webshop", known, order)
        return when

    def consent(
        self,
        when: int,
        source: str,
        ids: Identifiers,
        purpose: str,
        granted: bool,
        stops: str | None = None,
    ) -> None:
        channel = "web" if source == "webshop" else "email"
        props = {"purpose": purpose, "granted": granted}
        self.emit(when, "consent", channel, source, ids, props)
        if granted and self.rng.chance("withdrawn"):
            later = when + int((self.writer.end - when) * self.rng.random())
            self.emit(later, "consent", channel, source, ids, {**props, "granted": False})
            if stops is not None:
                self.withdrawn[stops] = later
        elif not granted and stops is not None:
            self.withdrawn[stops] = when

    def account(self) -> Account:
        accounts = self.subject.accounts
        if len(accounts) == 1 or self.rng.random() < 0.8:
            return accounts[0]
        return self.rng.choice(accounts)

    def account_identifiers(self, account: Account) -> Identifiers:
        """What a login form or checkout sends: the account id, its e-mail, or both."""
        rng = self.rng
        account_id = account.account_id
        if rng.chance("account_upper"):
            account_id = account_id.upper()
        x = rng.random()
        if account.email is None or x < 0.45:
            return {"account_id": account_id}
        if x < 0.8:
            return {"email": self.email(account.email)}
        return {"account_id": account_id, "email": self.email(account.email)}

    def email(self, address: str) -> str:
        return address.upper() if self.rng.chance("email_upper") else address

    def receivers(self) -> list[str]:
        s = self.subject
        return [sub.email for sub in s.subscriptions if sub.email_opt_in] + [
            a.email for a in s.accounts if a.marketing_opt_in and a.email
        ]
