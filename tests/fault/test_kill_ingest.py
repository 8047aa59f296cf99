"""`idgraph ingest` killed with SIGKILL at seeded points, then run again to completion.

The data: the demo generator's CRM (CSV) and web shop (JSON Lines) files for a small
population, each split into files of a few rows, so that one `idgraph ingest` command
(one per source, as an operator runs them) commits many batches: each file it is given is
one transaction. Each trial kills one of the commands at a point drawn from a seeded
random generator, of one of four kinds (the first three in turn by default, all four with
``IDGRAPH_FAULT_KILLS`` above 3):

- ``records``: once the store holds a drawn number of this command's records (a batch just
  committed), plus a few milliseconds (into the next batch);
- ``wal``: once the store's write-ahead log first changes (in a fresh store: created as
  the store opens, before its migrations; else the mapping's registration), plus a few
  milliseconds;
- ``written``: a drawn number of milliseconds after that first change, anywhere in the
  command's writing;
- ``start``: a drawn number of milliseconds after the process started (mostly start-up,
  before anything is written).

The commands before the one killed have run to completion: the store they leave is made
once, by the same command run in this process, and copied (a process start saved per
trial). Right after the kill the store must hold whole batches only (its records are
exactly those of the files before some point), be consistent
(tests.fault.common.check_integrity), and group its records (with the same golden
records) as a clean load of exactly those files does. Then the killed command runs again
in a new process, as an operator would, and the commands after it in this process; the
store must end as a clean single load into a fresh store ends: the same partition of
records into profiles and the same golden records.
"""

from __future__ import annotations

import csv
import json
import random
import sqlite3
import subprocess
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest

from identity.demo.generator import generate
from identity.mapping import load_mapping
from tests.fault.common import (
    IDGRAPH,
    KILLS,
    LOCKED,
    ROOT,
    SEED,
    Golden,
    Partition,
    Ref,
    check_integrity,
    child_env,
    clean_load,
    golden,
    in_write,
    kill_group,
    partition,
    record_count,
    split_file,
    stored_refs,
)

pytestmark = pytest.mark.fault

PEOPLE = 120
ROWS_PER_FILE = 8
SOURCES = ("crm", "webshop")
KINDS = ("records", "wal", "written", "start")


@dataclass(frozen=True)
class Command:
    """One `idgraph ingest FILES --mapping MAPPING`, and the refs each of its files holds."""

    source: str
    mapping: Path
    files: list[Path]
    refs: list[set[Ref]]

    def args(self) -> list[str]:
        return [IDGRAPH, "ingest", *map(str, self.files), "--mapping", str(self.mapping)]


@dataclass(frozen=True)
class Demo:
    commands: list[Command]
    prefixes: list[Path]
    """A store as the commands before the one of its index leave it (the first: none)."""
    partition: Partition
    golden: Golden
    records: int


def _refs(path: Path, source: str, key: str) -> set[Ref]:
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as fh:
            return {(source, row[key]) for row in csv.DictReader(fh)}
    return {(source, json.loads(line)[key]) for line in path.read_text("utf-8").splitlines()}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """The split files, and what a clean load of all of them into a fresh store gives."""
    root = tmp_path_factory.mktemp("demo")
    files = generate(root / "data", people=PEOPLE, seed=SEED)
    commands = []
    for source in SOURCES:
        mapping = files.mappings_dir / f"{source}.toml"
        key = load_mapping(mapping).key
        parts = split_file(files.files[source], ROWS_PER_FILE, root / "parts")
        commands.append(Command(source, mapping, parts, [_refs(p, source, key) for p in parts]))
    prefixes = []
    for n in range(len(commands)):
        prefixes.append(root / f"prefix-{n}.db")
        clean_load(prefixes[-1], [(c.mapping, c.files) for c in commands[:n]])
    db = root / "clean.db"
    clean_load(db, [(c.mapping, c.files) for c in commands])
    records = check_integrity(db)
    assert records == sum(len(r) for c in commands for r in c.refs)
    return Demo(commands, prefixes, partition(db), golden(db), records)


@dataclass(frozen=True)
class KillPoint:
    trial: int
    kind: str
    command: int
    value: float
    """Records of the command (records), milliseconds after the first write (written) or
    the process start (start); unused (wal)."""
    delay_ms: float

    def __str__(self) -> str:
        at = {
            "records": f"{self.value:.0f} of its records stored",
            "wal": "its first WAL change",
            "written": f"{self.value:.0f} ms after its first WAL change",
            "start": f"{self.value:.0f} ms after its start",
        }[self.kind]
        return f"trial {self.trial}: kill command {self.command} at {at} + {self.delay_ms:.1f} ms"


