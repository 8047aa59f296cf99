"""Benchmark: activation, the whole audience out over HTTP (issue 18, "Measure").

Run with `.venv/bin/python -m tests.benchmarks.activation` (`make bench` runs it); a quick
run: `--people 3000 --stores sqlite --runs 1 --read-seconds 10 --no-write`.

1. The store, built once and cached in ``--cache`` (default data/bench-activation/;
   `--rebuild` builds it again), as a user would with the CLI: the demo generator (seed 7)
   writes ``--people`` people with ``--visits`` times the till transactions and support
   tickets of the demo (5: about ten records a person) and ten events a person;
   `idgraph sources add`, `idgraph ingest` per source, `idgraph train`, `idgraph
   ingest-events`, then `idgraph segments define` of the demo segments, of
   ``has-email`` (``{"identifier": "email"}``: 90,921 members at 100,000 people) and of
   ``many-events`` (``{"trait": "events", "gte": 18}``: 11,115). Neo4j gets the same store by
   `idgraph migrate` into a tools/neo4j-server data directory. Each step is timed
   (``build.json``). The build runs in its own process at ``--nice`` (19), so that it
   leaves a shared machine alone. `idgraph link` runs only with ``--link``: at 1M records
   (36M candidate pairs) it held over 21 GB before it was stopped. Without it, records
   that only the probabilistic model joins stay apart: 467,978 profiles for 100,000
   people (at 3,000 people: 19,276 profiles without it, 3,571 with it).
2. Per store (``--stores``), a copy of the cached store served by `idgraph serve
   --workers 2` (tests/benchmarks/serve.py), with the development token (every scope, so
   ``pii:read``) and a token of ``segments:read`` and ``profiles:read`` without ``pii:read``,
   whose personal columns come masked.
3. Export: ``GET /v1/segments/has-email/members`` per format (ndjson, csv), per field set
   (``all``: every field the catalog names, read from the route's own 400 answer to an
   unknown field; ``three``: email,first_name,last_name), per token, ``--runs`` times
   (median): profiles/s, MB/s and the time to the first byte of the body, measured by a
   client in this process (the server runs in its own). While each export runs, the
   resident memory (VmRSS) of the server's worker processes and the export processes they
   start (summed) and of the Neo4j JVM is sampled every 100 ms: peak minus the idle value
   just before the export. The same export of ``many-events`` shows whether that peak grows
   with the audience.
4. Concurrent reads: the ``light`` lookups of tests/benchmarks/serve.py (open loop from a
   separate process at ``--read-rate``/s for ``--read-seconds``), idle and while exports of
   ``has-email`` (ndjson, all fields) run back to back: p50, p99, max; the target is a
   p99 during the export within 2x of idle.
5. `idgraph profiles rebuild` on the served copy before it is served, timed, when the CLI
   has it (`idgraph profiles --help`); otherwise a note says it was skipped.

Each figure is printed with the 1-minute load average at its end. The table is written
into docs/benchmarks.md between the ``activation`` markers (``--no-write``: printed only;
``--label``: a line above the table).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import httpx

from identity.demo.generator import FILE_NAMES, generate
from service.config import Settings
from tests.benchmarks.common import (
    IDGRAPH,
    ROOT,
    CommandFailed,
    OpenLoad,
    Sample,
    load_average,
    machine,
    percentiles,
    rss_kib,
    run_measured,
    write_section,
)
from tests.benchmarks.serve import (
    LABELS,
    SEED,
    STORES,
    TOKEN,
    Cache,
    Requests,
    Server,
    build_neo4j,
    lookup_emails,
    served_store,
    server,
)

PEOPLE = 100_000
VISITS = 5
"""Till transactions and support tickets, times the demo's: about ten records a person."""
EVENTS_PER_PERSON = 10
BIG = "has-email"
SMALL = "many-events"
BUILT_SEGMENTS = {
    BIG: {"description": "Everyone with an e-mail", "where": {"identifier": "email"}},
    # An eighth of has-email's members at 100,000 people (a tenth of the profiles at 3,000
    # with `idgraph link`), and not moving with the clock.
    SMALL: {"description": "18 events or more", "where": {"trait": "events", "gte": 18}},
}
THREE = "email,first_name,last_name"
FORMATS = ("ndjson", "csv")
FIELD_SETS = ("all", "three")
TOKENS = ("pii", "masked")
SAMPLE_SECONDS = 0.1


