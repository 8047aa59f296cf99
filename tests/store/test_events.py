"""The storage contract for events: storage, journeys and the events of profiles.

Every test runs once per backend (conftest.BACKENDS)."""

from __future__ import annotations

from datetime import datetime, timedelta

from identity.model import EventQuery, IdentifierFlag, IdentifierFlagReason, ProfileChanges
from identity.store.base import Store
from tests.store.builders import (
    CEST,
    COOKIE,
    EMAIL,
    PHONE,
    T0,
    T1,
    T2,
    event,
    ident,
    ids,
    insert,
    make_profiles,
    rec,
)


def test_events_are_stored_exactly_and_found_through_the_profiles_identifiers(
    store: Store,
) -> None:
    (a,) = insert(store, rec("a", ident(EMAIL)))
    make_profiles(store, p1=[a])
    sent = event(
        "e1",
        EMAIL,
        COOKIE,
        type="purchase",
        at=datetime(2026, 6, 1, 12, 0, tzinfo=CEST),
        order_value=12.5,
        skus=["A", "B"],
        nested={"x": None},
    )
    writes = store.events.put([sent], T0)
    assert [(w.event_id, w.created, w.changed) for w in writes] == [("e1", True, True)]
    (found,) = store.events.journey("p1", EventQuery())
    assert found == sent
    assert found.timestamp.utcoffset() == timedelta(hours=2), "kept with its own offset"
    assert store.events.count() == 1


def test_resending_an_event_is_idempotent_and_a_changed_one_replaces_it(store: Store) -> None:
    a, _ = insert(store, rec("a", ident(EMAIL)), rec("b", ident(PHONE)))
    make_profiles(store, p1=[a])
    store.events.put([event("e1", EMAIL)], T0)
    again = store.events.put([event("e1", EMAIL)], T1)
    assert [(w.created, w.changed) for w in again] == [(False, False)]
    moved = store.events.put([event("e1", PHONE, type="login")], T1)
    assert [(w.created, w.changed) for w in moved] == [(False, True)]
    assert store.events.journey("p1", EventQuery()) == [], "its old identifier no longer carries it"
    assert store.events.count() == 1


def test_duplicate_event_ids_in_one_call_last_one_wins(store: Store) -> None:
    (a,) = insert(store, rec("a", ident(EMAIL)))
    make_profiles(store, p1=[a])
    writes = store.events.put([event("e1", EMAIL), event("e1", EMAIL, type="login")], T0)
    assert [w.created for w in writes] == [True, False]
    assert [e.type for e in store.events.journey("p1", EventQuery())] == ["login"]


def test_journey_is_time_ordered_with_a_stable_order_for_equal_times(store: Store) -> None:
    (a, b) = insert(store, rec("a", ident(EMAIL)), rec("b", ident(COOKIE)))
    make_profiles(store, p1=[a, b])
    store.events.put(
        [
            event("e2", EMAIL, at=T1),
            event("e1", COOKIE, at=T1),
            event("e0", EMAIL, COOKIE, at=T0),
            event("e3", COOKIE, at=T2),
        ],
        T0,
    )
    assert ids(store.events.journey("p1", EventQuery())) == ["e3", "e2", "e1", "e0"]
    oldest = EventQuery(newest_first=False)
    assert ids(store.events.journey("p1", oldest)) == ["e0", "e1", "e2", "e3"]


