"""Where the Neo4j store's time goes: every statement of the stores benchmark's pipeline,
counted and timed, and with ``--profile`` Neo4j's own PROFILE of each (database hits).

Run with `.venv/bin/python -m tests.benchmarks.neo4j_profile --people 2000` (add
``--profile`` for database hits; PROFILE slows every statement, so take the times from a
run without it). Not part of `make bench`: it explains the stores benchmark's Neo4j column
(docs/benchmarks.md, "What Neo4j's time is spent on").

In this process, against a fresh tools/neo4j-server, the steps the stores benchmark runs
through the CLI and the API, called as those do: ingest of the demo's five sources
(``IngestService.ingest_rows``), ``train``, ``link_all``, every record's profile
(``iter_record_profiles``, what `idgraph export-profiles` reads), the e-mail segment's
definition, ``--lookups`` lookups by e-mail (``ProfileService.by_identifier``, what the
GraphQL field calls) and ``--posts`` single-record ingests. For each step: its time, the
statements sent (each is a round trip: one ``tx.run`` and its records), the time spent
in them, and the statements that took most of it, with calls, time, rows and (with
``--profile``) database hits summed over the plan.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import random
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, LiteralString, cast

from identity.demo.generator import generate
from identity.errors import IdgraphError
from identity.graph import IdentityGraph
from identity.mapping import load_mapping
from identity.readers import read_file
from identity.rules import load_rules
from identity.store.neo4j import Neo4jStore
from identity.store.neo4j import connection as adapter
from identity.store.neo4j.cypher import statement
from tests.benchmarks.common import load_average, machine
from tests.benchmarks.stores import SEGMENT, SEGMENT_DEFINITION
from tests.store.neo4j_server import LocalNeo4j


@dataclass
class Tally:
    calls: int = 0
    seconds: float = 0.0
    rows: int = 0
    db_hits: int = 0
    slowest: float = 0.0


@dataclass
class Step:
    name: str
    seconds: float = 0.0
    statements: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))


class Recorder:
    """Replaces the adapter's statement runner with one that times (and profiles) each."""

    def __init__(self, profile: bool) -> None:
        self.profile = profile
        self.steps: list[Step] = []
        self.current: Step | None = None

    def install(self) -> None:
        recorder = self

        def run(self: Any, name: str, /, **params: Any) -> list[Any]:
            text = statement(name)
            self._db.count(self._operation)
            query = cast(LiteralString, ("PROFILE " if recorder.profile else "") + text)
            started = time.perf_counter()
            result = self._tx.run(query, params)
            rows = list(result)
            summary = result.consume()
            elapsed = time.perf_counter() - started
            if recorder.current is not None:
                tally = recorder.current.statements[name]
                tally.calls += 1
                tally.seconds += elapsed
                tally.rows += len(rows)
                tally.slowest = max(tally.slowest, elapsed)
                if recorder.profile and summary.profile is not None:
                    tally.db_hits += _db_hits(summary.profile)
            return rows

        adapter.Statements.run = run  # type: ignore[method-assign]

    def step(self, name: str) -> _Timed:
        return _Timed(self, name)


class _Timed:
    def __init__(self, recorder: Recorder, name: str) -> None:
        self.recorder = recorder
        self.step = Step(name)

    def __enter__(self) -> Step:
        self.recorder.steps.append(self.step)
        self.recorder.current = self.step
        self.started = time.perf_counter()
        return self.step

    def __exit__(self, *exc: object) -> None:
        self.step.seconds = time.perf_counter() - self.started
        self.recorder.current = None
        print(f"  {self.step.name}: {self.step.seconds:.1f}s", file=sys.stderr, flush=True)


def _db_hits(plan: Any) -> int:
    hits = int(plan.get("dbHits", 0))
    return hits + sum(_db_hits(child) for child in plan.get("children", []))


