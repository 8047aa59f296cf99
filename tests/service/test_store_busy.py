"""Writes a busy SQLite store cannot take in time: 503 STORE_BUSY with Retry-After, never
"database is locked", and nothing half-written. The store's write lock is held by another
connection to the file, as another API process would hold it."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.config import Settings
from tests.service.conftest import SHOP
from tests.service.test_error_shapes import documented, rest

pytestmark = pytest.mark.sqlite

ROWS = [
    {"id": "a", "email": "ann@example.com", "first": "Ann"},
    {"id": "b", "email": "bob@example.com", "first": "Bob"},
]
DELETE = 'mutation { deleteSegment(name: "nope") { __typename } }'


@contextmanager
def write_locked(path: Path) -> Iterator[None]:
    """The file's write lock held by another connection (another process's write)."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


class BusyApi:
    """The app over a store the settings name (opened as `idgraph serve` opens it)."""

    def __init__(self, client: TestClient, tokens: dict[str, str], path: Path) -> None:
        self.client = client
        self.tokens = tokens
        self.path = path

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def post_records(self, rows: list[dict[str, Any]]) -> httpx.Response:
        return self.client.post(
            "/v1/records", params={"source": "shop"}, json=rows, headers=self.auth("ingester")
        )

    def stored_keys(self) -> set[str]:
        with sqlite3.connect(self.path) as conn:
            return {key for (key,) in conn.execute("SELECT key FROM records")}


@pytest.fixture
def make_busy_api(
    tmp_path: Path, tokens: dict[str, str], tokens_file: Path
) -> Iterator[Callable[..., BusyApi]]:
    path = tmp_path / "busy.db"
    with ExitStack() as stack:

        def make(**overrides: Any) -> BusyApi:
            settings = Settings(store=f"sqlite:///{path}", tokens_file=tokens_file, **overrides)
            client = stack.enter_context(TestClient(create_app(settings)))
            api = BusyApi(client, tokens, path)
            response = client.put("/v1/sources/shop", json=SHOP, headers=api.auth("admin"))
            assert response.status_code == 200, response.text
            return api

        yield make


def assert_store_busy(response: httpx.Response) -> None:
    """The documented shape (docs/api.md), with a Retry-After and never "locked"."""
    code, status = "STORE_BUSY", documented()["STORE_BUSY"]
    assert rest(response) == (status, code), response.text
    assert int(response.headers["Retry-After"]) >= 1
    assert "locked" not in response.text.lower()


def test_a_write_that_cannot_get_the_lock_in_time_answers_503_store_busy(
    make_busy_api: Callable[..., BusyApi],
) -> None:
    api = make_busy_api(sqlite_busy_timeout_ms=300)
    with write_locked(api.path):
        started = time.monotonic()
        response = api.post_records(ROWS)
        assert time.monotonic() - started < 3  # the busy timeout, not SQLite's 30s of old
        assert_store_busy(response)
        assert response.headers["Retry-After"] == "1"
        # Reads answer meanwhile.
        assert api.client.get("/v1/sources", headers=api.auth("reader")).status_code == 200
    assert api.stored_keys() == set()  # nothing half-written
    retried = api.post_records(ROWS)
    assert retried.status_code == 200, retried.text
    assert api.stored_keys() == {"a", "b"}


def test_graphql_answers_store_busy_in_the_error_extensions(
    make_busy_api: Callable[..., BusyApi],
) -> None:
    api = make_busy_api(sqlite_busy_timeout_ms=300)
    with write_locked(api.path):
        response = api.client.post("/graphql", json={"query": DELETE}, headers=api.auth("admin"))
    assert response.status_code == 200, response.text
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "STORE_BUSY"
    assert error["extensions"]["retryAfter"] == 1
    assert "locked" not in response.text.lower()


def test_past_the_write_queue_a_write_answers_503_at_once(
    make_busy_api: Callable[..., BusyApi],
) -> None:
    api = make_busy_api(sqlite_busy_timeout_ms=4000, write_queue=1)
    first: list[httpx.Response] = []
    with write_locked(api.path):
        waiting = threading.Thread(target=lambda: first.append(api.post_records(ROWS[:1])))
        waiting.start()
        time.sleep(0.7)  # the first write now waits for the file's lock
        started = time.monotonic()
        response = api.post_records(ROWS[1:])
        assert time.monotonic() - started < 1.5  # refused at once, not after the timeout
        assert_store_busy(response)
        assert "already wait" in response.json()["error"]["message"]
        assert response.headers["Retry-After"] == "4"
    waiting.join()
    assert first[0].status_code == 200, first[0].text  # the lock came free in time for it
    assert api.stored_keys() == {"a"}


def test_busy_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="sqlite_busy_timeout_ms"):
        Settings(sqlite_busy_timeout_ms=0)
    with pytest.raises(ValueError, match="write_queue"):
        Settings(write_queue=0)
