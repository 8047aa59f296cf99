"""Benchmark: does `searchProfiles` put the person searched for first?

Run with `.venv/bin/python -m tests.benchmarks.search` (default 10,000 people, seeds 7 and
11; `--people 3000 --seed 5` for another population).

For each population the demo generator (identity/demo/generator.py) writes its five
sources, and the real pipeline loads them into a fresh embedded store (ingest of every
file with the packaged rules and demo mappings). A sample of CRM customers (`--sample`,
drawn with a fixed seed) is searched through `ProfileSearch.search`, what the GraphQL
field runs, twice: right after ingest, before any model exists (ranked by comparison
levels, deterministic profiles), and after `train` and `link` (ranked by match weights).
Each customer is searched four ways: the CRM's first and last name with the CRM postcode,
the same as `Last, First`, the name alone, and (for the customers who have one) another
source's spelling of the name that differs from the CRM's (a typo, a nickname, capitals)
with the CRM postcode. The search never sees the truth. Afterwards the first candidate
counts as right when most of its records belong to the person searched for (a person
split over two profiles is found in either); the stricter column asks for the profile
holding the very CRM record searched by. Times are in process, one search after another,
on whatever else the machine runs: a rough figure, not a latency benchmark.
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from identity.demo.generator import KEYS, DemoFiles, generate
from identity.evaluation import RecordKey, load_assignment
from identity.graph import IdentityGraph
from identity.mapping import load_mapping
from identity.matching.search import SearchCriteria
from identity.model import RecordRef
from identity.readers import read_file
from tests.benchmarks.common import machine, write_section

Row = dict[str, str]
Query = Callable[[Row, str], SearchCriteria | None]


@dataclass
class Measured:
    label: str
    ranking: str
    searches: int
    person_first: float
    record_first: float
    median_ms: float
    p99_ms: float


def load(work: Path, people: int, seed: int) -> tuple[IdentityGraph, DemoFiles]:
    files = generate(work / "demo", people=people, seed=seed)
    graph = IdentityGraph.open(f"sqlite:///{work / 'idgraph.db'}")
    for path in sorted(files.mappings_dir.glob("*.toml")):
        graph.ingest.register_source(load_mapping(path, rules=graph.rules))
    for source, path in sorted(files.files.items()):
        mapping = graph.ingest.source(source)
        graph.ingest.ingest_rows(
            source, read_file(path, mapping.format, csv_delimiter=mapping.csv_delimiter)
        )
    return graph, files


def other_names(files: DemoFiles, truth: Mapping[RecordKey, str]) -> dict[str, list[Row]]:
    """Per person, the first and last names their non-CRM records carry."""
    found: dict[str, list[Row]] = {}
    for source in ("webshop", "pos", "support"):
        path = files.files[source]
        for _, row in read_file(path, path.suffix.lstrip(".")):
            assert isinstance(row, dict)
            key = str(row[KEYS[source]])
            if row.get("first_name") and row.get("last_name"):
                found.setdefault(truth[(source, key)], []).append(
                    {"first_name": str(row["first_name"]), "last_name": str(row["last_name"])}
                )
    return found


def _typed(row: Row) -> tuple[str, str]:
    return row["first_name"].strip().casefold(), row["last_name"].strip().casefold()


def queries(others: Mapping[str, list[Row]]) -> dict[str, Query]:
    def differing(row: Row, person: str) -> SearchCriteria | None:
        """Another record's name as typed there, when it differs from the CRM's by more
        than capitals and spaces (a typo, a nickname, a letter without its accent)."""
        for name in others.get(person, []):
            if _typed(name) != _typed(row):
                return SearchCriteria(
                    name=f"{name['first_name']} {name['last_name']}",
                    postcode=row["postcode"] or None,
                )
        return None

    return {
        "CRM name + postcode": lambda r, _: SearchCriteria(
            name=f"{r['first_name']} {r['last_name']}", postcode=r["postcode"] or None
        ),
        "CRM 'Last, First' + postcode": lambda r, _: SearchCriteria(
            name=f"{r['last_name']}, {r['first_name']}", postcode=r["postcode"] or None
        ),
        "CRM name alone": lambda r, _: SearchCriteria(name=f"{r['first_name']} {r['last_name']}"),
        "another source's spelling + CRM postcode": differing,
    }


def measure_all(
    graph: IdentityGraph,
    sample: list[Row],
    truth: Mapping[RecordKey, str],
    others: Mapping[str, list[Row]],
) -> list[Measured]:
    profiles: dict[RecordRef, str | None] = dict(graph.store.records.scan_profiles())
    members: dict[str | None, Counter[str]] = {}
    for ref, pid in profiles.items():
        members.setdefault(pid, Counter())[truth[(ref.source, ref.key)]] += 1
    results = []
    for label, query in queries(others).items():
        person_first = record_first = searches = 0
        times: list[float] = []
        ranking = ""
        for row in sample:
            person = truth[("crm", row["customer_no"])]
            criteria = query(row, person)
            if criteria is None:
                continue
            started = time.perf_counter()
            page = graph.search.search(criteria, first=3)
            times.append(time.perf_counter() - started)
            ranking = page.ranking.value
            searches += 1
            if page.hits:
                top = page.hits[0].profile_id
                person_first += members[top].most_common(1)[0][0] == person
                record_first += profiles[RecordRef("crm", row["customer_no"])] == top
        times.sort()
        results.append(
            Measured(
                label=label,
                ranking=ranking,
                searches=searches,
                person_first=person_first / searches,
                record_first=record_first / searches,
                median_ms=statistics.median(times) * 1000,
                p99_ms=times[min(len(times) - 1, int(len(times) * 0.99))] * 1000,
            )
        )
    return results


def measure(work: Path, people: int, seed: int, size: int) -> tuple[str, list[Measured]]:
    graph, files = load(work, people, seed)
    try:
        truth = load_assignment(files.truth)
        with files.files["crm"].open(encoding="utf-8") as handle:
            crm = list(csv.DictReader(handle))
        sample = random.Random(5).sample(crm, min(size, len(crm)))
        others = other_names(files, truth)
        results = measure_all(graph, sample, truth, others)
        matcher = graph.probabilistic()
        matcher.train()
        matcher.link_all()
        results += measure_all(graph, sample, truth, others)
    finally:
        graph.close()
    return f"generator, {people:,} people, seed {seed} ({len(truth):,} records)", results


def table(populations: list[tuple[str, list[Measured]]], size: int) -> str:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}; {size:,} CRM customers "
        "sampled per population (seed 5).",
        "",
        "| data | search | ranking | searches | person's profile first | CRM record's "
        "profile first | median | p99 |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for data, results in populations:
        for m in results:
            lines.append(
                f"| {data} | {m.label} | {m.ranking} | {m.searches:,} | {m.person_first:.3f} | "
                f"{m.record_first:.3f} | {m.median_ms:.1f} ms | {m.p99_ms:.1f} ms |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, nargs="+", default=[10_000])
    parser.add_argument("--seed", type=int, nargs="+", default=[7, 11])
    parser.add_argument("--sample", type=int, default=1000)
    parser.add_argument("--no-write", action="store_true", help="print, do not edit the doc")
    args = parser.parse_args()
    populations = []
    with tempfile.TemporaryDirectory(prefix="idgraph-search-bench-") as tmp:
        for seed in args.seed:
            for people in args.people:
                print(f"{people:,} people, seed {seed} ...", file=sys.stderr)
                work = Path(tmp) / f"p{people}s{seed}"
                populations.append(measure(work, people, seed, args.sample))
                print(table(populations, args.sample), file=sys.stderr)
    text = table(populations, args.sample)
    print(text)
    if not args.no_write:
        write_section("search", text, "Profile search: the person found first")


if __name__ == "__main__":
    main()
