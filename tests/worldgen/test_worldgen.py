"""The second generator: deterministic, exact truth, each real-world quirk present at a
plausible rate, phone numbers valid for their country, and no code shared with identity.demo.

Quirks are counted in the written files against the truth, not taken from the generator's
own counters, so a quirk that stops reaching the files fails here.
"""

from __future__ import annotations

import ast
import csv
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import phonenumbers
import pytest

from tests.worldgen import spelling
from tests.worldgen.generate import World, generate
from tests.worldgen.people import MICROSOFT, Population
from tests.worldgen.sources import FILES
from tests.worldgen.world import COUNTRIES, GivenName, country

PEOPLE = 4000
SEED = 3
PACKAGE = Path(__file__).resolve().parent
REPO = PACKAGE.parents[1]
MONTHS = {
    month: number
    for number, month in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}


@dataclass
class Loaded:
    world: World
    entities: dict[str, dict[str, str]]
    truth: dict[tuple[str, str], str]
    rows: dict[str, list[dict[str, Any]]]

    def entity(self, source: str, row: dict[str, Any]) -> dict[str, str]:
        return self.entities[self.truth[(source, str(row[FILES[source].key]))]]


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8", newline="") as handle:
        if path.suffix == ".jsonl":
            for line in handle:
                yield json.loads(line)
        else:
            yield from csv.DictReader(handle)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    made = generate(tmp_path_factory.mktemp("world"), PEOPLE, SEED)
    entities = {row["entity_id"]: row for row in read_rows(made.entities)}
    truth: dict[tuple[str, str], str] = {}
    for row in read_rows(made.truth):
        truth[(row["source"], row["record_key"])] = row["entity_id"]
    rows = {source: list(read_rows(path)) for source, path in made.files.items()}
    return Loaded(made, entities, truth, rows)


def share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


# -- determinism and truth -----------------------------------------------------------------


def test_the_same_seed_writes_the_same_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", 300, 11)
    second = generate(tmp_path / "b", 300, 11)
    other = generate(tmp_path / "c", 300, 12)
    names = sorted(p.name for p in first.out.iterdir())
    assert names == sorted(p.name for p in second.out.iterdir())
    assert {"truth.csv", "truth_entities.csv", "README.md"} <= set(names)
    for name in names:
        assert (first.out / name).read_bytes() == (second.out / name).read_bytes(), name
    assert (first.out / "crm_accounts.csv").read_bytes() != (
        other.out / "crm_accounts.csv"
    ).read_bytes()
    assert not (first.out / ".work").exists()


def test_truth_names_every_record_of_every_file_exactly_once(world: Loaded) -> None:
    for source, spec in FILES.items():
        keys = [str(row[spec.key]) for row in world.rows[source]]
        assert len(keys) == len(set(keys)), f"{source}: duplicate keys"
        in_truth = {key for (s, key) in world.truth if s == source}
        assert set(keys) == in_truth, source
        assert world.world.records[source] == len(keys)
    assert set(world.truth.values()) <= set(world.entities)
    assert len(world.entities) == PEOPLE == world.world.people
    assert set(world.truth.values()) == set(world.entities), "someone has no record"


def test_rows_are_in_time_order_with_keys_numbered_in_that_order(world: Loaded) -> None:
    created = [row["account_created"] for row in world.rows["crm"]]
    assert created == sorted(created)
    numbers = [int(row["account_id"].removeprefix("ACC-")) for row in world.rows["crm"]]
    assert numbers == sorted(numbers)
    stamps = [row["timestamp"] for row in world.rows["app"]]
    assert stamps == sorted(stamps)
    tickets = [row["created_at"] for row in world.rows["support"]]
    assert tickets == sorted(tickets)


def test_households_are_distinct_entities_with_their_own_records(world: Loaded) -> None:
    households: dict[str, list[str]] = defaultdict(list)
    for entity in world.entities.values():
        households[entity["household_id"]].append(entity["entity_id"])
    shared = [members for members in households.values() if len(members) > 1]
    assert 0.1 < share(len(shared), len(households)) < 0.5
    people_with_records = set(world.truth.values())
    for members in shared:
        assert len(set(members)) == len(members)
        assert set(members) <= people_with_records


