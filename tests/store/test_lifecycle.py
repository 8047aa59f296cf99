"""The storage contract for a store's lifecycle: health and counts, units of work and
reading blocks, statement counts.

Every test runs once per backend (conftest.BACKENDS)."""

from __future__ import annotations

import time

import pytest

from identity import deadline
from identity.errors import StoreError, TimeBudgetExceeded
from identity.model import (
    AuditEntry,
    IdentifierKey,
    Link,
    LinkType,
    MatchRow,
    ProfileChanges,
)
from identity.store.base import Store
from tests.store.builders import (
    BUYERS,
    EMAIL,
    T0,
    enter,
    event,
    ident,
    insert,
    make_profiles,
    rec,
)


class Boom(Exception):
    pass


def test_health_and_counts_of_an_empty_store(store: Store) -> None:
    health = store.health()
    assert health.ok and health.backend == store.backend
    counts = store.counts()
    assert (counts.records, counts.identifiers, counts.profiles, counts.links) == (0, 0, 0, 0)


def test_a_failed_unit_of_work_leaves_nothing_behind(store: Store) -> None:
    insert(store, rec("kept"))
    with pytest.raises(Boom), store.unit_of_work():
        insert(store, rec("a"), rec("b"))
        store.sources.put("crm", {"source": "crm"})
        with store.unit_of_work():
            store.meta.set("k", 1)
        raise Boom
    assert [r.key for r, _ in store.records.scan_profiles()] == ["kept"]
    assert store.sources.get("crm") is None and store.meta.get("k") is None


def test_one_unit_of_work_spans_every_port_and_rolls_back_as_one(store: Store) -> None:
    """Records, profiles, links, the match index, events, segments and the audit log
    written through ``uow`` commit together or not at all (here: not at all)."""
    with pytest.raises(Boom), store.unit_of_work() as uow:
        a, b = (w.record_id for w in uow.records.upsert([rec("a", ident(EMAIL)), rec("b")], T0))
        uow.profiles.apply(ProfileChanges(created=["p1"], assignments={a: "p1", b: "p1"}), T0)
        uow.links.put([Link(a, b, LinkType.MUST_LINK, "steward", 1.0)])
        uow.matching.put_rows([MatchRow(a, {"first_name": "ann"}, ("k1",))])
        uow.events.put([event("e1", EMAIL)], T0)
        uow.segments.put("buyers", BUYERS, T0)
        uow.segments.apply_changes(enter("buyers", "p1"), T0)
        uow.audit.append([AuditEntry("ann", "merge", target="p1", reason="test")], T0)
        assert uow.profiles.records_of(["p1"]) == {"p1": [a, b]}
        raise Boom
    counts = store.counts()
    assert (counts.records, counts.profiles, counts.links) == (0, 0, 0)
    assert store.matching.key_counts(["k1"]) == {"k1": 0}
    assert store.events.count() == 0
    assert store.segments.get() == [] and store.audit.entries() == []
    assert store.profiles.changes() == []


def test_a_failure_in_a_nested_block_rolls_back_the_outer_one(store: Store) -> None:
    with pytest.raises(Boom), store.unit_of_work():
        insert(store, rec("a"))
        with store.unit_of_work():
            insert(store, rec("b"))
            raise Boom
    assert store.counts().records == 0
    insert(store, rec("c"))
    assert store.counts().records == 1


def test_writes_inside_a_unit_of_work_are_visible_inside_it(store: Store) -> None:
    with store.unit_of_work():
        (a,) = insert(store, rec("a", ident(EMAIL)))
        make_profiles(store, p1=[a])
        assert store.records.with_identifiers([EMAIL]) == {EMAIL: [a]}
        assert store.profiles.with_identifiers([EMAIL]) == {EMAIL: ["p1"]}
    assert store.counts().records == 1


def test_reads_in_a_reading_block_answer_as_outside_it(store: Store) -> None:
    (a,) = insert(store, rec("a", ident(EMAIL)))
    make_profiles(store, p1=[a])
    store.sources.put("crm", {"source": "crm"})
    with store.reading():
        assert store.profiles.with_identifiers([EMAIL]) == {EMAIL: ["p1"]}
        assert store.profiles.records_of(["p1"]) == {"p1": [a]}
        with store.reading():  # nested: joins
            assert store.sources.get("crm") == {"source": "crm"}
        assert [r.key for r, _ in store.records.scan_profiles()] == ["a"]
    # And the store is usable for writes again afterwards.
    insert(store, rec("b"))
    assert store.counts().records == 2


def test_writing_inside_a_reading_block_is_refused_and_stores_nothing(store: Store) -> None:
    with store.reading():
        with pytest.raises(StoreError, match="reading block"):
            insert(store, rec("a"))
        with pytest.raises(StoreError, match="reading block"), store.unit_of_work():
            store.meta.set("k", 1)
        assert store.records.with_identifiers([EMAIL]) == {EMAIL: []}
    assert store.counts().records == 0 and store.meta.get("k") is None
    insert(store, rec("b"))
    assert store.counts().records == 1


def test_a_reading_block_inside_a_unit_of_work_sees_its_writes(store: Store) -> None:
    with store.unit_of_work():
        (a,) = insert(store, rec("a", ident(EMAIL)))
        with store.reading():
            assert store.records.with_identifiers([EMAIL]) == {EMAIL: [a]}
        store.meta.set("k", 1)  # still writable after the nested read block
    assert store.meta.get("k") == 1


def test_an_error_in_a_reading_block_leaves_the_store_usable(store: Store) -> None:
    with pytest.raises(Boom), store.reading():
        store.counts()
        raise Boom
    insert(store, rec("a"))
    assert store.counts().records == 1


def test_statements_are_counted_per_operation(store: Store) -> None:
    before = store.statements_per_operation()
    insert(
        store,
        *(rec(f"r{i}", ident(IdentifierKey("email", f"p{i}@example.com"))) for i in range(50)),
    )
    store.records.get([1, 2, 3])
    after = store.statements_per_operation()
    sent = {op: after.get(op, 0) - before.get(op, 0) for op in after}
    assert sent["records.upsert"] >= 1 and sent["records.get"] >= 1
    assert not {op for op, n in sent.items() if n} - {"records.upsert", "records.get"}
    # A snapshot: later work does not change what was returned.
    store.records.get([1])
    assert store.statements_per_operation()["records.get"] == after["records.get"] + 1


def test_a_read_past_the_time_budget_stops_with_time_budget_exceeded(store: Store) -> None:
    insert(store, *(rec(f"r{i}", ident(EMAIL, f"p{i}@example.com")) for i in range(400)))
    with deadline.within(0.001, "THE_SETTING"):
        time.sleep(0.01)
        with pytest.raises(TimeBudgetExceeded, match=r"time budget of 0.001 s \(THE_SETTING\)"):
            list(store.records.scan())
    # Outside the budget the same read runs, and the store is left as it was.
    assert len(list(store.records.scan())) == 400


def test_a_write_past_the_time_budget_leaves_nothing_behind(store: Store) -> None:
    with deadline.within(0.001):
        time.sleep(0.01)
        with pytest.raises(TimeBudgetExceeded), store.unit_of_work() as uow:
            uow.records.upsert([rec(f"r{i}") for i in range(400)], T0)
    assert store.counts().records == 0
