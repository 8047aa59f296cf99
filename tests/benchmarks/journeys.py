"""Benchmark: events, journeys, segments and export on the demo generator's people.

Run with `.venv/bin/python -m tests.benchmarks.journeys --people 100000 --events 2000000`
(`make bench` runs it); `--people 5000 --events 100000` is a quick check. One pass; the
segment refresh is repeated (``--refresh-runs``) and its median reported.

1. The generator writes the people's records and events up to a fixed date (``UNTIL``).
   One :class:`IdentityGraph` whose clock is fixed at that date, so segment time windows
   end where the data ends, registers the demo mappings and ingests the record files
   into a fresh embedded store (timed, not the point), then ingests ``events.jsonl``
   through :meth:`EventService.ingest_rows`: the call `idgraph ingest-events` makes, in
   process, with its batches, stitching and segment listeners.
2. Segments are defined after the event ingest (each define evaluates everyone), then
   every segment is refreshed over every profile, ``--refresh-runs`` times.
3. `idgraph serve` (uvicorn, one process) serves the store: ``--queries`` random live
   profiles (seeded) get a GraphQL journey page over HTTP, sequentially after a warm-up,
   and the second page through the cursor when there is one.
4. The ~50k-member segment is exported over HTTP (`GET /v1/segments/{name}/members`,
   CSV, streamed) while the server's resident memory is sampled from /proc, then with
   `idgraph export-segment`.

The table is written into docs/benchmarks.md between the markers.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from identity.demo.events import DEFAULT_UNTIL
from identity.demo.generator import generate
from identity.graph import IdentityGraph
from identity.mapping import load_mapping
from identity.readers import read_file
from identity.rules import load_rules
from identity.store.factory import open_store
from tests.benchmarks.common import (
    IDGRAPH,
    RssSampler,
    machine,
    percentiles,
    rss_kib,
    serve,
    write_section,
)

TOKEN = "bench-token"
UNTIL = DEFAULT_UNTIL
"""The generator's last moment and the graph's "now": 2025-06-30 18:00 UTC."""
WARM_UP = 50
SLOW_REFRESH = 180.0
"""Seconds above which the refresh is run once instead of ``--refresh-runs`` times."""
JOURNEY = (
    "query ($id: ID!, $after: String) { profile(id: $id) { journey(first: 20, after: $after) "
    "{ edges { node { id type timestamp } } pageInfo { hasNextPage endCursor } } } }"
)
EXPORT_FIELDS = "profile_id,email,first_name,traits.monetary"

# Segments an e-commerce marketing team would run on this data. EXPORTED is the one of
# about half the profiles (by its definition, not a truncation) that is exported.
EXPORTED = "active-90d"
SEGMENTS: dict[str, dict[str, Any]] = {
    "recent-buyers": {
        "description": "Bought in the last 30 days",
        "where": {"event": "purchase", "within_days": 30},
    },
    "frequent-buyers": {
        "description": "Two or more purchases in 90 days",
        "where": {"event": "purchase", "within_days": 90, "count": {"gte": 2}},
    },
    "big-spenders": {
        "description": "Spent over 150 in 90 days",
        "where": {
            "event": "purchase",
            "within_days": 90,
            "sum": {"property": "order_value", "gt": 150},
        },
    },
    "lapsed-customers": {
        "description": "Customers with no purchase in 180 days",
        "where": {
            "and": [
                {"trait": "orders", "gte": 1},
                {"not": {"event": "purchase", "within_days": 180}},
            ]
        },
    },
    "cart-abandoners": {
        "description": "Added to cart in the last 14 days, bought nothing since",
        "where": {
            "and": [
                {"event": "add_to_cart", "within_days": 14},
                {"not": {"event": "purchase", "within_days": 14}},
            ]
        },
    },
    "newsletter-engaged": {
        "description": "Opened a newsletter in 60 days and may be e-mailed",
        "requires_consent": "email",
        "where": {"event": "email_open", "within_days": 60},
    },
    "high-value-reachable": {
        "description": "Lifetime value over 300, with an e-mail address",
        "where": {"and": [{"trait": "monetary", "gt": 300}, {"identifier": "email"}]},
    },
    EXPORTED: {
        "description": "Any event in the last 90 days",
        "where": {"event": "*", "within_days": 90},
    },
}


class _Clock:
    """The graph's "now": fixed, moved by hand."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def _log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def _profile_ids(graph: IdentityGraph) -> list[str]:
    return list(graph.store.profiles.scan_ids())


def _journeys(
    base: str, profile_ids: list[str], queries: int, seed: int
) -> tuple[list[float], list[float], int]:
    """First-page latencies, second-page latencies, and how many first pages had events."""
    rng = random.Random(seed)
    chosen = [rng.choice(profile_ids) for _ in range(queries + WARM_UP)]
    first: list[float] = []
    second: list[float] = []
    with_events = 0
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        for number, pid in enumerate(chosen):
            started = time.perf_counter()
            response = client.post("/graphql", json={"query": JOURNEY, "variables": {"id": pid}})
            elapsed = time.perf_counter() - started
            response.raise_for_status()
            body = response.json()
            if body.get("errors"):
                raise RuntimeError(f"GraphQL errors: {body['errors']}")
            journey = body["data"]["profile"]["journey"]
            if number < WARM_UP:
                continue
            first.append(elapsed)
            with_events += bool(journey["edges"])
            if journey["pageInfo"]["hasNextPage"]:
                variables = {"id": pid, "after": journey["pageInfo"]["endCursor"]}
                started = time.perf_counter()
                client.post(
                    "/graphql", json={"query": JOURNEY, "variables": variables}
                ).raise_for_status()
                second.append(time.perf_counter() - started)
    return first, second, with_events


