"""What only the Neo4j store does: its URLs, its errors, its schema, its round trips.

Tests that need a server use the contract suite's Neo4j leg (see conftest) and skip with
its reason where there is none; the rest run everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import pytest

from identity.errors import ConfigError, StoreUnavailable
from identity.graph import IdentityGraph
from identity.mapping import load_mapping
from identity.rules import load_rules
from identity.store import cypher
from identity.store.factory import open_store
from identity.store.neo4j import SCHEMA_VERSION, Neo4jStore
from tests.store.conftest import open_neo4j


@pytest.fixture
def neo4j_store() -> Iterator[Neo4jStore]:
    store = open_neo4j()
    yield store
    store.close()


# -- everywhere --------------------------------------------------------------------------------


def test_every_statement_the_adapter_names_is_a_packaged_file() -> None:
    source = Neo4jStore.__module__.replace(".", "/") + ".py"
    text = (Path(__file__).resolve().parents[2] / source).read_text()
    named = set(re.findall(r'(?:run|batched|statement|statements)\(\s*"([a-z_]+)"', text))
    assert named, "found no statement names in the adapter"
    assert named <= set(cypher.available())
    # And no statement file is dead weight.
    assert set(cypher.available()) <= named


def test_schema_file_splits_into_idempotent_statements() -> None:
    parts = cypher.statements("schema")
    assert len(parts) >= 9
    assert all("IF NOT EXISTS" in part and not part.endswith(";") for part in parts)
    assert SCHEMA_VERSION >= 1


def test_statement_names_are_checked() -> None:
    with pytest.raises(Exception, match="invalid Cypher statement name"):
        cypher.statement("../etc/passwd")
    with pytest.raises(Exception, match="not installed"):
        cypher.statement("no_such_statement")


@pytest.mark.parametrize(
    "url, problem",
    [
        ("neo4j:///nohost", "needs a host"),
        ("bolt://localhost:7687/a/b", "at most one database"),
    ],
)
def test_bad_neo4j_urls_are_configuration_errors(url: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        open_store(url)


class _Opened:
    """Stands in for Neo4jStore: records how the factory called it."""

    calls: ClassVar[list[tuple[str, dict[str, str | None]]]] = []

    def __init__(self, uri: str, **settings: str | None) -> None:
        self.calls.append((uri, settings))

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    "url, expected",
    [
        (
            "neo4j://db.internal:7687",
            ("neo4j://db.internal:7687", {"user": "app", "password": "s3", "database": "graph"}),
        ),
        (
            "neo4j+s://ann:p%40ss@db.internal/idgraph",
            ("neo4j+s://db.internal", {"user": "ann", "password": "p@ss", "database": "idgraph"}),
        ),
        (
            "bolt://[::1]:7688",
            ("bolt://[::1]:7688", {"user": "app", "password": "s3", "database": "graph"}),
        ),
    ],
)
def test_neo4j_urls_open_the_neo4j_store_with_settings_filling_the_gaps(
    monkeypatch: pytest.MonkeyPatch, url: str, expected: tuple[str, dict[str, str]]
) -> None:
    from identity.store import neo4j as adapter
    from service.config import Settings

    monkeypatch.setattr(adapter, "Neo4jStore", _Opened)
    _Opened.calls.clear()
    monkeypatch.setenv("IDGRAPH_STORE", url)
    monkeypatch.setenv("IDGRAPH_NEO4J_USER", "app")
    monkeypatch.setenv("IDGRAPH_NEO4J_PASSWORD", "s3")
    monkeypatch.setenv("IDGRAPH_NEO4J_DATABASE", "graph")
    settings = Settings()
    assert "s3" not in repr(settings)
    settings.open_graph()
    assert _Opened.calls == [expected]


def test_an_unreachable_server_is_store_unavailable_quickly() -> None:
    # Port 1 on loopback refuses at once; opening must not sit in the driver's retries.
    started = datetime.now(UTC)
    with pytest.raises(StoreUnavailable, match=r"bolt://127\.0\.0\.1:1 .*unavailable"):
        open_store("bolt://neo4j:secret@127.0.0.1:1/idgraph")
    assert (datetime.now(UTC) - started).total_seconds() < 20


# -- with a server -----------------------------------------------------------------------------


def test_reopening_keeps_the_schema_version(neo4j_store: Neo4jStore) -> None:
    health = neo4j_store.health()
    assert health.ok and f"schema v{SCHEMA_VERSION}" in health.detail


def test_ingesting_10k_records_takes_a_few_dozen_statements(
    neo4j_store: Neo4jStore, tmp_path: Path
) -> None:
    mapping = tmp_path / "crm.toml"
    mapping.write_text(
        'source = "crm"\nkey = "id"\nformat = "csv"\n'
        '[identifiers]\nemail = "email"\nid = "customer_id"\n'
        '[attributes]\nfirst_name = "first_name"\n'
    )
    graph = IdentityGraph(neo4j_store, load_rules(None))
    graph.ingest.register_source(load_mapping(mapping, rules=graph.rules))
    # Two records per person (shared e-mail): 10,000 records, 5,000 profiles.
    rows = (
        (i + 2, {"id": f"c{i:05}", "email": f"p{i // 2}@example.com", "first_name": f"n{i}"})
        for i in range(10_000)
    )
    before = neo4j_store.statement_counts.total()
    report = graph.ingest.ingest_rows("crm", rows)
    sent = neo4j_store.statement_counts.total() - before
    assert (report.accepted, report.rejected) == (10_000, 0)
    counts = neo4j_store.counts()
    assert (counts.records, counts.profiles) == (10_000, 5_000)
    # A regression to one statement per record would send tens of thousands.
    assert sent <= 60, dict(neo4j_store.statement_counts)
