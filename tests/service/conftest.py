"""The API over a real graph on a temporary store, with real tokens of each scope.

The store is SQLite unless the module says ``pytestmark = pytest.mark.both_stores``: then each
of its tests that opens the graph runs once per backend of the store suite
(tests/store/conftest.py: one place for the Neo4j server), each leg carrying its backend's
mark (``pytest -m neo4j``, ``pytest -m "not neo4j"``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from identity.graph import IdentityGraph
from identity.mapping import SourceMapping
from identity.rules import load_rules
from service.app import create_app
from service.auth import create_token
from service.config import Settings
from tests.store.conftest import BACKENDS, backend_params

SHOP: dict[str, Any] = {
    "source": "shop",
    "key": "id",
    "phone_region": "GB",
    "priority": 60,
    "identifiers": {"email": "email", "phone": "phone"},
    "attributes": {"first": {"name": "first_name", "type": "name"}},
}
CRM: dict[str, Any] = {
    "source": "crm",
    "key": "customer_no",
    "timestamp": "updated",
    "phone_region": "GB",
    "priority": 90,
    "identifiers": {"customer_no": "customer_id", "email": "email", "phone": "phone"},
    "attributes": {"first_name": {"name": "first_name", "type": "name"}, "city": "city"},
}
MAX_BODY = 4096
ROLES = {
    "reader": ["profiles:read"],
    "ingester": ["ingest:write"],
    "activator": ["segments:read"],
    "steward": ["steward:write", "profiles:read"],
    "admin": ["admin"],
    "pii_only": ["pii:read"],
    "steward_only": ["steward:write"],
    # Readers of personal data in full: profiles, and segment exports for activation.
    "pii": ["profiles:read", "pii:read"],
    "exporter": ["segments:read", "pii:read"],
    # Access requests: a person's data in full, and nothing else.
    "privacy_reader": ["privacy:read"],
    # Erasure and corrections: deleting a person's data, and nothing else.
    "privacy_writer": ["privacy:write"],
    # Destinations: watching them, and adding, pausing and replaying them.
    "destinations_reader": ["destinations:read"],
    "destinations_writer": ["destinations:write"],
}
SCOPE_ROLES = {
    "profiles:read": "reader",
    "ingest:write": "ingester",
    "segments:read": "activator",
    "admin": "admin",
    "pii:read": "pii_only",
    "steward:write": "steward_only",
    "privacy:read": "privacy_reader",
    "privacy:write": "privacy_writer",
    "destinations:read": "destinations_reader",
    "destinations:write": "destinations_writer",
}
"""A token holding only that scope, for each scope."""


@dataclass
class Api:
    """The test client with a token per role (:data:`ROLES`)."""

    client: TestClient
    tokens: dict[str, str]

    def auth(self, role: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}

    def post_records(
        self, source: str, rows: list[dict[str, Any]], role: str = "ingester"
    ) -> httpx.Response:
        return self.client.post(
            "/v1/records", params={"source": source}, json=rows, headers=self.auth(role)
        )

    def ingest(self, source: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
        response = self.post_records(source, rows)
        assert response.status_code == 200, response.text
        report: dict[str, Any] = response.json()
        return report

    def post_events(self, events: list[dict[str, Any]] | dict[str, Any]) -> dict[str, Any]:
        response = self.client.post("/v1/events", json=events, headers=self.auth("ingester"))
        assert response.status_code == 200, response.text
        report: dict[str, Any] = response.json()
        return report

    def graphql(self, query: str, role: str = "pii", **variables: Any) -> dict[str, Any]:
        """Run a query; by default as a reader of profiles in full (``pii``)."""
        response = self.client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=self.auth(role)
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


@pytest.fixture(autouse=True)
def _no_idgraph_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the tests alone, never from the developer's shell."""
    for name in list(os.environ):
        if name.startswith("IDGRAPH_"):
            monkeypatch.delenv(name)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that opens the graph runs on SQLite, or on every store in a module marked
    ``both_stores``."""
    if "store_backend" in metafunc.fixturenames:
        both = metafunc.definition.get_closest_marker("both_stores") is not None
        # Module scope: a module's tests run store by store (its SQLite legs, then its Neo4j
        # legs), so a module-scoped graph can be built once per store and shared by tests
        # that only read it; there is one Neo4j graph at a time.
        metafunc.parametrize(
            "store_backend", backend_params(BACKENDS if both else ["sqlite"]), scope="module"
        )


@pytest.fixture
def graph(store_backend: str, tmp_path: Path) -> Iterator[IdentityGraph]:
    opened = IdentityGraph(BACKENDS[store_backend](tmp_path), load_rules(None))
    for doc in (SHOP, CRM):
        opened.ingest.register_source(SourceMapping.from_document(doc, rules=opened.rules))
    yield opened
    opened.close()


@pytest.fixture
def tokens_file(tmp_path: Path) -> Path:
    return tmp_path / "tokens" / "tokens.toml"


@pytest.fixture
def tokens(tokens_file: Path) -> dict[str, str]:
    return {role: create_token(role, scopes, tokens_file) for role, scopes in ROLES.items()}


@pytest.fixture
def make_api(
    graph: IdentityGraph, tokens: dict[str, str], tokens_file: Path
) -> Iterator[Callable[..., Api]]:
    """Start the app with settings overridden by keyword; stopped at the end of the test."""
    # The destination delivery worker polls the store in the background: off, so that
    # what a test counts or waits for is its own requests (tests/destinations runs it).
    defaults: dict[str, Any] = {
        "tokens_file": tokens_file,
        "max_body_bytes": MAX_BODY,
        "destinations": "off",
    }
    with ExitStack() as stack:

        def make(**overrides: Any) -> Api:
            app = create_app(Settings(**(defaults | overrides)), graph)
            return Api(stack.enter_context(TestClient(app)), tokens)

        yield make


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()