def test_people_live_in_every_country_some_with_names_from_elsewhere(world: Loaded) -> None:
    lives = Counter(e["country"] for e in world.entities.values())
    assert set(lives) == set(COUNTRIES)
    for code in COUNTRIES:
        assert share(lives[code], PEOPLE) > 0.03, code
    abroad = [e for e in world.entities.values() if e["name_origin"] != e["country"]]
    assert 0.03 < share(len(abroad), PEOPLE) < 0.2
    assert "UA" in {e["name_origin"] for e in abroad}


# -- phones --------------------------------------------------------------------------------


def phones(world: Loaded) -> Iterator[tuple[str, str, dict[str, str]]]:
    for row in world.rows["crm"]:
        for column in ("phone", "mobile"):
            if row[column]:
                yield "crm", row[column], world.entity("crm", row)
    for row in world.rows["webshop"]:
        for text in row["contact"]["phones"]:
            yield "webshop", text, world.entity("webshop", row)
    for source in ("pos", "support"):
        for row in world.rows[source]:
            if row["phone"]:
                yield source, row["phone"], world.entity(source, row)


def test_every_phone_number_is_valid_for_the_country_its_person_lives_in(world: Loaded) -> None:
    seen = Counter()
    for source, text, entity in phones(world):
        number = phonenumbers.parse(text, entity["country"])
        assert phonenumbers.is_valid_number(number), (source, text, entity["country"])
        assert phonenumbers.region_code_for_number(number) == entity["country"], (source, text)
        seen[entity["country"]] += 1
    assert set(seen) == set(COUNTRIES)


def test_phones_come_in_national_and_international_forms(world: Loaded) -> None:
    by_country: dict[str, Counter[str]] = defaultdict(Counter)
    for _, text, entity in phones(world):
        form = "international" if text.startswith(("+", "00")) else "national"
        by_country[entity["country"]][form] += 1
    for code in COUNTRIES:
        forms = by_country[code]
        assert forms["national"] > 0 and forms["international"] > 0, (code, forms)
    us = by_country["US"]
    assert share(us["national"], us.total()) > 0.5  # most US numbers are written without +1
    german = [text for _, text, entity in phones(world) if entity["country"] == "DE"]
    assert any(re.fullmatch(r"0\d{2,4}/\d+", text) for text in german)  # 0151/23456789


def test_households_share_a_landline(world: Loaded) -> None:
    holders: dict[str, set[str]] = defaultdict(set)
    for _, text, entity in phones(world):
        number = phonenumbers.parse(text, entity["country"])
        holders[phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)].add(
            entity["entity_id"]
        )
    shared = [ids for ids in holders.values() if len(ids) > 1]
    same_home = [
        ids for ids in shared if len({world.entities[i]["household_id"] for i in ids}) == 1
    ]
    assert len(same_home) >= 20
    assert share(len(same_home), len(shared)) > 0.5  # the rest: the store's till number, slips


# -- names ---------------------------------------------------------------------------------


def plain(text: str) -> str:
    """Case-folded, without spaces, hyphens, apostrophes and dots: Xiu-Ying is xiuying."""
    return re.sub(r"[\s\-'.]", "", text.casefold())


def name_forms(entity: dict[str, str]) -> tuple[set[str], set[str]]:
    """Every spelling of the given and family name the data files allow, made plain."""
    origin = country(entity["name_origin"])
    given = {entity["given_name"], entity["known_as"]}
    lists = [origin] + ([country(origin.given_borrow[0])] if origin.given_borrow else [])
    for names in lists:
        for entry in names.given(entity["sex"]).items:
            if entry.name == entity["given_name"]:
                given |= {entry.name, *entry.short, *entry.alt, *entry.en}
                given |= {n for n in (entry.script, entry.pl, entry.de) if n}
    family: set[str] = {entity["family_name"], entity["maiden_name"]}
    for surname in origin.surnames.items:
        if surname.for_sex(entity["sex"]) == entity["family_name"]:
            family |= {surname.name, *surname.alt}
            family |= {n for n in (surname.script, surname.pl, surname.de) if n}
    return {plain(g) for g in given if g}, {plain(f) for f in family if f}


def folds(text: str) -> set[str]:
    """The name as systems without diacritics keep it: Jürgen, Jurgen, Juergen."""
    return {plain(spelling.fold(text)), plain(spelling.fold(text, german=True))}


