"""Benchmark: batch resolution of ~1M records, then real-time resolution over HTTP against
the store it built.

Run with `.venv/bin/python -m tests.benchmarks.scale --records 1000000` (`make bench`
runs it). One run, on purpose: the batch phase alone takes minutes.

1. Batch: the demo generator produces people until the sources hold about ``--records``
   records; the real CLI registers the sources, ingests every file into a fresh embedded
   store (deterministic matching, match index), trains the Fellegi-Sunter model
   (`idgraph train`) and links every candidate pair (`idgraph link`). Each phase is timed;
   their sum is the batch resolution time, compared with Splink's headline of "a million
   records on a laptop in around a minute" (a claim from its documentation on other
   hardware, not measured here). Pairwise quality of the final profiles against the
   generator's truth is reported too.
2. Real time: `idgraph serve` (uvicorn) serves that store; ``--requests`` records, each a
   copy of a stored webshop account under a new key (the same person opening another
   account), are sent one per request to `POST /v1/records`, sequentially, after a
   warm-up. Each request maps, stores, indexes, scores the record against every record
   sharing a blocking key with the persisted model, links and re-resolves its profile
   before answering. Latency is measured at the client; p50/p95/p99/max are reported,
   with a GraphQL `profileByIdentifier` lookup for comparison.

The table is written into docs/benchmarks.md between the markers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from identity.demo.generator import generate
from identity.evaluation import load_assignment, pairwise
from identity.graph import IdentityGraph
from tests.benchmarks.common import IDGRAPH, machine, percentiles, serve, write_section

RECORDS_PER_PERSON = 3.42
"""Records the generator writes per person (10,259 for 3,000 people, seed 7)."""
TOKEN = "bench-token"
LOOKUP = 'query ($v: String!) { profileByIdentifier(kind: "email", value: $v) { id } }'


def _run(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([IDGRAPH, *args], check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-write", action="store_true", help="print, do not edit the doc")
    args = parser.parse_args()

    people = math.ceil(args.records / RECORDS_PER_PERSON)
    with tempfile.TemporaryDirectory(prefix="idgraph-scale-") as tmp:
        work = Path(tmp)
        print(f"generating {people:,} people ...", file=sys.stderr)
        files = generate(work / "demo", people=people, seed=args.seed)
        records = sum(files.records.values())
        env = {k: v for k, v in os.environ.items() if not k.startswith("IDGRAPH_")}
        env |= {
            "IDGRAPH_STORE": f"sqlite:///{work / 'store.db'}",
            "IDGRAPH_TOKENS_FILE": str(work / "tokens.toml"),
            "IDGRAPH_DEV_TOKEN": TOKEN,
        }
        _run(["sources", "add", *map(str, sorted(files.mappings_dir.glob("*.toml")))], env)
        phases: dict[str, float] = {"ingest": 0.0}
        for source, path in sorted(files.files.items()):
            print(f"ingesting {source} ...", file=sys.stderr)
            phases["ingest"] += _run(["ingest", str(path), "--source", source], env)
        print(f"ingest {phases['ingest']:.0f}s; training ...", file=sys.stderr)
        phases["train"] = _run(["train"], env)
        print(f"train {phases['train']:.0f}s; linking ...", file=sys.stderr)
        phases["link"] = _run(["link"], env)
        batch = sum(phases.values())
        print(f"link {phases['link']:.0f}s; batch total {batch:.0f}s", file=sys.stderr)
        graph = IdentityGraph.open(f"sqlite:///{work / 'store.db'}")
        try:
            model = graph.probabilistic().model()
            trained_on = model.trained_on if model is not None else {}
            pairs = int(str(trained_on.get("candidate_pairs", 0)))
            skipped = int(str(trained_on.get("oversized_blocking_keys", 0)))
        finally:
            graph.close()
        export = work / "profiles.csv"
        _run(["export-profiles", "--out", str(export)], env)
        scores = pairwise(load_assignment(export), load_assignment(files.truth))

        rows = [json.loads(line) for line in files.files["webshop"].read_text().splitlines()]
        rng = random.Random(args.seed)
        chosen = rng.sample(rows, min(len(rows), args.requests + 50))
        process, base = serve(env, work)
        posts: list[float] = []
        lookups: list[float] = []
        linked = 0
        try:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
                for number, row in enumerate(chosen):
                    copy = {**row, "account_id": f"{row['account_id']}-rt{number}"}
                    started = time.perf_counter()
                    response = client.post("/v1/records", params={"source": "webshop"}, json=copy)
                    elapsed = time.perf_counter() - started
                    response.raise_for_status()
                    report = response.json()
                    if number >= 50:  # the first 50 warm the caches
                        posts.append(elapsed)
                        linked += report["probabilistic_links"] > 0
                    if row.get("email"):
                        started = time.perf_counter()
                        client.post(
                            "/graphql", json={"query": LOOKUP, "variables": {"v": row["email"]}}
                        ).raise_for_status()
                        if number >= 50:
                            lookups.append(time.perf_counter() - started)
        finally:
            process.terminate()
            process.wait(30)
        post_ms, lookup_ms = percentiles(posts), percentiles(lookups)

    splink_headline = 60.0
    table = "\n".join(
        [
            f"Measured {time.strftime('%Y-%m-%d')} on {machine()}; one run.",
            "",
            "**Batch resolution** (demo generator, "
            f"{people:,} people, seed {args.seed}: {records:,} records, embedded store)",
            "",
            "| phase | time |",
            "|---|---:|",
            f"| `idgraph ingest` (all sources: deterministic matching, match index) | "
            f"{phases['ingest']:.0f} s |",
            f"| `idgraph train` | {phases['train']:.0f} s |",
            f"| `idgraph link` | {phases['link']:.0f} s |",
            f"| **total** | **{batch:.0f} s ({batch / 60:.1f} min)**, "
            f"{records / batch:,.0f} records/s; ×{batch / splink_headline:.1f} Splink's "
            "headline minute |",
            "",
            f"Final profiles: pairwise precision {scores.precision:.4f}, recall "
            f"{scores.recall:.4f}, F1 {scores.f1:.4f}. Candidate pairs: {pairs:,}; blocking "
            f"key values skipped as held by more than max_block_size records: {skipped:,}.",
            "",
            f"**Real time over HTTP** against that store ({records:,} records), "
            f"{len(posts):,} sequential requests after 50 warm-up:",
            "",
            "| request | p50 | p95 | p99 | max |",
            "|---|---:|---:|---:|---:|",
            "| `POST /v1/records` one new record: store, score, link, resolve | "
            + " | ".join(f"{post_ms[k]:.1f} ms" for k in ("p50", "p95", "p99", "max"))
            + " |",
            "| GraphQL `profileByIdentifier` by e-mail | "
            + " | ".join(f"{lookup_ms[k]:.1f} ms" for k in ("p50", "p95", "p99", "max"))
            + " |",
            "",
            f"{linked:,} of the {len(posts):,} records were linked by the match model "
            "in their request.",
        ]
    )
    print(table)
    if not args.no_write:
        write_section("scale", table, "Scale: 1M records in batch, then one at a time")


if __name__ == "__main__":
    main()
