"""Benchmark: the batch at scale, as a user runs it with the CLI, beside Splink on DuckDB
on the same records in the same run.

Run with `.venv/bin/python -m tests.benchmarks.scale --records 100000 300000 1000000`
(`make bench` runs the million). Per size, the demo generator (seed 7) writes people until
its five sources hold about ``--records`` records; then, each step its own `idgraph`
process on a fresh embedded store, timed with its peak resident memory (the largest
process of the step, worker processes included, from the kernel's accounting):

1. `idgraph sources add`, then `idgraph ingest --bulk --defer-resolution` of four sources
   and `idgraph ingest --bulk` of the fifth, which resolves all of them once
   (docs/scale.md). Their sum is the ingest.
2. `idgraph train`, then `idgraph link` (``--engine``: local, and Spark in local mode
   where asked, each on its own copy of the trained store).
3. Pairwise precision, recall and F1 of the final profiles against the generator's truth
   (`idgraph export-profiles`).
4. Splink (the `bench` extra) on the records of the same store, as
   tests/benchmarks/generator_linkage.py runs it: its time, peak memory and the scores of
   the connected components of its predicted pairs.
5. With ``--requests N``, real time against the largest store: `idgraph serve` (uvicorn)
   and N records, each a copy of a stored webshop account under a new key, sent one per
   request to `POST /v1/records` after 50 warm-up requests (each maps, stores, indexes,
   scores against its blocking-key neighbours, links and re-resolves before answering),
   with a GraphQL `profileByIdentifier` lookup beside each. Sequential on purpose: the
   latency of one write on a store of this size, not a load test (serve.py is that).

The table is written into docs/benchmarks.md between the markers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from identity.demo.generator import DemoFiles, generate
from identity.evaluation import PairwiseScores, load_assignment, pairwise
from tests.benchmarks.common import (
    IDGRAPH,
    CommandFailed,
    Run,
    load_average,
    machine,
    percentiles,
    run_measured,
    serve,
    write_section,
)

RECORDS_PER_PERSON = 3.42
"""Records the generator writes per person (10,259 for 3,000 people, seed 7)."""
SOURCES = ("crm", "webshop", "pos", "support", "marketing")
TOKEN = "bench-token"
LOOKUP = 'query ($v: String!) { profileByIdentifier(kind: "email", value: $v) { id } }'
SPLINK_CHILD = """
import pickle, sys
from tests.benchmarks.scale import splink_outcome
print(pickle.dumps(splink_outcome(sys.argv[1], sys.argv[2])).hex())
"""


@dataclass
class Step:
    seconds: float = 0.0
    peak_mib: float = 0.0
    cpu: float = 0.0

    def add(self, seconds: float, peak_kib: int, cpu: float = 0.0) -> None:
        self.seconds += seconds
        self.peak_mib = max(self.peak_mib, peak_kib / 1024)
        self.cpu += cpu


@dataclass
class SizeResult:
    records: int
    people: int
    steps: dict[str, Step] = field(default_factory=dict)
    scores: dict[str, PairwiseScores] = field(default_factory=dict)
    load: str = ""
    realtime: str = ""
    failed: dict[str, str] = field(default_factory=dict)


def realtime(files: DemoFiles, env: dict[str, str], work: Path, requests: int, seed: int) -> str:
    """Sequential single-record writes and lookups against the store just built."""
    rows = [json.loads(line) for line in files.files["webshop"].read_text().splitlines()]
    chosen = random.Random(seed).sample(rows, min(len(rows), requests + 50))
    env = {**env, "IDGRAPH_DEV_TOKEN": TOKEN}
    process, base = serve(env, work)
    posts: list[float] = []
    lookups: list[float] = []
    try:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            for number, row in enumerate(chosen):
                copy = {**row, "account_id": f"{row['account_id']}-rt{number}"}
                started = time.perf_counter()
                client.post("/v1/records", params={"source": "webshop"}, json=copy)
                elapsed = time.perf_counter() - started
                if number >= 50:  # the first 50 warm the caches
                    posts.append(elapsed)
                if row.get("email"):
                    started = time.perf_counter()
                    client.post(
                        "/graphql", json={"query": LOOKUP, "variables": {"v": row["email"]}}
                    )
                    if number >= 50:
                        lookups.append(time.perf_counter() - started)
    finally:
        process.terminate()
        process.wait(30)
    post_ms, lookup_ms = percentiles(posts), percentiles(lookups)
    return "\n".join(
        [
            f"**Real time over HTTP** on the last store, {len(posts):,} sequential requests "
            "after 50 warm-up:",
            "",
            "| request | p50 | p95 | p99 | max |",
            "|---|---:|---:|---:|---:|",
            "| `POST /v1/records` one new record: store, score, link, resolve | "
            + " | ".join(f"{post_ms[k]:.1f} ms" for k in ("p50", "p95", "p99", "max"))
            + " |",
            "| GraphQL `profileByIdentifier` by e-mail | "
            + " | ".join(f"{lookup_ms[k]:.1f} ms" for k in ("p50", "p95", "p99", "max"))
            + " |",
        ]
    )


def splink_outcome(store: str, truth: str) -> tuple[float, PairwiseScores]:
    """Splink's time and scores on the records of ``store`` (run in a child process, so
    that its peak memory is its own)."""
    from identity.graph import IdentityGraph
    from tests.benchmarks.generator_linkage import Population, _peer_input, run_splink

    graph = IdentityGraph.open(f"sqlite:///{store}")
    try:
        matcher = graph.probabilistic()
        frame = matcher.all_frame()
        population = Population(
            "demo", 0, 7, (), (), load_assignment(Path(truth)), {}, Path(store).parent, Path()
        )
        data = _peer_input(graph, matcher, frame, population)
    finally:
        graph.close()
    outcome = run_splink(data, population)
    return outcome.seconds, outcome.scores


def _splink(
    store: Path, truth: Path, env: dict[str, str], log: Path
) -> tuple[Step, PairwiseScores]:
    with log.open("ab") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-c", SPLINK_CHILD, str(store), str(truth)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=out,
        )
        assert process.stdout is not None
        answer = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"Splink failed: see {log}")
    seconds, scores = pickle.loads(bytes.fromhex(answer.decode().strip().splitlines()[-1]))
    step = Step()
    step.add(time.perf_counter() - started, int(usage.ru_maxrss), usage.ru_utime + usage.ru_stime)
    del seconds  # the child's own timing leaves out its imports; the wall time is used
    return step, scores


def say(step: str, run: Run) -> None:
    """A step's figures on stderr as it ends: a run stopped later still has them."""
    print(
        f"  {step}: {run.seconds:.0f} s, CPU {run.cpu_seconds:.0f} s, "
        f"peak {run.peak_rss_kib / 1024:,.0f} MiB",
        file=sys.stderr,
    )