def test_journey_pages_by_keyset_and_filters(store: Store) -> None:
    (a,) = insert(store, rec("a", ident(EMAIL)))
    make_profiles(store, p1=[a])
    store.events.put(
        [
            event(f"e{i}", EMAIL, at=T0 + timedelta(minutes=i // 2), type=t, channel=c)
            for i, (t, c) in enumerate(
                [("view", "web"), ("buy", "web"), ("view", "app"), ("open", "email")] * 3
            )
        ],
        T0,
    )
    first = store.events.journey("p1", EventQuery(limit=5))
    assert len(first) == 5
    last = first[-1]
    rest = store.events.journey("p1", EventQuery(limit=50, after=(last.timestamp, last.event_id)))
    whole = store.events.journey("p1", EventQuery(limit=50))
    assert ids(first) + ids(rest) == ids(whole) and len(whole) == 12
    views = store.events.journey("p1", EventQuery(types=("view",), channels=("web",)))
    assert {(e.type, e.channel) for e in views} == {("view", "web")} and len(views) == 3
    window = store.events.journey(
        "p1", EventQuery(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3))
    )
    assert {e.timestamp for e in window} == {T0 + timedelta(minutes=m) for m in (1, 2)}


def test_batched_journeys_give_each_profile_the_page_it_gets_alone(store: Store) -> None:
    a, b, c = insert(store, rec("a", ident(EMAIL)), rec("b", ident(PHONE)), rec("c", ident(COOKIE)))
    make_profiles(store, p1=[a], p2=[b], p3=[c])
    store.records.put_flags([IdentifierFlag(COOKIE, IdentifierFlagReason.OVER_CAP, 2)])
    kinds = [("view", "web"), ("buy", "web"), ("view", "app"), ("open", "email")]
    store.events.put(
        [
            event(f"{key.kind}{i}", key, at=T0 + timedelta(minutes=i // 2), type=t, channel=ch)
            for key in (EMAIL, PHONE, COOKIE)
            for i, (t, ch) in enumerate(kinds * 3)
        ]
        # One event on both profiles' identifiers: in both pages, once each.
        + [event("both", EMAIL, PHONE, at=T0 + timedelta(minutes=3))],
        T0,
    )
    (last,) = store.events.journey("p1", EventQuery(limit=3))[-1:]
    queries = [
        EventQuery(),
        EventQuery(limit=3),
        EventQuery(limit=4, newest_first=False),
        EventQuery(limit=5, after=(last.timestamp, last.event_id)),
        EventQuery(types=("view",), channels=("web", "app"), limit=2, newest_first=False),
        EventQuery(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3)),
    ]
    for query in queries:
        found = store.events.journeys(["p1", "p2", "p3", "nobody"], query)
        alone = {p: store.events.journey(p, query) for p in ("p1", "p2", "p3", "nobody")}
        assert found == alone, query
    assert ids(store.events.journeys(["p2"], EventQuery(limit=2))["p2"]) == ["phone11", "phone10"]
    assert store.events.journeys([], EventQuery()) == {}


def test_an_event_carrying_two_identifiers_of_one_profile_appears_once(store: Store) -> None:
    (a,) = insert(store, rec("a", ident(EMAIL), ident(PHONE)))
    make_profiles(store, p1=[a])
    store.events.put([event("e1", EMAIL, PHONE)], T0)
    assert ids(store.events.journey("p1", EventQuery())) == ["e1"]
    assert {p: ids(e) for p, e in store.events.of_profiles(["p1", "nobody"]).items()} == {
        "p1": ["e1"],
        "nobody": [],
    }


def test_flagged_identifiers_bring_no_events(store: Store) -> None:
    a, b = insert(store, rec("a", ident(EMAIL), ident(PHONE)), rec("b", ident(PHONE)))
    make_profiles(store, p1=[a], p2=[b])
    store.records.put_flags([IdentifierFlag(PHONE, IdentifierFlagReason.OVER_CAP, 2)])
    store.events.put([event("e1", PHONE), event("e2", EMAIL)], T0)
    assert ids(store.events.journey("p1", EventQuery())) == ["e2"]
    assert store.events.journey("p2", EventQuery()) == []
    assert store.events.profiles_of(["e1", "e2", "e9"]) == {"e1": [], "e2": ["p1"], "e9": []}


def test_events_of_profiles_oldest_first_since_a_time(store: Store) -> None:
    a, b = insert(store, rec("a", ident(EMAIL)), rec("b", ident(PHONE)))
    make_profiles(store, p1=[a], p2=[b])
    store.events.put(
        [event("e1", EMAIL, at=T2), event("e2", EMAIL, at=T0), event("e3", PHONE, at=T1)], T0
    )
    found = store.events.of_profiles(["p1", "p2"], since=T1)
    assert {p: ids(e) for p, e in found.items()} == {"p1": ["e1"], "p2": ["e3"]}
    everything = store.events.of_profiles(["p1"])
    assert ids(everything["p1"]) == ["e2", "e1"]


def test_anonymous_events_join_a_profile_when_a_record_holds_their_identifier(
    store: Store,
) -> None:
    (a,) = insert(store, rec("a", ident(EMAIL)))
    make_profiles(store, p1=[a])
    store.events.put([event("e1", COOKIE, at=T0)], T0)
    assert store.events.profiles_of(["e1"]) == {"e1": []}
    (s,) = insert(store, rec("cookie_id=c-1;email=ann", ident(COOKIE), ident(EMAIL)))
    store.profiles.apply(ProfileChanges(assignments={s: "p1"}), T1)
    assert ids(store.events.journey("p1", EventQuery())) == ["e1"]
    assert store.events.profiles_of(["e1"]) == {"e1": ["p1"]}


def test_times_with_different_offsets_are_compared_as_instants(store: Store) -> None:
    (a,) = insert(store, rec("a", ident(EMAIL)))
    make_profiles(store, p1=[a])
    # 11:30 UTC written as 13:30+02:00 sorts before 12:00 UTC.
    early = datetime(2026, 1, 1, 13, 30, tzinfo=CEST)
    store.events.put([event("late", EMAIL, at=T0), event("early", EMAIL, at=early)], T0)
    assert ids(store.events.journey("p1", EventQuery(newest_first=False))) == ["early", "late"]
    assert ids(store.events.journey("p1", EventQuery(since=T0))) == ["late"]
