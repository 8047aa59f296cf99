"""The storage contract for privacy: deleting records and events for good, and the
suppression list.

Every test runs once per backend (conftest.BACKENDS)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from identity.model import (
    IdentifierFlag,
    IdentifierFlagReason,
    IdentifierKey,
    Link,
    LinkType,
    MatchRow,
    RecordRef,
    Suppression,
)
from identity.store.base import Store
from tests.store.builders import COOKIE, EMAIL, PHONE, T0, T1, T2, event, ident, insert, rec

OTHER = IdentifierKey("email", "bob@example.com")


def test_deleting_records_takes_their_identifiers_links_match_rows_and_flags_with_them(
    store: Store,
) -> None:
    a, b, c = insert(
        store,
        rec("a", ident(EMAIL), ident(PHONE), first_name="Ann"),
        rec("b", ident(EMAIL)),
        rec("c", ident(OTHER)),
    )
    store.links.put(
        [
            Link(a, b, LinkType.MATCH, "fs", 3.2, {"first_name": 1.0}),
            Link(b, c, LinkType.REVIEW, "fs", 0.4),
            Link(a, c, LinkType.CANNOT_LINK, "steward"),
        ]
    )
    store.matching.put_rows(
        [
            MatchRow(a, {"first_name": "ann"}, ("1:ann", "2:ann|2026")),
            MatchRow(b, {"first_name": None}, ("1:ann",)),
            MatchRow(c, {"first_name": "bob"}, ("1:bob",)),
        ]
    )
    store.records.put_flags(
        [
            IdentifierFlag(PHONE, IdentifierFlagReason.BLOCKLISTED, 1),
            IdentifierFlag(OTHER, IdentifierFlagReason.BLOCKLISTED, 1),
        ]
    )

    held = store.privacy.delete_records([a, b, 999])

    assert held == sorted([EMAIL, PHONE])
    assert store.records.get([a, b, c]).keys() == {c}
    assert store.records.ids([RecordRef("crm", "a"), RecordRef("crm", "b")]) == {}
    assert store.records.identifier_counts([EMAIL, PHONE, OTHER]) == {EMAIL: 0, PHONE: 0, OTHER: 1}
    assert store.links.of([a, b, c]) == []
    assert [r.record_id for r in store.matching.rows_of([a, b, c])] == [c]
    assert store.matching.key_counts(["1:ann", "2:ann|2026", "1:bob"]) == {
        "1:ann": 0,
        "2:ann|2026": 0,
        "1:bob": 1,
    }
    assert [f.key for f in store.records.flags()] == [OTHER]
    assert store.counts().records == 1


def test_deleting_events_takes_their_identifier_edges_and_keeps_the_others(store: Store) -> None:
    insert(store, rec("a", ident(EMAIL)))
    store.events.put(
        [event("e1", EMAIL, COOKIE), event("e2", EMAIL), event("e3", COOKIE, at=T1)], T0
    )

    assert store.privacy.delete_events(["e1", "e2", "nosuch"]) == 2

    assert store.events.count() == 1
    assert sorted(e.event_id for e in store.copy.events()) == ["e3"]
    assert store.records.identifier_counts([EMAIL]) == {EMAIL: 1}


def test_expired_records_are_those_of_the_source_older_than_the_cutoff_by_their_own_time(
    store: Store,
) -> None:
    old = rec("old", ident(EMAIL))
    young = rec("young", ident(PHONE))
    other_source = rec("elsewhere", ident(OTHER), source="shop")
    untimed = rec("untimed", ident(COOKIE))
    ids = insert(
        store,
        old,
        replace(young, timestamp=T2),
        other_source,
        replace(untimed, timestamp=None),
    )
    # The untimed record was last changed at T0 (insert's now): its time.
    assert store.privacy.expired_records("crm", T1) == sorted([ids[0], ids[3]])
    assert store.privacy.expired_records("crm", T1, limit=1) == [min(ids[0], ids[3])]
    assert store.privacy.expired_records("shop", T0) == []
    assert store.privacy.expired_records("crm", T0 + timedelta(days=1)) == sorted(
        [ids[0], ids[1], ids[3]]
    )


def test_expired_events_are_the_oldest_before_the_cutoff(store: Store) -> None:
    store.events.put([event("e2", EMAIL, at=T1), event("e1", EMAIL, at=T2), event("e0", EMAIL)], T0)

    assert store.privacy.expired_events(T2) == ["e0", "e2"]
    assert store.privacy.expired_events(T2, limit=1) == ["e0"]
    assert store.privacy.expired_events(T0) == []


def test_the_suppression_list_adds_finds_pages_and_removes_entries(store: Store) -> None:
    entries = [Suppression(f"h{i}", "email", T0, 7) for i in range(5)]
    store.privacy.suppress(entries)
    store.privacy.suppress([Suppression("h1", "phone", T1, 8)])

    assert store.privacy.suppressed(["h1", "h3", "nosuch"]) == {"h1", "h3"}
    assert store.privacy.suppressed([]) == set()
    assert store.privacy.suppressions(limit=2) == entries[:2]
    assert store.privacy.suppressions(after="h1", limit=10) == entries[2:]
    assert store.privacy.unsuppress(["h1", "h4", "nosuch"]) == 2
    assert [s.hash for s in store.privacy.suppressions()] == ["h0", "h2", "h3"]


def test_scrub_runs_between_writes_and_leaves_the_store_writable(store: Store) -> None:
    (a,) = insert(store, rec("a", ident(EMAIL)))
    store.privacy.delete_records([a])
    store.privacy.scrub()
    assert store.records.get([a]) == {}
    (b,) = insert(store, rec("b", ident(PHONE)))  # its locks are let go
    assert store.records.identifier_counts([EMAIL, PHONE]) == {EMAIL: 0, PHONE: 1}
    assert [r.record_id for r in store.records.scan()] == [b]
