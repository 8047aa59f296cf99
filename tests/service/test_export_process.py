"""Segment exports made in an export process (service/export_process.py): the same bytes
as in the API process, made by a helper at the configured niceness, audited once, the
helper reused, replaced when it dies or its client goes away; small segments, and
``IDGRAPH_EXPORT_PROCESSES=0``, export in the API process.

The app opens its own graph from settings (an export process reopens it from them) and
is served by a real uvicorn server in a thread of the test, over real sockets, so that a
client can go away mid-stream and the pool's state can be read.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from identity.demo.generator import generate
from identity.mapping import SourceMapping, load_mapping
from identity.readers import read_file
from service.app import create_app
from service.auth import create_token
from service.config import Settings
from service.export_process import ExportPool
from service.routes.segments import DEFAULT_FIELDS
from service.segment_export import ExportFormat, export_body

NICE = 7
BIG_ROWS = 1_500
NOTE = "n" * 8_000
"""A long attribute per row of the ``big`` segment: its export (about 12 MB) outgrows what
the pipe and the sockets between the helper and the client can hold, so a client that
stops reading leaves the helper mid-stream."""


@pytest.fixture(autouse=True)
def _no_idgraph_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("IDGRAPH_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store with the demo's people in the segment ``everyone`` and long-noted
    people in ``big``."""
    root = tmp_path_factory.mktemp("export-process")
    graph = Settings(store=f"sqlite:///{root}/idgraph.db").open_graph()
    try:
        files = generate(root / "demo", people=120, seed=18)
        for path in sorted(files.mappings_dir.glob("*.toml")):
            graph.ingest.register_source(load_mapping(path, rules=graph.rules))
        for source, path in sorted(files.files.items()):
            graph.ingest.ingest_rows(source, read_file(path, graph.ingest.source(source).format))
        # The demo's people: every profile without a note (ingested below).
        graph.segments.define("everyone", {"where": {"attribute": "note", "exists": False}})
        notes = {
            "source": "notes",
            "key": "id",
            "identifiers": {"email": "email"},
            "attributes": {"note": "note"},
        }
        graph.ingest.register_source(SourceMapping.from_document(notes, rules=graph.rules))
        rows = [{"id": i, "email": f"n{i}@notes.example", "note": NOTE} for i in range(BIG_ROWS)]
        graph.ingest.ingest_rows("notes", enumerate(rows, start=1))
        graph.segments.define("big", {"where": {"attribute": "note", "exists": True}})
        assert graph.segments.get("big").size == BIG_ROWS
        assert 100 < graph.segments.get("everyone").size < BIG_ROWS
    finally:
        graph.close()
    return root


@pytest.fixture(scope="module")
def tokens(store: Path) -> dict[str, str]:
    """An exporter (personal fields in full) and an activator (masked)."""
    roles = {"exporter": ["segments:read", "pii:read"], "activator": ["segments:read"]}
    return {
        role: create_token(role, scopes, store / "tokens.toml") for role, scopes in roles.items()
    }


def settings(store: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "store": f"sqlite:///{store}/idgraph.db",
        "tokens_file": store / "tokens.toml",
        "destinations": "off",
        "export_processes": 1,
        "export_process_min_members": 0,
        "export_nice": NICE,
    }
    return Settings(**(values | overrides))


class Served:
    """A uvicorn server of the app in a thread, and a client of it."""

    def __init__(self, server: uvicorn.Server, port: int, tokens: dict[str, str]) -> None:
        self.server = server
        self.port = port
        self.tokens = tokens
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)

    @property
    def pool(self) -> ExportPool:
        pool: ExportPool = self.server.config.loaded_app.app.state.export_pool
        return pool

    def export(self, segment: str, role: str, **params: str) -> bytes:
        response = self.client.get(
            f"/v1/segments/{segment}/members",
            params=params,
            headers={"Authorization": f"Bearer {self.tokens[role]}"},
        )
        assert response.status_code == 200, response.text
        return response.content


