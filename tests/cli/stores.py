"""A store of either backend that the CLI under test reaches through its environment, as a
user's shell would point `idgraph` at one (IDGRAPH_STORE and the Neo4j credentials)."""

from __future__ import annotations

from pathlib import Path

import pytest

from identity.graph import IdentityGraph
from identity.rules import load_rules
from identity.store.factory import open_store
from tests.store.conftest import neo4j_server, open_neo4j


def cli_store(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> IdentityGraph:
    """An empty store of ``backend`` (Neo4j: the test server, its graph emptied), named to
    the CLI by the environment, and a graph over it for the test to fill and close."""
    settings: dict[str, str | None] = {}
    if backend == "neo4j":
        open_neo4j().close()
        server = neo4j_server()
        assert isinstance(server, tuple)
        url, settings = server
    else:
        url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("IDGRAPH_STORE", url)
    monkeypatch.delenv("IDGRAPH_RULES", raising=False)
    for name in ("user", "password", "database"):
        variable = f"IDGRAPH_NEO4J_{name.upper()}"
        value = settings.get(name)
        if value:
            monkeypatch.setenv(variable, value)
        else:
            monkeypatch.delenv(variable, raising=False)
    return IdentityGraph(open_store(url, **settings), load_rules())
