"""Benchmark: the GraphQL attacks of issue 20 against a running server, and what light
readers see meanwhile.

Run with `.venv/bin/python -m tests.benchmarks.attacks` (`make bench` runs it).

1. `idgraph demo --no-serve` loads the demo (``--people``, default 3,000) into a fresh
   embedded store; `idgraph serve` (one uvicorn process) serves it with a token holding
   only ``profiles:read``, as the probe used.
2. A separate process sends a light lookup (``profileByIdentifier { id }`` of a random
   demo e-mail) at a fixed arrival rate (``--rate``, open loop: each request's latency is
   measured from the moment it was due, so a stalled server shows as latency, not as
   fewer requests), first alone for ``--quiet`` seconds, then all through the attacks.
3. One attacker sends the attacks back to back, in turn, for ``--attack-seconds``: the
   2^30 fragment chain, 20,000 and 1,000 aliases of ``profileByIdentifier``, and 20
   aliased ``suspiciousClusters(refresh: true)``. Each one's median and maximum time, and
   its answer (HTTP status and error code), are reported.

The table is written into docs/benchmarks.md between the markers.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.benchmarks.common import (
    IDGRAPH,
    OpenLoad,
    machine,
    percentiles,
    serve,
    write_section,
)

LIGHT = 'query ($v: String!) { profileByIdentifier(kind: "email", value: $v) { id } }'


def fragment_chain(depth: int) -> str:
    fragments = [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(depth)]
    fragments.append(f'fragment F{depth} on Query {{ profile(id: "p") {{ id }} }}')
    return "query { ...F0 } " + " ".join(fragments)


def aliases(count: int, field: str) -> str:
    return "{ " + " ".join(f"a{i}: {field}" for i in range(count)) + " }"


ATTACKS = {
    "fragment chain, 2^30 spreads (1 KB)": fragment_chain(30),
    "20,000 aliases of profileByIdentifier (1.4 MB body)": aliases(
        20_000, 'profileByIdentifier(kind: "email", value: "a@example.com") { id }'
    ),
    "1,000 aliases of profileByIdentifier": aliases(
        1_000, 'profileByIdentifier(kind: "email", value: "a@example.com") { id }'
    ),
    "20 aliases of suspiciousClusters(refresh: true)": aliases(
        20, "suspiciousClusters(refresh: true) { totalCount }"
    ),
}


def read_emails(demo: Path, limit: int = 500) -> list[str]:
    with (demo / "crm.csv").open(newline="") as f:
        found = [row["email"] for row in csv.DictReader(f) if row.get("email")]
    return found[:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=20.0, help="light reads per second")
    parser.add_argument("--quiet", type=float, default=10.0, help="seconds before the attacks")
    parser.add_argument("--attack-seconds", type=float, default=20.0)
    parser.add_argument("--no-write", action="store_true", help="print, don't edit the docs")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("IDGRAPH_")},
            "IDGRAPH_STORE": f"sqlite:///{work}/idgraph.db",
            "IDGRAPH_TOKENS_FILE": str(work / "tokens.toml"),
        }
        print(f"loading {args.people:,} demo people ...", file=sys.stderr)
        subprocess.run(
            [IDGRAPH, "demo", "--people", str(args.people), "--out", str(work / "demo")],
            env=env,
            check=True,
            capture_output=True,
        )
        token = subprocess.run(
            [IDGRAPH, "token", "create", "--name", "probe", "--scope", "profiles:read"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()[-1]
        emails = read_emails(work / "demo")
        process, base = serve(env, work)
        try:
            table = run(base, token, emails, args)
        finally:
            process.terminate()
            process.wait(30)
    print(table)
    if not args.no_write:
        write_section("attacks", table, "GraphQL attacks against a running server (issue 20)")


def run(base: str, token: str, emails: list[str], args: argparse.Namespace) -> str:
    headers = {"Authorization": f"Bearer {token}"}
    # Warm up: the cached ranking exists, as on a store a steward has looked at.
    httpx.post(
        f"{base}/graphql",
        json={"query": "{ suspiciousClusters { totalCount } }"},
        headers=headers,
        timeout=600,
    )
    rng = random.Random(1)
    reads = [
        {
            "method": "POST",
            "url": "/graphql",
            "json": {"query": LIGHT, "variables": {"v": rng.choice(emails)}},
        }
        for _ in range(2000)
    ]
    reader = OpenLoad(base, reads, args.rate, args.quiet + args.attack_seconds + 5, headers=headers)
    time.sleep(args.quiet)
    attacks_start = time.monotonic()
    rows = []
    with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
        # One attacker, back to back, cycling through the attacks for --attack-seconds.
        times: dict[str, list[float]] = {name: [] for name in ATTACKS}
        codes: dict[str, set[str]] = {name: set() for name in ATTACKS}
        while time.monotonic() < attacks_start + args.attack_seconds:
            for name, query in ATTACKS.items():
                started = time.perf_counter()
                response = client.post("/graphql", json={"query": query})
                times[name].append(time.perf_counter() - started)
                body = response.json()
                code = (body.get("errors") or [{}])[0].get("extensions", {}).get("code")
                code = code or body.get("error", {}).get("code", "none")
                codes[name].add(f"{response.status_code} {code}")
        for name in ATTACKS:
            found = times[name]
            rows.append(
                (name, len(found), statistics.median(found) * 1000, max(found) * 1000,
                 sorted(codes[name]))
            )  # fmt: skip
    attacks_seconds = time.monotonic() - attacks_start
    load = os.getloadavg()[0]
    samples = reader.samples()
    quiet = [s.latency for s in samples if s.due < args.quiet and s.status == 200]
    during = [s.latency for s in samples if args.quiet <= s.due < args.quiet + attacks_seconds + 1]
    failed = sum(1 for s in samples if s.status != 200)
    q, d = percentiles(quiet), percentiles(during)
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}; one `idgraph serve` process "
        f"over the {args.people:,}-people demo store (embedded); load average "
        f"{load:.2f} after the attacks. A token with `profiles:read` only. One attacker sends "
        f"the attacks back to back, in turn, for {args.attack_seconds:g} s; the time is of the "
        "whole HTTP request. `python -m tests.benchmarks.attacks` reproduces it.",
        "",
        "| attack | sent | median ms | max ms | answer |",
        "|---|---:|---:|---:|---|",
        *(f"| {n} | {k} | {med:.1f} | {mx:.1f} | {', '.join(c)} |" for n, k, med, mx, c in rows),
        "",
        f"Light reads (`profileByIdentifier {{ id }}`) at {args.rate:g}/s, open loop from "
        "another process:",
        "",
        "| phase | requests | p50 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|",
        f"| quiet, {args.quiet:g} s | {len(quiet)} | {q['p50']:.1f} | {q['p99']:.1f} "
        f"| {q['max']:.1f} |",
        f"| during the attacks, {attacks_seconds:.1f} s | {len(during)} | {d['p50']:.1f} "
        f"| {d['p99']:.1f} | {d['max']:.1f} |",
        "",
        f"Light reads that failed: {failed}.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