@pytest.fixture
def serve(store: Path, tokens: dict[str, str]) -> Iterator[Callable[..., Served]]:
    """Start the app over ``store`` with settings overridden by keyword; stopped at the end."""
    started: list[tuple[uvicorn.Server, threading.Thread, Served]] = []

    def start(**overrides: Any) -> Served:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        app = create_app(settings(store, **overrides))
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        served = Served(server, port, tokens)
        started.append((server, thread, served))
        return served

    yield start
    for server, thread, served in started:
        served.client.close()
        server.should_exit = True
        thread.join(timeout=30)
        assert not thread.is_alive(), "uvicorn did not stop"


def reference(store: Path, segment: str, role: str, fmt: ExportFormat, **params: str) -> bytes:
    """The export as the API process makes it (audited as ``reference``)."""
    graph = settings(store).open_graph()
    try:
        if "fields" in params:
            chosen = params["fields"].split(",")
        else:
            chosen = graph.catalog.known(DEFAULT_FIELDS.split(","))
        return b"".join(export_body(graph, segment, chosen, role == "exporter", fmt, "reference"))
    finally:
        graph.close()


def audited(store: Path, actor: str) -> int:
    graph = settings(store).open_graph()
    try:
        return len(graph.audit.entries(first=500, actor=actor, action="export_segment").entries)
    finally:
        graph.close()


def niceness(pid: int) -> int:
    # /proc/PID/stat: the command is in parentheses and may hold spaces; field 19 is
    # the nice value, the 17th after the closing parenthesis.
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[16])


def test_an_export_process_makes_the_same_bytes_at_its_niceness_audited_once_and_is_reused(
    serve: Callable[..., Served], store: Path
) -> None:
    served = serve()
    exports = audited(store, "exporter"), audited(store, "activator")
    cases: list[tuple[str, ExportFormat]] = [
        ("exporter", "ndjson"),
        ("activator", "ndjson"),
        ("exporter", "csv"),
        ("activator", "csv"),
    ]
    helpers: set[int] = set()
    for role, fmt in cases:
        body = served.export("everyone", role, format=fmt)
        assert body == reference(store, "everyone", role, fmt), (role, fmt)
        helpers.update(served.pool.pids())
    assert served.pool.exports == {"export_process": 4, "api_process": 0}
    # One helper made them all, another process than this one (the API's), nicer.
    (helper,) = helpers
    assert helper != os.getpid()
    assert niceness(helper) == min(19, niceness(os.getpid()) + NICE)
    assert (audited(store, "exporter"), audited(store, "activator")) == (
        exports[0] + 2,
        exports[1] + 2,
    )
    # The body differs by role: masked for the activator, in full for the exporter.
    assert served.export("everyone", "activator") != served.export("everyone", "exporter")
    metrics = served.client.get("/metrics").text
    assert 'idgraph_segment_exports_total{process="export_process"} 6.0' in metrics
    assert "idgraph_export_processes 1.0" in metrics


def test_chosen_fields_and_errors_are_as_in_the_api_process(
    serve: Callable[..., Served], store: Path
) -> None:
    served = serve()
    fields = "profile_id,email,note"
    body = served.export("big", "exporter", fields=fields)
    assert body == reference(store, "big", "exporter", "ndjson", fields=fields)
    assert body.count(NOTE.encode()) == BIG_ROWS
    auth = {"Authorization": f"Bearer {served.tokens['exporter']}"}
    missing = served.client.get("/v1/segments/nothing/members", headers=auth)
    assert missing.status_code == 404
    # No field left: the helper refuses (nothing audited), the API process answers the error;
    # neither export counts as begun.
    empty = served.client.get("/v1/segments/big/members", params={"fields": ","}, headers=auth)
    assert empty.status_code == 400, empty.text
    assert served.pool.exports == {"export_process": 1, "api_process": 0}