def measure(
    records: int, seed: int, engines: list[str], splink: bool, requests: int, work: Path
) -> SizeResult:
    people = math.ceil(records / RECORDS_PER_PERSON)
    print(f"generating {people:,} people ...", file=sys.stderr)
    files = generate(work / "demo", people=people, seed=seed)
    result = SizeResult(sum(files.records.values()), people)
    log = work / "commands.log"
    store = work / "store.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDGRAPH_")}
    env |= {"IDGRAPH_STORE": f"sqlite:///{store}", "IDGRAPH_TOKENS_FILE": str(work / "t.toml")}
    mappings = sorted(map(str, files.mappings_dir.glob("*.toml")))
    run_measured([IDGRAPH, "sources", "add", *mappings], env, log)
    ingest = result.steps.setdefault("ingest", Step())
    for number, source in enumerate(SOURCES, start=1):
        defer = ["--defer-resolution"] if number < len(SOURCES) else []
        command = [IDGRAPH, "ingest", str(files.files[source]), "--source", source, "--bulk"]
        run = run_measured([*command, *defer], env, log)
        ingest.add(run.seconds, run.peak_rss_kib, run.cpu_seconds)
        say(f"ingest {source}", run)
    run = run_measured([IDGRAPH, "train"], env, log)
    result.steps.setdefault("train", Step()).add(run.seconds, run.peak_rss_kib, run.cpu_seconds)
    say("train", run)
    trained = work / "trained.db"
    shutil.copy(store, trained)
    for engine in engines:
        shutil.copy(trained, store)
        extra = ["--engine", "spark", "--spark-master", "local[2]"] if engine == "spark" else []
        try:
            run = run_measured([IDGRAPH, "link", *extra], env, log)
        except CommandFailed as error:
            if engine == engines[0]:
                raise
            # Another engine failing (out of memory, say) is a result, not the end of
            # the run: the table says so.
            result.failed[engine] = str(error)
            print(f"  link ({engine}): {error}", file=sys.stderr)
            continue
        link = result.steps.setdefault(f"link ({engine})", Step())
        link.add(run.seconds, run.peak_rss_kib, run.cpu_seconds)
        say(f"link ({engine})", run)
        export = work / f"profiles-{engine}.csv"
        run_measured([IDGRAPH, "export-profiles", "--out", str(export)], env, log)
        result.scores[engine] = pairwise(load_assignment(export), load_assignment(files.truth))
    if splink:
        step, scores = _splink(trained, files.truth, env, log)
        result.steps["Splink"] = step
        result.scores["Splink"] = scores
        print(f"  Splink: {step.seconds:.0f} s", file=sys.stderr)
    result.load = load_average()
    if requests:
        result.realtime = realtime(files, env, work, requests, seed)
    return result


