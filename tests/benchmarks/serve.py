"""Benchmark: serving at production load, open loop at fixed arrival rates (issue 13).

Run with `.venv/bin/python -m tests.benchmarks.serve` (`make bench` runs it); a quick run:
`--stores sqlite --workloads light --rates 50 --seconds 10`.

1. The store, built once and cached in ``--cache`` (default data/bench-serve/; `--rebuild`
   builds it again): `idgraph demo --people 30000 --no-serve` (seed 7, ten events a
   person, the demo segments) into a SQLite file, about 102,500 records and 300,000
   events; for Neo4j the same store copied by `idgraph migrate` into a tools/neo4j-server
   data directory (Neo4j 5.26 Community, authentication on). Each run serves a copy of
   the cached store, so the writes of one run do not change the next run's data.
2. The server: ``idgraph serve --workers N`` (default 2) over that copy, every worker
   opening the store in the app's lifespan (``--server uvicorn`` runs uvicorn's own
   ``--workers`` instead, or give a command), with a development token.
   The per-token GraphQL cost budget is off (``IDGRAPH_GRAPHQL_COST_PER_MINUTE=0``): the
   load is many clients' worth sent with one token; ``--server-env NAME=VALUE`` sets it
   or any other setting.
3. Per store, per workload, per arrival rate (``--rates``, lowest first): an open-loop load
   from a separate process (:class:`tests.benchmarks.common.OpenLoad`: request i is due at
   i / rate seconds and its latency counts from then) for ``--warm-up`` + ``--seconds``
   seconds, the warm-up's requests left out. Workloads:
   - ``light``: ``profileByIdentifier(kind: "email") { id attributes { name value }
     records { source key } }`` of random CRM e-mails that find one profile;
   - ``heavy``: the same lookup with ``journey(first: 20)``, ``traits``, ``segments`` and
     ``consent``;
   - ``write``: ``POST /v1/records?source=webshop`` of one record: every other one a
     stored account under a new key (the same person opening another account), the others
     a stored account updated (its marketing opt-in flipped);
   - ``mix``: nine light lookups, then one write, repeated.
   The workloads run in the order given (by default the reads, the attack, then the
   writes). Once a workload's step answers less than 80% of its offered rate or its
   median request waits more than a second, its higher rates are not run (``--no-skip``
   runs them): a saturated server only queues more.
4. ``attack``: the light load at 100/s (``--attack-rate``), alone for ``--seconds``, then
   for ``--seconds`` more while one client sends the 20,000-alias query of
   tests/benchmarks/attacks.py (1.4 MB) every ``--attack-interval`` seconds: its time
   to be refused (median, max) and answers, and the light load's p99 without and with it.

Each step reports the offered and achieved rate (answers over the step's span), p50, p95,
p99 and max latency, the failures by kind (HTTP status, GraphQL error code or transport
error) and the 1-minute load average at its end. The table is written into
docs/benchmarks.md between the ``serve`` markers (``--no-write``: printed only;
``--label``: a line above the table, e.g. for a smoke run).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import random
import secrets
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from identity.errors import IdgraphError
from identity.model import IdentifierKey
from service.config import Settings
from tests.benchmarks.attacks import aliases
from tests.benchmarks.common import (
    IDGRAPH,
    ROOT,
    OpenLoad,
    Sample,
    free_port,
    load_average,
    machine,
    percentiles,
    write_section,
)
from tests.store.neo4j_server import JAR, USER, Neo4jServerError

TOKEN = "bench-token"
PEOPLE = 30_000
SEED = 7
STORES = ("sqlite", "neo4j")
LABELS = {"sqlite": "embedded (SQLite)", "neo4j": "Neo4j 5.26 Community"}
WORKLOADS = ("light", "heavy", "attack", "write", "mix")
"""In the order they run by default: the reads before the writes, which add records (a
copied account that is not linked makes its e-mail find two profiles)."""
LIGHT = (
    'query ($v: String!) { profileByIdentifier(kind: "email", value: $v) '
    "{ id attributes { name value } records { source key } } }"
)
HEAVY = (
    'query ($v: String!) { profileByIdentifier(kind: "email", value: $v) { id '
    "attributes { name value } records { source key } "
    "journey(first: 20) { edges { cursor node { id type timestamp channel source "
    "properties } } pageInfo { hasNextPage endCursor } } "
    "traits { firstSeen lastSeen events eventCounts { type count } orders orderValue "
    "lastOrder recencyDays frequency monetary averageOrderValue } "
    "segments consent { purpose granted at source via reference } } }"
)
ATTACK = aliases(20_000, 'profileByIdentifier(kind: "email", value: "a@example.com") { id }')
SERVERS = {
    "uvicorn": "{python} -m uvicorn service.app:create_app --factory --host 127.0.0.1 "
    "--port {port} --workers {workers}",
    "idgraph": "{idgraph} serve --host 127.0.0.1 --port {port} --workers {workers}",
}
SATURATED = 0.8
"""A step that answers less than this share of its offered rate saturates the server..."""
SATURATED_P50 = 1.0
"""... and so does one whose median request waits this many seconds (a growing queue)."""


def _log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# --- the cached store ---------------------------------------------------------------------


@dataclass
class Neo4jServer:
    """A tools/neo4j-server over a given data directory (kept when it stops)."""

    process: subprocess.Popen[bytes]
    uri: str
    password: str

    def env(self) -> dict[str, str]:
        return {
            "IDGRAPH_STORE": self.uri,
            "IDGRAPH_NEO4J_USER": USER,
            "IDGRAPH_NEO4J_PASSWORD": self.password,
        }


@contextlib.contextmanager
def neo4j_server(data: Path, heap: str, pagecache: str, log: Path) -> Iterator[Neo4jServer]:
    """The development Neo4j on a free port with ``data`` as its data directory, its output
    appended to ``log``; stopped cleanly (SIGTERM) at the end, the data kept.
    Authentication on, a new password each start (the launcher sets it)."""
    if not JAR.is_file():
        raise Neo4jServerError(f"{JAR.relative_to(ROOT)} is missing: run `make neo4j-server`")
    data.mkdir(parents=True, exist_ok=True)
    uri_file = data.parent / f"{data.name}.uri"
    uri_file.unlink(missing_ok=True)
    password = secrets.token_urlsafe(18)
    java = shutil.which("java", path=f"{os.environ.get('JAVA_HOME', '')}/bin") or "java"
    command = [
        java,
        f"-Xmx{heap}",
        "-Xms64m",
        "-XX:+ExitOnOutOfMemoryError",
        "-jar",
        str(JAR),
        "--data",
        str(data),
        "--port",
        "0",
        "--auth",
        USER,
        "--uri-file",
        str(uri_file),
        "--exit-on-stdin-eof",
        "--pagecache",
        pagecache,
    ]
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "NEO4J_PASSWORD": password},
        )
    try:
        deadline = time.monotonic() + 300
        while not uri_file.is_file():
            if process.poll() is not None or time.monotonic() > deadline:
                raise Neo4jServerError(f"Neo4j did not start: see {log}")
            time.sleep(0.2)
        yield Neo4jServer(process, uri_file.read_text().strip(), password)
    finally:
        process.terminate()
        try:
            process.wait(120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        with contextlib.suppress(OSError):
            if process.stdin is not None:
                process.stdin.close()


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("IDGRAPH_")}


@dataclass
class Cache:
    """The cached store: the demo files, the SQLite file, the Neo4j data directory, and
    what building them took (``build.json``)."""

    root: Path

    @property
    def demo(self) -> Path:
        return self.root / "demo"

    @property
    def sqlite(self) -> Path:
        return self.root / "sqlite" / "store.db"

    @property
    def neo4j(self) -> Path:
        return self.root / "neo4j" / "data"

    @property
    def info_file(self) -> Path:
        return self.root / "build.json"

    def info(self) -> dict[str, Any]:
        if self.info_file.is_file():
            found: dict[str, Any] = json.loads(self.info_file.read_text())
            return found
        return {}

    def clear(self) -> None:
        """Removes what this benchmark put in the cache directory, and nothing else."""
        for name in ("demo", "sqlite", "neo4j", "run"):
            shutil.rmtree(self.root / name, ignore_errors=True)
        for name in ("build.json", "emails.json", "build.log", "build-neo4j.log", "tokens.toml"):
            (self.root / name).unlink(missing_ok=True)

    def note(self, **values: Any) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.info_file.write_text(json.dumps(self.info() | values, indent=2))


def build_sqlite(cache: Cache, people: int) -> None:
    """`idgraph demo --no-serve` into the cache's SQLite file, unless already built."""
    info = cache.info()
    built = info.get("sqlite_seconds") is not None and info.get("people") == people
    if built and cache.sqlite.is_file():
        _log(f"sqlite: reusing {cache.sqlite} (built in {info['sqlite_seconds']:.0f} s)")
        return
    cache.clear()
    cache.sqlite.parent.mkdir(parents=True)
    _log(f"sqlite: building the demo store, {people:,} people (a few minutes) ...")
    env = _clean_env() | {
        "IDGRAPH_STORE": f"sqlite:///{cache.sqlite}",
        "IDGRAPH_TOKENS_FILE": str(cache.root / "tokens.toml"),
    }
    started = time.perf_counter()
    with (cache.root / "build.log").open("ab") as out:
        subprocess.run(
            [
                IDGRAPH,
                "demo",
                "--people",
                str(people),
                "--seed",
                str(SEED),
                "--no-serve",
                "--out",
                str(cache.demo),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
        )
    seconds = time.perf_counter() - started
    cache.note(people=people, sqlite_seconds=seconds, built=time.strftime("%Y-%m-%d %H:%M"))
    _log(f"sqlite: built in {seconds:.0f} s")


def build_neo4j(cache: Cache, args: argparse.Namespace) -> None:
    """`idgraph migrate` of the cached SQLite store into a fresh Neo4j data directory."""
    info = cache.info()
    if info.get("neo4j_seconds") is not None and cache.neo4j.is_dir():
        _log(f"neo4j: reusing {cache.neo4j} (migrated in {info['neo4j_seconds']:.0f} s)")
        return
    shutil.rmtree(cache.neo4j.parent, ignore_errors=True)
    _log("neo4j: copying the SQLite store into a fresh Neo4j with `idgraph migrate` ...")
    log = cache.root / "build-neo4j.log"
    with neo4j_server(cache.neo4j, args.heap, args.pagecache, log) as server:
        started = time.perf_counter()
        with (cache.root / "build.log").open("ab") as out:
            subprocess.run(
                [IDGRAPH, "migrate", "--from", f"sqlite:///{cache.sqlite}", "--to", server.uri],
                env=_clean_env() | server.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                check=True,
            )
        seconds = time.perf_counter() - started
    cache.note(neo4j_seconds=seconds)
    _log(f"neo4j: migrated in {seconds:.0f} s")


def lookup_emails(cache: Cache) -> list[str]:
    """The CRM e-mails that find exactly one profile (the demo also holds invalid e-mails
    and junk shared by many people, which GraphQL answers with an error), cached."""
    found_file = cache.root / "emails.json"
    if found_file.is_file():
        cached: list[str] = json.loads(found_file.read_text())
        return cached
    with (cache.demo / "crm.csv").open(newline="") as fh:
        emails = list(dict.fromkeys(row["email"] for row in csv.DictReader(fh) if row["email"]))
    graph = Settings(store=f"sqlite:///{cache.sqlite}").open_graph()
    try:
        keys: dict[str, IdentifierKey] = {}
        for email in emails:
            with contextlib.suppress(IdgraphError):
                keys[email] = graph.normaliser.identifier("email", email).key
        found = graph.store.profiles.with_identifiers(list(keys.values()))
    finally:
        graph.close()
    chosen = [email for email, key in keys.items() if len(found[key]) == 1]
    found_file.write_text(json.dumps(chosen))
    return chosen


def _copy_sqlite(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        done = target.with_name(target.name + suffix)
        done.unlink(missing_ok=True)
        if (found := source.with_name(source.name + suffix)).is_file():
            shutil.copyfile(found, done)


@contextlib.contextmanager
def served_store(kind: str, cache: Cache, args: argparse.Namespace) -> Iterator[dict[str, str]]:
    """A copy of the cached store for this run (started, for Neo4j): the environment that
    points idgraph at it."""
    work = cache.root / "run" / kind
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    started = time.perf_counter()
    try:
        if kind == "sqlite":
            _copy_sqlite(cache.sqlite, work / "store.db")
            _log(f"sqlite: copied the store in {time.perf_counter() - started:.1f} s")
            yield {"IDGRAPH_STORE": f"sqlite:///{work / 'store.db'}"}
            return
        shutil.copytree(cache.neo4j, work / "data")
        _log(f"neo4j: copied the data directory in {time.perf_counter() - started:.1f} s")
        log = cache.root / "run" / "neo4j.log"
        with neo4j_server(work / "data", args.heap, args.pagecache, log) as server:
            yield server.env()
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --- the server -----------------------------------------------------------------------------


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base: str

    def workers(self) -> list[int]:
        """The pids of the processes that answer: the supervisor's children, or itself."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        pids = []
        with contextlib.suppress(OSError):
            for pid in children.read_text().split():
                command = Path(f"/proc/{pid}/cmdline").read_bytes()
                if b"resource_tracker" not in command:  # multiprocessing's, not a worker
                    pids.append(int(pid))
        return pids or [self.process.pid]

    def processes(self) -> list[int]:
        """The workers and every process they started (export processes), now."""
        found = self.workers()
        for pid in found:  # grows as children are found: a breadth-first walk
            with contextlib.suppress(OSError):
                tasks = Path(f"/proc/{pid}/task")
                for task in tasks.iterdir():
                    for child in (task / "children").read_text().split():
                        if int(child) not in found:
                            command = Path(f"/proc/{child}/cmdline").read_bytes()
                            if b"resource_tracker" not in command:
                                found.append(int(child))
        return found


@contextlib.contextmanager
def server(store_env: dict[str, str], work: Path, args: argparse.Namespace) -> Iterator[Server]:
    """``--server`` on a free port, once it answers /readyz; its log in work/serve.log."""
    port = free_port()
    template = SERVERS.get(args.server, args.server)
    command = shlex.split(
        template.format(python=sys.executable, idgraph=IDGRAPH, port=port, workers=args.workers)
    )
    env = (
        _clean_env()
        | {
            "IDGRAPH_TOKENS_FILE": str(work / "tokens.toml"),
            "IDGRAPH_DEV_TOKEN": TOKEN,
            "IDGRAPH_GRAPHQL_COST_PER_MINUTE": "0",
        }
        | store_env
        | {name: value for name, _, value in (i.partition("=") for i in args.server_env)}
    )
    log = (work / "serve.log").open("ab")
    _log(f"serving: {' '.join(command)}")
    process = subprocess.Popen(
        command, env=env, stdout=log, stderr=log, cwd=ROOT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"the server did not start: see {work / 'serve.log'}")
            time.sleep(0.3)
        yield Server(process, base)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


# --- the loads ------------------------------------------------------------------------------


def _graphql(query: str, email: str) -> dict[str, Any]:
    return {
        "method": "POST",
        "url": "/graphql",
        "json": {"query": query, "variables": {"v": email}},
    }


class Requests:
    """The requests of the workloads, drawn from the demo's e-mails and webshop accounts."""

    def __init__(self, emails: list[str], webshop: list[dict[str, Any]], seed: int) -> None:
        self.emails = emails
        self.webshop = webshop
        self.rng = random.Random(seed)
        self.stamp = time.strftime("%H%M%S")
        self.posted = 0

    def light(self) -> dict[str, Any]:
        return _graphql(LIGHT, self.rng.choice(self.emails))

    def heavy(self) -> dict[str, Any]:
        return _graphql(HEAVY, self.rng.choice(self.emails))

    def write(self) -> dict[str, Any]:
        row = self.rng.choice(self.webshop)
        self.posted += 1
        if self.posted % 2:
            record = {**row, "account_id": f"{row['account_id']}-b{self.stamp}-{self.posted}"}
        else:
            record = {**row, "marketing_opt_in": not row.get("marketing_opt_in")}
        return {
            "method": "POST",
            "url": "/v1/records",
            "params": {"source": "webshop"},
            "json": record,
        }

    def mix(self, i: int) -> dict[str, Any]:
        return self.write() if i % 10 == 9 else self.light()

    def of(self, workload: str, count: int) -> list[dict[str, Any]]:
        if workload == "mix":
            return [self.mix(i) for i in range(count)]
        make = {"light": self.light, "heavy": self.heavy, "write": self.write}[workload]
        return [make() for _ in range(count)]


@dataclass
class Step:
    """One workload at one arrival rate."""

    store: str
    workload: str
    rate: float
    samples: list[Sample]
    seconds: float
    load1: float
    note: str = ""

    def saturated(self) -> bool:
        if not self.samples:
            return True
        p50 = percentiles([s.latency for s in self.samples])["p50"] / 1000
        return self.achieved() < SATURATED * self.rate or p50 > SATURATED_P50

    def achieved(self) -> float:
        if not self.samples:
            return 0.0
        span = max(s.due + s.latency for s in self.samples) - min(s.due for s in self.samples)
        return len(self.samples) / max(span, self.seconds)


@dataclass
class Attack:
    store: str
    rate: float
    times: list[float]
    answers: Counter[str]
    quiet: list[Sample]
    during: list[Sample]
    load1: float


@dataclass
class Result:
    store: str
    steps: list[Step] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    attack: Attack | None = None
    peak_rss_kib: int = 0


def _rss(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
    return total


def _warm(base: str, headers: dict[str, str], requests: list[dict[str, Any]]) -> None:
    """A few requests one after another, so that every worker has parsed the queries and
    touched the store before a measured load."""
    with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
        for request in requests:
            client.request(
                request["method"],
                request["url"],
                params=request.get("params"),
                json=request.get("json"),
            )


def run_step(
    srv: Server,
    store: str,
    workload: str,
    rate: float,
    requests: Requests,
    args: argparse.Namespace,
) -> Step:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    total = args.warm_up + args.seconds
    batch = requests.of(workload, max(1, int(rate * total) + 1))
    _log(f"  {store} {workload} at {rate:g}/s for {args.warm_up:g} + {args.seconds:g} s ...")
    samples = OpenLoad(srv.base, batch, rate, total, headers).samples()
    measured = [s for s in samples if s.due >= args.warm_up]
    step = Step(store, workload, rate, measured, args.seconds, os.getloadavg()[0])
    if workload == "mix":
        step.note = _mix_note(measured, rate)
    _log(f"    {_row(step)}")
    time.sleep(args.pause)
    return step


def _mix_note(samples: list[Sample], rate: float) -> str:
    writes = [s for s in samples if round(s.due * rate) % 10 == 9]
    reads = [s for s in samples if round(s.due * rate) % 10 != 9]
    parts = []
    for name, found in (("reads", reads), ("writes", writes)):
        if found:
            p = percentiles([s.latency for s in found])
            parts.append(f"{name} p50 {p['p50']:.1f} / p99 {p['p99']:.1f} ms")
    return "; ".join(parts)


def run_attack(srv: Server, store: str, requests: Requests, args: argparse.Namespace) -> Attack:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    rate = args.attack_rate
    quiet_end = args.warm_up + args.seconds
    total = quiet_end + args.seconds + 2
    batch = requests.of("light", int(rate * total) + 1)
    _log(
        f"  {store} attack: light at {rate:g}/s, {args.seconds:g} s alone, then "
        f"{args.seconds:g} s with the 20,000-alias query every {args.attack_interval:g} s ..."
    )
    load = OpenLoad(srv.base, batch, rate, total, headers)
    started = time.monotonic()
    time.sleep(quiet_end)
    times: list[float] = []
    answers: Counter[str] = Counter()
    attack_start = time.monotonic() - started
    with httpx.Client(base_url=srv.base, headers=headers, timeout=600) as client:
        while time.monotonic() - started < quiet_end + args.seconds:
            sent = time.perf_counter()
            response = client.post(
                "/graphql",
                content=json.dumps({"query": ATTACK}).encode(),
                headers={"Content-Type": "application/json"},
            )
            times.append(time.perf_counter() - sent)
            try:
                body = response.json()
                code = (body.get("errors") or [{}])[0].get("extensions", {}).get("code")
                code = code or body.get("error", {}).get("code", "none")
            except ValueError:
                code = "not JSON"
            answers[f"{response.status_code} {code}"] += 1
            time.sleep(args.attack_interval)
    attack_end = time.monotonic() - started
    load1 = os.getloadavg()[0]
    # The load process counts due times from its own start, a fraction of a second after
    # `started` (its interpreter starting): the quiet window ends a second early so that
    # it holds no attack.
    samples = load.samples()
    quiet = [s for s in samples if args.warm_up <= s.due < quiet_end - 1]
    during = [s for s in samples if attack_start <= s.due < attack_end]
    attack = Attack(store, rate, times, answers, quiet, during, load1)
    _log(f"    {_attack_line(attack)}")
    time.sleep(args.pause)
    return attack


def measure(kind: str, cache: Cache, emails: list[str], args: argparse.Namespace) -> Result:
    result = Result(kind)
    webshop = [json.loads(line) for line in (cache.demo / "webshop.jsonl").read_text().splitlines()]
    requests = Requests(emails, webshop, seed=13)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    work = cache.root / "run" / f"{kind}-server"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    with served_store(kind, cache, args) as store_env, server(store_env, work, args) as srv:
        _log(f"{kind}: serving with {len(srv.workers())} worker processes at {srv.base}")
        warm = [requests.light() for _ in range(10 * args.workers)]
        warm += [requests.heavy() for _ in range(5 * args.workers)]
        if {"write", "mix"} & set(args.workloads):
            warm += [requests.write() for _ in range(4 * args.workers)]
        _warm(srv.base, headers, warm)
        for workload in args.workloads:
            if workload == "attack":
                result.attack = run_attack(srv, kind, requests, args)
                continue
            for rate in sorted(args.rates):
                step = run_step(srv, kind, workload, rate, requests, args)
                result.steps.append(step)
                if not args.no_skip and step.saturated():
                    higher = [f"{r:g}" for r in sorted(args.rates) if r > rate]
                    if higher:
                        result.skipped.append(
                            f"{workload} at {', '.join(higher)}/s (saturated at {rate:g}/s)"
                        )
                    break
        result.peak_rss_kib = _rss(srv.workers())
    return result


# --- the report -----------------------------------------------------------------------------


def _errors(samples: list[Sample]) -> str:
    kinds = Counter(s.kind or "no answer" for s in samples if s.failed)
    if not kinds:
        return "0"
    return f"{sum(kinds.values())}: " + ", ".join(f"{k} x{n}" for k, n in kinds.most_common())


def _row(step: Step) -> str:
    if not step.samples:
        return f"| {LABELS[step.store]} | {step.workload} | {step.rate:g} | no samples |"
    p = percentiles([s.latency for s in step.samples])
    return (
        f"| {LABELS[step.store]} | {step.workload} | {step.rate:g} | {step.achieved():.0f} "
        f"| {p['p50']:.1f} | {p['p95']:.1f} | {p['p99']:.1f} | {p['max']:.1f} "
        f"| {_errors(step.samples)} | {step.load1:.2f} "
        f"| {max(s.late for s in step.samples) * 1000:.0f} |"
        + (f" {step.note} |" if step.note else " |")
    )


def _attack_line(a: Attack) -> str:
    median = statistics.median(a.times) * 1000 if a.times else float("nan")
    worst = max(a.times) * 1000 if a.times else float("nan")
    return (
        f"{len(a.times)} attacks refused in median {median:.1f} ms, max {worst:.1f} ms "
        f"({', '.join(f'{k} x{n}' for k, n in a.answers.items())})"
    )


def _attack_rows(a: Attack) -> list[str]:
    rows = []
    for phase, samples in (("alone", a.quiet), ("during the attacks", a.during)):
        if not samples:
            rows.append(f"| {LABELS[a.store]} | {phase} | 0 | - | - | - | - |")
            continue
        p = percentiles([s.latency for s in samples])
        rows.append(
            f"| {LABELS[a.store]} | {phase} | {len(samples)} | {p['p50']:.1f} | {p['p99']:.1f} "
            f"| {p['max']:.1f} | {_errors(samples)} |"
        )
    return rows


def report(results: list[Result], cache: Cache, args: argparse.Namespace) -> str:
    info = cache.info()
    stores = ", ".join(LABELS[r.store] for r in results)
    build = f"SQLite built by `idgraph demo` in {info.get('sqlite_seconds', 0):.0f} s"
    if info.get("neo4j_seconds") is not None:
        build += f", copied into Neo4j by `idgraph migrate` in {info['neo4j_seconds']:.0f} s"
    server = SERVERS.get(args.server, args.server).format(
        python="python", idgraph="idgraph", port="PORT", workers=args.workers
    )
    extra = " ".join(args.server_env)
    lines = [
        *([f"**{args.label}**", ""] if args.label else []),
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} on {machine()}; stores: {stores}. "
        f"Data: demo generator, {info.get('people', PEOPLE):,} people, seed {SEED}, with "
        f"events and the demo segments ({build}, cached in {_shown(args.cache)}; each run serves "
        f"a copy). Server: `{server}` (access log on; per-token GraphQL cost budget off"
        + (f"; {extra}" if extra else "")
        + f"). Neo4j: tools/neo4j-server, heap {args.heap}, page cache {args.pagecache}, "
        f"authentication on. Open loop from a separate process; each step "
        f"{args.warm_up:g} s of warm-up (left out) then {args.seconds:g} s measured; latency "
        "counted from when each request was due. Achieved: answers over the step's span. "
        "Load: the 1-minute load average at the step's end. Client lag: how late the load "
        "generator sent its latest request (its own lag, counted in the latency).",
        "",
        "| store | workload | offered /s | achieved /s | p50 ms | p95 ms | p99 ms | max ms "
        "| failed | load 1m | client lag ms | |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---|",
        *(_row(step) for r in results for step in r.steps),
        "",
    ]
    skipped = [f"{LABELS[r.store]}: {s}" for r in results for s in r.skipped]
    if skipped:
        lines += [f"Not run: {'; '.join(skipped)}.", ""]
    attacks = [r.attack for r in results if r.attack is not None]
    if attacks:
        lines += [
            f"The 20,000-alias query (1.4 MB) sent every {args.attack_interval:g} s for "
            f"{args.seconds:g} s while light lookups arrive at {args.attack_rate:g}/s: "
            + "; ".join(f"{LABELS[a.store]}: {_attack_line(a)}" for a in attacks)
            + ". The light lookups alone and during the attacks:",
            "",
            "| store | light lookups | requests | p50 ms | p99 ms | max ms | failed |",
            "|---|---|---:|---:|---:|---:|---|",
            *(row for a in attacks for row in _attack_rows(a)),
            "",
            "Load average (1 min) after the attacks: "
            + ", ".join(f"{LABELS[a.store]} {a.load1:.2f}" for a in attacks)
            + ".",
            "",
        ]
    late = max((s.late for r in results for st in r.steps for s in st.samples), default=0.0)
    rss = ", ".join(f"{LABELS[r.store]} {r.peak_rss_kib / 1024:,.0f} MiB" for r in results)
    lines.append(
        f"Peak RSS of the server's workers, summed: {rss}. The load generator's largest lag "
        f"behind schedule: {late * 1000:.0f} ms. Reproduce: `python -m tests.benchmarks.serve "
        + " ".join(_reproduce(args))
        + "`."
    )
    return "\n".join(lines)


def _shown(path: Path) -> str:
    """``path`` relative to the checkout when it is inside it."""
    resolved = path.resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(path)


def _reproduce(args: argparse.Namespace) -> list[str]:
    parts = ["--stores", *args.stores, "--workloads", *args.workloads, "--rates"]
    parts += [f"{r:g}" for r in args.rates] + ["--seconds", f"{args.seconds:g}"]
    parts += ["--workers", str(args.workers)]
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=ROOT / "data" / "bench-serve")
    parser.add_argument("--rebuild", action="store_true", help="build the cached store anew")
    parser.add_argument("--people", type=int, default=PEOPLE)
    parser.add_argument("--stores", nargs="+", choices=STORES, default=list(STORES))
    parser.add_argument("--workloads", nargs="+", choices=WORKLOADS, default=list(WORKLOADS))
    parser.add_argument("--rates", type=float, nargs="+", default=[50.0, 100.0, 200.0, 400.0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds a step")
    parser.add_argument("--warm-up", type=float, default=3.0, help="unmeasured seconds a step")
    parser.add_argument("--pause", type=float, default=2.0, help="seconds between steps")
    parser.add_argument("--no-skip", action="store_true", help="run rates above saturation")
    parser.add_argument("--attack-rate", type=float, default=100.0)
    parser.add_argument("--attack-interval", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--server",
        default="idgraph",
        help="uvicorn, idgraph, or a command with {python} {idgraph} {port} {workers}",
    )
    parser.add_argument("--server-env", nargs="*", default=[], metavar="NAME=VALUE")
    parser.add_argument("--heap", default="1g", help="Neo4j's JVM heap cap")
    parser.add_argument("--pagecache", default="512m", help="Neo4j's page cache")
    parser.add_argument("--label", default="", help="a line above the table")
    parser.add_argument("--no-write", action="store_true", help="print, do not edit the doc")
    args = parser.parse_args()

    cache = Cache(args.cache.resolve())
    if args.rebuild:
        cache.clear()
    build_sqlite(cache, args.people)
    if "neo4j" in args.stores:
        build_neo4j(cache, args)
    emails = lookup_emails(cache)
    _log(f"{len(emails):,} e-mails find one profile; load average {load_average()}")
    results = [measure(kind, cache, emails, args) for kind in args.stores]
    text = report(results, cache, args)
    print(text)
    if not args.no_write:
        write_section("serve", text, "Serving at production load (issue 13)")


if __name__ == "__main__":
    main()
