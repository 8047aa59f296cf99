"""The app and web event log: sessions on phones, browsers and shared tablets, some logged in.

Each event carries what the tracking code saw: the app's device id or the browser's
cookie, and, once the person logged in, their login e-mail and customer reference. Most
sessions stay anonymous; a family tablet is used by several members of a household under
their own logins. The truth is the person holding the device.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from tests.worldgen import rates
from tests.worldgen.output import SortedSink
from tests.worldgen.people import Household, Person
from tests.worldgen.sources import LANGUAGE, Sources, epoch
from tests.worldgen.spelling import email_text
from tests.worldgen.world import common

APP_TYPES = ("screen_view", "screen_view", "search", "product_view", "product_view", "add_to_cart")
WEB_TYPES = ("page_view", "page_view", "search", "product_view", "product_view", "add_to_cart")
IOS_MODELS = ("iPhone13,2", "iPhone14,5", "iPhone15,2", "iPhone16,1", "iPad13,18")
ANDROID_MODELS = ("SM-S911B", "SM-A546B", "Pixel 7", "Redmi Note 12", "moto g84", "CPH2487")
APP_VERSIONS = ("5.9.2", "5.10.0", "5.11.1", "5.12.0")


def uuid_text(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class EventLog:
    """Writes the app/web events of a household's app users."""

    def __init__(
        self, rng: random.Random, sink: SortedSink, sources: Sources, counts: Counter[str]
    ) -> None:
        self.rng = rng
        self.sink = sink
        self.sources = sources
        self.counts = counts

    def device(self, tablet: bool = False) -> dict[str, Any]:
        rng = self.rng
        if tablet or rng.random() < 0.55:
            return {
                "id": uuid_text(rng).upper(),  # iOS identifierForVendor
                "platform": "ios",
                "model": "iPad13,18" if tablet else rng.choice(IOS_MODELS),
                "app_version": rng.choice(APP_VERSIONS),
            }
        return {
            "id": f"{rng.getrandbits(64):016x}",  # Android ID
            "platform": "android",
            "model": rng.choice(ANDROID_MODELS),
            "app_version": rng.choice(APP_VERSIONS),
        }

    def household(self, house: Household) -> None:
        users = [p for p in house.members if "app" in p.sources]
        tablet = None
        if len(users) >= 2 and self.rng.random() < rates.SHARED_DEVICE:
            house.shared_device = True
            tablet = self.device(tablet=True)
            self.counts["app: households sharing a tablet"] += 1
        for person in users:
            self.person(person, tablet)

    def person(self, person: Person, tablet: dict[str, Any] | None) -> None:
        rng = self.rng
        places: list[tuple[str, dict[str, Any] | str]] = []
        if rng.random() < 0.85:
            places.append(("app", self.device()))
        if rng.random() < 0.6 or not places:
            places += [("web", uuid_text(rng)) for _ in range(rng.choice((1, 1, 2, 3)))]
        if tablet is not None:
            places.append(("app", tablet))
        sessions = 1
        while sessions < 25 and rng.random() < 0.75:
            sessions += 1
        for _ in range(sessions):
            channel, where = rng.choice(places)
            self.session(person, channel, where, shared=where is tablet)

    def session(
        self, person: Person, channel: str, where: dict[str, Any] | str, shared: bool
    ) -> None:
        rng = self.rng
        start = self.sources.moment(person, "app")
        logged_in = rng.random() < (0.9 if shared else 0.6)
        user = None
        if logged_in:
            account = self.sources.accounts.get(person.entity_id)
            if account is not None:
                ref, email = account
                user = {"id": ref, "email": email_text(rng, email, "app")}
            else:
                user = {"id": None, "email": email_text(rng, person.email_at(start.date()), "app")}
        types = [("app_open" if channel == "app" else "page_view")]
        if user is not None and rng.random() < 0.5:
            types.append("login")
        pool = APP_TYPES if channel == "app" else WEB_TYPES
        types += [rng.choice(pool) for _ in range(rng.randrange(0, 6))]
        if "add_to_cart" in types and rng.random() < 0.4:
            types.append("purchase")
        moment = start
        for kind in types:
            moment += timedelta(seconds=rng.randrange(3, 180), milliseconds=rng.randrange(1000))
            self.event(person, kind, moment, channel, where, user)

    def event(
        self,
        person: Person,
        kind: str,
        moment: datetime,
        channel: str,
        where: dict[str, Any] | str,
        user: dict[str, Any] | None,
    ) -> None:
        rng = self.rng
        product = rng.choice(common().products)
        properties: dict[str, Any] = {}
        if kind in ("page_view", "product_view"):
            slug = product.replace(" ", "-")
            page = f"/p/{slug}" if kind == "product_view" else rng.choice(("/", "/sale", "/new"))
            properties["url" if channel == "web" else "screen"] = page
        if kind == "search":
            properties["query"] = product.split()[-1]
        if kind in ("add_to_cart", "purchase"):
            properties["product"] = product
        if kind == "purchase":
            properties["order_value"] = round(rng.uniform(8, 240), 2)
            properties["currency"] = person.country.currency
        row: dict[str, Any] = {
            "event_id": uuid_text(rng),
            "type": kind,
            "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{moment.microsecond // 1000:03d}Z",
            "channel": channel,
        }
        if channel == "app":
            row["device"] = where
        else:
            row["anonymous_id"] = where
        row["user"] = user
        row["locale"] = f"{LANGUAGE[person.origin.code]}-{person.country.code}"
        row["properties"] = properties
        self.sink.add(epoch(moment), person.entity_id, row)
