"""Benchmark: the embedded store and Neo4j side by side, on the same demo data (issue 12).

Run with `.venv/bin/python -m tests.benchmarks.stores --people 30000` (`make bench` runs
it); `--people 2000` is a quick check. One pass per store, stores one after the other.

1. The demo generator writes its five sources once (``--people``, seed 7, no events).
2. For each store, a fresh one: a SQLite file in a temporary directory, or a Neo4j 5.26
   Community server of ``tools/neo4j-server`` started by this script on a free port in a
   temporary directory (``--heap``, ``--pagecache``) and stopped at the end. Then the real
   CLI, each command its own process as an operator runs it: `idgraph sources add`,
   `idgraph ingest` of every source file (records/s over the five runs),
   `idgraph train`, `idgraph link`, `idgraph export-profiles` (every record's profile,
   scored against the generator's truth so both stores are seen to give the same
   profiles) and `idgraph segments define` of a segment of every profile with an e-mail
   (each definition evaluates every profile).
3. `idgraph serve` (one uvicorn process) over that store. Each load is open loop from a
   separate process (requests at a fixed arrival rate, each latency counted from when the
   request was due, :class:`tests.benchmarks.common.OpenLoad`), after a few sequential
   warm-up requests: GraphQL ``profileByIdentifier(kind: "email")`` of random CRM e-mails
   that find one profile, at each of ``--lookup-rates`` (default 20/s, below what one
   process serves on a 2-core machine, then 100/s, the issue's rate) for
   ``--lookup-seconds``, each with the answers per second it got; then a streamed NDJSON
   export of the e-mail segment's members (``GET /v1/segments/{name}/members``), then ``POST
   /v1/records`` of single new webshop records (copies of stored accounts under new keys:
   the same person opening another account; ``--post-rate`` for ``--post-seconds``).
   Statements the store sent per request come from the server's ``/metrics``.
4. Peak resident memory (VmHWM) of the server process at the end, of the largest CLI run
   (from the kernel's accounting of the child), and of Neo4j's JVM after everything.

The table is written into docs/benchmarks.md between the markers.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from identity.demo.generator import DemoFiles, generate
from identity.errors import IdgraphError
from identity.evaluation import load_assignment, pairwise
from identity.model import IdentifierKey
from service.config import Settings
from tests.benchmarks.common import (
    IDGRAPH,
    CommandFailed,
    Sample,
    load_average,
    machine,
    open_load,
    percentiles,
    rss_kib,
    run_measured,
    serve,
    write_section,
)
from tests.store.neo4j_server import LocalNeo4j

TOKEN = "bench-token"
LOOKUP = (
    'query ($v: String!) { profileByIdentifier(kind: "email", value: $v) '
    "{ id attributes { name value } identifiers { kind value } } }"
)
SEGMENT = "with-email"
SEGMENT_DEFINITION = {
    "description": "Every profile with an e-mail address",
    "where": {"identifier": "email"},
}
WARM_UP = 20
STORES = ("sqlite", "neo4j")
LABELS = {"sqlite": "embedded (SQLite)", "neo4j": "Neo4j 5.26 Community"}


def _log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


@dataclass
class Result:
    """What one store measured; None where the step did not run."""

    store: str
    records: int = 0
    ingest: float | None = None
    train: float | None = None
    link: float | None = None
    export_profiles: float | None = None
    define: float | None = None
    precision: float | None = None
    recall: float | None = None
    emails: list[str] = field(default_factory=list)
    lookups: dict[float, list[Sample]] = field(default_factory=dict)
    """Samples of the lookup load at each arrival rate."""
    posts: list[Sample] = field(default_factory=list)
    export_rows: int | None = None
    export_seconds: float | None = None
    statements_per_lookup: float | None = None
    statements_per_post: float | None = None
    cli_peak_kib: dict[str, int] = field(default_factory=dict)
    server_peak_kib: int | None = None
    jvm_peak_kib: int | None = None
    loads: list[str] = field(default_factory=list)
    failure: str | None = None
    """The step that failed, and why; the steps after it were not measured."""


@contextlib.contextmanager
def _store(
    kind: str, work: Path, args: argparse.Namespace
) -> Iterator[tuple[dict[str, str], int | None]]:
    """The environment that points idgraph at a fresh store of ``kind``, and the JVM's pid."""
    if kind == "sqlite":
        yield {"IDGRAPH_STORE": f"sqlite:///{work / 'store.db'}"}, None
        return
    _log(f"starting Neo4j (heap {args.heap}, page cache {args.pagecache}) ...")
    server = LocalNeo4j.start(heap=args.heap, pagecache=args.pagecache)
    try:
        yield (
            {
                "IDGRAPH_STORE": server.uri,
                "IDGRAPH_NEO4J_USER": server.user,
                "IDGRAPH_NEO4J_PASSWORD": server.password,
            },
            server.process.pid,
        )
    finally:
        server.stop()


