"""The service as deployed: a real uvicorn process configured by environment variables."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from tests.e2e import chromium, free_port, wait_until_answering

pytestmark = pytest.mark.e2e

TOKEN = "e2e-dev-token"
ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def serving(tmp_path: Path) -> Iterator[tuple[httpx.Client, subprocess.Popen[bytes]]]:
    """A uvicorn process over a fresh store, once it answers, and a client of it; stopped
    (SIGTERM, then killed after 10 s) at the end."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDGRAPH_")}
    env |= {
        "IDGRAPH_STORE": f"sqlite:///{tmp_path}/e2e.db",
        "IDGRAPH_TOKENS_FILE": str(tmp_path / "tokens.toml"),
        "IDGRAPH_DEV_TOKEN": TOKEN,
        "IDGRAPH_SUBSCRIPTION_POLL_SECONDS": "0.1",
    }
    command = [
        *(sys.executable, "-m", "uvicorn", "service.app:create_app", "--factory"),
        *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
    ]
    log = tmp_path / "uvicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=5) as client:
            wait_until_answering(client, "/healthz", process, log, "uvicorn")
            yield client, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[httpx.Client]:
    with serving(tmp_path) as (client, _):
        yield client


def test_register_post_and_query_over_http(server: httpx.Client) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert server.get("/readyz").json()["status"] == "ready"

    mapping = {"key": "id", "identifiers": {"email": "email"}, "attributes": {"name": "name"}}
    assert server.put("/v1/sources/shop", json=mapping, headers=auth).status_code == 200
    rows = [
        {"id": "1", "email": "Eve@Example.com", "name": "Eve"},
        {"id": "2", "email": "eve@example.com"},
    ]
    response = server.post("/v1/records", params={"source": "shop"}, json=rows, headers=auth)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 2

    query = '{ profileByIdentifier(kind: "email", value: "EVE@example.com") '
    query += "{ records { key } attributes { name value } } }"
    response = server.post("/graphql", json={"query": query}, headers=auth)
    assert response.json() == {
        "data": {
            "profileByIdentifier": {
                "records": [{"key": "1"}, {"key": "2"}],
                "attributes": [{"name": "name", "value": "Eve"}],
            }
        }
    }
    assert server.post("/graphql", json={"query": query}).status_code == 401


@pytest.mark.browser
def test_graphiql_renders_its_editor_with_every_other_host_unreachable(
    server: httpx.Client, tmp_path: Path
) -> None:
    # Every host name but the server's resolves to nothing: a script from a CDN fails.
    command = [
        *(chromium(), "--headless=new", "--no-sandbox", "--disable-gpu"),
        f"--user-data-dir={tmp_path / 'chromium'}",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--virtual-time-budget=10000",
        "--dump-dom",
        f"{server.base_url}/graphql",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    page = done.stdout
    assert "Loading..." not in page, page[:2000]
    assert 'class="graphiql-editor' in page, page[:2000]
    assert "CodeMirror" in page and "graphiql-execute-button" in page


def test_a_subscription_over_a_real_websocket_gets_a_record_and_does_not_hold_up_shutdown(
    tmp_path: Path,
) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with serving(tmp_path) as (client, process):
        mapping = {"key": "id", "identifiers": {"email": "email"}}
        assert client.put("/v1/sources/shop", json=mapping, headers=auth).status_code == 200
        url = str(client.base_url).replace("http", "ws", 1) + "/graphql"
        with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
            ws.send(
                json.dumps(
                    {"type": "connection_init", "payload": {"authorization": f"Bearer {TOKEN}"}}
                )
            )
            assert json.loads(ws.recv(timeout=5)) == {"type": "connection_ack"}
            query = "subscription { profileChanges { cursor node { kind profileId } } }"
            ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
            rows = [{"id": "1", "email": "eve@example.com"}]
            response = client.post(
                "/v1/records", params={"source": "shop"}, json=rows, headers=auth
            )
            assert response.status_code == 200, response.text
            message = json.loads(ws.recv(timeout=5))
            assert message["type"] == "next"
            assert message["payload"]["data"]["profileChanges"]["node"]["kind"] == "CREATED"
            # SIGTERM with the subscription open: the process ends at once, closing it
            # (uvicorn shuts down, then exits by the signal it was sent).
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=5) in (0, -signal.SIGTERM)
            assert time.monotonic() - started < 3
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    ws.recv(timeout=5)
            # 1012 "service restart": the client knows to reconnect and resume.
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
