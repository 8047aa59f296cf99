"""Benchmark: `idgraph ingest` rate on ~100k demo records, and deterministic matching quality.

Run with `make bench` (or `.venv/bin/python -m tests.benchmarks.ingest_rate --runs 3`).
Each run generates the demo data once, then ingests every source file with the real CLI
into a fresh embedded store, timing the whole load; the median of the runs is reported.
The results table is written into docs/benchmarks.md between the markers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from identity.demo.generator import generate
from identity.evaluation import load_assignment, pairwise
from tests.benchmarks.common import machine, write_section

IDGRAPH = str(Path(sys.executable).with_name("idgraph"))


def _run(args: list[str], env: dict[str, str]) -> None:
    subprocess.run(
        [IDGRAPH, *args], check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=30_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-write", action="store_true", help="print, do not edit the doc")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="idgraph-bench-") as tmp:
        work = Path(tmp)
        print(f"generating {args.people:,} people ...", file=sys.stderr)
        files = generate(work / "demo", people=args.people, seed=args.seed)
        records = sum(files.records.values())
        timings: list[float] = []
        scores = None
        for run in range(args.runs):
            db = work / f"run{run}.db"
            env = {**os.environ, "IDGRAPH_STORE": f"sqlite:///{db}"}
            _run(["sources", "add", *map(str, sorted(files.mappings_dir.glob("*.toml")))], env)
            started = time.perf_counter()
            for source, path in sorted(files.files.items()):
                _run(["ingest", str(path), "--source", source], env)
            elapsed = time.perf_counter() - started
            timings.append(elapsed)
            print(
                f"run {run + 1}: {records:,} records in {elapsed:.1f}s "
                f"({records / elapsed:,.0f} records/s)",
                file=sys.stderr,
            )
            if scores is None:
                export = work / "profiles.csv"
                _run(["export-profiles", "--out", str(export)], env)
                scores = pairwise(load_assignment(export), load_assignment(files.truth))
        assert scores is not None
        median = statistics.median(timings)
        table = "\n".join(
            [
                f"Measured {time.strftime('%Y-%m-%d')} on {machine()}; {args.runs} runs, median.",
                "",
                "| data | records | median time | ingest rate | pairwise precision "
                "| pairwise recall | F1 |",
                "|---|---:|---:|---:|---:|---:|---:|",
                f"| demo generator, {args.people:,} people, seed {args.seed} | {records:,} | "
                f"{median:.1f} s | {records / median:,.0f} records/s | {scores.precision:.4f} | "
                f"{scores.recall:.4f} | {scores.f1:.4f} |",
                "",
                f"Runs (s): {', '.join(f'{t:.1f}' for t in timings)}. Over-merged profiles: "
                f"{scores.over_merged_clusters:,}; "
                f"under-merged people: {scores.under_merged_entities:,}.",
            ]
        )
        print(table)
        if not args.no_write:
            write_section("ingest-rate", table, "Ingest rate and deterministic matching quality")


if __name__ == "__main__":
    main()
