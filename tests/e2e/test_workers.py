"""Several API processes serving one SQLite store: `idgraph serve --workers 2`, and two
`idgraph serve` processes on one file. Writes sent to them at once are each acknowledged
or refused with 503 STORE_BUSY (then sent again after Retry-After, as a client should);
every acknowledged record is then readable from every process, and no answer is a 500 or
says "locked"."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from tests.e2e import free_port, wait_until_answering

pytestmark = pytest.mark.e2e

TOKEN = "e2e-dev-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROOT = Path(__file__).resolve().parents[2]
IDGRAPH = str(Path(sys.executable).with_name("idgraph"))
MAPPING = {"key": "id", "identifiers": {"email": "email"}, "attributes": {"name": "name"}}
QUERY = """query ($value: String!) {
  profileByIdentifier(kind: "email", value: $value) { records { source key } }
}"""


@contextmanager
def serving(tmp_path: Path, name: str, *args: str, **settings: str) -> Iterator[tuple[str, Path]]:
    """`idgraph serve ARGS` on a free port of its own over the store in tmp_path, with
    these IDGRAPH_* settings, once it answers /readyz; its base URL and its log. Stopped
    (all its processes) at the end."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDGRAPH_")}
    env |= {
        "IDGRAPH_STORE": f"sqlite:///{tmp_path}/shared.db",
        "IDGRAPH_TOKENS_FILE": str(tmp_path / "tokens.toml"),
        "IDGRAPH_DEV_TOKEN": TOKEN,
    }
    env |= {f"IDGRAPH_{k.upper()}": v for k, v in settings.items()}
    command = [IDGRAPH, "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    log = tmp_path / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=5) as client:
            wait_until_answering(client, "/readyz", process, log, name)
        yield base, log
    finally:
        process.terminate()  # uvicorn's parent stops its workers
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _write_all(bases: list[str], batches: int, rows: int) -> set[str]:
    """``batches`` POSTs of ``rows`` records each, eight at a time, spread over ``bases``,
    each on a new connection (so a server's workers share them). A 503 STORE_BUSY is sent
    again after its Retry-After. Returns the keys acknowledged."""
    answers: list[httpx.Response] = []

    def post(batch: int) -> set[str]:
        base = bases[batch % len(bases)]
        body = [
            {"id": f"{batch}-{i}", "email": f"p{batch}-{i}@example.com", "name": f"P{batch}"}
            for i in range(rows)
        ]
        limits = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(base_url=base, timeout=30, limits=limits) as client:
            for _ in range(10):
                response = client.post(
                    "/v1/records", params={"source": "shop"}, json=body, headers=AUTH
                )
                answers.append(response)
                if response.status_code != 503:
                    break
                assert response.json()["error"]["code"] == "STORE_BUSY", response.text
                time.sleep(int(response.headers["Retry-After"]))
        if response.status_code != 200:
            return set()
        assert response.json()["accepted"] == rows
        return {row["id"] for row in body}

    with ThreadPoolExecutor(max_workers=8) as pool:
        acknowledged = set().union(*pool.map(post, range(batches)))
    for response in answers:
        assert response.status_code in (200, 503), response.text
        assert "locked" not in response.text.lower()
    return acknowledged


def _readable_from(base: str, keys: set[str]) -> None:
    """Each key read back, each on a new connection (so a server's workers share them)."""
    limits = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=base, timeout=10, limits=limits) as client:
        for key in sorted(keys):
            response = client.post(
                "/graphql",
                json={"query": QUERY, "variables": {"value": f"p{key}@example.com"}},
                headers=AUTH,
            )
            assert response.status_code == 200, response.text
            found = response.json()["data"]["profileByIdentifier"]
            assert found == {"records": [{"source": "shop", "key": key}]}, (base, key)


def _register(base: str) -> None:
    response = httpx.put(f"{base}/v1/sources/shop", json=MAPPING, headers=AUTH, timeout=10)
    assert response.status_code == 200, response.text


def test_two_worker_processes_of_one_server_share_the_store(tmp_path: Path) -> None:
    with serving(tmp_path, "serve", "--workers", "2") as (base, log):
        _register(base)
        acknowledged = _write_all([base], batches=40, rows=5)
        assert len(acknowledged) == 200
        # Twice over: the kernel hands the connections to either worker.
        for _ in range(2):
            _readable_from(base, acknowledged)
        text = log.read_text()
    assert "with 2 worker processes" in text
    assert text.count("Started server process") == 2, text  # none died and was replaced
    assert "Traceback" not in text and "locked" not in text.lower(), text


def test_two_servers_on_one_file_see_each_others_writes(tmp_path: Path) -> None:
    # Two processes for certain: a server's workers share its connections as the kernel
    # hands them out.
    with ExitStack() as stack:
        first, first_log = stack.enter_context(serving(tmp_path, "first", "--workers", "1"))
        second, second_log = stack.enter_context(serving(tmp_path, "second", "--workers", "1"))
        _register(first)
        acknowledged = _write_all([first, second], batches=40, rows=5)
        assert len(acknowledged) == 200
        _readable_from(first, acknowledged)
        _readable_from(second, acknowledged)
        logs = first_log.read_text() + second_log.read_text()
    assert "with 1 worker process" in logs
    assert "Traceback" not in logs and "locked" not in logs.lower(), logs


def test_a_write_another_process_keeps_waiting_answers_503_with_retry_after(
    tmp_path: Path,
) -> None:
    with serving(tmp_path, "serve", "--workers", "2", sqlite_busy_timeout_ms="300") as (base, _):
        _register(base)
        other = sqlite3.connect(tmp_path / "shared.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process's long write
        try:
            row = [{"id": "held", "email": "pheld@example.com", "name": "H"}]
            started = time.monotonic()
            response = httpx.post(
                f"{base}/v1/records", params={"source": "shop"}, json=row, headers=AUTH
            )
            assert time.monotonic() - started < 5
            assert response.status_code == 503, response.text
            assert response.headers["Retry-After"] == "1"
            assert response.json()["error"]["code"] == "STORE_BUSY"
            assert "locked" not in response.text.lower()
            # Reads and the readiness probe answer meanwhile.
            assert httpx.get(f"{base}/readyz", timeout=2).status_code == 200
        finally:
            other.execute("ROLLBACK")
            other.close()
        with sqlite3.connect(tmp_path / "shared.db") as conn:
            assert conn.execute("SELECT count(*) FROM records").fetchone() == (0,)
        response = httpx.post(
            f"{base}/v1/records", params={"source": "shop"}, json=row, headers=AUTH
        )
        assert response.status_code == 200, response.text
        _readable_from(base, {"held"})