def test_crm_names_are_the_persons_names_with_few_typos(world: Loaded) -> None:
    """Short forms, spellings, scripts and lost diacritics account for all but the typos."""
    unexplained = 0
    short_forms = Counter()
    for row in world.rows["crm"]:
        entity = world.entity("crm", row)
        givens, _ = name_forms(entity)
        givens_folded = givens.union(*(folds(g) for g in givens))
        first = plain(row["first_name"])
        if first not in givens_folded and not folds(first) & givens_folded:
            if plain(row["last_name"]) in givens_folded | {""}:  # Chinese swapped, Indian '.'
                continue
            if not first.isascii() or len(first) == 1 or entity["name_origin"] == "KE":
                continue  # in Hanzi / Thai; an initial; Kenyans write any two of three names
            unexplained += 1
        elif first != plain(entity["given_name"]) and first in givens:
            short_forms[entity["name_origin"]] += 1
    rate = share(unexplained, len(world.rows["crm"]))
    assert 0.005 < rate < 0.04, rate  # typos: 2% of first names
    assert len(short_forms) >= 5, short_forms  # diminutives in several languages


def given_entry(entity: dict[str, str]) -> GivenName | None:
    origin = country(entity["name_origin"])
    lists = [origin] + ([country(origin.given_borrow[0])] if origin.given_borrow else [])
    for names in lists:
        for entry in names.given(entity["sex"]).items:
            if entry.name == entity["given_name"]:
                return entry
    return None


def test_diminutives_in_several_languages_reach_the_files(world: Loaded) -> None:
    found: set[tuple[str, str]] = set()
    for source in ("crm", "pos", "support", "webshop"):
        for row in world.rows[source]:
            entity = world.entity(source, row)
            entry = given_entry(entity)
            if entry is None or not entry.short:
                continue
            text = json.dumps(row, ensure_ascii=False)
            found |= {(entry.name, s) for s in entry.short if re.search(rf"\b{s}\b", text)}
    origins = {
        origin
        for origin in ("GB", "US", "PL", "DE", "UA", "IN")
        for name, _ in found
        if any(e.name == name for sex in "MF" for e in country(origin).given(sex).items)
    }
    assert len(origins) >= 5, found  # English, Spanish (US), Polish, German, Ukrainian ...
    examples = {
        ("Małgorzata", "Gosia"),
        ("William", "Bill"),
        ("José", "Pepe"),
        ("Oleksandr", "Sasha"),
        ("Katarzyna", "Kasia"),
        ("Robert", "Bob"),
    }
    assert found & examples, found