def _export_http(base: str, pid: int, name: str, out: Path) -> dict[str, float]:
    """Stream the segment's members as CSV to ``out``; rows, seconds and server memory."""
    before = rss_kib(pid)
    sampler = RssSampler(pid)
    sampler.start()
    rows = 0
    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    params = {"format": "csv", "fields": EXPORT_FIELDS}
    with (
        httpx.Client(base_url=base, headers=headers, timeout=600) as client,
        client.stream("GET", f"/v1/segments/{name}/members", params=params) as response,
        out.open("wb") as fh,
    ):
        response.raise_for_status()
        for chunk in response.iter_bytes():
            rows += chunk.count(b"\n")
            fh.write(chunk)
    seconds = time.perf_counter() - started
    peak = sampler.stop()
    after = rss_kib(pid)
    return {
        "rows": rows - 1,  # the header line
        "seconds": seconds,
        "rss_before": before["VmRSS"] / 1024,
        "rss_peak": peak / 1024,
        "rss_after": after["VmRSS"] / 1024,
        "hwm_before": before["VmHWM"] / 1024,
        "hwm_after": after["VmHWM"] / 1024,
    }


def _ingest_records(graph: IdentityGraph, files: Any) -> int:
    for path in sorted(files.mappings_dir.glob("*.toml")):
        graph.ingest.register_source(load_mapping(path, rules=graph.rules))
    records = 0
    for source, path in sorted(files.files.items()):
        mapping = graph.ingest.source(source)
        rows: Iterator[Any] = read_file(path, mapping.format, csv_delimiter=mapping.csv_delimiter)
        report = graph.ingest.ingest_rows(source, rows)
        records += report.received
        _log(f"  {source}: {report.received:,} records in {report.seconds:.0f}s")
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--refresh-runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument("--no-write", action="store_true", help="print, do not edit the doc")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="idgraph-journeys-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        _log(f"generating {args.people:,} people and {args.events:,} events ...")
        started = time.perf_counter()
        files = generate(
            work / "demo", people=args.people, seed=args.seed, events=args.events, until=UNTIL
        )
        generate_seconds = time.perf_counter() - started
        assert files.events_file is not None
        db = work / "store.db"
        db.unlink(missing_ok=True)
        clock = _Clock(UNTIL)
        graph = IdentityGraph(open_store(f"sqlite:///{db}"), load_rules(None), clock)

        _log(f"generated in {generate_seconds:.0f}s; ingesting records ...")
        started = time.perf_counter()
        records = _ingest_records(graph, files)
        records_seconds = time.perf_counter() - started

        _log(f"records in {records_seconds:.0f}s; ingesting events ...")
        started = time.perf_counter()
        events = graph.events.ingest_rows(read_file(files.events_file, "jsonl"))
        events_seconds = time.perf_counter() - started
        _log(f"events in {events_seconds:.0f}s ({events.received / events_seconds:,.0f}/s)")
        profile_ids = _profile_ids(graph)

        defined: dict[str, float] = {}
        for name, document in SEGMENTS.items():
            started = time.perf_counter()
            graph.segments.define(name, document)
            defined[name] = time.perf_counter() - started
            _log(f"  defined {name} in {defined[name]:.1f}s")
        sizes = {s.name: s.size for s in graph.segments.segments()}
        refreshes = []
        for run in range(args.refresh_runs):
            report = graph.segments.refresh()
            refreshes.append(report)
            _log(
                f"refresh {run + 1}: {report.segments} segments over {report.profiles:,} "
                f"profiles in {report.seconds:.1f}s ({report.entered} in, {report.exited} out)"
            )
            if report.seconds > SLOW_REFRESH:
                break  # one run is measurement enough at this length
        graph.close()

        env = {k: v for k, v in os.environ.items() if not k.startswith("IDGRAPH_")}
        env |= {
            "IDGRAPH_STORE": f"sqlite:///{db}",
            "IDGRAPH_TOKENS_FILE": str(work / "tokens.toml"),
            "IDGRAPH_DEV_TOKEN": TOKEN,
        }
        process, base = serve(env, work)
        try:
            _log(f"server up; {args.queries:,} journey queries ...")
            first, second, with_events = _journeys(base, profile_ids, args.queries, args.seed)
            _log("exporting over HTTP ...")
            http = _export_http(base, process.pid, EXPORTED, work / "export-http.csv")
        finally:
            process.terminate()
            process.wait(30)
        _log(f"http export {http['rows']:,} rows in {http['seconds']:.1f}s; CLI export ...")
        started = time.perf_counter()
        subprocess.run(
            [
                IDGRAPH,
                "export-segment",
                EXPORTED,
                "--out",
                str(work / "export-cli.csv"),
                "--format",
                "csv",
                "--fields",
                EXPORT_FIELDS,
            ],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        cli_seconds = time.perf_counter() - started
        cli_rows = sum(1 for _ in (work / "export-cli.csv").open()) - 1

        # What a daily scheduled refresh does: the same data, windows a day further on.
        clock.at = UNTIL + timedelta(days=1)
        graph = IdentityGraph(open_store(f"sqlite:///{db}"), load_rules(None), clock)
        next_day = graph.segments.refresh()
        next_sizes = {s.name: s.size for s in graph.segments.segments()}
        graph.close()
        _log(
            f"refresh a day later: {next_day.seconds:.1f}s ({next_day.entered:,} in, "
            f"{next_day.exited:,} out)"
        )

    first_ms, second_ms = percentiles(first), percentiles(second) if second else None
    refresh_seconds = [r.seconds for r in refreshes]
    refresh = statistics.median(refresh_seconds)
    runs = (
        f"{len(refreshes)} runs, median"
        if len(refreshes) > 1
        else f"one run (over {SLOW_REFRESH:.0f} s, so not repeated)"
    )
    profiles = refreshes[0].profiles
    size = sizes[EXPORTED]
    rate = events.received / events_seconds

    def ms(p: dict[str, float]) -> str:
        return (
            f"p50 **{p['p50']:.1f} ms**, p95 {p['p95']:.1f} ms, p99 **{p['p99']:.1f} ms**, "
            f"max {p['max']:.1f} ms"
        )

    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}; one pass (the refresh: {runs}). "
        "Another engineer's benchmarks ran on the same two cores throughout, so every time "
        "here is an upper bound.",
        "",
        f"**Data**: demo generator, {args.people:,} people, seed {args.seed}, events up to "
        f"{UNTIL.isoformat()}: {records:,} records (ingested in {records_seconds:.0f} s, "
        f"{records / records_seconds:,.0f} records/s) and {files.events:,} events "
        f"({events.received:,} lines with the senders' retries); {len(profile_ids):,} live "
        "profiles after the event ingest.",
        "",
        "| measurement | result |",
        "|---|---:|",
        "| event ingest (`EventService.ingest_rows`, the call `idgraph ingest-events` makes) | "
        f"**{rate:,.0f} events/s** ({events_seconds:.0f} s) |",
        f"| journey, first page of 20 (GraphQL over HTTP, {len(first):,} random profiles) | "
        f"{ms(first_ms)} |",
    ]
    if second_ms is not None:
        lines.append(
            f"| journey, second page through the cursor ({len(second):,} of them had one) | "
            f"{ms(second_ms)} |"
        )
    lines += [
        f"| define {len(SEGMENTS)} segments, one after another (each evaluates every profile) "
        f"| {sum(defined.values()):.0f} s in all |",
        f"| refresh all {len(SEGMENTS)} segments over {profiles:,} profiles, same day | "
        f"**{refresh:.0f} s** ({profiles / refresh:,.0f} profiles/s) |",
        f"| refresh all {len(SEGMENTS)} segments a day later | {next_day.seconds:.0f} s "
        f"({next_day.entered:,} entered, {next_day.exited:,} exited) |",
        f"| export `{EXPORTED}` ({size:,} members) over HTTP, CSV, streamed | "
        f"**{http['rows'] / http['seconds']:,.0f} profiles/s** ({http['seconds']:.0f} s, "
        f"{http['rows']:,} rows) |",
        f"| server RSS during that export | {http['rss_before']:.0f} MiB before, "
        f"{http['rss_peak']:.0f} MiB peak, {http['rss_after']:.0f} MiB after |",
        "| `idgraph export-segment` of the same segment, CSV (process start included) | "
        f"{cli_rows / cli_seconds:,.0f} profiles/s ({cli_seconds:.0f} s, {cli_rows:,} rows) |",
        "",
        f"Event ingest: {events.accepted:,} accepted ({events.created:,} new, "
        f"{events.unchanged:,} unchanged: the retried lines), {events.rejected:,} rejected, "
        f"{len(events.warnings):,} warnings; {events.stitched:,} stitch records (anonymous "
        f"cookies and devices joined to a known identifier by a login or checkout), "
        f"{events.profiles_merged:,} profiles merged through them. Journeys: "
        f"{with_events:,} of the {len(first):,} queried profiles had events. Refresh runs "
        "(s): " + ", ".join(f"{s:.1f}" for s in refresh_seconds) + ".",
        "",
        "| segment | definition | members | a day later | define |",
        "|---|---|---:|---:|---:|",
    ]
    for name, document in SEGMENTS.items():
        lines.append(
            f"| `{name}` | {document['description']} | {sizes.get(name, 0):,} | "
            f"{next_sizes.get(name, 0):,} | {defined[name]:.0f} s |"
        )
    table = "\n".join(lines)
    print(table)
    if not args.no_write:
        write_section("journeys", table, "Events, journeys, segments and export")


if __name__ == "__main__":
    main()