def report(steps: list[Step], profile: bool, top: int) -> str:
    lines = []
    for step in steps:
        sent = sum(t.calls for t in step.statements.values())
        in_statements = sum(t.seconds for t in step.statements.values())
        lines += [
            "",
            f"### {step.name}: {step.seconds:.2f} s, {sent:,} statements, "
            f"{in_statements:.2f} s in them ({in_statements / step.seconds:.0%}), "
            f"{step.seconds - in_statements:.2f} s in Python",
            "",
            "| statement | calls | seconds | share of step | mean ms | max ms | rows"
            + (" | db hits | db hits per call |" if profile else " |"),
            "|---|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if profile else ""),
        ]
        ranked = sorted(step.statements.items(), key=lambda kv: -kv[1].seconds)
        for name, t in ranked[:top]:
            line = (
                f"| `{name}` | {t.calls:,} | {t.seconds:.2f} | {t.seconds / step.seconds:.0%} "
                f"| {t.seconds / t.calls * 1000:.1f} | {t.slowest * 1000:.1f} | {t.rows:,}"
            )
            if profile:
                line += f" | {t.db_hits:,} | {t.db_hits // t.calls:,}"
            lines.append(line + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--lookups", type=int, default=300)
    parser.add_argument("--posts", type=int, default=100)
    parser.add_argument("--profile", action="store_true", help="PROFILE every statement")
    parser.add_argument("--top", type=int, default=8)
    parser.add_argument("--heap", default="1g")
    parser.add_argument("--pagecache", default="512m")
    args = parser.parse_args()

    recorder = Recorder(args.profile)
    recorder.install()
    with tempfile.TemporaryDirectory(prefix="idgraph-neo4j-profile-") as tmp:
        work = Path(tmp)
        files = generate(work / "demo", people=args.people, seed=args.seed)
        server = LocalNeo4j.start(heap=args.heap, pagecache=args.pagecache)
        try:
            store = Neo4jStore(server.uri, user=server.user, password=server.password)
            graph = IdentityGraph(store, load_rules(None))
            for path in sorted(files.mappings_dir.glob("*.toml")):
                graph.ingest.register_source(load_mapping(path, rules=graph.rules))
            with recorder.step("ingest"):
                for source, path in sorted(files.files.items()):
                    mapping = graph.ingest.source(source)
                    graph.ingest.ingest_rows(
                        source, read_file(path, mapping.format, csv_delimiter=mapping.csv_delimiter)
                    )
            matcher = graph.probabilistic()
            with recorder.step("train"):
                matcher.train()
            with recorder.step("link"):
                matcher.link_all()
            with recorder.step("export-profiles (iter_record_profiles)"):
                exported = sum(1 for _ in store.records.scan_profiles())
            with recorder.step(f"segments define {SEGMENT}"):
                graph.segments.define(SEGMENT, dict(SEGMENT_DEFINITION))
            with files.files["crm"].open(newline="") as fh:
                emails = [row["email"] for row in csv.DictReader(fh) if row.get("email")]
            rng = random.Random(1)
            with recorder.step(f"{args.lookups} lookups by e-mail (ProfileService.by_identifier)"):
                for email in rng.choices(emails, k=args.lookups):
                    # The demo's invalid and ambiguous e-mails raise, as over GraphQL.
                    with contextlib.suppress(IdgraphError):
                        graph.profiles.by_identifier("email", email)
            webshop = [json.loads(line) for line in files.files["webshop"].read_text().splitlines()]
            with recorder.step(f"{args.posts} single-record ingests (POST /v1/records)"):
                for number, row in enumerate(rng.choices(webshop, k=args.posts)):
                    copy = {**row, "account_id": f"{row['account_id']}-p{number}"}
                    graph.ingest.ingest_rows("webshop", iter([(1, copy)]))
            graph.close()
        finally:
            server.stop()
    records = sum(files.records.values())
    print(
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}; demo generator, "
        f"{args.people:,} people, seed {args.seed}: {records:,} records ({exported:,} "
        f"exported); Neo4j heap {args.heap}, page cache {args.pagecache}; "
        f"{'PROFILE on every statement' if args.profile else 'plain statements'}; "
        f"load average after: {load_average()}."
    )
    print(report(recorder.steps, args.profile, args.top))


if __name__ == "__main__":
    main()
