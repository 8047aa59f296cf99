"""The demo generator: deterministic, complete ground truth, realistic structure and noise."""

from __future__ import annotations

import csv
import json
import re
import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
import pytest

from identity.demo.generator import (
    FILE_NAMES,
    JUNK_EMAILS,
    KEYS,
    SOURCES,
    STORE_CARD,
    STORE_PHONE,
    DemoFiles,
    generate,
)

RULES = Path(__file__).resolve().parents[2] / "identity" / "config" / "rules.toml"
PEOPLE = 3000
ATTRIBUTE_TYPES = {"string", "name", "date", "datetime", "number", "boolean"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoFiles:
    return generate(tmp_path_factory.mktemp("demo"), people=PEOPLE, seed=7)


def read(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8", newline="") as handle:
        if path.suffix == ".csv":
            yield from csv.DictReader(handle)
        else:
            for line in handle:
                row = json.loads(line)
                assert isinstance(row, dict)
                yield row


def truth_of(demo: DemoFiles) -> dict[tuple[str, str], str]:
    with demo.truth.open(encoding="utf-8", newline="") as handle:
        return {(r["source"], r["record_key"]): r["entity_id"] for r in csv.DictReader(handle)}


def records(demo: DemoFiles) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(source, entity_id, row) for every record of every file."""
    truth = truth_of(demo)
    for source in SOURCES:
        for row in read(demo.files[source]):
            yield source, truth[source, row[KEYS[source]]], row


def e164(value: str | None) -> str | None:
    if not value:
        return None
    try:
        number = phonenumbers.parse(value, "GB")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def all_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_same_seed_gives_byte_identical_files_and_another_seed_differs(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", people=400, seed=11)
    second = generate(tmp_path / "b", people=400, seed=11)
    other = generate(tmp_path / "c", people=400, seed=12)
    a, b, c = all_bytes(tmp_path / "a"), all_bytes(tmp_path / "b"), all_bytes(tmp_path / "c")
    assert len(a) == len(SOURCES) * 2 + 2  # data, mapping, truth, household truth
    assert a == b
    assert first.records == second.records
    for name in [*FILE_NAMES.values(), "truth.csv", "household_truth.csv"]:
        assert a[name] != c[name], name
    assert other.people == 400


def test_progress_is_reported_per_thousand_people(tmp_path: Path) -> None:
    seen: list[int] = []
    generate(tmp_path, people=2500, seed=1, progress=seen.append)
    assert seen == [1000, 2000, 2500]


def test_truth_names_every_record_of_every_file_exactly_once(demo: DemoFiles) -> None:
    with demo.truth.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        assert next(reader) == ["source", "record_key", "entity_id"]
        truth_rows = [tuple(row) for row in reader]
    truth_keys = Counter((source, key) for source, key, _ in truth_rows)
    assert max(truth_keys.values()) == 1
    file_keys = Counter(
        (source, row[KEYS[source]]) for source in SOURCES for row in read(demo.files[source])
    )
    assert max(file_keys.values()) == 1
    assert set(file_keys) == set(truth_keys)
    for source in SOURCES:
        assert demo.records[source] == sum(1 for s, _ in file_keys if s == source)
    assert len({entity for _, _, entity in truth_rows}) == PEOPLE


def test_each_file_parses_with_the_same_fields_in_every_row(demo: DemoFiles) -> None:
    for source in SOURCES:
        path = demo.files[source]
        assert path.name == FILE_NAMES[source]
        fields = {frozenset(row) for row in read(path)}
        assert len(fields) == 1, source
        assert KEYS[source] in next(iter(fields))
        assert all(row[KEYS[source]] for row in read(path))


def test_records_per_source_and_sources_per_person_are_plausible(demo: DemoFiles) -> None:
    per_person = {
        "crm": (0.4, 0.8),
        "webshop": (0.45, 0.85),
        "pos": (0.6, 1.2),
        "support": (0.4, 1.0),
        "marketing": (0.35, 0.75),
    }
    for source, (low, high) in per_person.items():
        assert low * PEOPLE <= demo.records[source] <= high * PEOPLE, source
    sources_of: defaultdict[str, set[str]] = defaultdict(set)
    for (source, _), entity in truth_of(demo).items():
        sources_of[entity].add(source)
    spread = Counter(len(s) for s in sources_of.values())
    assert sum(spread[n] for n in (2, 3, 4)) >= 0.7 * PEOPLE
    assert spread[1] > 0 and spread[5] > 0
    # Not everyone is a CRM customer.
    assert 0.4 * PEOPLE < sum("crm" in s for s in sources_of.values()) < 0.8 * PEOPLE


def test_households_share_a_phone_and_an_address_across_different_people(
    demo: DemoFiles,
) -> None:
    junk = {e164(STORE_PHONE), "+441234567890"}
    people_by_phone: defaultdict[str, set[str]] = defaultdict(set)
    people_by_address: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    for source, entity, row in records(demo):
        for field in ("mobile", "home_phone", "phone"):
            phone = e164(row.get(field))
            if phone and phone not in junk:
                people_by_phone[phone].add(entity)
        if source in ("crm", "webshop") and row["address_line"] and row["postcode"]:
            people_by_address[row["address_line"], row["postcode"]].add(entity)
    shared_phones = [p for p, people in people_by_phone.items() if len(people) > 1]
    shared_addresses = [a for a, people in people_by_address.items() if len(people) > 1]
    assert len(shared_phones) >= 30
    assert len(shared_addresses) >= 30
    # Households are 2-4 people: never enough to hit the phone cardinality cap of 6.
    assert max(len(people_by_phone[p]) for p in shared_phones) <= 4


def test_the_household_truth_lists_everyone_and_households_of_two_to_four(
    demo: DemoFiles,
) -> None:
    assert demo.household_truth is not None
    with demo.household_truth.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    people = {entity for _, entity, _ in records(demo)}
    assert {r["entity_id"] for r in rows} >= people
    assert len(rows) == demo.people
    sizes = Counter(r["household_id"] for r in rows if r["household_id"])
    assert sizes and set(sizes.values()) <= {2, 3, 4}
    # A household is named by its first member, who is in it.
    household_of = {r["entity_id"]: r["household_id"] for r in rows}
    assert all(household_of.get(h) == h for h in sizes)


def test_junk_and_store_values_are_carried_by_many_unrelated_people(demo: DemoFiles) -> None:
    with_junk_email: set[str] = set()
    with_store_phone: set[str] = set()
    with_store_card: set[str] = set()
    for _, entity, row in records(demo):
        email = (row.get("email") or "").strip()
        if email in JUNK_EMAILS:
            with_junk_email.add(entity)
        if row.get("phone") == STORE_PHONE:
            with_store_phone.add(entity)
        if row.get("loyalty_card") == STORE_CARD:
            with_store_card.add(entity)
    assert len(with_junk_email) >= 5
    # More people than the caps in rules.toml (phone 6, loyalty_id 5), so they must stop linking.
    assert len(with_store_phone) > 6
    assert len(with_store_card) > 5


def test_noise_is_present_in_realistic_forms(demo: DemoFiles) -> None:
    emails = [row["email"] for s, _, row in records(demo) if row.get("email")]
    phones = [row["phone"] for s, _, row in records(demo) if s == "support" and row["phone"]]
    assert any(e.isupper() and "@" in e for e in emails)
    assert any("+" in e.split("@")[0] and e.endswith("@gmail.com") for e in emails)
    assert any("@" not in e and e != "N/A" for e in emails)
    assert any(e != e.strip() for e in emails)
    for form in ("+44 (0) ", "0044 ", "-", "("):
        assert any(form in p for p in phones), form
    pos_phones = [row["phone"] for s, _, row in records(demo) if s == "pos" and row["phone"]]
    assert sum(len(p) == 12 and p[5] == " " for p in pos_phones) > 0.5 * len(pos_phones)


def test_names_come_in_several_scripts_and_spellings(demo: DemoFiles) -> None:
    names_of: defaultdict[str, set[str]] = defaultdict(set)
    for _, entity, row in records(demo):
        if row.get("last_name"):
            names_of[entity].add(row["last_name"].strip())
    all_names = "".join(n for names in names_of.values() for n in names)
    assert any(c in all_names for c in "ŁłśŚżąęń")
    assert any(c in all_names for c in "äöüß")
    non_latin_and_latin = [
        names
        for names in names_of.values()
        if any(any("\u0370" <= c <= "\u04ff" for c in n) for n in names)
        and any(n.isascii() for n in names)
    ]
    assert len(non_latin_and_latin) >= 5


def test_dates_and_timestamps_read_as_the_mappings_say(demo: DemoFiles) -> None:
    for source in SOURCES:
        mapping = tomllib.loads((demo.mappings_dir / f"{source}.toml").read_text())
        stamp_format = mapping.get("timestamp_format")
        date_formats = {
            field: spec["format"]
            for field, spec in mapping.get("attributes", {}).items()
            if isinstance(spec, dict) and spec.get("type") == "date"
        }
        read_dates = 0
        for row in read(demo.files[source]):
            stamp = row[mapping["timestamp"]]
            # strptime and fromisoformat raise on a value the mapping could not read.
            parsed = (
                datetime.strptime(stamp, stamp_format)
                if stamp_format
                else datetime.fromisoformat(stamp)
            )
            assert 1900 < parsed.year < 2100, (source, stamp)
            for field, fmt in date_formats.items():
                if row[field]:
                    assert datetime.strptime(row[field], fmt).year > 1900, (source, row[field])
                    read_dates += 1
        assert read_dates > 0 or not date_formats, source


def test_mappings_follow_the_format_and_name_only_fields_in_the_data(demo: DemoFiles) -> None:
    kinds = set(tomllib.loads(RULES.read_text())["kinds"])
    priorities = {"crm": 90, "webshop": 60, "pos": 40, "support": 30, "marketing": 20}
    packaged = Path(__file__).resolve().parents[2] / "identity" / "demo" / "mappings"
    for source in SOURCES:
        path = demo.mappings_dir / f"{source}.toml"
        assert path.read_bytes() == (packaged / f"{source}.toml").read_bytes()
        mapping = tomllib.loads(path.read_text())
        fields = set(next(read(demo.files[source])))
        assert mapping["source"] == source
        assert mapping["key"] == KEYS[source]
        assert mapping["phone_region"] == "GB"
        assert mapping["priority"] == priorities[source]
        assert mapping["keep_unknown"] is True
        assert mapping["format"] == demo.files[source].suffix.lstrip(".")
        allowed = {
            "source",
            "key",
            "timestamp",
            "timestamp_format",
            "timezone",
            "phone_region",
            "priority",
            "keep_unknown",
            "format",
            "csv_delimiter",
            "identifiers",
            "attributes",
            "consent",
        }
        assert set(mapping) <= allowed
        named = {mapping["key"], mapping["timestamp"], *mapping["identifiers"]}
        named |= set(mapping["attributes"])
        assert named <= fields, named - fields
        assert set(mapping["identifiers"].values()) <= kinds
        for spec in mapping["attributes"].values():
            if isinstance(spec, dict):
                assert set(spec) <= {"name", "type", "format"}
                assert spec.get("type", "string") in ATTRIBUTE_TYPES
            else:
                assert isinstance(spec, str)
        names = {
            spec["name"] if isinstance(spec, dict) else spec
            for spec in mapping["attributes"].values()
        }
        assert "first_name" in names


# --- events -----------------------------------------------------------------------------------

EVENT_PEOPLE = 1000
EVENT_COUNT = 20_000
EVENT_FIELDS = {
    "event_id",
    "type",
    "timestamp",
    "channel",
    "source",
    "identifiers",
    "properties",
}


@pytest.fixture(scope="module")
def with_events(tmp_path_factory: pytest.TempPathFactory) -> DemoFiles:
    return generate(
        tmp_path_factory.mktemp("events"), people=EVENT_PEOPLE, seed=7, events=EVENT_COUNT
    )


def event_lines(demo: DemoFiles) -> list[str]:
    assert demo.events_file is not None
    return demo.events_file.read_text(encoding="utf-8").splitlines()


def events_of(demo: DemoFiles) -> list[dict[str, Any]]:
    """Every distinct event (a line sent twice counts once), in file order."""
    seen: dict[str, dict[str, Any]] = {}
    for line in event_lines(demo):
        event = json.loads(line)
        seen.setdefault(event["event_id"], event)
    return list(seen.values())


def event_truth(demo: DemoFiles) -> dict[str, str]:
    assert demo.events_truth is not None
    with demo.events_truth.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        assert next(reader) == ["event_id", "entity_id"]
        rows = list(reader)
    truth = dict((event_id, entity) for event_id, entity in rows)
    assert len(truth) == len(rows)
    return truth


def values(identifier: str | list[str]) -> list[str]:
    return identifier if isinstance(identifier, list) else [identifier]


def test_without_events_there_is_no_events_file(demo: DemoFiles) -> None:
    assert demo.events_file is None and demo.events_truth is None
    assert demo.events == 0
    assert not (demo.truth.parent / "events.jsonl").exists()


def test_asking_for_events_leaves_the_records_and_their_truth_byte_identical(
    tmp_path: Path,
) -> None:
    plain = generate(tmp_path / "plain", people=400, seed=3)
    busy = generate(tmp_path / "busy", people=400, seed=3, events=8000)
    before, after = all_bytes(tmp_path / "plain"), all_bytes(tmp_path / "busy")
    assert set(after) - set(before) == {"events.jsonl", "events_truth.csv"}
    assert {name: after[name] for name in before} == before
    assert plain.records == busy.records


def test_events_are_deterministic_for_a_seed_and_differ_for_another(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", people=300, seed=5, events=6000)
    second = generate(tmp_path / "b", people=300, seed=5, events=6000)
    other = generate(tmp_path / "c", people=300, seed=6, events=6000)
    a, b, c = all_bytes(tmp_path / "a"), all_bytes(tmp_path / "b"), all_bytes(tmp_path / "c")
    assert a == b
    assert first.events_per_type == second.events_per_type
    assert a["events.jsonl"] != c["events.jsonl"]
    assert other.events > 0
    assert not [p for p in (tmp_path / "a").iterdir() if p.name.startswith(".")]  # no scratch


def test_about_the_asked_number_of_events_spread_unevenly_over_people(
    with_events: DemoFiles,
) -> None:
    assert 0.95 * EVENT_COUNT <= with_events.events <= 1.05 * EVENT_COUNT
    assert with_events.events == sum(with_events.events_per_type.values())
    per_person = Counter(event_truth(with_events).values())
    assert len(per_person) > 0.7 * EVENT_PEOPLE
    counts = sorted(per_person.values())
    assert counts[-1] > 5 * counts[len(counts) // 2]  # a few people are far more active


def test_every_event_line_parses_with_a_time_zone_inside_the_window(
    with_events: DemoFiles,
) -> None:
    until = datetime.fromisoformat("2025-06-30T18:00:00+00:00")
    offsets: Counter[str] = Counter()
    previous = None
    for line in event_lines(with_events):
        event = json.loads(line)
        assert set(event) == EVENT_FIELDS
        assert event["event_id"].startswith("ev-")
        stamp = event["timestamp"]
        when = datetime.fromisoformat(stamp)
        assert when.utcoffset() is not None
        assert stamp[-6:] in ("+00:00", "+01:00", "+02:00"), stamp
        offsets[stamp[-6:]] += 1
        assert until - timedelta(days=731) <= when <= until
        # Sorted by time, as a collector exports; a retried line comes a little later.
        assert previous is None or when >= previous - timedelta(hours=7)
        previous = when
        assert isinstance(event["properties"], dict)
    assert len(offsets) == 3
    # +02:00 is Central European summer time: only between the last Sundays of March and
    # October, when Europe/London itself is on +01:00.
    london = ZoneInfo("Europe/London")
    for line in event_lines(with_events):
        stamp = json.loads(line)["timestamp"]
        if stamp.endswith("+02:00"):
            assert datetime.fromisoformat(stamp).astimezone(london).utcoffset() == timedelta(
                hours=1
            )


def test_identifier_kinds_are_declared_in_the_packaged_rules(with_events: DemoFiles) -> None:
    kinds = set(tomllib.loads(RULES.read_text())["kinds"])
    seen: set[str] = set()
    for event in events_of(with_events):
        assert event["identifiers"], event
        for kind, value in event["identifiers"].items():
            seen.add(kind)
            assert all(isinstance(v, str) and v for v in values(value)), event
    assert seen <= kinds
    assert {"cookie_id", "device_id", "email", "account_id", "loyalty_id"} <= seen


def test_the_share_of_events_by_type_is_plausible(with_events: DemoFiles) -> None:
    share = {kind: n / with_events.events for kind, n in with_events.events_per_type.items()}
    assert max(share, key=share.__getitem__) == "page_view"
    assert 0.2 < share["page_view"] < 0.5
    assert 0.01 < share["login"] < 0.1
    assert share["checkout"] < share["add_to_cart"]
    assert share["email_click"] < share["email_open"]
    for kind in ("purchase", "store_visit", "email_open", "ticket_opened", "consent"):
        assert 0.005 < share[kind] < 0.2, kind
    channels = Counter((e["type"], e["channel"], e["source"]) for e in events_of(with_events))
    assert channels["page_view", "web", "webshop"] == with_events.events_per_type["page_view"]
    assert channels["purchase", "store", "pos"] > 0
    assert channels["purchase", "web", "webshop"] > 0
    assert channels["product_view", "app", "webshop"] > 0
    for event in events_of(with_events):
        if event["type"] in ("checkout", "purchase"):
            props = event["properties"]
            assert isinstance(props["order_value"], float) and props["order_value"] > 0
            assert props["currency"] == "GBP" and props["order_id"] and props["skus"]


def test_cookies_and_devices_appear_in_no_record_file(with_events: DemoFiles) -> None:
    tokens: set[str] = set()
    for source in SOURCES:
        text = with_events.files[source].read_text(encoding="utf-8").lower()
        tokens.update(re.findall(r"[0-9a-z-]+", text))
    anonymous = {
        v.lower()
        for e in events_of(with_events)
        for kind in ("cookie_id", "device_id")
        for v in values(e["identifiers"].get(kind, []))
    }
    assert len(anonymous) > EVENT_PEOPLE / 2
    assert not anonymous & tokens


def test_page_views_carry_only_a_cookie_and_mostly_come_before_its_first_login(
    with_events: DemoFiles,
) -> None:
    first_login: dict[str, datetime] = {}
    page_views: list[tuple[str, datetime]] = []
    for event in events_of(with_events):
        ids, when = event["identifiers"], datetime.fromisoformat(event["timestamp"])
        if event["type"] == "page_view":
            assert set(ids) == {"cookie_id"}
            page_views.append((ids["cookie_id"], when))
        elif event["type"] == "login" and "cookie_id" in ids:
            first_login.setdefault(ids["cookie_id"], when)
    before = sum(1 for c, t in page_views if c in first_login and t < first_login[c])
    after = sum(1 for c, t in page_views if c in first_login and t >= first_login[c])
    never = sum(1 for c, _ in page_views if c not in first_login)
    assert before > after
    assert never > 0  # some browsing never joins a profile


def test_each_login_carries_a_cookie_or_device_and_a_known_identifier_of_its_person(
    with_events: DemoFiles,
) -> None:
    known: defaultdict[str, set[str]] = defaultdict(set)
    for source, entity, row in records(with_events):
        if source == "webshop":
            known[entity].add(row["account_id"].lower())
            known[entity].add(row["email"].strip().lower())
    truth = event_truth(with_events)
    logins = [e for e in events_of(with_events) if e["type"] == "login"]
    assert logins
    for event in logins:
        ids = event["identifiers"]
        assert "cookie_id" in ids or "device_id" in ids, event
        carried = {v.lower() for kind in ("account_id", "email") for v in values(ids.get(kind, []))}
        assert carried & known[truth[event["event_id"]]], event


def test_a_family_tablet_carries_the_logins_of_two_people(with_events: DemoFiles) -> None:
    truth = event_truth(with_events)
    people_by_device: defaultdict[str, set[str]] = defaultdict(set)
    for event in events_of(with_events):
        if event["type"] == "login" and "device_id" in event["identifiers"]:
            people_by_device[event["identifiers"]["device_id"]].add(truth[event["event_id"]])
    assert sum(len(people) > 1 for people in people_by_device.values()) >= 1
    assert max(len(people) for people in people_by_device.values()) <= 4


def test_duplicate_event_ids_are_exact_duplicate_lines(tmp_path: Path) -> None:
    demo = generate(tmp_path, people=1500, seed=7, events=40_000)
    lines = Counter(event_lines(demo))
    ids = Counter(json.loads(line)["event_id"] for line in event_lines(demo))
    twice = [event_id for event_id, n in ids.items() if n > 1]
    assert 0 < len(twice) == demo.event_duplicate_lines < 0.005 * demo.events
    assert max(ids.values()) == 2
    assert len(lines) == len(ids)  # a repeated id is always the very same line
    assert set(event_truth(demo)) == set(ids)


def test_events_truth_names_every_event_once_and_only_generated_people(
    with_events: DemoFiles,
) -> None:
    truth = event_truth(with_events)
    assert set(truth) == {e["event_id"] for e in events_of(with_events)}
    assert len(truth) == with_events.events
    assert set(truth.values()) <= set(truth_of(with_events).values())


def test_behavioural_segments_have_members(with_events: DemoFiles) -> None:
    """The issue's example segments find people: recent buyers, lapsed readers, big spenders."""
    until = datetime.fromisoformat("2025-06-30T18:00:00+00:00")
    truth = event_truth(with_events)
    recent_purchases: Counter[str] = Counter()
    spend_90: Counter[str] = Counter()
    last_open: dict[str, datetime] = {}
    for event in events_of(with_events):
        person, when = truth[event["event_id"]], datetime.fromisoformat(event["timestamp"])
        if event["type"] == "purchase" and when > until - timedelta(days=30):
            recent_purchases[person] += 1
        if event["type"] == "purchase" and when > until - timedelta(days=90):
            spend_90[person] += event["properties"]["order_value"]
        if event["type"] == "email_open":
            last_open[person] = max(when, last_open.get(person, when))
    assert sum(n >= 2 for n in recent_purchases.values()) >= 10
    assert sum(v > 100 for v in spend_90.values()) >= 10
    assert sum(t < until - timedelta(days=60) for t in last_open.values()) >= 10


def test_consent_is_granted_and_sometimes_withdrawn_later(with_events: DemoFiles) -> None:
    statements: defaultdict[tuple[str, str], list[tuple[datetime, bool]]] = defaultdict(list)
    for event in events_of(with_events):
        if event["type"] == "consent":
            props = event["properties"]
            assert props["purpose"] in ("email", "sms", "ads", "personalisation")
            assert event["source"] in ("webshop", "marketing")
            key = (json.dumps(event["identifiers"], sort_keys=True).lower(), props["purpose"])
            statements[key].append((datetime.fromisoformat(event["timestamp"]), props["granted"]))
    withdrawn = [s for s in statements.values() if [g for _, g in sorted(s)] == [True, False]]
    assert len(withdrawn) >= 5
    purposes = {purpose for _, purpose in statements}
    assert purposes == {"email", "sms", "ads", "personalisation"}


def test_some_events_carry_identifiers_in_another_case(with_events: DemoFiles) -> None:
    emails = [v for e in events_of(with_events) for v in values(e["identifiers"].get("email", []))]
    assert any(e.isupper() for e in emails)
    assert sum(e.isupper() for e in emails) < 0.05 * len(emails)


def test_events_end_at_the_given_moment_and_need_a_time_zone(tmp_path: Path) -> None:
    until = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    demo = generate(tmp_path / "d", people=200, seed=1, events=3000, until=until)
    stamps = [datetime.fromisoformat(e["timestamp"]) for e in events_of(demo)]
    assert max(stamps) <= until
    assert min(stamps) >= until - timedelta(days=731)
    with pytest.raises(ValueError, match="time zone"):
        generate(tmp_path / "e", people=10, seed=1, events=10, until=datetime(2026, 3, 1))
    with pytest.raises(ValueError, match="events"):
        generate(tmp_path / "f", people=10, seed=1, events=-1)
