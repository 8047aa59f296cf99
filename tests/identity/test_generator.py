"""The demo generator: deterministic, complete ground truth, realistic structure and noise."""

from __future__ import annotations

import csv
import json
import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

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
    assert len(a) == len(SOURCES) * 2 + 1  # data, mapping, truth
    assert a == b
    assert first.records == second.records
    for name in [*FILE_NAMES.values(), "truth.csv"]:
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
        for row in read(demo.files[source]):
            stamp = row[mapping["timestamp"]]
            if stamp_format:
                datetime.strptime(stamp, stamp_format)
            else:
                datetime.fromisoformat(stamp)
            for field, fmt in date_formats.items():
                if row[field]:
                    datetime.strptime(row[field], fmt)


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
