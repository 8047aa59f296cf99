"""Concurrent writers on one SQLite store file: an `idgraph serve --workers 2` taking
`POST /v1/records` from four client threads while two `idgraph ingest` processes load
other sources into the same file.

The data is the demo generator's, for a small population: the CRM and web shop files go
through the two CLI processes (each file split into files of a few rows, so each commits
many batches), the point-of-sale (CSV) and support desk (JSON Lines) rows are posted over
HTTP a few rows per request, as CSV and NDJSON bodies. The sources share people, so the
writers' records join and merge one another's profiles. The client threads start once a
CLI process has stored its first record, so the writers overlap. Part way (once a seeded
number of its records is stored) the web shop's CLI process is killed with SIGKILL, maybe
holding the write lock, and run again, the other writers writing on: the lock dies with it.

The server's processes wait at most BUSY_MS (5 ms; ``IDGRAPH_FAULT_BUSY_MS``) for the write
lock, so that some requests are refused with 503 STORE_BUSY: each is sent again after its
Retry-After, as a client should. The CLI processes wait the default 5 s; one refused with
"the store is busy" all the same is run again, as an operator would (the batches it stored
stay, and come back unchanged). Nothing may say "database is
locked" (responses, CLI output, server log); every acknowledged record must be stored, and
the store must end as a clean serial load of the same files ends (the same partition into
profiles, the same golden records): the result does not depend on the writers' order.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, suppress
from pathlib import Path

import httpx
import pytest

from identity.demo.generator import generate
from identity.mapping import load_mapping
from tests.fault.common import (
    AUTH,
    IDGRAPH,
    LOCKED,
    ROOT,
    SEED,
    Server,
    check_integrity,
    child_env,
    clean_load,
    golden,
    in_write,
    kill_group,
    partition,
    post_until_stored,
    rows_in,
    split_file,
    stored_refs,
)

pytestmark = pytest.mark.fault

PEOPLE = 150
CLI_SOURCES = ("crm", "webshop")
KILLED = "webshop"
"""The CLI source whose ingest is killed (SIGKILL) part way and run again."""
HTTP_SOURCES = {"pos": "text/csv", "support": "application/x-ndjson"}
WRITERS = 4
ROWS_PER_FILE = 1
BUSY_MS = os.environ.get("IDGRAPH_FAULT_BUSY_MS", "5")
CLI_RUNS = 10


def _bodies(path: Path, rng: random.Random) -> list[tuple[bytes, int]]:
    """The file's rows as request bodies of one to three rows (a CSV body with the
    header), with the number of rows each holds."""
    lines = path.read_text("utf-8").splitlines(keepends=True)
    header = [lines.pop(0)] if path.suffix == ".csv" else []
    bodies = []
    while lines:
        n = rng.randint(1, 3)
        take, lines = lines[:n], lines[n:]
        bodies.append(("".join(header + take).encode(), len(take)))
    return bodies


def _overlap(db: Path) -> tuple[dict[str, tuple[str, str]], int]:
    """When each CLI source's first and last batch was stored, and how many records posted
    over HTTP were stored meanwhile (the store's own times, one clock)."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        windows = {}
        for source in CLI_SOURCES:
            windows[source] = conn.execute(
                "SELECT min(ingested_at), max(ingested_at) FROM records WHERE source = ?",
                (source,),
            ).fetchone()
        (a_first, a_last), (b_first, b_last) = windows.values()
        inside: int = conn.execute(
            "SELECT count(*) FROM records WHERE source IN (SELECT value FROM json_each(?)) "
            "AND (ingested_at BETWEEN ? AND ? OR ingested_at BETWEEN ? AND ?)",
            (json.dumps(list(HTTP_SOURCES)), a_first, a_last, b_first, b_last),
        ).fetchone()[0]
        return windows, inside


def _cli_records(db: Path, *sources: str) -> int:
    """Records of ``sources`` (default: the CLI's) stored so far (0 before the schema
    exists)."""
    chosen = json.dumps(list(sources or CLI_SOURCES))
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            count: int = conn.execute(
                "SELECT count(*) FROM records WHERE source IN (SELECT value FROM json_each(?))",
                (chosen,),
            ).fetchone()[0]
            return count
    except sqlite3.Error:
        return 0


@contextmanager
def _lines_up(db: Path) -> Iterator[Callable[[int], bool]]:
    """The store's writers lock (``PATH-writers``) held for the block, which gets whether
    a process (by pid) has the lock file open, i.e. has opened the store."""
    lock = os.path.realpath(f"{db}-writers")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)

    def opened(pid: int) -> bool:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except FileNotFoundError:
            return False
        for name in fds:
            with suppress(OSError):
                if os.readlink(f"/proc/{pid}/fd/{name}") == lock:
                    return True
        return False

    try:
        yield opened
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def test_http_writers_and_two_cli_ingests_on_one_file_end_as_a_serial_load(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    rng = random.Random(f"{SEED}:concurrent")
    demo = generate(tmp_path / "demo", people=PEOPLE, seed=SEED)
    mappings = {s: demo.mappings_dir / f"{s}.toml" for s in (*CLI_SOURCES, *HTTP_SOURCES)}
    parts = {s: split_file(demo.files[s], ROWS_PER_FILE, tmp_path / "parts") for s in CLI_SOURCES}
    requests = [
        (source, content_type, body, rows)
        for source, content_type in HTTP_SOURCES.items()
        for body, rows in _bodies(demo.files[source], rng)
    ]
    rng.shuffle(requests)

    db = tmp_path / "shared.db"
    env = child_env(tmp_path, db)
    answers: list[int] = []
    acked: list[tuple[str, bytes]] = []
    failures: list[str] = []
    lock = threading.Lock()
    queue = iter(requests)

    def writer(base: str) -> None:
        # A new connection per request: the kernel hands them to either worker.
        limits = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(base_url=base, timeout=60, limits=limits) as client:
            while True:
                with lock:
                    item = next(queue, None)
                if item is None:
                    return
                source, content_type, body, rows = item
                try:
                    response = post_until_stored(client, source, body, content_type, answers)
                    assert response.status_code == 200, response.text
                    assert response.json()["accepted"] == rows, response.text
                except (AssertionError, httpx.HTTPError) as error:
                    failures.append(f"{source}: {error!r}")
                    return
                with lock:
                    acked.append((source, body))

    with Server(tmp_path, db, "--workers", "2", sqlite_busy_timeout_ms=BUSY_MS) as server:
        for source in HTTP_SOURCES:
            document = load_mapping(mappings[source]).to_document()
            answer = httpx.put(
                f"{server.base}/v1/sources/{source}", json=document, headers=AUTH, timeout=10
            )
            assert answer.status_code == 200, answer.text

        def ingest(source: str, n: int) -> subprocess.Popen[str]:
            args = [IDGRAPH, "ingest", *map(str, parts[source]), "--mapping", str(mappings[source])]
            out = (tmp_path / f"ingest-{source}-{n}.log").open("w")
            return subprocess.Popen(
                args,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )

        # The two CLI processes start their writing together: the test holds the writers
        # lock until both have opened the store (each then waits for the lock for its first
        # write, the mapping), so that neither is done before the other begins.
        deadline = time.monotonic() + 120
        with _lines_up(db) as opened:
            clis = {source: ingest(source, 0) for source in CLI_SOURCES}
            while not all(opened(p.pid) for p in clis.values()):
                assert time.monotonic() < deadline, "the CLI processes did not open the store"
                assert all(p.poll() is None for p in clis.values()), "a CLI process ended"
                time.sleep(0.005)
            time.sleep(0.2)  # from opening the store to the first write: reading the files
        # The client threads start once a CLI process has stored its first record.
        while not _cli_records(db):
            assert time.monotonic() < deadline, "no CLI process stored a record"
            assert any(p.poll() is None for p in clis.values()), "the CLI processes ended"
            time.sleep(0.002)
        threads = [threading.Thread(target=writer, args=(server.base,)) for _ in range(WRITERS)]
        for thread in threads:
            thread.start()
        # The web shop's ingest is killed part way, the other writers writing on.
        victim = clis[KILLED]
        kill_at = rng.randint(1, rows_in(demo.files[KILLED]) - 1)
        while victim.poll() is None and _cli_records(db, KILLED) < kill_at:
            assert time.monotonic() < deadline, "the CLI process stalled"
            time.sleep(0.001)
        writing = in_write(db)
        kill_group(victim)
        killed = (
            f"{KILLED} ingest "
            f"{'killed' if victim.returncode == -9 else 'ended'} once {kill_at} of its "
            f"records were stored{' (inside a write)' if writing else ''}, "
            f"{_cli_records(db, KILLED)} stored"
        )
        reruns = 0
        outputs = []
        for source, process in clis.items():
            for n in range(1, CLI_RUNS + 1):
                code = process.wait(timeout=120)
                output = (tmp_path / f"ingest-{source}-{n - 1}.log").read_text()
                outputs.append(output)
                if code == 0:
                    break
                if code == -9 and n == 1 and source == KILLED:
                    process = ingest(source, n)  # run again after the kill
                    continue
                assert code == 2 and "the store is busy" in output, output
                assert n < CLI_RUNS, f"{source}: refused as busy {n} times"
                reruns += 1  # the batch refused stored nothing: run the command again
                process = ingest(source, n)
        for thread in threads:
            thread.join(timeout=120)
        log = server.log_text()

    assert not failures, failures
    assert set(answers) <= {200, 503}, answers
    for text in [log, *outputs]:
        assert LOCKED not in text.lower() and "Traceback" not in text, text
    # Every acknowledged record is stored; every record is: the CLI runs all ended well.
    assert len(acked) == len(requests)
    windows, overlap = _overlap(db)
    (a_first, a_last), (b_first, b_last) = windows.values()
    summary = (
        f"{len(requests)} requests from {WRITERS} threads ({answers.count(503)} x 503), "
        f"{overlap} posted records stored while a CLI ingest wrote; CLI ingests "
        f"{'overlapped' if a_first <= b_last and b_first <= a_last else 'did not overlap'} "
        f"({windows}); CLI runs again after STORE_BUSY: {reruns}; {killed}"
    )
    print(summary)
    record_property("concurrency", summary)
    # The writers met: posted records were stored while a CLI wrote, or (the client threads
    # waiting out a Retry-After meanwhile) writes were refused for the lock another held.
    assert overlap > 0 or 503 in answers, summary
    records = check_integrity(db)

    reference = tmp_path / "serial.db"
    # One source after another, each file whole (one batch): other batches, another order.
    clean_load(reference, [(mappings[s], [demo.files[s]]) for s in mappings])
    assert records == check_integrity(reference) == sum(demo.records[s] for s in mappings)
    assert stored_refs(db) == stored_refs(reference)
    assert partition(db) == partition(reference)
    assert golden(db) == golden(reference)