def test_a_client_that_goes_away_mid_stream_stops_its_helper_and_the_next_gets_a_new_one(
    serve: Callable[..., Served], store: Path
) -> None:
    served = serve()
    served.export("everyone", "exporter")
    (first,) = served.pool.pids()
    with socket.socket() as client:
        # A small receive window: what the server may send ahead stays well below the export.
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16_384)
        client.connect(("127.0.0.1", served.port))
        client.sendall(
            b"GET /v1/segments/big/members?fields=profile_id,note HTTP/1.1\r\n"
            b"Host: test\r\nAuthorization: Bearer "
            + served.tokens["exporter"].encode()
            + b"\r\n\r\n"
        )
        head = client.recv(4096)
        assert head.startswith(b"HTTP/1.1 200"), head
        time.sleep(0.2)  # the helper fills the pipe and the sockets, then waits
        assert served.pool.pids() == [first], "the helper is still writing the big export"
    deadline = time.monotonic() + 10
    while served.pool.pids() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert served.pool.pids() == [], "the helper of the abandoned export was stopped"
    assert served.export("everyone", "activator") == reference(
        store, "everyone", "activator", "ndjson"
    )
    (second,) = served.pool.pids()
    assert second != first
    assert served.pool.exports == {"export_process": 3, "api_process": 0}


def test_a_helper_killed_mid_stream_ends_the_response_early_and_is_replaced(
    serve: Callable[..., Served], store: Path
) -> None:
    served = serve()
    full = reference(store, "big", "exporter", "ndjson", fields="profile_id,note")
    auth = {"Authorization": f"Bearer {served.tokens['exporter']}"}
    params = {"fields": "profile_id,note"}
    with served.client.stream(
        "GET", "/v1/segments/big/members", params=params, headers=auth
    ) as response:
        assert response.status_code == 200
        chunks = response.iter_raw()
        received = next(chunks)
        (helper,) = served.pool.pids()
        os.kill(helper, signal.SIGKILL)
        received += b"".join(chunks)
    # What came is the export's beginning, not all of it.
    assert 0 < len(received) < len(full) and full.startswith(received)
    assert served.pool.pids() == []
    assert served.export("big", "exporter", **params) == full
    (second,) = served.pool.pids()
    assert second != helper


def test_a_helper_killed_between_exports_is_replaced(
    serve: Callable[..., Served], store: Path
) -> None:
    served = serve()
    expected = reference(store, "everyone", "exporter", "csv")
    assert served.export("everyone", "exporter", format="csv") == expected
    (first,) = served.pool.pids()
    before = audited(store, "exporter")
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{first}").exists() and time.monotonic() < deadline:
        if Path(f"/proc/{first}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            break  # dead, not yet reaped by the pool
        time.sleep(0.02)
    assert served.export("everyone", "exporter", format="csv") == expected
    (second,) = served.pool.pids()
    assert second != first
    assert served.pool.exports == {"export_process": 2, "api_process": 0}
    assert audited(store, "exporter") == before + 1


@pytest.mark.parametrize(
    "overrides",
    [{"export_processes": 0}, {"export_process_min_members": BIG_ROWS}],
    ids=["no-export-processes", "small-segment"],
)
def test_without_export_processes_or_for_a_small_segment_the_api_process_exports(
    serve: Callable[..., Served], store: Path, overrides: dict[str, Any]
) -> None:
    served = serve(**overrides)
    before = audited(store, "activator")
    # ``everyone`` has fewer members than the small-segment case asks for.
    body = served.export("everyone", "activator")
    assert body == reference(store, "everyone", "activator", "ndjson")
    assert served.pool.pids() == []
    assert served.pool.exports == {"export_process": 0, "api_process": 1}
    assert audited(store, "activator") == before + 1
    if "export_process_min_members" in overrides:
        # ``big`` has just enough.
        served.export("big", "activator", fields="profile_id")
        assert len(served.pool.pids()) == 1
        assert served.pool.exports == {"export_process": 1, "api_process": 1}
