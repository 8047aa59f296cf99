"""The store contract suite runs once per backend registered here.

A backend factory takes pytest's ``tmp_path`` and returns an empty, migrated store, or
calls ``pytest.skip`` with the reason it cannot run on this machine; nothing else in the
suite may differ between backends.

The Neo4j leg uses the server ``NEO4J_URI`` names (with ``NEO4J_USER``, ``NEO4J_PASSWORD``
and optionally ``NEO4J_DATABASE``; its graph is emptied before every test), or else starts
``neo4j:5.26-community`` once per run with testcontainers where a container engine answers;
otherwise it is skipped with the reason.
"""

from __future__ import annotations

import atexit
import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from identity.store.base import Store
from identity.store.neo4j import Neo4jStore
from identity.store.sqlite import SQLiteStore

NEO4J_IMAGE = "neo4j:5.26-community"


def _sqlite(tmp_path: Path) -> Store:
    return SQLiteStore(tmp_path / "store.db")


@functools.cache
def neo4j_server() -> tuple[str, dict[str, str | None]] | str:
    """(URI, driver settings) of the Neo4j to test against, or why there is none."""
    uri = os.environ.get("NEO4J_URI")
    if uri:
        return uri, {
            "user": os.environ.get("NEO4J_USER", "neo4j"),
            "password": os.environ.get("NEO4J_PASSWORD"),
            "database": os.environ.get("NEO4J_DATABASE"),
        }
    try:
        import docker

        docker.from_env(timeout=5).ping()
    except Exception as error:
        return (
            "Neo4j leg skipped: NEO4J_URI is not set and no container engine answers "
            f"({type(error).__name__}); see docs/operations.md, 'Testing against Neo4j'"
        )
    from testcontainers.community.neo4j import Neo4jContainer

    container = Neo4jContainer(NEO4J_IMAGE, password="idgraph-test-secret")
    container.start()
    atexit.register(container.stop)
    return container.get_connection_url(), {"user": "neo4j", "password": "idgraph-test-secret"}


def open_neo4j() -> Neo4jStore:
    """An empty, migrated Neo4j store, or a skip with the reason."""
    server = neo4j_server()
    if isinstance(server, str):
        print(server)
        pytest.skip(server)
    uri, settings = server
    store = Neo4jStore(uri, **settings)
    store.delete_everything()
    return store


def _neo4j(tmp_path: Path) -> Store:
    return open_neo4j()


BACKENDS: dict[str, Callable[[Path], Store]] = {"sqlite": _sqlite, "neo4j": _neo4j}


@pytest.fixture(params=sorted(BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened = BACKENDS[request.param](tmp_path)
    yield opened
    opened.close()
