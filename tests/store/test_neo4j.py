"""What only the Neo4j store does: its URLs, its errors, its schema, its round trips.

Tests that need a server use the contract suite's Neo4j leg (see conftest), carry its
``neo4j`` mark and fail (or, opted out, skip) with its reason where there is none; the rest
run everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, LiteralString, cast

import neo4j
import pytest

from identity.errors import ConfigError, StoreUnavailable
from identity.graph import IdentityGraph
from identity.mapping import load_mapping
from identity.model import Event, Identifier, ProfileChanges, SourceRecord
from identity.rules import load_rules
from identity.store.factory import open_store
from identity.store.neo4j import SCHEMA_VERSION, Neo4jStore, cypher
from tests.store.conftest import NoNeo4j, neo4j_server, open_neo4j


@pytest.fixture
def neo4j_store() -> Iterator[Neo4jStore]:
    store = open_neo4j()
    yield store
    store.close()


# -- everywhere --------------------------------------------------------------------------------


def test_every_statement_the_adapter_names_is_a_packaged_file() -> None:
    package = Path(__file__).resolve().parents[2] / "identity" / "store" / "neo4j"
    modules = sorted(package.glob("*.py"))
    assert {path.stem for path in modules} >= {"store", "connection", "records", "profiles"}
    text = "\n".join(path.read_text() for path in modules)
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
    settings.store_opener()()
    assert _Opened.calls == [expected]


def test_an_unreachable_server_is_store_unavailable_quickly() -> None:
    # Port 1 on loopback refuses at once; opening must not sit in the driver's retries.
    started = datetime.now(UTC)
    with pytest.raises(StoreUnavailable, match=r"bolt://127\.0\.0\.1:1 .*unavailable"):
        open_store("bolt://neo4j:secret@127.0.0.1:1/idgraph")
    assert (datetime.now(UTC) - started).total_seconds() < 20


# -- with a server -----------------------------------------------------------------------------


@pytest.mark.neo4j
def test_reopening_keeps_the_schema_version(neo4j_store: Neo4jStore) -> None:
    health = neo4j_store.health()
    assert health.ok and f"schema v{SCHEMA_VERSION}" in health.detail


def _server_driver() -> tuple[neo4j.Driver, str, dict[str, str | None]]:
    """A driver of its own to the suite's server (statements the store never runs: plans,
    index listings), with the server's URI and settings (``database``: the suite's)."""
    server = neo4j_server()
    assert not isinstance(server, NoNeo4j)
    uri, settings = server
    user, password = settings.get("user"), settings.get("password")
    driver = neo4j.GraphDatabase.driver(
        uri, auth=(user, password or "") if user else None, notifications_min_severity="OFF"
    )
    return driver, uri, settings


@pytest.mark.neo4j
def test_a_version_6_graph_gains_the_review_queue_index_by_weight(
    neo4j_store: Neo4jStore,
) -> None:
    driver, uri, settings = _server_driver()

    def indexes() -> set[str]:
        with driver.session(database=settings.get("database")) as session:
            return {row["name"] for row in session.run("SHOW INDEXES YIELD name")}

    try:
        with driver.session(database=settings.get("database")) as session:
            session.run("DROP INDEX link_type_weight IF EXISTS").consume()
            session.run(cypher.statement("set_schema_version"), version=6).consume()
        assert "link_type_weight" not in indexes()
        reopened = Neo4jStore(uri, **settings)
        try:
            assert f"schema v{SCHEMA_VERSION}" in reopened.health().detail
        finally:
            reopened.close()
        assert SCHEMA_VERSION >= 7 and "link_type_weight" in indexes()
        # The index it dropped is back, online, before the next test plans on this server.
        with driver.session(database=settings.get("database")) as session:
            session.run("CALL db.awaitIndexes(60)").consume()
    finally:
        driver.close()


@pytest.mark.neo4j
def test_a_version_7_graph_gains_the_household_constraints(neo4j_store: Neo4jStore) -> None:
    driver, uri, settings = _server_driver()
    names = ("household_id", "household_member_profile", "household_correction_key")

    def constraints() -> set[str]:
        with driver.session(database=settings.get("database")) as session:
            return {row["name"] for row in session.run("SHOW CONSTRAINTS YIELD name")}

    try:
        with driver.session(database=settings.get("database")) as session:
            session.run("DROP CONSTRAINT household_id IF EXISTS").consume()
            session.run("DROP CONSTRAINT household_member_profile IF EXISTS").consume()
            session.run("DROP CONSTRAINT household_correction_key IF EXISTS").consume()
            session.run(cypher.statement("set_schema_version"), version=7).consume()
        assert not set(names) & constraints()
        reopened = Neo4jStore(uri, **settings)
        try:
            assert f"schema v{SCHEMA_VERSION}" in reopened.health().detail
        finally:
            reopened.close()
        assert SCHEMA_VERSION >= 8 and set(names) <= constraints()
        with driver.session(database=settings.get("database")) as session:
            session.run("CALL db.awaitIndexes(60)").consume()
    finally:
        driver.close()


@pytest.mark.neo4j
def test_ingesting_10k_records_takes_a_few_dozen_statements(
    neo4j_store: Neo4jStore, tmp_path: Path
) -> None:
    mapping = tmp_path / "crm.toml"
    mapping.write_text(
        'source = "crm"\nkey = "id"\nformat = "csv"\n'
        '[identifiers]\nemail = "email"\ncustomer_no = "customer_id"\n'
        '[attributes]\nfirst_name = "first_name"\n'
    )
    graph = IdentityGraph(neo4j_store, load_rules(None))
    graph.ingest.register_source(load_mapping(mapping, rules=graph.rules))
    # Two records per person (shared e-mail and customer number; a profile holds one
    # customer number at most): 10,000 records, 5,000 profiles.
    rows = (
        (
            i + 2,
            {
                "id": f"r{i:05}",
                "customer_no": f"C{i // 2:05}",
                "email": f"p{i // 2}@example.com",
                "first_name": f"n{i}",
            },
        )
        for i in range(10_000)
    )
    before = neo4j_store.statement_counts.total()
    report = graph.ingest.ingest_rows("crm", rows)
    sent = neo4j_store.statement_counts.total() - before
    assert (report.accepted, report.rejected) == (10_000, 0)
    counts = neo4j_store.counts()
    assert (counts.records, counts.profiles) == (10_000, 5_000)
    # A regression to one statement per record would send tens of thousands. Each batch
    # costs a fixed number: about 30 to store and resolve it, and about 10 to recompute the
    # profile read model's rows of the profiles it touched (identity/profile_view.py).
    assert sent <= 90, dict(neo4j_store.statement_counts)


# Operators that read more than the keys a statement is given: under an UNWIND, once per row.
_SCANS = {
    "NodeByLabelScan",
    "AllNodesScan",
    "NodeIndexScan",
    "DirectedRelationshipTypeScan",
    "UndirectedRelationshipTypeScan",
    "DirectedRelationshipIndexScan",
    "UndirectedRelationshipIndexScan",
    # The review queue's index on LINK.type: every link of a type, not one row's.
    "DirectedRelationshipIndexSeek",
    "UndirectedRelationshipIndexSeek",
}
# Indexes too coarse to find one key's node: every live profile, say.
_COARSE_INDEXES = ("Profile(status)",)
# The statements that read the whole graph (or a whole small set) by design: the table
# "Which statements touch the whole graph, and why" in docs/graph-model.md. Those that read
# it a page at a time (records_page, record_profiles_page, ...) are not among them: each
# page must seek from its cursor, or reading every page is quadratic.
_WHOLE_GRAPH = {
    "counts",
    "get_segments",
    "get_destinations",
    "segment_sizes",
    "meta_keys",
    "list_sources",
    "last_change_seq",
    "links_of_type",
    "count_links_of_type",
    "identifier_flags",
    "stop_destinations_of_segment",
    "clear_blocking_keys",
    "clear_match_fields",
    "clear_profile_views",
    "delete_everything",
    # The quality page's aggregates (identity/quality.py): counts over every link, live
    # profile or audit entry of a kind, by design.
    "quality_match_weight_bins",
    "quality_profile_sizes",
    "quality_links_by_matcher",
    "quality_review_queue_samples",
    "quality_ingest_loads",
    # A rule change's census (identity/rule_changes): every identifier of a kind, or of any
    # kind by value, or every holder of a kind, once per `idgraph rules diff` or `apply`.
    "identifiers_shared",
    "identifiers_valued",
    "records_holding_kinds",
    # Households (identity/households/): a rebuild deletes every household; the stewards'
    # corrections are read whole (a few); the totals are count-store reads.
    "clear_households",
    "household_corrections",
    "count_households",
}

# Pages that seek a relationship index from their cursor, in the index's order, and stop at
# their limit: the index each may seek (any other relationship index seek is still a scan).
_CURSOR_SEEKS = {"links_of_type_by_weight": "LINK(type, weight)"}


_SORTED_PAGES = {
    # One profile's events, reached through its records and identifiers, not an index:
    # sorting them is the page's work, bounded by the profile.
    "journey_newest_first",
    "journey_oldest_first",
    # Every link of a type, ordered by both ends: a whole-graph read (above).
    "links_of_type",
}
"""Keyset pages that sort what they read, and why that is bounded or intended."""


def _operators(plan: Any) -> Iterator[tuple[str, str]]:
    yield plan["operatorType"].split("@")[0], plan.get("args", {}).get("Details", "")
    for child in plan.get("children", []):
        yield from _operators(child)


def _scans(driver: neo4j.Driver, database: str | None) -> dict[str, list[str]]:
    """For every statement that starts from the keys it is given, the operators of its
    fresh plan that scan instead."""
    with driver.session(database=database) as session:
        session.run("CALL db.clearQueryCaches()").consume()
    found: dict[str, list[str]] = {}
    for name in cypher.available():
        if name == "schema" or name in _WHOLE_GRAPH:
            continue
        with driver.session(database=database) as session:
            plan = session.run(_explain(cypher.statement(name))).consume().plan
        allowed = _CURSOR_SEEKS.get(name)
        bad = [
            f"{operator} {details}"
            for operator, details in _operators(plan)
            if (operator in _SCANS and not (allowed and allowed in details))
            or any(index in details for index in _COARSE_INDEXES)
        ]
        if bad:
            found[name] = bad
    return found


def _explain(text: str) -> LiteralString:
    return cast(LiteralString, "EXPLAIN " + text)


@pytest.mark.neo4j
def test_statements_seek_their_keys_whatever_the_statistics(neo4j_store: Neo4jStore) -> None:
    # Neo4j plans a statement from the graph's statistics when it first sees it and reuses
    # the plan until they drift far enough. On a young graph (records but no links yet,
    # profiles all live, few profiles and many events) a scan of the few links of a type,
    # of the live profiles or of every profile looks free; a batch of 5,000 rows then runs
    # it once per row while it adds to what it scans (10,000 records took 33 to 58 s
    # instead of 7). Every statement but the whole-graph ones must find what it is asked
    # for by its keys, whatever the statistics say.
    driver, _, settings = _server_driver()
    database = settings.get("database")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        empty = _scans(driver, database)
        emails = [Identifier("email", f"p{i}@example.com", f"p{i}@example.com") for i in range(400)]
        written = neo4j_store.records.upsert(
            [SourceRecord("crm", f"k{i}", (email,)) for i, email in enumerate(emails)], now
        )
        records_only = _scans(driver, database)
        changes = ProfileChanges(created=[f"P{i}" for i in range(300)])
        changes.assignments.update({w.record_id: f"P{i % 300}" for i, w in enumerate(written)})
        neo4j_store.profiles.apply(changes, now)
        with_profiles = _scans(driver, database)
        neo4j_store.events.put(
            [Event(f"e{i}", "page_view", now, (emails[i % 400],)) for i in range(3000)], now
        )
        with_events = _scans(driver, database)
    finally:
        driver.close()
    assert {
        "empty": empty,
        "records only": records_only,
        "with profiles": with_profiles,
        "with events": with_events,
    } == {"empty": {}, "records only": {}, "with profiles": {}, "with events": {}}


@pytest.mark.neo4j
def test_keyset_pages_read_in_index_order_and_stop_at_their_limit(
    neo4j_store: Neo4jStore,
) -> None:
    # A page "above $after, ascending, up to $limit" must be read in index order and stop
    # at $limit. A plan with Top (sort, then keep the first $limit) seeks every entry above
    # $after on every page: an export of 90,921 members took 182 pages of up to 90,921
    # entries each, half the time of the export at 100,000 people.
    driver, _, settings = _server_driver()
    pages = [
        name
        for name in cypher.available()
        if "$after" in cypher.statement(name)
        and "LIMIT $limit" in cypher.statement(name)
        and name not in _SORTED_PAGES
    ]
    try:
        with driver.session(database=settings.get("database")) as session:
            sorted_pages = {
                name: [
                    operator
                    for operator, _ in _operators(
                        session.run(_explain(cypher.statement(name))).consume().plan
                    )
                    if operator == "Top"
                ]
                for name in pages
            }
    finally:
        driver.close()
    assert {"segment_members", "export_profile_views", "segment_changes"} <= set(pages)
    assert {name: found for name, found in sorted_pages.items() if found} == {}
