"""Erasure on generated demo data with known truth, on both stores: an erased person
leaves no byte of their e-mail, phone or name in the store, the next load of the same
files does not bring them back, and the change feeds say what happened."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import neo4j
import pytest

from identity.demo.generator import DemoFiles, generate
from identity.errors import (
    AmbiguousIdentifier,
    InvalidArgument,
    InvalidIdentifier,
    StewardConflict,
    UnknownProfile,
)
from identity.evaluation import load_assignment
from identity.graph import IdentityGraph
from identity.mapping import load_mapping
from identity.model import MembershipKind, ProfileChangeKind, RecordRef
from identity.privacy.suppression import RECORD
from identity.readers import read_file
from identity.rules import load_rules
from identity.store.base import Store
from identity.store.neo4j import Neo4jStore
from identity.store.sqlite import SQLiteStore
from tests.store.conftest import BACKENDS, NoNeo4j, backend_params, neo4j_server

UNTIL = datetime(2026, 7, 31, 18, 0, tzinfo=UTC)
NOW = datetime(2026, 8, 3, 2, 0, tzinfo=UTC)
NAMED = {"where": {"attribute": "last_name", "exists": True}}
"""A segment every person with a last name is in."""


@dataclass
class Person:
    entity: str
    refs: set[RecordRef]
    events: set[str]
    email: str
    identifiers: list[tuple[str, str]]
    """The person's valid e-mails and phones, as an erasure request would give them."""
    needles: list[str]
    """Lower-case strings that are this person's alone: e-mails, phones, names as sent
    and as normalised."""


@dataclass
class Loaded:
    graph: IdentityGraph
    files: DemoFiles
    truth: dict[RecordRef, str]
    path: Path


def _rows(files: DemoFiles) -> dict[RecordRef, dict[str, Any]]:
    keys = {"crm": "customer_no", "webshop": "account_id", "pos": "transaction_id"}
    keys |= {"support": "ticket_id", "marketing": "subscriber_id"}
    found: dict[RecordRef, dict[str, Any]] = {}
    for source, path in files.files.items():
        fmt = "jsonl" if path.suffix == ".jsonl" else "csv"
        for _, row in read_file(path, fmt):
            assert isinstance(row, dict)
            found[RecordRef(source, str(row[keys[source]]))] = row
    return found


def _load(graph: IdentityGraph, files: DemoFiles) -> None:
    for source, path in sorted(files.files.items()):
        graph.ingest.ingest_rows(source, read_file(path, graph.ingest.source(source).format))
    assert files.events_file is not None
    graph.events.ingest_rows(read_file(files.events_file, "jsonl"))


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> DemoFiles:
    return generate(
        tmp_path_factory.mktemp("erasure") / "demo", people=40, seed=11, events=300, until=UNTIL
    )


def _loaded(backend: str, tmp_path: Path, demo_files: DemoFiles) -> Iterator[Loaded]:
    store = BACKENDS[backend](tmp_path)
    graph = IdentityGraph(store, load_rules(), clock=lambda: NOW)
    for path in sorted(demo_files.mappings_dir.glob("*.toml")):
        graph.ingest.register_source(load_mapping(path, rules=graph.rules))
    graph.segments.define("named", NAMED)
    _load(graph, demo_files)
    # A trained model holds every compared value's frequency: names, e-mails, dates.
    graph.probabilistic().train()
    truth = {RecordRef(s, k): e for (s, k), e in load_assignment(demo_files.truth).items()}
    yield Loaded(graph, demo_files, truth, tmp_path)
    graph.close()


@pytest.fixture(params=backend_params())
def loaded(
    request: pytest.FixtureRequest, tmp_path: Path, demo_files: DemoFiles
) -> Iterator[Loaded]:
    """The demo loaded into each store: what the stores keep is what is checked."""
    yield from _loaded(request.param, tmp_path, demo_files)


@pytest.fixture(params=backend_params(["sqlite"]))
def embedded(
    request: pytest.FixtureRequest, tmp_path: Path, demo_files: DemoFiles
) -> Iterator[Loaded]:
    """The demo in the embedded store, for what the domain decides whatever the store
    (the stores' part of it is the contract suite's, tests/store/test_privacy.py)."""
    yield from _loaded(request.param, tmp_path, demo_files)


