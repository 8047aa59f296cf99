"""Benchmark: the CPU one light GraphQL request costs in the API process, with and without
the document cache (parse, validation and cost kept per query text).

Run with `.venv/bin/python -m tests.benchmarks.graphql_cpu` (`--requests 2000 --runs 5`;
`--write` puts the table into docs/benchmarks.md).

The app is the real one (`service.app.create_app`, its middleware, authentication, limits
and metrics) over an empty embedded store, driven in process through the ASGI client one
request after another, so the figure is the service's own CPU per request with no network
and no store work to speak of (the lookup finds nothing). It is not a latency under load:
`tests/benchmarks/attacks.py` and issue 13's load benchmark measure that. Each setting is
timed `--runs` times, alternating, and the median run is reported with the load average
before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from service.app import create_app
from service.config import Settings
from tests.benchmarks.common import machine, write_section

LIGHT = (
    '{ profileByIdentifier(kind: "email", value: "ann@example.com") '
    "{ id attributes { name value } records { source key } } }"
)
TOKEN = "benchmark-token"


def requests_per_second(client: TestClient, requests: int) -> float:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    start = time.perf_counter()
    for _ in range(requests):
        response = client.post("/graphql", json={"query": LIGHT}, headers=headers)
        assert response.status_code == 200 and "errors" not in response.json(), response.text
    return requests / (time.perf_counter() - start)


def client(folder: Path, cache_size: int) -> TestClient:
    settings = Settings(
        store=f"sqlite:///{folder / f'store-{cache_size}.db'}",
        tokens_file=folder / "tokens.toml",
        dev_token=TOKEN,
        graphql_document_cache_size=cache_size,
        graphql_cost_per_minute=0,  # the budget would stop a benchmark, not a client
    )
    return TestClient(create_app(settings))


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    settings = {"no cache (size 0)": 0, "cache (size 256, the default)": 256}
    rates: dict[str, list[float]] = {name: [] for name in settings}
    with tempfile.TemporaryDirectory() as folder:
        clients = {name: client(Path(folder), size) for name, size in settings.items()}
        for c in clients.values():
            c.__enter__()
            requests_per_second(c, 50)  # warm up: imports, first store read
        before = load()
        for _ in range(args.runs):
            for name, c in clients.items():
                rates[name].append(requests_per_second(c, args.requests))
        after = load()
        for c in clients.values():
            c.__exit__(None, None, None)
    lines = [
        f"{args.requests:,} identical light queries one after another through the ASGI app, "
        f"median of {args.runs} runs; {machine()}; load average (1, 5, 15 min) {before} "
        f"before and {after} after.",
        "",
        "| Setting | Requests/s (median) | ms per request (wall) | Runs (req/s) |",
        "|---|---:|---:|---|",
    ]
    for name, found in rates.items():
        median = statistics.median(found)
        runs = ", ".join(f"{r:.0f}" for r in found)
        lines.append(f"| {name} | {median:.0f} | {1000 / median:.2f} | {runs} |")
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section("graphql-cpu", text, "GraphQL parse and validation cache (issue 13)")


if __name__ == "__main__":
    main()