def table(results: list[SizeResult], engines: list[str]) -> str:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}; one run per size, each step "
        "its own process on a fresh embedded store. CPU time is user + system of the "
        "step's processes, worker processes included; peak memory is its largest process.",
        "",
        "| records | step | time | records/s | CPU time | peak memory | precision | recall | F1 |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        batch = Step()
        for name in ("ingest", "train", f"link ({engines[0]})"):
            step = result.steps[name]
            batch.add(step.seconds, int(step.peak_mib * 1024), step.cpu)
        rows: list[tuple[str, Step, PairwiseScores | None]] = [
            ("ingest (bulk, 5 sources)", result.steps["ingest"], None),
            ("train", result.steps["train"], None),
            *(
                (f"link, {e} engine", result.steps[f"link ({e})"], result.scores[e])
                for e in engines
                if e not in result.failed
            ),
            (f"**total** (ingest, train, link {engines[0]})", batch, result.scores[engines[0]]),
        ]
        if "Splink" in result.steps:
            rows.append(
                (
                    "Splink 5 on DuckDB (same records)",
                    result.steps["Splink"],
                    result.scores["Splink"],
                )
            )
        for name, step, scores in rows:
            quality = (
                f"{scores.precision:.4f} | {scores.recall:.4f} | {scores.f1:.4f}"
                if scores is not None
                else "| |"
            )
            lines.append(
                f"| {result.records:,} | {name} | {step.seconds:,.0f} s | "
                f"{result.records / step.seconds:,.0f} | {step.cpu:,.0f} s | "
                f"{step.peak_mib:,.0f} MiB | {quality} |"
            )
        for engine, error in result.failed.items():
            lines.append(f"| {result.records:,} | link, {engine} engine | failed: {error} |")
    lines.append("")
    lines.append(
        "Load average (1 / 5 / 15 min) at the end of each size: "
        + "; ".join(f"{r.records:,} records: {r.load}" for r in results)
    )
    lines.extend(["", r.realtime] if (r := results[-1]).realtime else [])
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--engines", nargs="+", default=["local"], choices=["local", "spark"])
    parser.add_argument("--no-splink", action="store_true", help="leave Splink out")
    parser.add_argument(
        "--requests", type=int, default=0, help="real-time requests against the last store"
    )
    parser.add_argument("--no-write", action="store_true", help="print, do not edit the doc")
    args = parser.parse_args()
    results = []
    for number, records in enumerate(args.records, start=1):
        requests = args.requests if number == len(args.records) else 0
        splink = not args.no_splink
        with tempfile.TemporaryDirectory(prefix="idgraph-scale-") as tmp:
            work = Path(tmp)
            try:
                results.append(measure(records, args.seed, args.engines, splink, requests, work))
            finally:
                # The commands' output outlives the store: a failure is explained there.
                if (work / "commands.log").exists():
                    kept = Path(tempfile.gettempdir()) / f"idgraph-scale-{records}.log"
                    shutil.copy(work / "commands.log", kept)
                    print(f"  commands' output: {kept}", file=sys.stderr)
    text = table(results, args.engines)
    print(text)
    if not args.no_write:
        write_section("scale", text, "Scale: 1M records in batch")


if __name__ == "__main__":
    main()
