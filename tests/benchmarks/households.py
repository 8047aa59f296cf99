"""Benchmark: how well households pair the people who live together, on both generators.

Run with `.venv/bin/python -m tests.benchmarks.households --people 2000 10000` (add
`--generator demo` or `worldgen` for one; `--no-link` to skip the probabilistic matcher).
For each generator and size: generate the files (the demo generator, seed 7, with its
mappings; tests/worldgen, seed 1, with tests/benchmarks/worldgen_mappings), ingest every
record file into a fresh SQLite store (events are not ingested: households read records'
golden values and identifiers), train and link, then `households.rebuild()`, and score.

How pairs are counted (:func:`household_scores`): each profile stands for its *person*,
the truth entity holding most of its records (ties: the lower entity id); the people
scored are those that some profile stands for. A predicted pair is two distinct people
standing for two profiles of one predicted household; a true pair is two distinct scored
people of one true household (the demo's ``household_truth.csv``; worldgen's
``truth_entities.csv`` ``household_id``, flatmates included, reported apart too).
Precision = TP / predicted pairs, recall = TP / true pairs. Two people merged into one
profile are one scored person (the other is unscored, unless another profile stands for
them): households cannot pair what resolution merged. Nothing was tuned on these figures:
the rule is the packaged `[households]` section, fixed before the first run.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from identity.demo.generator import generate as generate_demo
from identity.evaluation import RecordKey, load_assignment
from identity.graph import IdentityGraph
from identity.mapping import load_mapping
from identity.matching.matcher import ProbabilisticMatcher
from identity.model import ProfileId
from identity.readers import read_file
from tests.benchmarks.common import load_average, machine

SEEDS = {"demo": 7, "worldgen": 1}
WORLDGEN_MAPPINGS = Path(__file__).with_name("worldgen_mappings")
WORLDGEN_EVENTS = {"app"}


@dataclass(frozen=True)
class Population:
    """Generated files, their mappings, and the truth of records and of households."""

    generator: str
    people: int
    record_files: tuple[tuple[Path, Path], ...]
    truth: Mapping[RecordKey, str]
    households: Mapping[str, str]
    """entity id -> household id, for people in a household of two or more."""
    kinds: Mapping[str, str]
    """household id -> its kind (worldgen only: couple, family, flatmates ...)."""


def _read_households(path: Path, kind_column: str | None) -> tuple[dict[str, str], dict[str, str]]:
    members: dict[str, str] = {}
    kinds: dict[str, str] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["household_id"]:
                members[row["entity_id"]] = row["household_id"]
                if kind_column:
                    kinds[row["household_id"]] = row[kind_column]
    sizes = Counter(members.values())
    return {e: h for e, h in members.items() if sizes[h] >= 2}, kinds


def make_population(generator: str, people: int, work: Path) -> Population:
    seed = SEEDS[generator]
    if generator == "demo":
        files = generate_demo(work / "demo", people=people, seed=seed)
        assert files.household_truth is not None
        households, kinds = _read_households(files.household_truth, None)
        return Population(
            generator,
            people,
            tuple(
                (path, files.mappings_dir / f"{source}.toml")
                for source, path in sorted(files.files.items())
            ),
            load_assignment(files.truth),
            households,
            kinds,
        )
    from tests.worldgen.generate import generate as generate_world

    world = generate_world(work / "world", people, seed)
    households, kinds = _read_households(world.entities, "household_kind")
    truth = load_assignment(world.truth)
    return Population(
        generator,
        people,
        tuple(
            (path, WORLDGEN_MAPPINGS / f"{source}.toml")
            for source, path in sorted(world.files.items())
            if source not in WORLDGEN_EVENTS
        ),
        {key: entity for key, entity in truth.items() if key[0] not in WORLDGEN_EVENTS},
        households,
        kinds,
    )


def load(graph: IdentityGraph, population: Population, link: bool = True) -> None:
    """Ingest every record file, then train and link (as `idgraph train`, `idgraph link`)."""
    mappings = [load_mapping(m, rules=graph.rules) for _, m in population.record_files]
    for mapping in mappings:
        graph.ingest.register_source(mapping)
    for (path, _), mapping in zip(population.record_files, mappings, strict=True):
        rows = read_file(path, mapping.format, csv_delimiter=mapping.csv_delimiter)
        graph.ingest.ingest_rows(mapping.source, rows)
    if link:
        matcher = ProbabilisticMatcher(graph.store, graph.rules, graph.resolver)
        frame = matcher.all_frame()
        matcher.train(frame)
        matcher.link_all(frame)


@dataclass(frozen=True)
class HouseholdScores:
    true_pairs: int
    predicted_pairs: int
    true_positive_pairs: int
    scored_people: int

    @property
    def precision(self) -> float:
        return self.true_positive_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.true_positive_pairs / self.true_pairs if self.true_pairs else 1.0


def person_of_profiles(graph: IdentityGraph, truth: Mapping[RecordKey, str]) -> dict[str, str]:
    """Each profile's person: the truth entity holding most of its records."""
    counts: dict[ProfileId, Counter[str]] = defaultdict(Counter)
    for ref, pid in graph.store.records.scan_profiles():
        entity = truth.get((ref.source, ref.key))
        if entity is not None and pid is not None:
            counts[pid][entity] += 1
    return {
        pid: min(c.items(), key=lambda item: (-item[1], item[0]))[0] for pid, c in counts.items()
    }


