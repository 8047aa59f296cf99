"""Retention and the smaller corrections that share erasure's path: records and events
past their period go and profiles re-resolve; a wrong identifier comes off a profile and
stays off; a mistaken suppression is lifted."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from identity.errors import InvalidArgument
from identity.graph import IdentityGraph
from identity.mapping import SourceMapping
from identity.model import MembershipKind, ProfileChangeKind, RecordRef
from identity.rules import Rules, load_rules
from identity.store.factory import open_store
from tests.identity.test_resolution import CRM, SHOP, ingest, partition, profile_of

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _graph(rules: Rules | None = None, crm_days: int | None = 30) -> IdentityGraph:
    graph = IdentityGraph(
        open_store("sqlite:///:memory:"), rules or load_rules(), clock=lambda: NOW
    )
    crm = {**CRM, "retention_days": crm_days} if crm_days else CRM
    for doc in (crm, SHOP):
        graph.ingest.register_source(SourceMapping.from_document(doc, rules=graph.rules))
    return graph


@pytest.fixture
def graph() -> Iterator[IdentityGraph]:
    g = _graph()
    yield g
    g.close()


def row(key: str, days_ago: int, **fields: Any) -> dict[str, Any]:
    return {"id": key, "updated": (NOW - timedelta(days=days_ago)).isoformat(), **fields}


def test_records_past_their_sources_period_go_and_their_profiles_re_resolve(
    graph: IdentityGraph,
) -> None:
    # c1 (old) bridges ann's shop account s1 and her phone record c2: when c1 goes, the
    # two are apart again, and the id stays with one of them.
    ingest(graph, "crm", row("c1", 90, email="ann@example.com", phone="07400 123456"))
    ingest(graph, "crm", row("c2", 3, phone="07400 123456"))
    ingest(graph, "shop", row("s1", 400, email="ann@example.com"))
    ingest(graph, "crm", row("c3", 45, email="bob@example.com", first="Bob"))
    bob = profile_of(graph, "crm", "c3")
    segment = {"where": {"attribute": "first_name", "exists": True}}
    graph.segments.define("named", segment)
    seq = graph.store.segments.last_change_seq()

    report = graph.retention.apply("dpo")

    assert report.records == {"crm": 2} and report.events == 0
    assert graph.store.records.ids([RecordRef("crm", "c1"), RecordRef("crm", "c3")]) == {}
    # The shop keeps its records (no period), and the young crm record stays.
    assert partition(graph) == {
        frozenset({RecordRef("crm", "c2")}),
        frozenset({RecordRef("shop", "s1")}),
    }
    assert graph.store.profiles.resolve([bob]) == {}
    deleted = [c for c in graph.store.profiles.changes() if c.kind == ProfileChangeKind.DELETED]
    assert [c.profile_id for c in deleted] == [bob]
    exits = graph.store.segments.changes("named", after=seq)
    assert [(c.kind, c.profile_id) for c in exits] == [(MembershipKind.EXITED, bob)]
    assert report.profiles_deleted == 1
    # Retention is not erasure: the same record sent again is kept, as new data.
    assert graph.store.privacy.suppressions() == []
    ingest(graph, "crm", row("c3", 1, email="bob@example.com"))
    assert graph.store.records.ids([RecordRef("crm", "c3")])
    entry = graph.store.audit.entries(action="retention")[0]
    assert entry.entry.actor == "dpo" and entry.entry.after["records"] == {"crm": 2}


def test_a_dry_run_counts_and_deletes_nothing(graph: IdentityGraph) -> None:
    ingest(graph, "crm", row("c1", 90, email="ann@example.com"), row("c2", 1))
    counts = graph.store.counts()

    report = graph.retention.apply(dry_run=True)

    assert (report.records, report.dry_run) == ({"crm": 1}, True)
    assert graph.store.counts() == counts
    assert graph.store.audit.entries(action="retention") == []


def test_events_past_the_rules_period_go_and_journeys_and_segments_follow() -> None:
    rules = load_rules()
    rules = replace(rules, events=replace(rules.events, retention_days=365))
    graph = _graph(rules, crm_days=None)
    ingest(graph, "crm", row("c1", 2000, email="ann@example.com"))
    pid = profile_of(graph, "crm", "c1")
    events = [
        {
            "event_id": f"e{age}",
            "type": "purchase",
            "timestamp": (NOW - timedelta(days=age)).isoformat(),
            "identifiers": {"email": "ann@example.com"},
            "properties": {"order_value": 10},
        }
        for age in (10, 400, 800)
    ]
    graph.events.ingest_rows(list(enumerate(events, start=1)))
    graph.segments.define("ever-bought", {"where": {"event": "purchase", "within_days": 10_000}})
    repeat = {"where": {"event": "purchase", "within_days": 10_000, "count": {"gte": 2}}}
    graph.segments.define("repeat-buyers", repeat)
    assert graph.store.segments.memberships_of([pid])[pid] == ["ever-bought", "repeat-buyers"]

    report = graph.retention.apply()

    assert (report.records, report.events) == ({}, 2)
    journey = graph.store.events.of_profiles([pid])[pid]
    assert [e.event_id for e in journey] == ["e10"]
    # The record is older than the event period but records have their own: it stays.
    assert graph.store.records.ids([RecordRef("crm", "c1")])
    assert graph.store.segments.memberships_of([pid])[pid] == ["ever-bought"]
    graph.close()


def test_a_wrong_email_comes_off_the_profile_and_stays_off(graph: IdentityGraph) -> None:
    # An agent typed bob's e-mail into ann's crm record: ann and bob were joined.
    ingest(graph, "crm", row("c1", 1, email="bob@example.com", first="Ann", phone="07400 123456"))
    ingest(graph, "shop", row("s1", 1, email="bob@example.com", first="Bob"))
    ann = profile_of(graph, "crm", "c1")
    assert profile_of(graph, "shop", "s1") == ann

    report = graph.erasure.remove_identifier(
        "steward:kim", "typed by an agent, ticket 88", ann, "email", "Bob@Example.com"
    )

    assert report.records == 2
    assert profile_of(graph, "crm", "c1") != profile_of(graph, "shop", "s1")
    (stored,) = graph.store.records.get(graph.store.profiles.records_of([ann])[ann]).values()
    assert [i.kind for i in stored.record.identifiers] == ["phone"]
    assert stored.record.raw["email"] == "bob@example.com"  # what the source sent is kept
    # Nor does the probabilistic matcher compare or block on it any more.
    (indexed,) = graph.store.matching.rows_of([stored.record_id])
    assert indexed.fields["email"] is None
    assert not any("bob@example.com" in key for key in indexed.keys)
    # The source sends the record again, e-mail and all: it stays off.
    report_again = ingest(
        graph, "crm", row("c1", 0, email="bob@example.com", first="Ann", phone="07400 123456")
    )
    assert report_again.suppressed == 0
    assert profile_of(graph, "crm", "c1") != profile_of(graph, "shop", "s1")
    entry = graph.store.audit.get([report.audit_id])[report.audit_id]
    assert (entry.entry.action, entry.entry.actor, entry.entry.target) == (
        "remove-identifier",
        "steward:kim",
        ann,
    )
    assert "bob@example.com" not in str(entry.entry.before)


def test_removing_an_identifier_the_profile_does_not_hold_is_refused(graph: IdentityGraph) -> None:
    ingest(graph, "crm", row("c1", 1, email="ann@example.com"))
    ann = profile_of(graph, "crm", "c1")
    with pytest.raises(InvalidArgument, match="holds no such email"):
        graph.erasure.remove_identifier("kim", "typo", ann, "email", "zed@example.com")
    with pytest.raises(InvalidArgument, match="reason"):
        graph.erasure.remove_identifier("kim", " ", ann, "email", "ann@example.com")
    assert graph.store.privacy.suppressions() == []


def test_lifting_an_erasures_entries_lets_the_person_back_and_is_audited(
    graph: IdentityGraph,
) -> None:
    ingest(graph, "crm", row("c1", 1, email="ann@example.com"))
    report = graph.erasure.erase("dpo", "request", identifiers=[("email", "ann@example.com")])
    assert ingest(graph, "crm", row("c1", 1, email="ann@example.com")).suppressed == 1

    lifted = graph.erasure.lift("dpo", "wrong person", erasure_id=report.audit_id)

    assert len(lifted) == report.suppressed == 2  # the e-mail and the record
    assert ingest(graph, "crm", row("c1", 1, email="ann@example.com")).created == 1
    entry = graph.store.audit.entries(action="unsuppress")[0]
    assert entry.entry.before == {"suppressed": lifted}
    with pytest.raises(InvalidArgument, match="name entries"):
        graph.erasure.lift("dpo", "nothing")


def test_erasing_a_person_lets_a_shared_value_back_under_its_cap_link_again() -> None:
    graph = _graph(crm_days=None)
    cap = graph.rules.kinds["email"].cardinality_cap
    # One more holder than the cap: the shared e-mail links nobody.
    rows = [row(f"c{i}", 1, email="family@example.com") for i in range(cap + 1)]
    ingest(graph, "crm", *rows)
    assert len({profile_of(graph, "crm", f"c{i}") for i in range(cap + 1)}) == cap + 1
    assert graph.store.records.flags()

    graph.erasure.erase("dpo", "request", profile_ids=[profile_of(graph, "crm", "c0")])

    # Now at the cap, it links again: the rest are one profile, and no flag is left.
    assert len({profile_of(graph, "crm", f"c{i}") for i in range(1, cap + 1)}) == 1
    assert graph.store.records.flags() == []
    # An e-mail shared by others is no one's own: it is not suppressed, the record is.
    assert [s.kind for s in graph.store.privacy.suppressions()] == ["record"]
    graph.close()