def kill_point(trial: int, demo: Demo) -> KillPoint:
    rng = random.Random(f"{SEED}:ingest:{trial}")
    kind = KINDS[trial % (len(KINDS) - 1 if KILLS <= 3 else len(KINDS))]
    command = rng.randrange(len(demo.commands))
    rows = sum(len(r) for r in demo.commands[command].refs)
    if kind == "records":
        return KillPoint(trial, kind, command, rng.randint(1, rows - 1), rng.uniform(0, 20))
    if kind == "wal":
        return KillPoint(trial, kind, command, 0, rng.uniform(0, 60))
    if kind == "written":
        return KillPoint(trial, kind, command, rng.uniform(0, 400), 0.0)
    return KillPoint(trial, kind, command, rng.uniform(0, 2500), 0.0)


def _wal_state(db: Path) -> tuple[int, int] | None:
    wal = db.with_name(db.name + "-wal")
    try:
        stat = wal.stat()
    except FileNotFoundError:
        return None
    return stat.st_size, stat.st_mtime_ns


def _run_and_kill(
    command: Command, point: KillPoint, db: Path, env: dict[str, str], log: Path
) -> tuple[bool, bool, float]:
    """Start ``command``, SIGKILL it at ``point``; (killed, whether it held the writers lock
    then, seconds after start). A command that ends before its kill point is not killed."""
    before = record_count(db)
    wal = _wal_state(db)
    with log.open("wb") as out:
        process = subprocess.Popen(
            command.args(), cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True
        )
    started = time.monotonic()
    written: float | None = None  # when the WAL first changed
    try:
        while process.poll() is None:
            now = time.monotonic()
            assert now - started < 120, "the ingest neither ended nor reached its kill point"
            if written is None and _wal_state(db) != wal:
                written = now
            if point.kind == "start":
                hit = (now - started) * 1000 >= point.value
            elif point.kind == "records":
                hit = record_count(db) - before >= point.value
            elif point.kind == "wal":
                hit = written is not None
            else:
                hit = written is not None and (now - written) * 1000 >= point.value
            if hit:
                time.sleep(point.delay_ms / 1000)
                writing = in_write(db)
                kill_group(process)
                return process.returncode == -9, writing, time.monotonic() - started
            time.sleep(0.001)
        return False, False, time.monotonic() - started
    finally:
        if process.poll() is None:
            kill_group(process)


def _run(command: Command, env: dict[str, str], log: Path) -> None:
    done = subprocess.run(
        command.args(), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    log.write_text(done.stdout + done.stderr)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and LOCKED not in (done.stdout + done.stderr).lower()


@pytest.mark.parametrize("trial", range(KILLS))
def test_an_ingest_killed_and_run_again_ends_as_a_clean_load(
    trial: int, demo: Demo, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    point = kill_point(trial, demo)
    db = tmp_path / "killed.db"
    env = child_env(tmp_path, db)
    commands = demo.commands
    # The commands before the one killed ran to completion: the store they leave (made by
    # the same command in this process, which spares the tests a process start each).
    if point.command:
        prefix = demo.prefixes[point.command]
        with closing(sqlite3.connect(prefix)) as source, closing(sqlite3.connect(db)) as copy:
            source.backup(copy)

    target = commands[point.command]
    killed, writing, seconds = _run_and_kill(target, point, db, env, tmp_path / "killed.log")
    present = stored_refs(db) if record_count(db) else set()
    earlier = set().union(*(r for c in commands[: point.command] for r in c.refs))
    # Whole batches only: the records are those of the target's first `stored` files.
    prefixes = [earlier.union(*target.refs[:k]) for k in range(len(target.refs) + 1)]
    assert present in prefixes, f"{point}: a batch was stored in part"
    stored = prefixes.index(present)
    outcome = (
        f"{point} -> {'killed' if killed else 'ended first'} after {seconds:.2f} s"
        f"{' inside a write transaction' if writing else ''}, "
        f"{stored} of its {len(target.files)} files stored ({len(present)} records)"
    )
    print(outcome)
    record_property("kill_point", outcome)
    if present:
        check_integrity(db)
        reference = tmp_path / "reference.db"
        clean_load(
            reference,
            [(c.mapping, c.files) for c in commands[: point.command]]
            + [(target.mapping, target.files[:stored])],
        )
        assert partition(db) == partition(reference), outcome
        assert golden(db) == golden(reference), outcome

    # Run again as the operator would, then the commands after it (in this process).
    _run(target, env, tmp_path / "again.log")
    clean_load(db, [(c.mapping, c.files) for c in commands[point.command + 1 :]])
    assert check_integrity(db) == demo.records
    assert partition(db) == demo.partition, outcome
    assert golden(db) == demo.golden, outcome
