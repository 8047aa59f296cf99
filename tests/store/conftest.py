"""The store contract suite runs once per backend registered here.

A backend factory takes pytest's ``tmp_path`` and returns an empty, migrated store; nothing
else in the suite may differ between backends.

The Neo4j leg runs against, in this order:

1. the server ``NEO4J_URI`` names (with ``NEO4J_USER``, ``NEO4J_PASSWORD`` and optionally
   ``NEO4J_DATABASE``; its graph is emptied before every test);
2. ``neo4j:5.26-community`` started once per run with testcontainers, where a container
   engine answers;
3. otherwise the development server of ``tools/neo4j-server`` (Neo4j 5.26 Community from
   Maven Central, built by ``make neo4j-server``), started once per run on a free loopback
   port in a temporary directory and stopped at the end.

If none can be had the Neo4j tests fail, naming why: a Neo4j leg that quietly skips is how
an adapter goes untested. ``IDGRAPH_TEST_NEO4J=skip`` opts out explicitly (a developer
without Java, say); CI never sets it.

Each leg carries the pytest mark of its backend (:func:`backend_params`), so ``pytest -m
neo4j`` runs every Neo4j leg and ``pytest -m "not neo4j"`` none of them. Neo4j is started
lazily, by the first test that opens a store on it: a run that selects no Neo4j leg never
starts a server. The service tests open their stores here too (tests/service/conftest.py).
"""

from __future__ import annotations

import atexit
import functools
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from identity.store.base import Store
from identity.store.neo4j import Neo4jStore
from identity.store.neo4j.store import NEW_VIEW, VIEW_STATE_KEY
from identity.store.sqlite import SQLiteStore
from tests.store.neo4j_server import LocalNeo4j, Neo4jServerError

NEO4J_IMAGE = "neo4j:5.26-community"
OPT_OUT = "IDGRAPH_TEST_NEO4J"
# Read when the session starts: the service tests clear IDGRAPH_* variables around each test,
# and the first test to open a Neo4j store may be one of theirs.
OPTED_OUT = os.environ.get(OPT_OUT, "").lower() == "skip"


RUNNING: list[pytest.Item] = []
"""The test being set up or run (set by tests/conftest.py), so a store can check its mark."""


def require_mark(backend: str) -> None:
    """Fail the running test unless it carries ``backend``'s mark.

    After splink's tests/decorator.py: the mark comes with the parametrisation
    (:func:`backend_params`) or, for a test of one backend alone, is put on by hand, and a
    test that opens a store without its mark is an error rather than a test that ``-m
    sqlite``, ``-m neo4j`` or ``-m "not neo4j"`` would select wrongly."""
    if RUNNING and RUNNING[-1].get_closest_marker(backend) is None:
        pytest.fail(
            f"{RUNNING[-1].nodeid} opens a {backend} store without the {backend} mark: "
            f"parametrise it with backend_params() or mark it @pytest.mark.{backend}",
            pytrace=False,
        )


def _sqlite(tmp_path: Path) -> Store:
    require_mark("sqlite")
    return SQLiteStore(tmp_path / "store.db")


@dataclass(frozen=True)
class NoNeo4j:
    """Why there is no Neo4j to test against; ``opted_out`` skips, anything else fails."""

    reason: str
    opted_out: bool = False


def _container_engine() -> bool:
    try:
        import docker

        docker.from_env(timeout=5).ping()
    except Exception:
        return False
    return True


@functools.cache
def neo4j_server() -> tuple[str, dict[str, str | None]] | NoNeo4j:
    """(URI, driver settings) of the Neo4j to test against, or why there is none.

    Cached, failures included: a server that cannot start is tried once per run, not once
    per test."""
    if OPTED_OUT:
        return NoNeo4j(f"Neo4j leg skipped: {OPT_OUT}=skip", opted_out=True)
    uri = os.environ.get("NEO4J_URI")
    if uri:
        return uri, {
            "user": os.environ.get("NEO4J_USER", "neo4j"),
            "password": os.environ.get("NEO4J_PASSWORD"),
            "database": os.environ.get("NEO4J_DATABASE"),
        }
    if _container_engine():
        from testcontainers.community.neo4j import Neo4jContainer

        container = Neo4jContainer(NEO4J_IMAGE, password="idgraph-test-secret")
        container.start()
        atexit.register(container.stop)
        return container.get_connection_url(), {"user": "neo4j", "password": "idgraph-test-secret"}
    try:
        server = LocalNeo4j.start()
    except Neo4jServerError as error:
        return NoNeo4j(
            f"no Neo4j for the Neo4j leg: {error}\n(NEO4J_URI is not set and no container "
            f"engine answers; see docs/operations.md, 'Testing against Neo4j'; {OPT_OUT}=skip "
            "opts out)"
        )
    atexit.register(server.stop)
    return server.uri, {"user": server.user, "password": server.password}


def open_neo4j() -> Neo4jStore:
    """An empty, migrated Neo4j store; a failure (or, when opted out, a skip) without one."""
    require_mark("neo4j")
    server = neo4j_server()
    if isinstance(server, NoNeo4j):
        if server.opted_out:
            pytest.skip(server.reason)
        pytest.fail(server.reason, pytrace=False)
    uri, settings = server
    store = Neo4jStore(uri, **settings)
    store.copy.delete_everything()
    # As a new graph is created (and a new SQLite file): its read model is complete, being
    # empty. Emptying a graph leaves no metadata at all, that marker included.
    store.meta.set(VIEW_STATE_KEY, NEW_VIEW)
    return store


def _neo4j(tmp_path: Path) -> Store:
    return open_neo4j()


BACKENDS: dict[str, Callable[[Path], Store]] = {"sqlite": _sqlite, "neo4j": _neo4j}
"""Each backend's factory; its name is also its pytest mark (registered in pyproject.toml)."""


def backend_params(names: Iterable[str] = BACKENDS) -> list[Any]:
    """``pytest.param`` per backend name, carrying that backend's mark and id."""
    return [pytest.param(name, marks=getattr(pytest.mark, name), id=name) for name in sorted(names)]


@pytest.fixture(params=backend_params())
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened = BACKENDS[request.param](tmp_path)
    yield opened
    opened.close()
