"""Benchmark: does `suspiciousClusters` rank the truly over-merged profiles first?

Run with `.venv/bin/python -m tests.benchmarks.suspicious` (default 3,000 and 20,000 people,
seed 7; `--people 3000 --seed 11` for another population).

For each population the demo generator (identity/demo/generator.py: households sharing an
address, a landline, a surname and family e-mails, borrowed phones, junk identifiers such
as the shop's own phone number and its generic loyalty card) writes its five sources. The
real pipeline loads them into a fresh embedded store: ingest of every file with the
packaged rules and demo mappings, `train`, `link`. Then `ClusterService.rank()` scores every
profile, exactly as `suspiciousClusters(refresh: true)` does; the ranking never sees the
truth. Afterwards a profile counts as truly over-merged when its records belong to more
than one of the generator's people, and the script reports precision of the first 20, 50
and 100 entries, how many truly over-merged profiles exist, how many of them the ranking
lists at all, and, per signal, precision@20 and @50 of the ranking without it (its
reasons' scores taken off), which says what each signal contributes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from identity.demo.generator import generate
from identity.evaluation import RecordKey, load_assignment
from identity.graph import IdentityGraph
from identity.mapping import load_mapping
from identity.readers import read_file
from tests.benchmarks.common import machine, write_section

CUTOFFS = (20, 50, 100)


@dataclass
class Measured:
    people: int
    seed: int
    records: int
    profiles: int
    over_merged: int
    listed: int
    listed_over_merged: int
    precision: dict[int, float]
    without: dict[str, dict[int, float]]
    top_reasons: Counter[str]
    load_seconds: float
    rank_seconds: float


def load(work: Path, people: int, seed: int) -> tuple[IdentityGraph, Mapping[RecordKey, str]]:
    files = generate(work / "demo", people=people, seed=seed)
    graph = IdentityGraph.open(f"sqlite:///{work / 'idgraph.db'}")
    for path in sorted(files.mappings_dir.glob("*.toml")):
        graph.ingest.register_source(load_mapping(path, rules=graph.rules))
    for source, path in sorted(files.files.items()):
        mapping = graph.ingest.source(source)
        graph.ingest.ingest_rows(
            source, read_file(path, mapping.format, csv_delimiter=mapping.csv_delimiter)
        )
    matcher = graph.probabilistic()
    frame = matcher.all_frame()
    matcher.train(frame)
    matcher.link_all(frame)
    return graph, load_assignment(files.truth)


def precision(ranked: list[str], over: set[str]) -> dict[int, float]:
    return {k: sum(p in over for p in ranked[:k]) / k for k in CUTOFFS}


def measure(work: Path, people: int, seed: int) -> Measured:
    started = time.perf_counter()
    graph, truth = load(work, people, seed)
    loaded = time.perf_counter() - started
    try:
        started = time.perf_counter()
        doc = graph.clusters.rank()
        ranked_in = time.perf_counter() - started
        members: dict[str, set[str]] = {}
        for ref, pid in graph.store.records.scan_profiles():
            if pid is not None:
                members.setdefault(pid, set()).add(truth[ref.source, ref.key])
    finally:
        graph.close()
    over = {pid for pid, people_in in members.items() if len(people_in) > 1}
    entries: list[dict[str, Any]] = list(doc["entries"])
    ranked = [e["profile_id"] for e in entries]
    kinds = sorted({r["type"] for e in entries for r in e["reasons"]})
    without = {}
    for kind in kinds:
        rescored = sorted(
            entries,
            key=lambda e, kind=kind: (
                -(e["score"] - sum(r["score"] for r in e["reasons"] if r["type"] == kind)),
                -e["size"],
                e["profile_id"],
            ),
        )
        kept = [
            e["profile_id"]
            for e in rescored
            if e["score"] - sum(r["score"] for r in e["reasons"] if r["type"] == kind) > 0
        ]
        without[kind] = precision(kept, over)
    top = Counter(r["type"] for e in entries[:20] for r in e["reasons"])
    return Measured(
        people=people,
        seed=seed,
        records=len(truth),
        profiles=len(members),
        over_merged=len(over),
        listed=len(entries),
        listed_over_merged=sum(p in over for p in ranked),
        precision=precision(ranked, over),
        without=without,
        top_reasons=top,
        load_seconds=loaded,
        rank_seconds=ranked_in,
    )


def table(results: list[Measured]) -> str:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}; one run per population.",
        "",
        "| data | records | profiles | truly over-merged | listed (score > 0) | "
        "over-merged among listed | P@20 | P@50 | P@100 | rank time |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in results:
        p = m.precision
        lines.append(
            f"| generator, {m.people:,} people, seed {m.seed} | {m.records:,} | "
            f"{m.profiles:,} | {m.over_merged} | {m.listed} | {m.listed_over_merged} | "
            f"{p[20]:.2f} | {p[50]:.2f} | {p[100]:.2f} | {m.rank_seconds:.1f} s |"
        )
    lines += [
        "",
        "Precision without each signal (its reasons' scores taken off, P@20 / P@50):",
        "",
        "| data | " + " | ".join(sorted({k for m in results for k in m.without})) + " |",
        "|---|" + "---:|" * len({k for m in results for k in m.without}),
    ]
    kinds = sorted({k for m in results for k in m.without})
    for m in results:
        cells = [
            f"{m.without[k][20]:.2f} / {m.without[k][50]:.2f}" if k in m.without else "-"
            for k in kinds
        ]
        lines.append(f"| {m.people:,} people, seed {m.seed} | " + " | ".join(cells) + " |")
    lines.append("")
    for m in results:
        reasons = ", ".join(f"{k} {n}" for k, n in m.top_reasons.most_common())
        best = min(m.over_merged, 20) / 20
        lines.append(
            f"{m.people:,} people, seed {m.seed}: load (ingest, train, link) "
            f"{m.load_seconds:.0f} s; reasons among the first 20: {reasons}. With "
            f"{m.over_merged} truly over-merged profiles, the best possible P@20 is {best:.2f}."
        )
        lines.append("")
    return "\n".join(lines).rstrip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, nargs="+", default=[3_000, 20_000])
    parser.add_argument("--seed", type=int, nargs="+", default=[7])
    parser.add_argument("--no-write", action="store_true", help="print, do not edit the doc")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="idgraph-suspicious-bench-") as tmp:
        for seed in args.seed:
            for people in args.people:
                print(f"{people:,} people, seed {seed} ...", file=sys.stderr)
                results.append(measure(Path(tmp) / f"p{people}s{seed}", people, seed))
                print(table(results), file=sys.stderr)
    text = table(results)
    print(text)
    if not args.no_write:
        write_section(
            "suspicious-clusters", text, "Over-merge detection: suspiciousClusters on the demo"
        )


if __name__ == "__main__":
    main()