def _person(loaded: Loaded) -> Person:
    """The person with most records whose e-mail, phone and names appear in nobody
    else's rows or events, even as part of a longer value."""
    rows = _rows(loaded.files)
    normaliser = loaded.graph.normaliser
    assert loaded.files.events_file is not None and loaded.files.events_truth is not None
    event_owner = dict(
        line.split(",") for line in loaded.files.events_truth.read_text().split()[1:]
    )
    events = [json.loads(line) for line in loaded.files.events_file.read_text().splitlines()]
    by_entity: dict[str, list[RecordRef]] = {}
    for ref, entity in loaded.truth.items():
        by_entity.setdefault(entity, []).append(ref)
    candidates: list[Person] = []
    for entity, refs in by_entity.items():
        mine = [rows[r] for r in refs]
        others = json.dumps(
            [row for ref, row in rows.items() if loaded.truth[ref] != entity]
            + [e for e in events if event_owner[e["event_id"]] != entity]
        ).lower()
        needles: list[str] = []
        identifiers: list[tuple[str, str]] = []
        emails = {str(r["email"]).strip() for r in mine if r.get("email")}
        phones = {str(r[f]) for r in mine for f in ("mobile", "phone") if r.get(f)}
        names = {str(r[f]) for r in mine for f in ("first_name", "last_name") if r.get(f)}
        for kind, values in (("email", emails), ("phone", phones)):
            for value in values:
                try:
                    ident = normaliser.identifier(kind, value, "GB")
                    needles += [value.strip().lower(), ident.value.lower()]
                    identifiers.append((kind, ident.value))
                except InvalidIdentifier:
                    needles.append(value.strip().lower())  # junk: in the raw record only
        needles += [n.strip().lower() for n in names]
        if not emails or not phones or len(refs) < 2:
            continue
        if any(n.lower() in others for n in needles):
            continue
        if not _named_by(loaded.graph, refs, identifiers):
            continue
        mine_events = {e["event_id"] for e in events if event_owner[e["event_id"]] == entity}
        email = next(v for k, v in identifiers if k == "email")
        candidates.append(
            Person(entity, set(refs), mine_events, email, identifiers, sorted(set(needles)))
        )
    assert candidates, "the demo data has nobody whose values are theirs alone"
    return max(candidates, key=lambda p: (len(p.refs), len(p.events), p.entity))


def _named_by(
    graph: IdentityGraph, refs: list[RecordRef], identifiers: list[tuple[str, str]]
) -> bool:
    """Whether the identifiers find every profile holding the person's records, each
    identifier held by one profile: what an erasure request by them then covers."""
    keys = [graph.normaliser.identifier(k, v).key for k, v in identifiers]
    held = graph.store.profiles.with_identifiers(keys)
    if not keys or any(len(held[k]) != 1 for k in keys):
        return False
    return {_profile_of(graph, ref) for ref in refs} <= {held[k][0] for k in keys}


def _graph_text(store: Store) -> str:
    """Every property of every node and relationship of the Neo4j graph, as lower-case
    text."""
    server = neo4j_server()
    assert not isinstance(server, NoNeo4j)
    uri, settings = server
    user, password = settings.get("user"), settings.get("password")
    driver = neo4j.GraphDatabase.driver(uri, auth=(user, password or "") if user else None)
    try:
        with driver.session(database=settings.get("database")) as session:
            nodes = [dict(r["p"]) for r in session.run("MATCH (n) RETURN properties(n) AS p")]
            edges = [
                dict(r["p"]) for r in session.run("MATCH ()-[e]->() RETURN properties(e) AS p")
            ]
    finally:
        driver.close()
    return json.dumps([nodes, edges], default=str, ensure_ascii=False).lower()


def _store_text(loaded: Loaded) -> str:
    store = loaded.graph.store
    if isinstance(store, Neo4jStore):
        return _graph_text(store)
    assert isinstance(store, SQLiteStore)
    data = b""
    for suffix in ("", "-wal", "-journal"):
        file = Path(store.path + suffix)
        if file.exists():
            data += file.read_bytes()
    return data.decode("utf-8", errors="replace").lower()


def _profile_of(graph: IdentityGraph, ref: RecordRef) -> str:
    rid = graph.store.records.ids([ref])[ref]
    return graph.store.profiles.ids_of([rid])[rid]


def test_an_erased_person_leaves_no_trace_of_their_email_phone_or_name(loaded: Loaded) -> None:
    graph = loaded.graph
    person = _person(loaded)
    # A steward kept one of their records apart from a stranger's: the audit log names it.
    theirs = min(person.refs)
    stranger = min(ref for ref in loaded.truth if ref not in person.refs)
    graph.stewardship.separate_records(theirs, stranger, "two people", "steward:kim")
    needles = person.needles + [ref.key.lower() for ref in person.refs]
    before = _store_text(loaded)
    assert [n for n in needles if n not in before] == [], "the scan must find them before"
    pid = _profile_of(graph, theirs)

    report = graph.erasure.erase(
        "dpo", "DSAR 2026-114: erasure request", identifiers=person.identifiers
    )

    assert pid in report.profile_ids
    assert report.records >= len(person.refs)
    assert report.events >= len(person.events) > 0
    assert graph.store.records.ids(person.refs) == {}
    assert graph.store.profiles.resolve([pid]) == {}
    after = _store_text(loaded)
    assert [n for n in needles if n in after] == []
    # The steward's entry is still there, with the record's key replaced.
    (entry,) = graph.store.audit.entries(action="separate_records")
    assert entry.entry.target is not None and "/erased-" in entry.entry.target
    assert entry.entry.target.endswith(f"|{stranger.source}/{stranger.key}") or (
        entry.entry.target.startswith(f"{stranger.source}/{stranger.key}|")
    )
    # Undoing it would put back a link to a record that no longer exists: refused.
    with pytest.raises(StewardConflict, match="erased or deleted since"):
        graph.stewardship.undo(entry.id, "changed my mind", "steward:kim")


