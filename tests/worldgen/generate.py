"""Generate a world: its people, the six source files, the truth and a README of the files.

`generate(out, people, seed)` is deterministic: the same arguments write the same bytes.
Households stream through; only identifier registries (to keep unrelated people from
sharing an address or number by accident) and one time bucket per file are in memory.
"""

from __future__ import annotations

import csv
import random
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as clock
from pathlib import Path

from tests.worldgen.events import EventLog
from tests.worldgen.output import SortedSink, write_source
from tests.worldgen.people import Person, Population
from tests.worldgen.readme import write_readme
from tests.worldgen.sources import FILES, SPANS, Sources, epoch

ENTITY_COLUMNS = (
    "entity_id",
    "household_id",
    "household_kind",
    "country",
    "name_origin",
    "sex",
    "given_name",
    "known_as",
    "middle_name",
    "family_name",
    "maiden_name",
    "birth_date",
    "twin_of",
    "namesake_of",
    "email_alias_of",
)


@dataclass
class World:
    """What `generate` wrote."""

    out: Path
    people: int
    households: int
    seed: int
    files: dict[str, Path]  # source -> file
    records: dict[str, int]  # source -> rows
    truth: Path
    entities: Path
    readme: Path
    seconds: float = 0.0
    quirks: Counter[str] = field(default_factory=Counter)


def _entity_row(person: Person) -> list[str]:
    return [
        person.entity_id,
        person.household.hid,
        person.household.kind,
        person.country.code,
        person.origin.code,
        person.sex,
        person.given.name,
        person.goes_by or "",
        person.middle or "",
        person.family_name,
        person.maiden_name or "",
        person.birth.isoformat(),
        person.twin_of or "",
        person.namesake_of or "",
        person.email_alias_of or "",
    ]


def _count_people(person: Person, quirks: Counter[str]) -> None:
    house = person.household
    if person.twin_of:
        quirks["people: twins"] += 1
    if person.namesake_of:
        quirks["people: given the full name of another person"] += 1
    if person.email_alias_of:
        quirks["people: same local part as a namesake at another Microsoft domain"] += 1
    if person.goes_by:
        quirks["people: go by a short, English or nick name"] += 1
    if person.maiden_name:
        quirks["people: changed surname on marriage"] += 1
    if len(person.emails) > 1:
        quirks["people: changed personal e-mail"] += 1
    if len(person.mobiles) > 1:
        quirks["people: changed mobile number"] += 1
    if person.work_email:
        quirks["people: have a work e-mail"] += 1
    if person.country.code != person.origin.code:
        quirks["people: name from another country than where they live"] += 1
    if any(e.address.endswith("@googlemail.com") for e in person.emails):
        quirks["people: Gmail account at googlemail.com"] += 1
    if house.members[0] is person:
        quirks["households"] += 1
        if len(house.members) > 1:
            quirks["households: two or more customers"] += 1
        if house.family_email:
            quirks["households: a family e-mail address"] += 1
        if house.landline:
            quirks["households: a landline"] += 1
        if house.old_address:
            quirks["households: moved"] += 1


def generate(out: Path, people: int, seed: int) -> World:
    """Write a world of `people` people into `out` (created; existing files are replaced)."""
    if people < 1:
        raise ValueError("people must be at least 1")
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    work = out / ".work"
    shutil.rmtree(work, ignore_errors=True)
    rng = random.Random(seed)
    quirks: Counter[str] = Counter()
    sinks = {}
    for source, spec in FILES.items():
        start, end = SPANS[source]
        sinks[source] = SortedSink(
            work,
            spec,
            epoch(datetime.combine(start, clock())),
            epoch(datetime.combine(end, clock(23, 59))),
        )
    population = Population(rng)
    sources = Sources(rng, population, sinks, quirks)
    events = EventLog(rng, sinks["app"], sources, quirks)
    entities = out / "truth_entities.csv"
    with entities.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(ENTITY_COLUMNS)
        for house in population.households_for(people):
            for person in house.members:
                sources.add(person)
            events.household(house)
            for person in house.members:
                writer.writerow(_entity_row(person))
                _count_people(person, quirks)
    truth = out / "truth.csv"
    records: dict[str, int] = {}
    with truth.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("source", "record_key", "entity_id"))
        for source, sink in sinks.items():
            records[source] = write_source(sink, out, writer)
    shutil.rmtree(work, ignore_errors=True)
    world = World(
        out=out,
        people=population.people,
        households=population.households,
        seed=seed,
        files={source: out / spec.file_name for source, spec in FILES.items()},
        records=records,
        truth=truth,
        entities=entities,
        readme=out / "README.md",
        quirks=quirks,
    )
    write_readme(world)
    world.seconds = time.perf_counter() - started
    return world