def test_names_in_their_own_scripts_and_romanisations(world: Loaded) -> None:
    text = {source: json.dumps(world.rows[source], ensure_ascii=False) for source in FILES}
    everything = "".join(text.values())
    assert re.search(r"[\u4e00-\u9fff]{2,}", text["pos"] + text["webshop"])  # 张伟
    assert re.search(r"[\u0e00-\u0e7f]{3,}", everything)  # Thai
    assert re.search(r"[\u0400-\u04ff]{3,}", everything)  # Cyrillic
    chinese = [row for row in world.rows["pos"] if world.entity("pos", row)["name_origin"] == "CN"]
    family_first = 0
    for row in chinese:
        _, families = name_forms(world.entity("pos", row))
        first_word = row["member_name"].split(" ")[0]
        family_first += " " in row["member_name"] and plain(first_word) in families
    assert share(family_first, len(chinese)) > 0.25  # Zhang Wei, family name first
    forms = Counter()
    for source in ("crm", "pos", "webshop"):
        for row in world.rows[source]:
            entity = world.entity(source, row)
            blob = json.dumps(row, ensure_ascii=False)
            name = entity["family_name"]
            if entity["name_origin"] == "DE" and re.search("[äöü]", name):
                spelt = name.translate(str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"}))
                dropped = name.translate(str.maketrans("äöü", "aou"))
                for form, written in (("Müller", name), ("Mueller", spelt), ("Muller", dropped)):
                    forms[form] += written in blob
            if entity["name_origin"] == "PL" and re.search("[ąćęłńóśźż]", name):
                forms["Wiśniewska"] += name in blob
                forms["Wisniewska"] += spelling.fold(name) in blob
            entry = given_entry(entity)
            if entity["name_origin"] == "UA" and entry is not None:
                others = {*entry.alt, entry.pl, entry.de} - {entry.name, None}
                forms["Oleksandr / Aleksandr"] += any(f'"{o}"' in blob for o in others)
    for form in ("Müller", "Mueller", "Muller", "Wiśniewska", "Wisniewska"):
        assert forms[form] > 0, forms
    assert forms["Oleksandr / Aleksandr"] > 0, forms


def test_full_name_sources_use_every_usual_shape(world: Loaded) -> None:
    shapes = Counter()
    for row in world.rows["pos"]:
        name = row["member_name"]
        if re.fullmatch(r"[^,]+, [^,]+", name):
            shapes["Smith, John"] += 1
        elif re.fullmatch(r"(Mr|Mr\.|Mrs|Mrs\.|Ms|Miss|Herr|Frau|Pan|Pani|Khun) \w\. .+", name):
            shapes["Mrs J. Smith"] += 1
        elif re.fullmatch(r"\w\. .+", name):
            shapes["J. Smith"] += 1
        elif re.fullmatch(r"\S+ \S+", name):
            shapes["John Smith"] += 1
    total = len(world.rows["pos"])
    for shape in ("Smith, John", "Mrs J. Smith", "J. Smith", "John Smith"):
        assert share(shapes[shape], total) > 0.02, shapes


def test_namesakes_and_twins(world: Loaded) -> None:
    entities = list(world.entities.values())
    by_name = Counter((e["given_name"], e["family_name"]) for e in entities)
    namesakes = sum(count for count in by_name.values() if count > 1)
    assert share(namesakes, PEOPLE) > 0.02
    twins = [e for e in entities if e["twin_of"]]
    assert 0.002 < share(len(twins), PEOPLE) < 0.03
    for twin in twins:
        other = world.entities[twin["twin_of"]]
        assert other["twin_of"] == twin["entity_id"]
        assert other["birth_date"] == twin["birth_date"]
        assert other["household_id"] == twin["household_id"]
        assert other["given_name"] != twin["given_name"]
        gendered = twin["name_origin"] in ("PL", "IN")  # Kowalski / Kowalska, Singh / Kaur
        assert other["family_name"] == twin["family_name"] or gendered


# -- dates ---------------------------------------------------------------------------------


def parse_birth(text: str, us: bool) -> tuple[str, date]:
    if re.fullmatch(r"\d{4}-\d\d-\d\d", text):
        return "iso", date.fromisoformat(text)
    if m := re.fullmatch(r"(\d\d)/(\d\d)/(\d{4})", text):
        a, b, y = int(m[1]), int(m[2]), int(m[3])
        return ("m/d/y", date(y, a, b)) if us else ("d/m/y", date(y, b, a))
    if m := re.fullmatch(r"(\d\d)\.(\d\d)\.(\d{4})", text):
        return "d.m.y", date(int(m[3]), int(m[2]), int(m[1]))
    if m := re.fullmatch(r"(\d{1,2}) (\w{3}) (\d{4})", text):
        return "d Mon y", date(int(m[3]), MONTHS[m[2]], int(m[1]))
    if m := re.fullmatch(r"(\w{3}) (\d{1,2}), (\d{4})", text):
        return "Mon d, y", date(int(m[3]), MONTHS[m[1]], int(m[2]))
    raise AssertionError(f"unexpected date {text!r}")


def test_birth_dates_mix_formats_in_one_column_and_us_rows_are_month_first(
    world: Loaded,
) -> None:
    formats = Counter()
    for row in world.rows["crm"]:
        if not row["date_of_birth"]:
            continue
        entity = world.entity("crm", row)
        form, day = parse_birth(row["date_of_birth"], entity["country"] == "US")
        assert day == date.fromisoformat(entity["birth_date"]), row["date_of_birth"]
        formats[form] += 1
    total = formats.total()
    for form in ("iso", "d/m/y", "m/d/y", "d.m.y", "d Mon y", "Mon d, y"):
        assert share(formats[form], total) > 0.005, formats
    assert share(total, len(world.rows["crm"])) > 0.5


# -- e-mail --------------------------------------------------------------------------------


def emails(world: Loaded) -> Iterator[tuple[str, str, str]]:
    """(source, address as written, entity id) for every e-mail address in every file."""
    for row in world.rows["crm"]:
        if row["email"]:
            yield "crm", row["email"], world.truth[("crm", row["account_id"])]
    for row in world.rows["pos"]:
        if row["email"]:
            yield "pos", row["email"], world.truth[("pos", row["card_number"])]
    for row in world.rows["webshop"]:
        yield "webshop", row["contact"]["email"], world.truth[("webshop", row["customer_ref"])]
    for row in world.rows["newsletter"]:
        yield "newsletter", row["email"], world.truth[("newsletter", row["subscriber_id"])]
    for row in world.rows["support"]:
        found = re.search(r"[\w.+-]+@[\w.-]+", row["requester"])
        if found:
            yield "support", found[0], world.truth[("support", row["ticket_id"])]


def test_a_family_address_is_shared_by_members_of_one_household(world: Loaded) -> None:
    holders: dict[str, set[str]] = defaultdict(set)
    for _, address, entity in emails(world):
        holders[Population.mailbox(address.strip())].add(entity)
    shared = [ids for ids in holders.values() if len(ids) > 1]
    assert len(shared) >= 20
    for ids in shared:
        homes = {world.entities[i]["household_id"] for i in ids}
        assert len(homes) == 1, ids  # never two strangers: that would be a wrong truth


def test_hotmail_and_outlook_are_different_people_and_googlemail_is_gmail(world: Loaded) -> None:
    by_local: dict[str, set[tuple[str, str]]] = defaultdict(set)
    gmail: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for _, address, entity in emails(world):
        local, _, domain = address.strip().lower().partition("@")
        if domain in MICROSOFT:
            by_local[local].add((domain, entity))
        if domain in ("gmail.com", "googlemail.com"):
            gmail[local].add((domain, entity))
    strangers = [
        pairs
        for pairs in by_local.values()
        if len({d for d, _ in pairs}) > 1 and len({e for _, e in pairs}) > 1
    ]
    assert strangers, "no local part held by two people at two Microsoft domains"
    both = [
        pairs
        for pairs in gmail.values()
        if {d for d, _ in pairs} == {"gmail.com", "googlemail.com"}
    ]
    assert any(len({e for _, e in pairs}) == 1 for pairs in both)
    for pairs in both:  # one mailbox: one person, or one family
        assert len({world.entities[e]["household_id"] for _, e in pairs}) == 1


def test_people_change_email_and_some_records_keep_the_old_one(world: Loaded) -> None:
    boxes: dict[str, set[str]] = defaultdict(set)
    for source, address, entity in emails(world):
        if source in ("crm", "webshop", "newsletter"):
            boxes[entity].add(Population.mailbox(address.strip()))
    with_two = [e for e, found in boxes.items() if len(found) > 1]
    assert share(len(with_two), len(boxes)) > 0.05


def test_newsletter_holds_email_addresses_only(world: Loaded) -> None:
    columns = set(world.rows["newsletter"][0])
    assert columns == set(FILES["newsletter"].columns)
    assert not columns & {"name", "first_name", "last_name", "phone", "address"}
    assert all("@" in row["email"] for row in world.rows["newsletter"])


# -- sources -------------------------------------------------------------------------------


def test_crm_has_duplicate_accounts_and_an_iso_country_column(world: Loaded) -> None:
    accounts = Counter(world.truth[("crm", row["account_id"])] for row in world.rows["crm"])
    duplicated = [e for e, count in accounts.items() if count > 1]
    assert 0.01 < share(len(duplicated), len(accounts)) < 0.12
    codes = Counter(row["country_code"] for row in world.rows["crm"])
    assert set(COUNTRIES) <= set(codes)
    assert codes["UK"] > 0 and codes[""] > 0  # as typed: not always ISO, not always there
    for row in world.rows["crm"]:
        if row["country_code"] in COUNTRIES:
            assert row["country_code"] == world.entity("crm", row)["country"]


def test_webshop_is_nested_json_with_a_country_name(world: Loaded) -> None:
    rows = world.rows["webshop"]
    emails_ = [row["contact"]["email"] for row in rows]
    first_phones = [row["contact"]["phones"][0] for row in rows if row["contact"]["phones"]]
    postcodes = [row["addresses"][0]["postcode"] for row in rows]
    assert all("@" in e for e in emails_)
    assert share(len(first_phones), len(rows)) > 0.6
    assert all(postcodes)
    names = Counter(row["addresses"][0]["country"] for row in rows)
    assert {"United Kingdom", "Germany", "India", "Kenya", "China", "Thailand"} <= set(names)
    assert names["Deutschland"] + names["Polska"] > 0 and names[None] > 0
    moved = [
        row for row in rows if len([a for a in row["addresses"] if a["type"] == "shipping"]) > 1
    ]
    assert moved


def test_pos_and_support_have_no_country_column(world: Loaded) -> None:
    assert "country" not in " ".join(FILES["pos"].columns + FILES["support"].columns)


def test_support_requesters_and_one_line_addresses(world: Loaded) -> None:
    rows = world.rows["support"]
    named = [r for r in rows if re.fullmatch(r'("[^"]+"|[^<"]+) <[^>]+@[^>]+>', r["requester"])]
    bare = [r for r in rows if re.fullmatch(r"\S+@\S+", r["requester"])]
    assert share(len(named), len(rows)) > 0.5 and bare
    quoted = [r for r in named if r["requester"].startswith('"')]
    assert quoted  # "Smith, John" <john@...>
    addresses = [r["address"] for r in rows if r["address"]]
    assert share(len(addresses), len(rows)) > 0.3
    assert all("," in a or "号" in a for a in addresses)
    assert any(re.search(r"\b\d\d-\d{3} \w+", a) for a in addresses)  # 00-950 Warszawa
    assert any(re.search(r"[A-Z]{2}\s?\d{5}\b", a) for a in addresses)  # NY 10001


def test_app_events_carry_devices_cookies_and_logins(world: Loaded) -> None:
    events = world.rows["app"]
    assert {e["channel"] for e in events} == {"app", "web"}
    assert all(e["device"]["id"] for e in events if e["channel"] == "app")
    assert all(e["anonymous_id"] for e in events if e["channel"] == "web")
    logged_in = [e for e in events if e["user"]]
    assert 0.2 < share(len(logged_in), len(events)) < 0.9
    assert any(e["type"] == "login" for e in events)
    users: dict[str, set[str]] = defaultdict(set)
    for event in events:
        if event["channel"] == "app":
            users[event["device"]["id"]].add(world.truth[("app", event["event_id"])])
    tablets = [ids for ids in users.values() if len(ids) > 1]
    assert tablets  # a family tablet
    for ids in tablets:
        assert len({world.entities[i]["household_id"] for i in ids}) == 1


# -- independence and the command line -----------------------------------------------------


def test_the_package_imports_nothing_of_identity() -> None:
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n == "identity" or n.startswith("identity.") for n in names), path
    script = (
        "import sys, tempfile, pathlib\n"
        "from tests.worldgen.generate import generate\n"
        "generate(pathlib.Path(tempfile.mkdtemp()), 50, 1)\n"
        "assert not [m for m in sys.modules if m == 'identity' or m.startswith('identity.')]\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=REPO, check=True)


def run_cli(out: Path, hash_seed: str) -> str:
    command = [sys.executable, "-m", "tests.worldgen", "--people", "200", "--seed", "4"]
    done = subprocess.run(
        [*command, "--out", str(out)],
        cwd=REPO,
        env={**os.environ, "PYTHONHASHSEED": hash_seed},
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def test_the_command_line_writes_the_same_files_whatever_the_hash_seed(tmp_path: Path) -> None:
    """No output depends on the order of a set or of a dict keyed by strings."""
    assert "200 people" in run_cli(tmp_path / "one", "1")
    run_cli(tmp_path / "two", "2")
    for path in (tmp_path / "one").iterdir():
        assert path.read_bytes() == (tmp_path / "two" / path.name).read_bytes(), path.name


def test_the_readme_describes_every_file_and_maps_none(tmp_path: Path) -> None:
    out = tmp_path / "world"
    generate(out, 60, 4)
    readme = (out / "README.md").read_text("utf-8")
    for spec in FILES.values():
        assert (out / spec.file_name).is_file()
        assert f"## `{spec.file_name}`" in readme
    assert not list(out.glob("*.toml"))
    assert "[identifiers]" not in readme and "kind" not in readme.lower()