def test_re_ingesting_the_original_files_does_not_bring_the_person_back(loaded: Loaded) -> None:
    graph = loaded.graph
    person = _person(loaded)
    others = {ref for ref in loaded.truth if ref not in person.refs}
    profiles_before = {ref: _profile_of(graph, ref) for ref in others}
    graph.erasure.erase("dpo", "erasure request", identifiers=person.identifiers)

    reports = [
        graph.ingest.ingest_rows(source, read_file(path, graph.ingest.source(source).format))
        for source, path in sorted(loaded.files.files.items())
    ]
    assert loaded.files.events_file is not None
    events = graph.events.ingest_rows(read_file(loaded.files.events_file, "jsonl"))

    assert sum(r.suppressed for r in reports) == len(person.refs)
    assert events.suppressed == len(person.events)
    assert graph.store.records.ids(person.refs) == {}
    assert [n for n in person.needles if n in _store_text(loaded)] == []
    # Everybody else is where they were.
    assert {ref: _profile_of(graph, ref) for ref in others} == profiles_before


def test_the_feeds_report_the_deleted_profile_and_its_segment_exit(loaded: Loaded) -> None:
    graph = loaded.graph
    person = _person(loaded)
    pid = _profile_of(graph, next(iter(person.refs)))
    assert "named" in graph.store.segments.memberships_of([pid])[pid]
    profile_seq = max((c.seq for c in graph.store.profiles.changes(limit=100_000)), default=0)
    segment_seq = graph.store.segments.last_change_seq()

    graph.erasure.erase("dpo", "erasure request", profile_ids=[pid])

    changes = graph.store.profiles.changes(after=profile_seq)
    assert [(c.kind, c.profile_id) for c in changes] == [(ProfileChangeKind.DELETED, pid)]
    exits = graph.store.segments.changes("named", after=segment_seq)
    assert [(c.kind, c.profile_id) for c in exits] == [(MembershipKind.EXITED, pid)]
    assert graph.store.segments.memberships_of([pid]) == {pid: []}


def test_the_audit_entry_names_who_when_and_why_and_holds_hashes_never_values(
    embedded: Loaded,
) -> None:
    graph = embedded.graph
    person = _person(embedded)

    report = graph.erasure.erase("dpo", "DSAR 7", identifiers=person.identifiers)

    entry = graph.store.audit.get([report.audit_id])[report.audit_id]
    assert (entry.entry.actor, entry.entry.action, entry.entry.reason, entry.at) == (
        "dpo",
        "erase",
        "DSAR 7",
        NOW,
    )
    assert entry.entry.target == ",".join(report.profile_ids)
    listed = graph.store.privacy.suppressions(limit=10_000)
    assert entry.entry.after["suppressed"] == [s.hash for s in listed]
    assert {s.audit_id for s in listed} == {report.audit_id}
    assert sum(1 for s in listed if s.kind == RECORD) == report.records
    text = json.dumps([entry.entry.before, entry.entry.after]).lower()
    assert [n for n in person.needles if n in text] == []


def test_taking_the_hashes_off_the_list_lets_the_next_load_bring_the_person_back(
    embedded: Loaded,
) -> None:
    graph = embedded.graph
    person = _person(embedded)
    graph.erasure.erase("dpo", "mistaken request", identifiers=person.identifiers)

    hashes = [s.hash for s in graph.store.privacy.suppressions(limit=10_000)]
    assert graph.store.privacy.unsuppress(hashes) == len(hashes)
    _load(graph, embedded.files)

    assert graph.store.records.ids(person.refs).keys() == person.refs


def test_an_unknown_or_ambiguous_person_is_refused_and_nothing_is_deleted(embedded: Loaded) -> None:
    graph = embedded.graph
    shared = _shared_email(embedded)
    counts = graph.store.counts()
    with pytest.raises(UnknownProfile):
        graph.erasure.erase("dpo", "request", identifiers=[("email", "nobody@example.org")])
    with pytest.raises(UnknownProfile):
        graph.erasure.erase("dpo", "request", profile_ids=["p_NOSUCH"])
    with pytest.raises(InvalidArgument, match="reason"):
        graph.erasure.erase("dpo", "  ", profile_ids=["p_NOSUCH"])
    with pytest.raises(InvalidArgument, match="at least one"):
        graph.erasure.erase("dpo", "request")
    with pytest.raises(AmbiguousIdentifier):
        graph.erasure.erase("dpo", "request", identifiers=[("email", shared)])
    assert graph.store.counts() == counts
    assert graph.store.privacy.suppressions() == []


def _shared_email(loaded: Loaded) -> str:
    """An e-mail two customers of the CRM give (a family's): the limit of one customer id
    per profile keeps them two profiles holding one e-mail."""
    graph = loaded.graph
    rows = [
        {
            "customer_no": f"C99{n}",
            "first_name": name,
            "last_name": "Doe",
            "email": "does@example.org",
        }
        for n, name in ((1, "Jane"), (2, "John"))
    ]
    graph.ingest.ingest_rows("crm", list(enumerate(rows, start=1)))
    return "does@example.org"