def _statements(base: str) -> int:
    """Statements the server's store has sent so far (``idgraph_store_statements_total``)."""
    text = httpx.get(f"{base}/metrics", timeout=30).text
    return int(
        sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("idgraph_store_statements_total{")
        )
    )


def _export(base: str, headers: dict[str, str]) -> tuple[int, float]:
    """Rows and seconds of the segment's members streamed as NDJSON."""
    rows = 0
    started = time.perf_counter()
    with (
        httpx.Client(base_url=base, headers=headers, timeout=3600) as client,
        client.stream(
            "GET", f"/v1/segments/{SEGMENT}/members", params={"format": "ndjson"}
        ) as response,
    ):
        response.raise_for_status()
        for chunk in response.iter_bytes():
            rows += chunk.count(b"\n")
    return rows, time.perf_counter() - started


def _lookup_requests(emails: list[str], count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {
            "method": "POST",
            "url": "/graphql",
            "json": {"query": LOOKUP, "variables": {"v": rng.choice(emails)}},
        }
        for _ in range(count)
    ]


def _post_requests(rows: list[dict[str, Any]], count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` single-record posts, each a stored webshop account under a new key."""
    rng = random.Random(seed)
    return [
        {
            "method": "POST",
            "url": "/v1/records",
            "params": {"source": "webshop"},
            "json": {**row, "account_id": f"{row['account_id']}-bench{number}"},
        }
        for number, row in enumerate(rng.choices(rows, k=count))
    ]


def _lookup_emails(env: dict[str, str], files: DemoFiles) -> list[str]:
    """The CRM e-mails that find exactly one profile in the store ``env`` names: the demo
    also holds invalid e-mails and junk shared by many people (which GraphQL answers with
    an error), and a lookup that fails by design measures nothing."""
    with files.files["crm"].open(newline="") as fh:
        emails = list(dict.fromkeys(row["email"] for row in csv.DictReader(fh) if row["email"]))
    password = env.get("IDGRAPH_NEO4J_PASSWORD")
    settings = Settings(
        store=env["IDGRAPH_STORE"],
        neo4j_user=env.get("IDGRAPH_NEO4J_USER"),
        neo4j_password=SecretStr(password) if password else None,
    )
    graph = settings.open_graph()
    try:
        keys: dict[str, IdentifierKey] = {}
        for email in emails:
            with contextlib.suppress(IdgraphError):
                keys[email] = graph.normaliser.identifier("email", email).key
        found = graph.store.profiles.with_identifiers(list(keys.values()))
    finally:
        graph.close()
    return [email for email, key in keys.items() if len(found[key]) == 1]


def _serve_phase(
    result: Result,
    env: dict[str, str],
    work: Path,
    files: DemoFiles,
    args: argparse.Namespace,
) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    emails = result.emails
    webshop = [json.loads(line) for line in files.files["webshop"].read_text().splitlines()]
    warm_up = _lookup_requests(emails, WARM_UP, 0)
    posts = _post_requests(webshop, int(args.post_rate * args.post_seconds) + WARM_UP, 2)
    process, base = serve(env, work)
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
            for request in warm_up:
                client.post(request["url"], json=request["json"]).raise_for_status()
        before = _statements(base)
        # The lower rates first: a load the server cannot keep up with leaves it behind.
        for rate in sorted(args.lookup_rates):
            _log(f"  GraphQL lookups at {rate:g}/s for {args.lookup_seconds:g} s ...")
            requests = _lookup_requests(emails, int(rate * args.lookup_seconds), int(rate))
            result.lookups[rate] = open_load(base, requests, rate, args.lookup_seconds, headers)
            result.loads.append(load_average())
        after = _statements(base)
        sent = sum(len(samples) for samples in result.lookups.values())
        result.statements_per_lookup = (after - before) / max(1, sent)
        _log(f"  exporting {SEGMENT} as NDJSON ...")
        result.export_rows, result.export_seconds = _export(base, headers)
        result.loads.append(load_average())
        with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
            for request in posts[:WARM_UP]:
                client.post(
                    request["url"], params=request["params"], json=request["json"]
                ).raise_for_status()
        before = _statements(base)
        _log(f"  POST /v1/records at {args.post_rate:g}/s for {args.post_seconds:g} s ...")
        result.posts = open_load(base, posts[WARM_UP:], args.post_rate, args.post_seconds, headers)
        result.loads.append(load_average())
        after = _statements(base)
        result.statements_per_post = (after - before) / max(1, len(result.posts))
        result.server_peak_kib = rss_kib(process.pid)["VmHWM"]
    finally:
        process.terminate()
        process.wait(60)


def _pipeline(
    result: Result,
    kind: str,
    files: DemoFiles,
    work: Path,
    env: dict[str, str],
    cli: Callable[..., float],
    emails: list[str],
) -> None:
    """The CLI steps, as an operator runs them, each timed."""
    cli("sources", "sources", "add", *map(str, sorted(files.mappings_dir.glob("*.toml"))))
    ingest = 0.0
    for source, path in sorted(files.files.items()):
        seconds = cli("ingest", "ingest", str(path), "--source", source)
        ingest += seconds
        _log(f"  {kind}: ingested {source} ({files.records[source]:,}) in {seconds:.1f}s")
    result.ingest = ingest
    result.loads.append(load_average())
    result.train = cli("train", "train")
    _log(f"  {kind}: train {result.train:.1f}s")
    result.link = cli("link", "link")
    result.loads.append(load_average())
    _log(f"  {kind}: link {result.link:.1f}s")
    export = work / "profiles.csv"
    result.export_profiles = cli("export-profiles", "export-profiles", "--out", str(export))
    scores = pairwise(load_assignment(export), load_assignment(files.truth))
    result.precision, result.recall = scores.precision, scores.recall
    _log(f"  {kind}: export-profiles {result.export_profiles:.1f}s")
    definition = work / "segment.json"
    definition.write_text(json.dumps(SEGMENT_DEFINITION))
    result.define = cli("define", "segments", "define", SEGMENT, "--file", str(definition))
    result.loads.append(load_average())
    result.emails = emails or _lookup_emails(env, files)
    _log(f"  {kind}: segment defined in {result.define:.1f}s; serving ...")


def measure(
    kind: str, files: DemoFiles, work: Path, args: argparse.Namespace, emails: list[str]
) -> Result:
    """The pipeline and the loads against a fresh store of ``kind``; the lookups ask for
    ``emails``, or (for the first store) for those that find one profile in it."""
    result = Result(kind, records=sum(files.records.values()))
    work.mkdir(parents=True, exist_ok=True)
    log = work / "cli.log"
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("IDGRAPH_")}
    base_env |= {"IDGRAPH_TOKENS_FILE": str(work / "tokens.toml"), "IDGRAPH_DEV_TOKEN": TOKEN}
    with _store(kind, work, args) as (store_env, jvm_pid):
        env = base_env | store_env
        result.loads.append(load_average())

        def cli(step: str, *command: str) -> float:
            run = run_measured([IDGRAPH, *command], env, log)
            result.cli_peak_kib[step] = max(result.cli_peak_kib.get(step, 0), run.peak_rss_kib)
            return run.seconds

        try:
            _pipeline(result, kind, files, work, env, cli, emails)
            _serve_phase(result, env, work, files, args)
        except CommandFailed as error:
            result.failure = str(error)
            _log(f"  {kind}: {error}; the remaining steps are not measured")
        if jvm_pid is not None:
            result.jvm_peak_kib = rss_kib(jvm_pid)["VmHWM"]
    return result


def _latency(samples: list[Sample]) -> str:
    if not samples:
        return "-"
    p = percentiles([s.latency for s in samples])
    failed = sum(s.failed for s in samples)
    # Answers per second over the load's span, up to its last answer: below the arrival
    # rate when the server falls behind.
    served = len(samples) / max(s.due + s.latency for s in samples)
    return f"**{p['p50']:.1f} / {p['p99']:.1f} ms**, {served:.0f}/s answered, {failed} failed"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _per(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _mib(kib: int | None) -> str:
    return "-" if kib is None else f"{kib / 1024:,.0f} MiB"


def _ingest(r: Result) -> str:
    if r.ingest is None:
        return "-"
    return f"**{r.records / r.ingest:,.0f} records/s** ({r.ingest:.0f} s)"


def _train_link(r: Result) -> str:
    if r.train is None or r.link is None:
        return "-"
    return f"**{r.train + r.link:.1f} s**"


def _quality(r: Result) -> str:
    if r.precision is None or r.recall is None:
        return "-"
    return f"{r.precision:.4f} / {r.recall:.4f}"


def _export_rate(r: Result) -> str:
    if not r.export_rows or not r.export_seconds:
        return "-"
    return (
        f"**{r.export_rows / r.export_seconds:,.0f} profiles/s** "
        f"({r.export_rows:,} in {r.export_seconds:.1f} s)"
    )


def _cli_peak(r: Result) -> str:
    if not r.cli_peak_kib:
        return "-"
    step = max(r.cli_peak_kib, key=lambda k: r.cli_peak_kib[k])
    return f"{_mib(r.cli_peak_kib[step])} ({step})"


def table(results: list[Result], files: DemoFiles, args: argparse.Namespace) -> str:
    records = results[0].records

    def row(name: str, cell: Callable[[Result], str]) -> str:
        return f"| {name} | " + " | ".join(cell(r) for r in results) + " |"

    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}; one pass per store, one store "
        f"after the other. Data: demo generator, {files.people:,} people, seed {args.seed}: "
        f"{records:,} records in five sources, no events. Neo4j: a fresh tools/neo4j-server "
        f"(Neo4j 5.26 Community embedded, Bolt on loopback, authentication on), heap "
        f"{args.heap}, page cache {args.pagecache}. Every step is the real CLI in its own "
        "process; `idgraph serve` is one uvicorn process; the loads are open loop from "
        "another process (latency from when each request was due).",
        "",
        "| measurement | " + " | ".join(LABELS[r.store] for r in results) + " |",
        "|---|" + "---:|" * len(results),
        row("ingest, 5 sources (`idgraph ingest` per file)", _ingest),
        row("`idgraph train`", lambda r: _seconds(r.train)),
        row("`idgraph link`", lambda r: _seconds(r.link)),
        row("**train + link**", _train_link),
        row(
            "`idgraph export-profiles` (every record's profile)",
            lambda r: _seconds(r.export_profiles),
        ),
        row("pairwise precision / recall of the profiles", _quality),
        row(
            f"`idgraph segments define {SEGMENT}` (evaluates every profile)",
            lambda r: _seconds(r.define),
        ),
        *(
            row(
                f'GraphQL `profileByIdentifier(kind: "email")` at {rate:g}/s for '
                f"{args.lookup_seconds:g} s: p50 / p99",
                lambda r, rate=rate: _latency(r.lookups.get(rate, [])),
            )
            for rate in sorted(args.lookup_rates, reverse=True)
        ),
        row("statements per lookup", lambda r: _per(r.statements_per_lookup)),
        row(
            f"`POST /v1/records` (one new record) at {args.post_rate:g}/s for "
            f"{args.post_seconds:g} s: p50 / p99",
            lambda r: _latency(r.posts),
        ),
        row("statements per record posted", lambda r: _per(r.statements_per_post)),
        row(f"segment export, NDJSON streamed (`{SEGMENT}`)", _export_rate),
        row("peak RSS, `idgraph serve` (Python)", lambda r: f"**{_mib(r.server_peak_kib)}**"),
        row("peak RSS, largest CLI run (Python)", _cli_peak),
        row("peak RSS, Neo4j's JVM", lambda r: f"**{_mib(r.jvm_peak_kib)}**"),
        "",
    ]
    for r in results:
        if r.failure is not None:
            lines.append(f"**{LABELS[r.store]}: {r.failure}**; the steps after it did not run.")
            lines.append("")
        samples = [s for rate in r.lookups.values() for s in rate] + r.posts
        late = max((s.late for s in samples), default=0.0)
        sent = ", ".join(f"{len(s):,} at {rate:g}/s" for rate, s in sorted(r.lookups.items()))
        lines.append(
            f"{LABELS[r.store]}: load average (1 / 5 / 15 min) at the start, after ingest, "
            f"after link, after the segment, after each lookup load, after the export, after "
            f"the posts: {'; '.join(r.loads)}. Lookups sent: {sent or 'none'} (random CRM "
            f"e-mails among the {len(r.emails):,} that find one profile); posts sent: "
            f"{len(r.posts):,}; the load generator's largest lag behind schedule "
            f"{late * 1000:.0f} ms."
        )
        lines.append("")
    return "\n".join(lines).rstrip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--stores", nargs="+", choices=STORES, default=list(STORES))
    parser.add_argument(
        "--lookup-rates",
        type=float,
        nargs="+",
        default=[100.0, 20.0],
        help="arrival rates of the lookup loads (the lower ones first)",
    )
    parser.add_argument("--lookup-seconds", type=float, default=30.0)
    parser.add_argument("--post-rate", type=float, default=20.0)
    parser.add_argument("--post-seconds", type=float, default=30.0)
    parser.add_argument("--heap", default="1g", help="Neo4j's JVM heap cap")
    parser.add_argument("--pagecache", default="512m", help="Neo4j's page cache")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument("--no-write", action="store_true", help="print, do not edit the doc")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="idgraph-stores-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        _log(f"generating {args.people:,} people (seed {args.seed}) ...")
        files = generate(work / "demo", people=args.people, seed=args.seed)
        results: list[Result] = []
        for kind in args.stores:
            _log(f"{kind}: load average {load_average()}")
            emails = results[0].emails if results else []
            results.append(measure(kind, files, work / kind, args, emails))
        text = table(results, files, args)
    print(text)
    if not args.no_write:
        write_section("stores", text, "The embedded store and Neo4j side by side (issue 12)")


if __name__ == "__main__":
    main()