def _pairs(groups: Iterable[Iterable[str]]) -> set[tuple[str, str]]:
    found = set()
    for group in groups:
        people = sorted(set(group))
        for i, a in enumerate(people):
            for b in people[i + 1 :]:
                found.add((a, b))
    return found


def household_scores(
    predicted: Iterable[Iterable[ProfileId]],
    person_of: Mapping[ProfileId, str],
    households: Mapping[str, str],
    only: Iterable[str] | None = None,
) -> HouseholdScores:
    """Pairwise precision and recall of predicted households (lists of profile ids) as
    pairs of people, counted as the module's docstring says. ``only``: the true
    households scored (the others' people and pairs are left out of both sides)."""
    scored = set(person_of.values())
    if only is not None:
        kept = set(only)
        scored = {e for e in scored if households.get(e) in kept or e not in households}
    true_groups: dict[str, list[str]] = defaultdict(list)
    for entity in scored:
        if entity in households:
            true_groups[households[entity]].append(entity)
    true = _pairs(true_groups.values())
    guessed = _pairs(
        [person_of[p] for p in members if p in person_of and person_of[p] in scored]
        for members in predicted
    )
    return HouseholdScores(len(true), len(guessed), len(true & guessed), len(scored))


def measure(population: Population, work: Path, link: bool = True) -> dict[str, object]:
    db = work / f"{population.generator}-{population.people}.db"
    db.unlink(missing_ok=True)
    graph = IdentityGraph.open(f"sqlite:///{db}")
    try:
        started = time.perf_counter()
        load(graph, population, link)
        loaded = time.perf_counter() - started
        report = graph.households.rebuild()
        predicted = [h.members for page in graph.households.scan() for h in page]
        person_of = person_of_profiles(graph, population.truth)
    finally:
        graph.close()
    result: dict[str, object] = {
        "load_seconds": round(loaded, 1),
        "build": report.as_dict(),
        "all": household_scores(predicted, person_of, population.households),
    }
    if population.kinds:
        families = {h for h, kind in population.kinds.items() if kind != "flatmates"}
        result["without flatmates"] = household_scores(
            predicted, person_of, population.households, only=families
        )
    return result


HOUSEHOLD_BOUGHT = {"where": {"household": {"any": {"event": "purchase", "within_days": 30}}}}
OWN_BOUGHT = {"where": {"event": "purchase", "within_days": 30}}


def segment_cost(people: int, work: Path) -> dict[str, float]:
    """What a segment with a household condition costs a load of events: the demo's events
    (10 a person) loaded into two copies of one store after its households are built, one
    defining "any member bought in 30 days", the other "bought in 30 days" (the same
    condition on the profile alone). Seconds for the event load of each."""
    from datetime import UTC, datetime

    files = generate_demo(work / "cost", people=people, seed=SEEDS["demo"], events=people * 10)
    assert files.events_file is not None
    seconds: dict[str, float] = {}
    for name, definition in (("own", OWN_BOUGHT), ("household", HOUSEHOLD_BOUGHT)):
        db = work / f"cost-{name}.db"
        db.unlink(missing_ok=True)
        graph = IdentityGraph.open(f"sqlite:///{db}")
        graph.segments.clock = lambda: datetime(2025, 6, 30, 18, tzinfo=UTC)
        try:
            for source, path in sorted(files.files.items()):
                mapping = load_mapping(files.mappings_dir / f"{source}.toml", rules=graph.rules)
                graph.ingest.register_source(mapping)
                graph.ingest.ingest_rows(source, read_file(path, mapping.format))
            graph.households.rebuild()
            graph.segments.define("bought", definition)
            started = time.perf_counter()
            graph.events.ingest_rows(read_file(files.events_file, "jsonl"))
            seconds[name] = round(time.perf_counter() - started, 2)
            seconds[f"{name} members"] = graph.segments.get("bought").size
        finally:
            graph.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, nargs="+", default=[2000])
    parser.add_argument("--generator", choices=["demo", "worldgen"], nargs="+",
                        default=["demo", "worldgen"])  # fmt: skip
    parser.add_argument("--no-link", action="store_true", help="deterministic matching only")
    parser.add_argument(
        "--segment-cost",
        type=int,
        metavar="PEOPLE",
        help="also time an event load with a household segment defined (demo, this many people)",
    )
    args = parser.parse_args()
    print(f"machine: {machine()}; load average before: {load_average()}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.segment_cost:
            print(
                f"event load, {args.segment_cost:,} people: {segment_cost(args.segment_cost, work)}"
            )
        for generator in args.generator:
            for people in args.people:
                population = make_population(generator, people, work / f"{generator}{people}")
                result = measure(population, work, link=not args.no_link)
                print(f"\n{generator}, {people:,} people (seed {SEEDS[generator]}):")
                print(f"  load (ingest, train, link): {result['load_seconds']} s")
                print(f"  build: {result['build']}")
                for name in ("all", "without flatmates"):
                    s = result.get(name)
                    if isinstance(s, HouseholdScores):
                        print(
                            f"  {name}: precision {s.precision:.3f} recall {s.recall:.3f} "
                            f"(true pairs {s.true_pairs}, predicted {s.predicted_pairs}, "
                            f"right {s.true_positive_pairs}, people scored {s.scored_people})"
                        )
    print(f"\nload average after: {load_average()}")


if __name__ == "__main__":
    main()
