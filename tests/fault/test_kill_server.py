"""`idgraph serve` killed with SIGKILL while records stream in over `POST /v1/records`, then
started again on the same store file.

Three client threads post requests of one to three records each (two sources; every record
has its own e-mail and a phone drawn from a small pool, some a second phone, so records
join, and profiles merge, across requests). At seeded points (once a drawn number of
requests is acknowledged, plus a few milliseconds) the server's processes are killed;
requests in flight then get no answer. After each restart, before anything else is sent:

- every record whose request was acknowledged (200) is there: its e-mail finds it over
  GraphQL, in a profile that carries its identifiers;
- a request's records are all there or none (one request is one transaction), and a
  record there is whole: the store passes tests.fault.common.check_integrity, each record
  carries the identifiers its row gives, and the records group into profiles (with golden
  records) exactly as a clean load of the same rows does.

The client then sends the unanswered requests again (upserts: safe to repeat) and the rest;
at the end all records are there and the store equals a clean load of all of them.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.fault.common import (
    AUTH,
    KILLS,
    LOCKED,
    SEED,
    Ref,
    Server,
    check_integrity,
    clean_rows,
    golden,
    in_write,
    partition,
    post_until_stored,
    stored_refs,
)

pytestmark = pytest.mark.fault

KILLS_HERE = max(1, KILLS - 1)
"""Server kills (2 by default: each costs a server start)."""
RECORDS = 60 * (KILLS_HERE + 1)
THREADS = 3
MAPPINGS: dict[str, dict[str, object]] = {
    source: {
        "key": "id",
        "timestamp": "ts",
        "identifiers": {"email": "email", "phone": "phone", "phone2": "phone"},
        "attributes": {"name": "name", "city": "city"},
    }
    for source in ("shop", "crm")
}
QUERY = """query ($email: String!) {
  profileByIdentifier(kind: "email", value: $email) {
    records { source key }
    identifiers { kind value }
  }
}"""


@dataclass
class Request:
    """One POST: rows of one source; ``acked`` once a 200 says all were accepted."""

    number: int
    source: str
    rows: list[dict[str, str]]
    acked: bool = False

    @property
    def refs(self) -> set[Ref]:
        return {(self.source, row["id"]) for row in self.rows}


def _requests(rng: random.Random) -> list[Request]:
    phones = [f"+4474001{n:05d}" for n in range(RECORDS // 3)]
    requests: list[Request] = []
    i = 0
    while i < RECORDS:
        source = rng.choice(("shop", "crm"))
        rows = []
        for _ in range(min(rng.randint(1, 3), RECORDS - i)):
            row = {
                "id": f"{source}-{i}",
                "email": f"r{i}@example.com",
                "phone": rng.choice(phones),
                "name": f"Name {i}",
                "city": rng.choice(("Leeds", "York", "Bath")),
                "ts": f"2024-01-01T00:{i // 60:02d}:{i % 60:02d}",
            }
            if rng.random() < 0.2:
                row["phone2"] = rng.choice(phones)
            rows.append(row)
            i += 1
        requests.append(Request(len(requests), source, rows))
    return requests


@dataclass
class Stream:
    """Requests handed to the client threads in order; what each answered."""

    pending: Iterator[Request]
    lock: threading.Lock = field(default_factory=threading.Lock)
    acked: int = 0
    taken: list[Request] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    in_write: bool = False  # whether the kill came inside a write transaction
    failures: list[str] = field(default_factory=list)

    def next(self) -> Request | None:
        with self.lock:
            request = next(self.pending, None)
            if request is not None:
                self.taken.append(request)
            return request


def _client(base: str, stream: Stream) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        while (request := stream.next()) is not None:
            body = json.dumps(request.rows).encode()
            try:
                response = post_until_stored(
                    client, request.source, body, "application/json", stream.answers
                )
            except httpx.TransportError:
                return  # the server died: this request is unanswered, the rest unsent
            except AssertionError as error:
                stream.failures.append(str(error))
                return
            if response.status_code != 200 or response.json()["accepted"] != len(request.rows):
                stream.failures.append(f"request {request.number}: {response.text}")
                return
            with stream.lock:
                request.acked = True
                stream.acked += 1


def _stream(
    server: Server, pending: Iterator[Request], kill_after: int | None, delay: float
) -> Stream:
    """Send the ``pending`` requests from THREADS threads; once ``kill_after`` are
    acknowledged (and ``delay`` seconds more) SIGKILL the server."""
    stream = Stream(pending)
    threads = [threading.Thread(target=_client, args=(server.base, stream)) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    try:
        if kill_after is not None:
            deadline = time.monotonic() + 120
            while stream.acked < kill_after and any(t.is_alive() for t in threads):
                assert time.monotonic() < deadline, "the stream stalled"
                time.sleep(0.001)
            time.sleep(delay)
            stream.in_write = in_write(server.db)
            server.kill()
    finally:
        for thread in threads:
            thread.join(timeout=60)
    assert not stream.failures, stream.failures
    assert set(stream.answers) <= {200, 503}, stream.answers
    return stream


def _identifiers(db: Path) -> dict[Ref, list[list[str]]]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT source, key, identifiers FROM records")
        return {(s, k): json.loads(i) for s, k, i in rows}


def _check_after_restart(
    server: Server, db: Path, requests: list[Request], tmp_path: Path, phase: int
) -> set[Ref]:
    """The checks of the module docstring; the refs stored."""
    present = stored_refs(db)
    for request in requests:
        if request.acked:
            assert request.refs <= present, f"request {request.number} was acknowledged"
        else:  # unanswered or unsent: all of its records or none
            assert request.refs <= present or not request.refs & present, request.number
    check_integrity(db)
    reference = tmp_path / f"reference-{phase}.db"
    rows = [(r.source, row) for r in requests for row in r.rows if r.refs <= present]
    clean_rows(reference, MAPPINGS, rows)
    assert stored_refs(reference) == present
    assert _identifiers(db) == _identifiers(reference)
    assert partition(db) == partition(reference)
    assert golden(db) == golden(reference)
    with httpx.Client(base_url=server.base, timeout=10) as client:
        for request in requests:
            if not request.acked:
                continue
            for row in request.rows:
                answer = client.post(
                    "/graphql",
                    json={"query": QUERY, "variables": {"email": row["email"]}},
                    headers=AUTH,
                )
                assert answer.status_code == 200, answer.text
                profile = answer.json()["data"]["profileByIdentifier"]
                assert {"source": request.source, "key": row["id"]} in profile["records"]
                kinds = {(i["kind"], i["value"]) for i in profile["identifiers"]}
                assert ("email", row["email"]) in kinds and ("phone", row["phone"]) in kinds
    return present


def test_a_server_killed_mid_stream_keeps_every_acknowledged_record_whole(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    rng = random.Random(f"{SEED}:serve")
    requests = _requests(rng)
    pending = iter(requests)  # handed out in order, across the server's lives
    db = tmp_path / "served.db"
    server = Server(tmp_path, db, "--workers", "1")
    kills = []
    try:
        server.start()
        for source, mapping in MAPPINGS.items():
            answer = httpx.put(
                f"{server.base}/v1/sources/{source}", json=mapping, headers=AUTH, timeout=10
            )
            assert answer.status_code == 200, answer.text
        for phase in range(KILLS_HERE):
            kill_after = rng.randint(3, 15)
            delay = rng.uniform(0, 0.015)
            stream = _stream(server, pending, kill_after, delay)
            present = stored_refs(db)
            unanswered = [r for r in stream.taken if not r.acked]
            kills.append(
                f"phase {phase}: SIGKILL once {kill_after} requests were acknowledged + "
                f"{delay * 1000:.1f} ms{' (inside a write)' if stream.in_write else ''}: "
                f"{stream.acked} acknowledged, {len(unanswered)} "
                f"unanswered ({sum(r.refs <= present for r in unanswered)} of them stored), "
                f"{len(present)} records stored in all, {stream.answers.count(503)} x 503"
            )
            server.start()
            _check_after_restart(server, db, requests, tmp_path, phase)
        # The client sends what was never answered again, then the rest.
        _stream(server, iter([r for r in requests if not r.acked]), None, 0)
        assert all(r.acked for r in requests)
        present = _check_after_restart(server, db, requests, tmp_path, KILLS_HERE)
        assert len(present) == RECORDS
        log = server.log_text()
    finally:
        server.stop()
        for line in kills:
            print(line)
    record_property("kill_points", kills)
    assert "Traceback" not in log and LOCKED not in log.lower(), log
