"""Benchmark: what privacy costs. On the demo generator's people (with events), in each
store: the time to erase one person (median and slowest of several, each with its
suppression entries, audit redaction and, on SQLite, the WAL scrub), the ingest rate of
the same files with and without a suppression list (the per-batch lookup every ingest
pays once a store has erased anyone), and the rate of a retention run.

Run with `make bench` (or `.venv/bin/python -m tests.benchmarks.privacy`). Results go into
docs/benchmarks.md between the markers.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from identity.demo.generator import DemoFiles, generate
from identity.graph import IdentityGraph
from identity.mapping import load_mapping
from identity.model import Suppression
from identity.privacy.suppression import hasher
from identity.readers import read_file
from identity.rules import load_rules
from identity.store.base import Store
from identity.store.neo4j import Neo4jStore
from identity.store.sqlite import SQLiteStore
from tests.benchmarks.common import load_average, machine, write_section
from tests.store.neo4j_server import LocalNeo4j

UNTIL = datetime(2026, 7, 31, 18, 0, tzinfo=UTC)
NOW = datetime(2026, 8, 3, 2, 0, tzinfo=UTC)


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _load(graph: IdentityGraph, files: DemoFiles) -> float:
    """Register and ingest every source file and the events; returns the seconds."""
    started = time.perf_counter()
    for path in sorted(files.mappings_dir.glob("*.toml")):
        graph.ingest.register_source(load_mapping(path, rules=graph.rules))
    for source, path in sorted(files.files.items()):
        graph.ingest.ingest_rows(source, read_file(path, graph.ingest.source(source).format))
    assert files.events_file is not None
    graph.events.ingest_rows(read_file(files.events_file, "jsonl"))
    return time.perf_counter() - started


def _emails(graph: IdentityGraph, count: int, seed: int) -> list[str]:
    """E-mails each held by exactly one profile, drawn at random."""
    found: list[str] = []
    for stored in graph.store.records.scan():
        found.extend(i.value for i in stored.record.identifiers if i.kind == "email")
    random.Random(seed).shuffle(found)
    chosen: list[str] = []
    for email in dict.fromkeys(found):
        key = graph.normaliser.identifier("email", email).key
        if len(graph.store.profiles.with_identifiers([key])[key]) == 1:
            chosen.append(email)
        if len(chosen) == count:
            break
    return chosen


@contextlib.contextmanager
def _stores(kind: str, work: Path) -> Iterator[Callable[[str], Store]]:
    """A factory of fresh, empty stores of ``kind`` (Neo4j: one server, emptied each time)."""
    if kind == "sqlite":
        yield lambda name: SQLiteStore(work / f"{name}.db")
        return
    server = LocalNeo4j.start()
    try:

        def fresh(name: str) -> Store:
            store = Neo4jStore(server.uri, user=server.user, password=server.password)
            store.copy.delete_everything()
            return store

        yield fresh
    finally:
        server.stop()


def _measure(kind: str, files: DemoFiles, args: argparse.Namespace, work: Path) -> dict[str, str]:
    rules = load_rules()
    with _stores(kind, work) as fresh:
        plain: list[float] = []
        listed: list[float] = []
        records = sum(files.records.values())
        for run in range(args.runs):
            # The same files into a store without and with a suppression list (10,000
            # entries of other people: nothing is dropped, every batch pays the lookup).
            # Which goes first alternates, so a warming server favours neither.
            for with_list in (run % 2 == 1, run % 2 == 0):
                graph = IdentityGraph(fresh(f"run{run}-{with_list}"), rules, clock=lambda: NOW)
                if with_list:
                    assert hasher(graph.store, create=True) is not None
                    graph.store.privacy.suppress(
                        [Suppression(secrets.token_hex(32), "email", NOW) for _ in range(10_000)]
                    )
                (listed if with_list else plain).append(_load(graph, files))
                if with_list and run == args.runs - 1:
                    kept = graph  # erasures and retention run on it
                else:
                    graph.close()
            _log(f"{kind} run {run + 1}: load {plain[-1]:.1f}s plain, {listed[-1]:.1f}s listed")
        # Erasures, one person at a time, in the last store with a suppression list.
        graph = kept
        times: list[float] = []
        gone = 0
        for email in _emails(graph, args.erasures, args.seed):
            started = time.perf_counter()
            report = graph.erasure.erase("bench", "benchmark", identifiers=[("email", email)])
            times.append(time.perf_counter() - started)
            gone += report.records + report.events
        _log(f"{kind}: {len(times)} erasures, median {statistics.median(times) * 1000:.0f} ms")
        # Retention: the CRM keeps records 2 years; the demo's are up to ~6 years old.
        mapping = graph.ingest.source("crm")
        doc = mapping.to_document()
        doc["retention_days"] = 730
        graph.store.sources.put("crm", doc)
        started = time.perf_counter()
        kept = graph.retention.apply("bench")
        retention = time.perf_counter() - started
        expired = sum(kept.records.values())
        _log(f"{kind}: retention deleted {expired:,} records in {retention:.1f}s")
        graph.close()
    median_plain, median_listed = statistics.median(plain), statistics.median(listed)
    return {
        "store": "embedded (SQLite)" if kind == "sqlite" else "Neo4j 5.26",
        "plain": f"{records / median_plain:,.0f} records/s ({median_plain:.1f} s)",
        "listed": f"{records / median_listed:,.0f} records/s ({median_listed:.1f} s)",
        "cost": f"{(median_listed / median_plain - 1) * 100:+.1f}%",
        "erase": f"{statistics.median(times) * 1000:,.0f} ms",
        "slowest": f"{max(times) * 1000:,.0f} ms",
        "erased": f"{len(times)} people, {gone:,} records and events",
        "retention": f"{expired:,} records in {retention:.1f} s "
        f"({expired / retention:,.0f} records/s)",
        "runs": f"{', '.join(f'{t:.1f}' for t in plain)} without a list, "
        f"{', '.join(f'{t:.1f}' for t in listed)} with",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--erasures", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--stores", nargs="+", default=["sqlite", "neo4j"])
    parser.add_argument("--no-write", action="store_true", help="print, do not edit the doc")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="idgraph-bench-privacy-") as tmp:
        work = Path(tmp)
        _log(f"generating {args.people:,} people and {args.events:,} events ...")
        files = generate(
            work / "demo", people=args.people, seed=args.seed, events=args.events, until=UNTIL
        )
        rows = [_measure(kind, files, args, work) for kind in args.stores]
        records = sum(files.records.values())
    table = "\n".join(
        [
            f"Measured {time.strftime('%Y-%m-%d')} on {machine()}; load average after: "
            f"{load_average()}. Demo generator, {args.people:,} people (seed {args.seed}), "
            f"{records:,} records and {args.events:,} events, loaded in process; load "
            f"times are the median of {args.runs} runs.",
            "",
            "| store | load, no suppression list | load, 10,000 entries listed | difference "
            "| erase one person (median) | slowest | erased | retention run |",
            "|---|---:|---:|---:|---:|---:|---|---|",
            *(
                f"| {r['store']} | {r['plain']} | {r['listed']} | {r['cost']} | {r['erase']} "
                f"| {r['slowest']} | {r['erased']} | {r['retention']} |"
                for r in rows
            ),
            "",
            "Load times (s) of each run: "
            + "; ".join(f"{r['store']} {r['runs']}" for r in rows)
            + ". A load is every source file and the events; records/s counts records.",
        ]
    )
    print(table)
    if not args.no_write:
        write_section("privacy", table, "Privacy: erasure, suppression and retention (issue 14)")


if __name__ == "__main__":
    main()
