"""Benchmark: what a rule change costs on a stored graph: `idgraph rules diff` (the dry
run), `idgraph rules apply` and `idgraph rules undo` (identity/rule_changes, docs/rules.md).

Run with `.venv/bin/python -m tests.benchmarks.rule_changes --records 100000 --runs 3`
(`--store sqlite`, `neo4j` or `both`, the default; `make bench` runs it).

1. The demo generator (seed 7) writes people until its five sources hold about
   ``--records`` records. The real CLI builds one embedded store, as scale.py does:
   `idgraph sources add`, `idgraph ingest --bulk` of the five sources (resolved once, at
   the last), `idgraph train`, `idgraph link`: deterministic and probabilistic links, as
   `idgraph demo` makes them. Neo4j gets a copy of that store by `idgraph migrate` into a
   fresh tools/neo4j-server, so both stores start from the same graph.
2. Rule changes an operator makes, each a copy of the packaged rules with one edit: an
   e-mail address added to the blocklist (of those that link today, the most shared one
   whose records are of more than one person by the generator's truth: what a steward
   would find joining strangers); the phone's cardinality cap 6 -> 3; the matcher's link
   threshold 0.95 -> 0.99; the phone's max_per_profile 4 -> 2 (a kind's linking setting:
   every holder of the kind is re-resolved); a survivorship change (most recent value
   first: every golden record recomputed).
3. Per run and per change: `diff`, then `apply`, then `undo`, each through the domain API
   (`RuleChanges`, as the CLI calls it) in its own Python process, so that its peak
   memory is its own; the time is of the call alone (the process's start, imports and
   opening the store are left out), CPU is the process's user + system time over the
   call (for Neo4j the client's only: the server's JVM is not counted), peak memory its
   resident high-water mark right after the call. SQLite: each run starts from a copy of
   the built store. Neo4j: one store, and the undo after each apply restores it; each
   undo is checked to give back the partition of records into profiles it started from.
4. The diff's figures must equal the apply's (``RebaseReport.counts()`` and the records
   moved in the largest changes): it is the dry run's promise, and the run stops if not.
5. Once, on SQLite, the same diff and apply through the CLI (`idgraph rules diff` and
   `apply`, each its own process, timed whole), to show what the command line adds.

The table is written into docs/benchmarks.md between the markers.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.benchmarks.common import IDGRAPH, ROOT, machine, run_measured, write_section

RECORDS_PER_PERSON = 3.42
"""Records the generator writes per person (102,521 for 30,000 people, seed 7)."""
SOURCES = ("crm", "webshop", "pos", "support", "marketing")
OPS = ("diff", "apply", "undo")
REASON = "rule change benchmark"
HEADING = "Rule changes: diff and apply at 100,000 records"
CLI_CHANGE = "phone cap"
"""The change also run through the CLI."""


def _log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# -- the rule changes -------------------------------------------------------------------------


def _edit(text: str, section: str, pattern: str, replacement: str) -> str:
    """``text`` with ``pattern`` replaced once inside the TOML table ``[section]`` (up to
    the next table header); fails if it is not found exactly once there."""
    header = re.search(rf"^\[{re.escape(section)}\]\s*$", text, re.MULTILINE)
    if header is None:
        raise SystemExit(f"the packaged rules have no [{section}]")
    start = header.end()
    following = re.search(r"^\[", text[start:], re.MULTILINE)
    end = start + following.start() if following else len(text)
    body, found = re.subn(pattern, replacement, text[start:end], flags=re.MULTILINE)
    if found != 1:
        raise SystemExit(f"[{section}]: {pattern!r} found {found} times, not once")
    return text[:start] + body + text[end:]


def changes(base: str, email: tuple[str, int, int]) -> dict[str, tuple[str, str]]:
    """Name -> (what it changes, the new rules text); ``email``: the value to blocklist,
    its records and people."""
    value, records, people = email
    return {
        "blocklist": (
            f"an e-mail address of {records} records of {people} people (the most shared "
            "that links records of more than one person) added to the blocklist",
            _edit(base, "blocklist", r"^email = \[\n", f'email = [\n    "{value}",\n'),
        ),
        "phone cap": (
            "`kinds.phone.cardinality_cap` 6 -> 3",
            _edit(base, "kinds.phone", r"^cardinality_cap = 6$", "cardinality_cap = 3"),
        ),
        "link threshold": (
            "`matching.link_threshold` 0.95 -> 0.99",
            _edit(base, "matching", r"^link_threshold = 0\.95$", "link_threshold = 0.99"),
        ),
        "max_per_profile": (
            "`kinds.phone.max_per_profile` 4 -> 2",
            _edit(base, "kinds.phone", r"^max_per_profile = 4$", "max_per_profile = 2"),
        ),
        "survivorship": (
            "`survivorship.default`: most_recent first",
            _edit(
                base,
                "survivorship",
                r"^default = \[.*\]$",
                'default = ["most_recent", "source_priority", "most_frequent"]',
            ),
        ),
    }


# -- the measured call, in its own process ----------------------------------------------------


def _partition_digest(graph: Any) -> str:
    """The partition of records into profiles, ids aside: SHA-256 of its sorted groups."""
    groups: dict[object, list[tuple[str, str]]] = {}
    for ref, pid in graph.store.records.scan_profiles():
        groups.setdefault(pid if pid is not None else ref, []).append((ref.source, ref.key))
    text = json.dumps(sorted(sorted(g) for g in groups.values()))
    return hashlib.sha256(text.encode()).hexdigest()


def child(op: str, rules_file: str, out: str) -> None:
    """One measured call (``diff``, ``apply``, ``undo``; ``partition`` only reads) against
    the store the environment names, as the CLI opens it; its figures as JSON in ``out``."""
    from identity.rule_changes.active import current_rules
    from identity.rule_changes.rebase import RuleChanges
    from identity.rule_changes.report import report_document
    from service.config import Settings

    graph = Settings().open_graph()
    try:
        if op == "partition":
            Path(out).write_text(json.dumps({"partition": _partition_digest(graph)}))
            return
        changes = RuleChanges(graph, current_rules(graph.store, None)[1])
        said: list[str] = []
        phases: list[tuple[str, float, float]] = []
        text = Path(rules_file).read_text() if op != "undo" else ""
        cpu, started = time.process_time(), time.perf_counter()

        def progress(step: str) -> None:
            # Each step with the wall and CPU seconds since the call started.
            said.append(step)
            phases.append((step, time.perf_counter() - started, time.process_time() - cpu))

        if op == "diff":
            report = changes.diff(text, rules_file, progress=progress)
        elif op == "apply":
            report = changes.apply(text, "bench", REASON, rules_file, progress=progress)
        else:
            report = changes.undo("bench", REASON, progress=progress)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        resolved = next((s for s in said if s.startswith("re-resolving")), "")
        figures = {
            "seconds": seconds,
            "cpu": cpu,
            "peak_kib": peak,
            "re_resolving": resolved.removeprefix("re-resolving "),
            "counts": report.counts(),
            "moved": _moved(report_document(report)),
        }
        if op == "undo":
            figures["partition"] = _partition_digest(graph)
        Path(out).write_text(json.dumps(figures))
        # Every call's steps, kept for reading where the time goes.
        with (Path(out).parent / "calls.jsonl").open("a") as kept:
            step = {"op": op, "rules": rules_file, "seconds": seconds, "cpu": cpu}
            kept.write(json.dumps(step | {"phases": phases}) + "\n")
    finally:
        graph.close()


def _moved(document: dict[str, Any]) -> list[list[list[str]]]:
    """The largest changes' records as they end up grouped, ids aside (what a diff and its
    apply must agree on beyond the counts)."""
    return sorted(
        sorted(sorted([m["source"], m["key"]] for m in after["moved"]) for after in c["after"])
        for c in document["largest"]
    )


# -- the parent: build, run, compare ----------------------------------------------------------


@dataclass
class Measure:
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    peak_kib: list[int] = field(default_factory=list)
    load: list[float] = field(default_factory=list)
    """The 1-minute load average when each run's call started."""


