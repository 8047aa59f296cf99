"""Benchmark: pushing a segment to a webhook destination. On the demo generator's people
in an embedded store, a fresh snapshot of a big segment (`has-email`, about 97% of the
people) to a local receiver in another process:

1. the receiver always answers 200: deliveries (batches) per second and profiles per second;
2. the receiver answers 500 to 20% of requests at random: the time until it holds every
   member, with the default backoff (1 s, doubling, equal jitter) waited for real.

The receiver de-duplicates by profile id and says how many it holds, so a run that loses a
profile fails. Run with `.venv/bin/python -m tests.benchmarks.push [--people N]`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from identity.demo.generator import generate
from identity.destinations import DeliveryWorker, DestinationSettings
from identity.graph import IdentityGraph
from identity.mapping import load_mapping
from identity.readers import read_file
from identity.rules import load_rules
from identity.store.factory import open_store
from service.webhooks import wire
from tests.benchmarks.common import free_port, load_average, machine


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _receiver(port: int, failure_rate: float, seed: int) -> None:
    """The receiving process: 500 to ``failure_rate`` of POSTs, 200 to the rest; keeps the
    profile ids it was sent; GET answers how many it holds."""
    rng = random.Random(seed)
    held: set[str] = set()
    posts = [0]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: bytes = b"") -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            posts[0] += 1
            if rng.random() < failure_rate:
                self._answer(500)
                return
            for line in body.splitlines():
                held.add(json.loads(line)["profile_id"])
            self._answer(200)

        def do_GET(self) -> None:
            self._answer(200, json.dumps({"held": len(held), "posts": posts[0]}).encode())

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def _start_receiver(failure_rate: float) -> tuple[multiprocessing.Process, str]:
    port = free_port()
    process = multiprocessing.Process(target=_receiver, args=(port, failure_rate, 18), daemon=True)
    process.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(base, timeout=1)
            return process, base
        except httpx.TransportError:
            time.sleep(0.05)
    sys.exit("the receiver did not start")


def _push(graph: IdentityGraph, name: str, failure_rate: float, batch: int) -> dict[str, Any]:
    process, base = _start_receiver(failure_rate)
    try:
        graph.destinations.add(
            DestinationSettings(
                name,
                "has-email",
                url=f"{base}/hook",
                batch_size=batch,
                fields=["email", "first_name", "last_name"],
                max_attempts=100,
            )
        )
        members = graph.store.segments.sizes(["has-email"])["has-email"]
        worker = DeliveryWorker(graph.destinations, worker_id=f"bench-{name}")
        started = time.perf_counter()
        report = worker.run_until_idle(max_wait=float("inf"))
        seconds = time.perf_counter() - started
        worker.release()
        held = httpx.get(base, timeout=5).json()
        if held["held"] != members:
            sys.exit(f"{name}: the receiver holds {held['held']} of {members} members")
        return {
            "members": members,
            "batches": report.batches,
            "posts": held["posts"],
            "failures": report.failures,
            "seconds": seconds,
            "batches_per_s": report.batches / seconds,
            "profiles_per_s": report.rows / seconds,
        }
    finally:
        process.terminate()
        graph.destinations.remove(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        files = generate(Path(work) / "demo", people=args.people, seed=18)
        graph = IdentityGraph(open_store(f"sqlite:///{work}/push.db"), load_rules())
        wire(graph)
        _log(f"loading {args.people:,} people")
        for path in sorted(files.mappings_dir.glob("*.toml")):
            graph.ingest.register_source(load_mapping(path, rules=graph.rules))
        for source, path in sorted(files.files.items()):
            graph.ingest.ingest_rows(source, read_file(path, graph.ingest.source(source).format))
        graph.segments.define("has-email", {"where": {"identifier": "email"}})
        _log("pushing")
        ok = _push(graph, "always-ok", 0.0, args.batch_size)
        flaky = _push(graph, "fail-20", 0.2, args.batch_size)
        graph.close()
    print(f"machine: {machine()}; load average after: {load_average()}")
    print(f"snapshot of has-email: {ok['members']:,} members, batches of {args.batch_size}")
    print(
        f"always 200: {ok['batches']} deliveries in {ok['seconds']:.2f}s = "
        f"{ok['batches_per_s']:.1f} deliveries/s, {ok['profiles_per_s']:,.0f} profiles/s"
    )
    print(
        f"20% 500s: all {flaky['members']:,} delivered in {flaky['seconds']:.2f}s "
        f"({flaky['posts']} requests, {flaky['failures']} failed and retried with backoff); "
        f"{flaky['profiles_per_s']:,.0f} profiles/s overall"
    )


if __name__ == "__main__":
    main()
