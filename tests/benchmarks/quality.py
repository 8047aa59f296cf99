"""Benchmark: what each figure of the quality page (identity/quality.py) costs the store.

Run with `.venv/bin/python -m tests.benchmarks.quality` (300,000 records on the embedded
store, seed 7), `--records 100000 --neo4j` for the Neo4j store too (a local server from
`make neo4j-server`, started and stopped here).

A synthetic graph, written through the store ports (no matching, so it builds in a
minute): profiles of 1 to 4 records, two links per record between random records (one in
ten a review pair, the rest probabilistic matches with evidence as the matcher writes it:
weight, probability and five fields), and 1,000 ingest audit entries. Each aggregate is
timed twice (cold, then warm); the figures in docs/stewardship.md come from this script.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from identity.model import (
    DECISIONS,
    AuditEntry,
    JSONValue,
    Link,
    LinkType,
    ProfileChanges,
    SourceRecord,
)
from identity.store.base import Store
from identity.store.sqlite import SQLiteStore

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def build(store: Store, records: int, seed: int) -> None:
    rng = random.Random(seed)
    ids: list[int] = []
    for start in range(0, records, 20_000):
        batch = [
            SourceRecord("crm", f"k{i}", (), {"first_name": "x"})
            for i in range(start, min(records, start + 20_000))
        ]
        ids += [w.record_id for w in store.records.upsert(batch, NOW)]
    changes = ProfileChanges()
    at = 0
    while at < records:
        pid = f"p{len(changes.created):08d}"
        changes.created.append(pid)
        size = rng.choice([1, 1, 2, 2, 3, 4])
        changes.assignments.update({rid: pid for rid in ids[at : at + size]})
        at += size
    store.profiles.apply(changes, NOW)

    def evidence(weight: float) -> dict[str, JSONValue]:
        fields: dict[str, JSONValue] = {
            f"f{j}": {"level": "exact", "weight": 3.1} for j in range(5)
        }
        return {"match_weight": weight, "match_probability": 0.9, "fields": fields}

    links: list[Link] = []
    for k in range(2 * records):
        a, b = sorted(rng.sample(ids, 2))
        kind = LinkType.MATCH if k % 10 else LinkType.REVIEW
        weight = round(rng.uniform(-10, 40), 3)
        links.append(Link(a, b, kind, "fellegi_sunter", 0.9, evidence(weight)))
        if len(links) == 20_000:
            store.links.put(links)
            links = []
    store.links.put(links)
    after: dict[str, JSONValue] = {"warnings_by_field": {"phone": 3}, "review_queue": 5}
    store.audit.append([AuditEntry("bench", "ingest", "crm", after=after)] * 1000, NOW)


def measure(store: Store) -> None:
    quality = store.quality
    figures: list[tuple[str, Callable[[], object]]] = [
        ("counts", store.counts),
        ("match_weight_bins", lambda: quality.match_weight_bins(2.0)),
        ("profile_sizes", quality.profile_sizes),
        ("links_by_matcher", quality.links_by_matcher),
        ("review_queue_size", lambda: store.links.count_of_type(LinkType.REVIEW, DECISIONS)),
        ("review_queue_samples", lambda: quality.review_queue_samples(200)),
        ("ingest_warnings", quality.ingest_warnings),
    ]
    for name, figure in figures:
        seconds = []
        for _ in range(2):
            started = time.perf_counter()
            figure()
            seconds.append(time.perf_counter() - started)
        print(f"  {name:22} {seconds[0]:6.2f} s cold {seconds[1]:6.2f} s warm", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--neo4j", action="store_true", help="the Neo4j store too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="idgraph-quality-") as work:
        store: Store = SQLiteStore(Path(work) / "store.db")
        started = time.perf_counter()
        build(store, args.records, args.seed)
        counts = store.counts()
        print(
            f"SQLite: {counts.records:,} records, {counts.links:,} links, "
            f"{counts.profiles:,} profiles (built in {time.perf_counter() - started:.0f} s)"
        )
        measure(store)
        store.close()
    if args.neo4j:
        from identity.store.neo4j import Neo4jStore
        from tests.store.neo4j_server import LocalNeo4j

        server = LocalNeo4j.start()
        try:
            neo = Neo4jStore(server.uri, user=server.user, password=server.password)
            started = time.perf_counter()
            build(neo, args.records, args.seed)
            counts = neo.counts()
            print(
                f"Neo4j: {counts.records:,} records, {counts.links:,} links, "
                f"{counts.profiles:,} profiles (built in {time.perf_counter() - started:.0f} s)"
            )
            measure(neo)
            neo.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