def _log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def _load1() -> float:
    return os.getloadavg()[0]


# --- the cached store ---------------------------------------------------------------------


def _store_env(cache: Cache) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("IDGRAPH_")}
    return clean | {
        "IDGRAPH_STORE": f"sqlite:///{cache.sqlite}",
        "IDGRAPH_TOKENS_FILE": str(cache.root / "tokens.toml"),
    }


def _built(cache: Cache, args: argparse.Namespace) -> bool:
    info = cache.info()
    return (
        info.get("sqlite_seconds") is not None
        and info.get("people") == args.people
        and info.get("visits") == args.visits
        and cache.sqlite.is_file()
    )


def build_sqlite(cache: Cache, args: argparse.Namespace) -> None:
    """The demo data at ``--visits``, loaded by the CLI step by step into the cache's
    SQLite file; each step's time and peak memory noted in build.json. A build that
    stopped (a step failed, the process was ended) resumes at its first unfinished step."""
    if _built(cache, args):
        _log(f"sqlite: reusing {cache.sqlite} (built in {cache.info()['sqlite_seconds']:.0f} s)")
        return
    info = cache.info()
    same = info.get("people") == args.people and info.get("visits") == args.visits
    steps: list[dict[str, Any]] = list(info.get("steps", [])) if same else []
    if not steps:
        cache.clear()
        cache.sqlite.parent.mkdir(parents=True)
        cache.note(people=args.people, visits=args.visits, link=args.link)
    else:
        _log(f"sqlite: resuming after {', '.join(s['step'] for s in steps)}")
    done = {s["step"] for s in steps}
    log = cache.root / "build.log"

    def step(name: str, seconds: float, peak_kib: int = 0) -> None:
        steps.append({"step": name, "seconds": round(seconds, 1), "peak_mib": peak_kib // 1024})
        cache.note(steps=steps)
        _log(f"  {name}: {seconds:.0f} s (load {load_average()})")

    if "generate" not in done:
        started = time.perf_counter()
        _log(f"sqlite: generating {args.people:,} people, visits x{args.visits} ...")
        files = generate(
            cache.demo,
            people=args.people,
            seed=SEED,
            events=args.people * EVENTS_PER_PERSON,
            until=datetime.now(UTC),
            visits=args.visits,
        )
        step("generate", time.perf_counter() - started)
        cache.note(records_in_files=sum(files.records.values()), events_in_files=files.events)
    env = _store_env(cache)
    mappings = sorted(str(p) for p in (cache.demo / "mappings").glob("*.toml"))
    commands: list[tuple[str, list[str]]] = [("sources add", ["sources", "add", *mappings])]
    for source in sorted(FILE_NAMES):
        path = cache.demo / FILE_NAMES[source]
        commands.append((f"ingest {source}", ["ingest", "--source", source, str(path)]))
    # `idgraph link` is left out by default: at 100,000 people with visits 5 (1M records,
    # 36M candidate pairs) it held over 21 GB before it was stopped.
    commands += [("train", ["train"]), *([("link", ["link"])] if args.link else [])]
    events = cache.demo / "events.jsonl"
    commands.append(("ingest-events", ["ingest-events", str(events)]))
    definitions = cache.root / "segments"
    definitions.mkdir(exist_ok=True)
    for entry in (resources.files("identity.demo") / "segments").iterdir():
        if entry.name.endswith(".json"):
            (definitions / entry.name).write_text(entry.read_text("utf-8"))
    for name, document in BUILT_SEGMENTS.items():
        (definitions / f"{name}.json").write_text(json.dumps(document))
    for path in sorted(definitions.glob("*.json")):
        name = path.name.removesuffix(".json")
        commands.append((f"segment {name}", ["segments", "define", name, "--file", str(path)]))
    for name, command in commands:
        if name in done:
            continue
        _log(f"  {name} ...")
        run = run_measured([IDGRAPH, *command], env, log)
        step(name, run.seconds, run.peak_rss_kib)
    seconds = sum(s["seconds"] for s in steps)
    cache.note(
        sqlite_seconds=seconds,
        built=time.strftime("%Y-%m-%d %H:%M"),
        build_load=load_average(),
    )
    _log(f"sqlite: built in {seconds:.0f} s")


def build(cache: Cache, args: argparse.Namespace) -> None:
    """Both stores, in this process (run it at a low priority: see :func:`ensure_built`)."""
    if args.rebuild:
        cache.clear()
    build_sqlite(cache, args)
    counts = _counts(cache)
    cache.note(**counts)
    _log(f"sqlite: {json.dumps(counts)}")
    if "neo4j" in args.stores:
        build_neo4j(cache, args)


def _counts(cache: Cache) -> dict[str, int]:
    """Records, profiles and identifiers of the built store, through the store interface
    (what `idgraph demo` reports)."""
    graph = Settings(store=f"sqlite:///{cache.sqlite}").open_graph()
    try:
        counts = graph.store.counts()
    finally:
        graph.close()
    return {
        "records": counts.records,
        "profiles": counts.profiles,
        "identifiers": counts.identifiers,
    }


def ensure_built(cache: Cache, args: argparse.Namespace) -> None:
    """Build what is missing in a child process at ``--nice`` (its children inherit it)."""
    neo4j_ready = "neo4j" not in args.stores or (
        cache.info().get("neo4j_seconds") is not None and cache.neo4j.is_dir()
    )
    if _built(cache, args) and neo4j_ready and not args.rebuild:
        return
    command = [sys.executable, "-m", "tests.benchmarks.activation", "--build-only"]
    command += _build_args(args)
    if args.nice:
        command = ["nice", "-n", str(args.nice), *command]
    _log(f"building: {' '.join(command)}")
    subprocess.run(command, check=True, cwd=ROOT)


def _build_args(args: argparse.Namespace) -> list[str]:
    found = ["--cache", str(args.cache), "--people", str(args.people)]
    found += ["--visits", str(args.visits), "--stores", *args.stores]
    found += ["--heap", args.heap, "--pagecache", args.pagecache]
    found += ["--link"] if args.link else []
    return found + (["--rebuild"] if args.rebuild else [])


# --- memory ---------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(p) for p in (task / "children").read_text().split()]
    return found


def neo4j_pids() -> list[int]:
    """This process's tools/neo4j-server children (the served store's JVM)."""
    pids = []
    for pid in _children(os.getpid()):
        with contextlib.suppress(OSError):
            if b"idgraph-neo4j-server" in Path(f"/proc/{pid}/cmdline").read_bytes():
                pids.append(pid)
    return pids


def _rss(pids: list[int], name: str = "VmRSS") -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, KeyError):
            total += rss_kib(pid)[name]
    return total


class Memory(threading.Thread):
    """The summed VmRSS of some processes every 100 ms, from an idle value taken at start;
    ``pids`` is asked again at each sample (an export process may start meanwhile)."""

    def __init__(self, pids: Callable[[], list[int]]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.idle = _rss(pids())
        self.peak = self.idle
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(SAMPLE_SECONDS):
            self.peak = max(self.peak, _rss(self.pids()))

    def stop(self) -> int:
        """Peak minus idle, KiB."""
        self._done.set()
        self.join()
        self.peak = max(self.peak, _rss(self.pids()))
        return self.peak - self.idle


# --- export ---------------------------------------------------------------------------------


@dataclass
class ExportRun:
    profiles: int
    bytes: int
    seconds: float
    ttfb: float
    server_kib: int
    """Peak minus idle (just before this export) of the server's workers' VmRSS, summed."""
    server_peak_kib: int
    """The peak itself."""
    neo4j_kib: int | None
    load1: float

    @property
    def rate(self) -> float:
        return self.profiles / self.seconds if self.seconds else 0.0

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds else 0.0


@dataclass
class Export:
    store: str
    segment: str
    format: str
    fields: str
    token: str
    runs: list[ExportRun] = field(default_factory=list)


def stream(
    base: str, token: str, segment: str, fmt: str, fields: str, deadline: float | None = None
) -> tuple[int, int, float, float]:
    """One export read to its end (or to ``deadline``): profiles, bytes, seconds, and
    seconds to the first byte of the body."""
    params = {"format": fmt, "fields": fields}
    headers = {"Authorization": f"Bearer {token}"}
    lines = size = 0
    ttfb = 0.0
    started = time.perf_counter()
    with (
        httpx.Client(base_url=base, headers=headers, timeout=3600) as client,
        client.stream("GET", f"/v1/segments/{segment}/members", params=params) as response,
    ):
        if response.status_code != 200:
            response.read()
            raise RuntimeError(f"export {segment} answered {response.status_code}: {response.text}")
        for chunk in response.iter_raw():  # as received: no buffering to a size
            if not size:
                ttfb = time.perf_counter() - started
            size += len(chunk)
            lines += chunk.count(b"\n")
            if deadline is not None and time.monotonic() > deadline:
                break
    seconds = time.perf_counter() - started
    return lines - (1 if fmt == "csv" else 0), size, seconds, ttfb


def catalog_fields(base: str) -> list[str]:
    """Every field an export may ask for, as the route lists them when refusing one."""
    response = httpx.get(
        f"{base}/v1/segments/{BIG}/members",
        params={"fields": "no-such-field"},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=600,
    )
    marker = "the fields are "
    if response.status_code != 400 or marker not in response.text:
        raise RuntimeError(f"no field list in the answer to an unknown field: {response.text}")
    message = json.dumps(response.json())
    listed = message.split(marker, 1)[1].split('"', 1)[0]
    return [f.strip() for f in listed.split(",") if f.strip()]


def run_export(srv: Server, export: Export, fields: str, token: str) -> ExportRun:
    memory = Memory(srv.processes)
    jvm = Memory(neo4j_pids) if export.store == "neo4j" else None
    memory.start()
    if jvm is not None:
        jvm.start()
    profiles, size, seconds, ttfb = stream(srv.base, token, export.segment, export.format, fields)
    grown = memory.stop()
    run = ExportRun(
        profiles,
        size,
        seconds,
        ttfb,
        grown,
        memory.peak,
        jvm.stop() if jvm is not None else None,
        _load1(),
    )
    _log(
        f"    {export.segment} {export.format} {export.fields} {export.token}: "
        f"{profiles:,} profiles in {seconds:.1f} s ({run.rate:,.0f}/s, {run.mb_per_s:.2f} MB/s, "
        f"first byte {ttfb * 1000:.0f} ms, server +{run.server_kib / 1024:.0f} MiB), "
        f"load {run.load1:.2f}"
    )
    return run


# --- concurrent reads -----------------------------------------------------------------------


@dataclass
class Reads:
    store: str
    phase: str
    samples: list[Sample]
    load1: float
    exports: int = 0


def run_reads(
    srv: Server,
    store: str,
    requests: Requests,
    args: argparse.Namespace,
    export_token: str | None,
    fields: str,
) -> Reads:
    """The light lookups at ``--read-rate`` for ``--read-seconds`` after a warm-up, with
    exports of the big segment back to back meanwhile when ``export_token`` is given."""
    total = args.warm_up + args.read_seconds
    batch = [requests.light() for _ in range(int(args.read_rate * total) + 1)]
    headers = {"Authorization": f"Bearer {TOKEN}"}
    phase = "during export" if export_token else "idle"
    _log(f"  {store} light reads at {args.read_rate:g}/s, {phase} ...")
    load = OpenLoad(srv.base, batch, args.read_rate, total, headers)
    # The load's clock starts when its interpreter is up, a moment after this one's: the
    # exports run from now until a second past its end, so they span every measured due.
    end = time.monotonic() + total + 1
    exports = 0
    while export_token and time.monotonic() < end:
        stream(srv.base, export_token, BIG, "ndjson", fields, deadline=end)
        exports += 1
    samples = [s for s in load.samples() if s.due >= args.warm_up]
    reads = Reads(store, phase, samples, _load1(), exports)
    _log(f"    {_reads_row(reads)}")
    return reads


# --- one store ------------------------------------------------------------------------------


@dataclass
class Result:
    store: str
    exports: list[Export] = field(default_factory=list)
    reads: list[Reads] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)
    all_fields: list[str] = field(default_factory=list)
    rebuild: str = ""
    idle_kib: int = 0
    hwm_kib: int = 0


def _masked_token(work: Path) -> str:
    """A token of segments:read and profiles:read without pii:read, in the server's file."""
    done = subprocess.run(
        [
            IDGRAPH,
            "token",
            "create",
            "--name",
            "bench-masked",
            "--scope",
            "segments:read",
            "--scope",
            "profiles:read",
            "--tokens-file",
            str(work / "tokens.toml"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1].strip()


def has_rebuild() -> bool:
    found = subprocess.run([IDGRAPH, "profiles", "--help"], capture_output=True, text=True)
    return found.returncode == 0 and "rebuild" in found.stdout


def _rebuild(kind: str, store_env: dict[str, str], work: Path, skip: bool = False) -> str:
    if skip:
        note = "not run (--no-profiles-rebuild: the cached store's read model is current)"
        _log(f"  {kind}: {note}")
        return note
    if not has_rebuild():
        note = "`idgraph profiles rebuild` does not exist in this checkout: skipped"
        _log(f"  {kind}: {note}")
        return note
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDGRAPH_")} | store_env
    try:
        run = run_measured([IDGRAPH, "profiles", "rebuild"], env, work / "rebuild.log")
    except CommandFailed as error:
        _log(f"  {kind}: {error}")
        return str(error)
    note = f"{run.seconds:.1f} s, peak {run.peak_rss_kib / 1024:,.0f} MiB, load {_load1():.2f}"
    _log(f"  {kind}: `idgraph profiles rebuild` {note}")
    return note


def _sizes(base: str) -> dict[str, int]:
    query = "{ segments { name size } }"
    answer = httpx.post(
        f"{base}/graphql",
        json={"query": query},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=600,
    ).json()
    return {s["name"]: int(s["size"]) for s in answer["data"]["segments"]}


def measure(kind: str, cache: Cache, emails: list[str], args: argparse.Namespace) -> Result:
    result = Result(kind)
    requests = Requests(emails, [], seed=13)
    work = cache.root / "run" / f"{kind}-server"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    masked = _masked_token(work)
    tokens = {"pii": TOKEN, "masked": masked}
    with served_store(kind, cache, args) as store_env:
        result.rebuild = _rebuild(kind, store_env, work, args.no_profiles_rebuild)
        with server(store_env, work, args) as srv:
            _log(f"{kind}: serving with {len(srv.workers())} worker processes at {srv.base}")
            result.sizes = _sizes(srv.base)
            result.all_fields = catalog_fields(srv.base)
            field_sets = {"all": ",".join(result.all_fields), "three": THREE}
            warm = [requests.light() for _ in range(10 * args.workers)]
            for request in warm:
                httpx.post(
                    f"{srv.base}{request['url']}",
                    json=request["json"],
                    headers={"Authorization": f"Bearer {TOKEN}"},
                    timeout=600,
                )
            result.idle_kib = _rss(srv.processes())
            # The small audience first, from the idle server: whatever the first exports
            # leave resident (Python keeps its heap) counts against the small one, so a
            # larger peak for the big one is the audience's size.
            plan = [] if args.no_small else [Export(kind, SMALL, "ndjson", "all", "pii")]
            plan += [
                Export(kind, BIG, fmt, name, token)
                for fmt in args.formats
                for name in args.fields
                for token in args.tokens
            ]
            for export in plan:
                for _ in range(args.runs):
                    export.runs.append(
                        run_export(srv, export, field_sets[export.fields], tokens[export.token])
                    )
                result.exports.append(export)
            if args.read_seconds > 0:
                result.reads.append(run_reads(srv, kind, requests, args, None, ""))
                result.reads.append(run_reads(srv, kind, requests, args, TOKEN, field_sets["all"]))
            result.hwm_kib = _rss(srv.processes(), "VmHWM")
    return result


# --- the report -----------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _export_row(e: Export, result: Result, profiles: int) -> str:
    runs = e.runs
    rates = [r.rate for r in runs]
    jvm = [r.neo4j_kib for r in runs if r.neo4j_kib is not None]
    members = result.sizes.get(e.segment, 0)
    share = f", {members / profiles:.0%}" if profiles else ""
    return (
        f"| {LABELS[e.store]} | {e.segment} ({members:,}{share}) | {e.format} "
        f"| {e.fields} | {e.token} | {_median(rates):,.0f} "
        f"({min(rates):,.0f}-{max(rates):,.0f}) "
        f"| {_median([r.mb_per_s for r in runs]):.2f} "
        f"| {_median([r.ttfb * 1000 for r in runs]):,.0f} "
        f"| {_median([r.seconds for r in runs]):.1f} "
        f"| {(max(r.server_peak_kib for r in runs) - result.idle_kib) / 1024:,.0f} "
        f"/ {max(r.server_kib for r in runs) / 1024:,.0f} "
        f"| {(f'{max(jvm) / 1024:,.0f}' if jvm else '-')} "
        f"| {max(r.load1 for r in runs):.2f} |"
    )


def _reads_row(r: Reads) -> str:
    if not r.samples:
        return f"| {LABELS[r.store]} | {r.phase} | 0 | - | - | - | - | {r.load1:.2f} |"
    p = percentiles([s.latency for s in r.samples])
    failed = sum(1 for s in r.samples if s.failed)
    exports = f" ({r.exports} exports)" if r.exports else ""
    return (
        f"| {LABELS[r.store]} | {r.phase}{exports} | {len(r.samples)} | {p['p50']:.1f} "
        f"| {p['p99']:.1f} | {p['max']:.1f} | {failed} | {r.load1:.2f} |"
    )


def _ratio(result: Result) -> str:
    by = {r.phase: r for r in result.reads if r.samples}
    if "idle" not in by or "during export" not in by:
        return ""
    idle = percentiles([s.latency for s in by["idle"].samples])["p99"]
    during = percentiles([s.latency for s in by["during export"].samples])["p99"]
    verdict = "within" if during <= 2 * idle else "NOT within"
    return f"{LABELS[result.store]}: p99 {during / idle:.1f}x idle ({verdict} the 2x target)"


def _build_line(cache: Cache) -> str:
    info = cache.info()
    steps = info.get("steps", [])
    parts = [f"{s['step']} {s['seconds']:.0f} s" for s in steps]
    linked = "" if info.get("link") else "; `idgraph link` not run"
    text = (
        f"SQLite built in {info.get('sqlite_seconds', 0):.0f} s ({', '.join(parts)}{linked}; "
        f"load {info.get('build_load', '?')} at its end)"
    )
    if info.get("neo4j_seconds") is not None:
        text += f", copied into Neo4j by `idgraph migrate` in {info['neo4j_seconds']:.0f} s"
    return text


def report(results: list[Result], cache: Cache, args: argparse.Namespace) -> str:
    info = cache.info()
    counts = ", ".join(
        f"{info[k]:,} {k.replace('_in_files', '')}"
        for k in ("records", "profiles", "events_in_files")
        if isinstance(info.get(k), int)
    )
    lines = [
        *([f"**{args.label}**", ""] if args.label else []),
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} on {machine()}, load average "
        f"{load_average()} at the end. Data: demo generator, {info.get('people', 0):,} people, "
        f"seed {SEED}, till transactions and support tickets x{info.get('visits', VISITS)}, "
        f"{EVENTS_PER_PERSON} events a person ({counts}); {_build_line(cache)}; cached in "
        f"{_shown(args.cache)}, each run serves a copy. Server: `idgraph serve --workers "
        f"{args.workers}`; Neo4j: tools/neo4j-server, heap {args.heap}, page cache "
        f"{args.pagecache}. Client: httpx in the benchmark's process, reading the body to its "
        f"end. Median of {args.runs} run(s) (range in brackets); first byte: from sending "
        "the request to the first byte of the body. Memory: the summed VmRSS of the server's "
        "workers sampled every 100 ms, the largest peak of the runs minus the idle value "
        "before the first export (the small audience is exported first) / minus the "
        "value just before the run; the Neo4j JVM's the same way, minus the value just "
        "before the run. Load: the largest 1-minute load average at a run's end. "
        f"`all` is every field the catalog names ({len(results[0].all_fields) if results else 0}"
        f"); `three` is {THREE}; `masked` is a token without pii:read.",
        "",
        "| store | segment (members) | format | fields | token | profiles/s | MB/s "
        "| first byte ms | s | server +MiB (vs first idle / vs run's idle) "
        "| Neo4j JVM +MiB | load 1m |",
        "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
        *(_export_row(e, r, info.get("profiles", 0)) for r in results for e in r.exports),
        "",
    ]
    reads = [x for r in results for x in r.reads]
    if reads:
        lines += [
            f"Light GraphQL lookups (tests/benchmarks/serve.py `light`), open loop at "
            f"{args.read_rate:g}/s from a separate process, {args.read_seconds:g} s measured "
            f"after {args.warm_up:g} s of warm-up, alone and while exports of {BIG} (ndjson, "
            "all fields) run back to back:",
            "",
            "| store | phase | requests | p50 ms | p99 ms | max ms | failed | load 1m |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
            *(_reads_row(x) for x in reads),
            "",
        ]
        ratios = [x for x in (_ratio(r) for r in results) if x]
        if ratios:
            lines += ["; ".join(ratios) + ".", ""]
    idle = ", ".join(
        f"{LABELS[r.store]} idle {r.idle_kib / 1024:,.0f} MiB, peak (VmHWM) "
        f"{r.hwm_kib / 1024:,.0f} MiB"
        for r in results
    )
    rebuild = "; ".join(f"{LABELS[r.store]}: {r.rebuild}" for r in results)
    lines += [
        f"Server workers' and their export processes' resident memory, summed: {idle}. "
        "`idgraph profiles rebuild` on the "
        f"served copy: {rebuild}. Reproduce: `python -m tests.benchmarks.activation "
        + " ".join(_reproduce(args))
        + "`.",
    ]
    return "\n".join(lines)


def _shown(path: Path) -> str:
    resolved = path.resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(path)


def _reproduce(args: argparse.Namespace) -> list[str]:
    parts = ["--people", str(args.people), "--stores", *args.stores, "--runs", str(args.runs)]
    for name, chosen, default in (
        ("--formats", args.formats, FORMATS),
        ("--fields", args.fields, FIELD_SETS),
        ("--tokens", args.tokens, TOKENS),
    ):
        parts += [name, *chosen] if tuple(chosen) != default else []
    parts += ["--no-small"] if args.no_small else []
    return [
        *parts,
        "--read-rate",
        f"{args.read_rate:g}",
        "--read-seconds",
        f"{args.read_seconds:g}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cache",
        type=Path,
        default=ROOT / "data" / "bench-activation",
        help="where the built stores are kept (default data/bench-activation)",
    )
    parser.add_argument("--rebuild", action="store_true", help="build the cached stores anew")
    parser.add_argument(
        "--no-profiles-rebuild",
        action="store_true",
        help="do not time `idgraph profiles rebuild` on the served copy (its read model is "
        "current already: the cache was rebuilt in place)",
    )
    parser.add_argument("--build-only", action="store_true", help="build the stores and stop")
    parser.add_argument("--nice", type=int, default=19, help="niceness of the build (0: none)")
    parser.add_argument("--people", type=int, default=PEOPLE)
    parser.add_argument("--visits", type=int, default=VISITS, help="the generator's visits")
    parser.add_argument(
        "--link", action="store_true", help="run `idgraph link` in the build (memory-hungry)"
    )
    parser.add_argument("--stores", nargs="+", choices=STORES, default=list(STORES))
    parser.add_argument("--runs", type=int, default=3, help="runs of each export (median)")
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    parser.add_argument("--fields", nargs="+", choices=FIELD_SETS, default=list(FIELD_SETS))
    parser.add_argument("--tokens", nargs="+", choices=TOKENS, default=list(TOKENS))
    parser.add_argument(
        "--no-small", action="store_true", help=f"skip the export of {SMALL} (memory vs size)"
    )
    parser.add_argument("--read-rate", type=float, default=20.0, help="light lookups a second")
    parser.add_argument(
        "--read-seconds", type=float, default=30.0, help="measured seconds of reads (0: none)"
    )
    parser.add_argument("--warm-up", type=float, default=3.0, help="unmeasured seconds of reads")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--server-env", nargs="*", default=[], metavar="NAME=VALUE")
    parser.add_argument("--heap", default="2g", help="Neo4j's JVM heap cap")
    parser.add_argument("--pagecache", default="1g", help="Neo4j's page cache")
    parser.add_argument("--label", default="", help="a line above the table")
    parser.add_argument("--no-write", action="store_true", help="print, do not edit the doc")
    args = parser.parse_args()
    args.server = "idgraph"  # tests.benchmarks.serve.server's choice of command

    args.cache = args.cache.resolve()
    cache = Cache(args.cache)
    if args.build_only:
        build(cache, args)
        return
    ensure_built(cache, args)
    emails = lookup_emails(cache)
    _log(f"{len(emails):,} e-mails find one profile; load average {load_average()}")
    results = [measure(kind, cache, emails, args) for kind in args.stores]
    text = report(results, cache, args)
    print(text)
    if not args.no_write:
        write_section("activation", text, "Activation: segment export (issue 18)")


if __name__ == "__main__":
    main()