@dataclass
class ChangeResult:
    name: str
    what: str
    ops: dict[str, Measure] = field(default_factory=lambda: {op: Measure() for op in OPS})
    counts: dict[str, Any] = field(default_factory=dict)
    re_resolving: str = ""
    diff_equals_apply: int = 0
    """Runs in which the diff's figures equalled the apply's (all of them, or the run stops)."""
    undo_restored: int = 0
    failure: str = ""


@dataclass
class StoreResult:
    store: str
    changes: dict[str, ChangeResult] = field(default_factory=dict)
    build: str = ""
    cli: dict[str, tuple[float, float, int, float, float, float]] = field(default_factory=dict)
    """CLI op -> (seconds, CPU seconds, peak KiB, load, and the API call's median seconds
    and CPU seconds for the same change)."""
    failure: str = ""


def _call(op: str, rules: Path | None, env: dict[str, str], work: Path) -> dict[str, Any]:
    out = work / f"{op}.json"
    out.unlink(missing_ok=True)
    command = [sys.executable, "-m", "tests.benchmarks.rule_changes", "child", op]
    command += [str(rules or ""), str(out)]
    log = work / "calls.log"
    with log.open("ab") as sink:
        done = subprocess.run(command, env=env, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        lines = log.read_text(errors="replace").strip().splitlines() or ["(no output)"]
        raise RuntimeError(f"{op} failed: {lines[-1].strip()} (whole output: {log})")
    figures: dict[str, Any] = json.loads(out.read_text())
    return figures


def _env(store_env: dict[str, str], work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDGRAPH_")}
    return env | store_env | {"IDGRAPH_TOKENS_FILE": str(work / "tokens.toml")}


def build(records: int, seed: int, work: Path) -> tuple[Path, int, str]:
    """The linked embedded store of about ``records`` demo records (reused from ``work``
    when an earlier run of this script built it); its path, records and how it was built."""
    base = work / "base.db"
    done = work / "built.json"
    if done.is_file() and base.is_file():
        said = json.loads(done.read_text())
        _log(f"reusing the store built earlier in {work}")
        return base, int(said["records"]), str(said["how"])
    from identity.demo.generator import generate

    people = math.ceil(records / RECORDS_PER_PERSON)
    _log(f"generating {people:,} people ...")
    files = generate(work / "demo", people=people, seed=seed)
    total = sum(files.records.values())
    env = _env({"IDGRAPH_STORE": f"sqlite:///{base}"}, work)
    log = work / "build.log"
    mappings = sorted(map(str, files.mappings_dir.glob("*.toml")))
    run_measured([IDGRAPH, "sources", "add", *mappings], env, log)
    steps: list[str] = []
    started = time.perf_counter()
    for number, source in enumerate(SOURCES, start=1):
        defer = ["--defer-resolution"] if number < len(SOURCES) else []
        command = [IDGRAPH, "ingest", str(files.files[source]), "--source", source, "--bulk"]
        run_measured([*command, *defer], env, log)
    steps.append(f"ingest {time.perf_counter() - started:.0f} s")
    _log(f"  ingested {total:,} records ({steps[-1]})")
    for step in ("train", "link"):
        run = run_measured([IDGRAPH, step], env, log)
        steps.append(f"{step} {run.seconds:.0f} s")
        _log(f"  {steps[-1]}")
    how = (
        f"demo generator, {people:,} people, seed {seed}: {total:,} records; "
        f"`idgraph ingest --bulk`, `train`, `link` ({', '.join(steps)})"
    )
    shutil.copy(files.truth, work / "truth.csv")
    done.write_text(json.dumps({"records": total, "how": how}))
    return base, total, how


def shared_email(base: Path, truth: Path) -> tuple[str, int, int]:
    """The e-mail address an operator would blocklist: of those that link today, the most
    shared one whose records are of more than one person (the generator's truth), the
    most shared one if none is; with its records and people."""
    from identity.evaluation import load_assignment
    from identity.graph import IdentityGraph

    people = load_assignment(truth)
    graph = IdentityGraph.open(f"sqlite:///{base}")
    try:
        rules, records = graph.rules, graph.store.records
        shared = records.identifiers_shared("email", 1)
        linking = sorted(
            ((n, k) for k, n in shared.items() if rules.link_block_reason(k, n) is None),
            key=lambda x: (-x[0], x[1].value),
        )[:500]
        holders = records.with_identifiers([k for _, k in linking])
        refs = records.refs(sorted({r for ids in holders.values() for r in ids}))
    finally:
        graph.close()

    def persons(key: Any) -> int:
        return len({people.get((refs[r].source, refs[r].key)) for r in holders[key]})

    count, key = next(((n, k) for n, k in linking if persons(k) > 1), linking[0])
    _log(f"blocklisting {key.value!r}: {count} records of {persons(key)} people")
    return key.value, count, persons(key)


@contextlib.contextmanager
def _neo4j(args: argparse.Namespace) -> Iterator[tuple[dict[str, str], str]]:
    from tests.store.neo4j_server import LocalNeo4j

    _log(f"starting Neo4j (heap {args.heap}, page cache {args.pagecache}) ...")
    server = LocalNeo4j.start(heap=args.heap, pagecache=args.pagecache)
    try:
        yield (
            {
                "IDGRAPH_STORE": server.uri,
                "IDGRAPH_NEO4J_USER": server.user,
                "IDGRAPH_NEO4J_PASSWORD": server.password,
            },
            str(server.home / "server.log"),
        )
    finally:
        server.stop()


def _check(result: ChangeResult, diff: dict[str, Any], apply: dict[str, Any]) -> None:
    if diff["counts"] != apply["counts"] or diff["moved"] != apply["moved"]:
        raise SystemExit(
            f"{result.name}: the diff and the apply disagree\n"
            f"  diff:  {json.dumps(diff['counts'], sort_keys=True)}\n"
            f"  apply: {json.dumps(apply['counts'], sort_keys=True)}\n"
            f"  largest changes' records equal: {diff['moved'] == apply['moved']}"
        )
    result.diff_equals_apply += 1


def run_store(
    kind: str,
    base: Path,
    rule_files: dict[str, tuple[str, Path]],
    args: argparse.Namespace,
    work: Path,
    how: str,
    ran: Callable[[StoreResult], None],
) -> StoreResult:
    """Every run of every change on one store; ``ran`` is called after each run (a run
    stopped later still leaves its figures)."""
    result = StoreResult(kind, build=how)
    work = work / kind  # the store's calls write their figures here
    work.mkdir(exist_ok=True)
    for name, (what, _) in rule_files.items():
        result.changes[name] = ChangeResult(name, what)
    with contextlib.ExitStack() as stack:
        if kind == "sqlite":
            store = work / "run.db"
            env = _env({"IDGRAPH_STORE": f"sqlite:///{store}"}, work)
        else:
            neo_env, server_log = stack.enter_context(_neo4j(args))
            env = _env(neo_env, work)
            started = time.perf_counter()
            run = run_measured(
                [
                    IDGRAPH,
                    "migrate",
                    "--from",
                    f"sqlite:///{base}",
                    "--to",
                    neo_env["IDGRAPH_STORE"],
                ],
                env,
                work / "migrate.log",
            )
            result.build = f"{how}; copied into Neo4j by `idgraph migrate` ({run.seconds:.0f} s)"
            _log(f"  migrated into Neo4j in {time.perf_counter() - started:.0f} s")
        start_partition = ""
        for number in range(1, args.runs + 1):
            for name, (_, rules) in rule_files.items():
                change = result.changes[name]
                if change.failure:
                    continue
                if kind == "sqlite":
                    shutil.copy(base, store)
                if not start_partition:
                    start_partition = _call("partition", None, env, work)["partition"]
                try:
                    figures = {}
                    for op in OPS:
                        load = os.getloadavg()[0]
                        figures[op] = _call(op, rules if op != "undo" else None, env, work)
                        m = change.ops[op]
                        m.seconds.append(figures[op]["seconds"])
                        m.cpu.append(figures[op]["cpu"])
                        m.peak_kib.append(figures[op]["peak_kib"])
                        m.load.append(load)
                        if op == "apply":
                            change.re_resolving = figures[op]["re_resolving"]
                except RuntimeError as error:
                    change.failure = str(error)
                    _log(f"  {kind} {name}: {error}")
                    if kind == "neo4j":
                        change.failure += f" (server log: {server_log})"
                        # A failed apply leaves the store as it was; a failed undo does
                        # not: the next change would not start from the same graph.
                        if figures.get("apply") is not None:
                            result.failure = f"undo of {name} failed: later runs skipped"
                            return result
                    continue
                _check(change, figures["diff"], figures["apply"])
                change.counts = figures["apply"]["counts"]
                if figures["undo"]["partition"] == start_partition:
                    change.undo_restored += 1
                elif kind == "neo4j":
                    result.failure = f"undo of {name} did not restore the partition"
                    return result
                _log(
                    f"  {kind} run {number} {name}: "
                    + ", ".join(f"{op} {figures[op]['seconds']:.1f} s" for op in OPS)
                    + f"; {change.counts['records_moved']:,} records moved"
                )
            ran(result)
        if kind == "sqlite" and CLI_CHANGE in rule_files:
            result.cli = _cli(rule_files[CLI_CHANGE][1], base, store, env, work, result)
    return result


def _cli(
    rules: Path, base: Path, store: Path, env: dict[str, str], work: Path, result: StoreResult
) -> dict[str, tuple[float, float, int, float, float, float]]:
    """`idgraph rules diff` and `apply` of one change, each a whole process, on a fresh copy."""
    shutil.copy(base, store)
    found: dict[str, tuple[float, float, int, float, float, float]] = {}
    api = result.changes[CLI_CHANGE].ops
    for op, extra in (("diff", []), ("apply", ["--reason", REASON])):
        log = work / f"cli-{op}.log"
        log.unlink(missing_ok=True)
        load = os.getloadavg()[0]
        run = run_measured([IDGRAPH, "rules", op, str(rules), "--json", *extra], env, log)
        document = _report_json(log.read_text())
        if document["records_moved"] != result.changes[CLI_CHANGE].counts["records_moved"]:
            raise SystemExit(f"the CLI's {op} moved other records than the API's")
        seconds, cpu = statistics.median(api[op].seconds), statistics.median(api[op].cpu)
        found[op] = (run.seconds, run.cpu_seconds, run.peak_rss_kib, load, seconds, cpu)
        _log(f"  CLI rules {op}: {run.seconds:.1f} s, CPU {run.cpu_seconds:.1f} s (whole process)")
    return found


def _report_json(text: str) -> dict[str, Any]:
    """The report the CLI printed with --json (log lines may come before it)."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"^\{", text, re.MULTILINE):
        with contextlib.suppress(ValueError):
            found, _ = decoder.raw_decode(text, match.start())
            if isinstance(found, dict) and "records_moved" in found:
                return found
    raise SystemExit(f"no JSON report in the CLI's output:\n{text[-2000:]}")


# -- the table --------------------------------------------------------------------------------


def _runs(m: Measure) -> str:
    if not m.seconds:
        return "-"
    each = ", ".join(f"{s:.1f} @ {load:.2f}" for s, load in zip(m.seconds, m.load, strict=True))
    return f"**{statistics.median(m.seconds):.1f} s** ({each})"


def _mib(kib: float) -> str:
    return f"{kib / 1024:,.0f}"


def table(result: StoreResult, records: int, args: argparse.Namespace) -> str:
    """One store's results: what the doc's section holds between its markers."""
    done = max(len(c.ops["diff"].seconds) for c in result.changes.values())
    command = (
        f"`.venv/bin/python -m tests.benchmarks.rule_changes --records {args.records} "
        f"--runs {args.runs} --store {result.store}`"
    )
    label = "embedded (SQLite)" if result.store == "sqlite" else "Neo4j 5.26 Community"
    if result.store == "neo4j":
        label += f" (tools/neo4j-server, heap {args.heap}, page cache {args.pagecache})"
    lines = [
        f"**{label}**: measured {time.strftime('%Y-%m-%d %H:%M')} UTC on {machine()}; "
        f"{records:,} records; {done} of {args.runs} runs, median. Reproduce: {command}.",
        "",
        f"Store: {result.build}.",
        "",
    ]
    lines += [
        "| change | re-resolved | records moved | profiles merged / split / stayed "
        "| diff | apply | undo | CPU, median (diff / apply / undo) | peak MiB "
        "| diff == apply, undo restores |",
        "|---|---|---:|---|---|---|---|---|---|---|",
    ]
    for change in result.changes.values():
        c = change.counts
        if change.failure and not c:
            lines.append(f"| {change.what} | failed: {change.failure} | | | | | | | | |")
            continue
        cpu = " / ".join(f"{statistics.median(change.ops[op].cpu):.1f} s" for op in OPS)
        peak = " / ".join(_mib(max(change.ops[op].peak_kib)) for op in OPS)
        runs = len(change.ops["apply"].seconds)
        recomputed = (
            f"; {c['read_model_rows']:,} golden records recomputed"
            if c.get("read_model_rows")
            else ""
        )
        lines.append(
            f"| {change.what} | {change.re_resolving or '-'}{recomputed} "
            f"| {c['records_moved']:,} "
            f"| {c['merged']:,} / {c['split']:,} / {c['stayed']:,} "
            f"({c['profiles_before']:,} -> {c['profiles_after']:,} profiles) "
            f"| {_runs(change.ops['diff'])} | {_runs(change.ops['apply'])} "
            f"| {_runs(change.ops['undo'])} | {cpu} | {peak} "
            f"| {change.diff_equals_apply}/{runs}, {change.undo_restored}/{runs} |"
        )
    if result.failure:
        lines += ["", f"Stopped: {result.failure}."]
    failed = [c for c in result.changes.values() if c.failure and c.counts]
    for change in failed:
        lines += ["", f"{change.what}: a later run failed: {change.failure}"]
    if result.cli:
        lines += [
            "",
            f"Through the CLI (`idgraph rules ... --json`, the {CLI_CHANGE} change, once, on a "
            "fresh copy; the whole process: start, imports, opening the store, the call, "
            "printing), against the API call's medians above (the call alone). CPU is the "
            "figure to compare: the wall times move with the machine's load.",
        ]
        for op, (seconds, cpu, peak, load, api, api_cpu) in result.cli.items():
            lines.append(
                f"- `idgraph rules {op}`: {seconds:.1f} s @ {load:.2f}, CPU {cpu:.1f} s, peak "
                f"{_mib(peak)} MiB; the API call: {api:.1f} s, CPU {api_cpu:.1f} s."
            )
    return "\n".join(lines).rstrip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--store", choices=("sqlite", "neo4j", "both"), default="both")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--heap", default="1g", help="Neo4j's JVM heap")
    parser.add_argument("--pagecache", default="512m", help="Neo4j's page cache")
    parser.add_argument(
        "--work", type=Path, help="keep the built store here and reuse it (default: temporary)"
    )
    parser.add_argument("--no-write", action="store_true", help="print, do not edit the doc")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        if args.work is not None:
            work = args.work
            work.mkdir(parents=True, exist_ok=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="idgraph-rules-")))
        base, records, how = build(args.records, args.seed, work)
        from identity.rules import rules_text

        rule_files: dict[str, tuple[str, Path]] = {}
        email = shared_email(base, work / "truth.csv")
        for name, (what, text) in changes(rules_text(), email).items():
            path = work / f"rules-{name.replace(' ', '-')}.toml"
            path.write_text(text)
            rule_files[name] = (what, path)
        stores = ("sqlite", "neo4j") if args.store == "both" else (args.store,)

        def ran(result: StoreResult) -> None:
            if not args.no_write:
                text = table(result, records, args)
                write_section(f"rule-changes-{result.store}", text, HEADING)

        for kind in stores:
            _log(f"{kind}: {args.runs} runs of {len(rule_files)} changes ...")
            result = run_store(kind, base, rule_files, args, work, how, ran)
            ran(result)
            print(table(result, records, args))


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        child(*sys.argv[2:5])
    else:
        main()
