"""The storage contract for events and segments (see conftest.BACKENDS for the legs)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from identity.errors import StoreError
from identity.model import (
    Event,
    EventQuery,
    IdentifierFlag,
    IdentifierFlagReason,
    IdentifierKey,
    MembershipChange,
    MembershipKind,
    ProfileChanges,
    SegmentChange,
)
from identity.store.base import Store
from tests.store.test_contract import EMAIL, PHONE, T0, T1, T2, ident, insert, make_profiles, rec

COOKIE = IdentifierKey("cookie_id", "c-1")
CEST = timezone(timedelta(hours=2))


def event(
    event_id: str,
    *keys: IdentifierKey,
    type: str = "page_view",
    at: datetime = T0,
    channel: str | None = "web",
    **properties: object,
) -> Event:
    return Event(
        event_id=event_id,
        type=type,
        timestamp=at,
        identifiers=tuple(ident(k) for k in keys),
        channel=channel,
        source="webshop",
        properties=dict(properties),
    )


def ids(events: list[Event]) -> list[str]:
    return [e.event_id for e in events]


# -- events ----------------------------------------------------------------------------------


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


def test_iter_events_lists_every_event_by_id_across_batches(store: Store) -> None:
    store.events.put([event(f"e{i:02d}", COOKIE) for i in reversed(range(25))], T0)
    assert [e.event_id for e in store.copy.events(batch_size=7)] == [f"e{i:02d}" for i in range(25)]


# -- segments --------------------------------------------------------------------------------

BUYERS = {"where": {"event": "purchase", "within_days": 30}}


def test_segments_are_stored_replaced_listed_and_deleted(store: Store) -> None:
    store.segments.put("buyers", BUYERS, T0)
    store.segments.put("all", {"where": {"and": []}}, T0)
    store.segments.put("buyers", {"where": {"event": "purchase"}}, T1)
    (buyers,) = store.segments.get(["buyers", "unknown"])
    assert buyers.definition == {"where": {"event": "purchase"}}
    assert (buyers.created_at, buyers.updated_at) == (T0, T1)
    assert [s.name for s in store.segments.get()] == ["all", "buyers"]
    assert store.segments.delete("all") is True
    assert store.segments.delete("all") is False
    assert [s.name for s in store.segments.get()] == ["buyers"]


def enter(segment: str, *profiles: str) -> list[MembershipChange]:
    return [MembershipChange(segment, p, MembershipKind.ENTERED) for p in profiles]


def test_members_sizes_and_memberships_follow_the_changes(store: Store) -> None:
    store.segments.put("buyers", BUYERS, T0)
    store.segments.put("vip", BUYERS, T0)
    store.segments.apply_changes(enter("buyers", "p3", "p1", "p2") + enter("vip", "p2"), T0)
    store.segments.apply_changes(
        [MembershipChange("buyers", "p2", MembershipKind.EXITED, merged_into="p1")], T1
    )
    assert store.segments.members("buyers") == ["p1", "p3"]
    assert store.segments.members("buyers", after="p1", limit=1) == ["p3"]
    assert store.segments.sizes() == {"buyers": 2, "vip": 1}
    assert store.segments.sizes(["vip"]) == {"vip": 1}
    assert store.segments.memberships_of(["p1", "p2", "p9"]) == {
        "p1": ["buyers"],
        "p2": ["vip"],
        "p9": [],
    }


def test_changes_in_one_call_apply_in_order(store: Store) -> None:
    store.segments.put("buyers", BUYERS, T0)
    store.segments.apply_changes(
        [
            *enter("buyers", "p1"),
            MembershipChange("buyers", "p1", MembershipKind.EXITED),
            MembershipChange("buyers", "p2", MembershipKind.EXITED),
            *enter("buyers", "p2"),
        ],
        T0,
    )
    assert store.segments.members("buyers") == ["p2"]


def test_the_change_log_is_ordered_and_read_after_a_cursor(store: Store) -> None:
    store.segments.put("buyers", BUYERS, T0)
    store.segments.put("vip", BUYERS, T0)
    assert store.segments.last_change_seq() == 0
    store.segments.apply_changes(enter("buyers", "p1", "p2") + enter("vip", "p1"), T0)
    store.segments.apply_changes(
        [MembershipChange("buyers", "p2", MembershipKind.EXITED, merged_into="p1")], T1
    )
    log = store.segments.changes("buyers")
    assert [(c.profile_id, c.kind, c.at, c.merged_into) for c in log] == [
        ("p1", MembershipKind.ENTERED, T0, None),
        ("p2", MembershipKind.ENTERED, T0, None),
        ("p2", MembershipKind.EXITED, T1, "p1"),
    ]
    seqs = [c.seq for c in log]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    assert store.segments.changes("buyers", after=seqs[0], limit=1) == [log[1]]
    assert store.segments.changes("buyers", after=seqs[-1]) == []
    assert store.segments.last_change_seq() == max(seqs)
    assert [c.segment for c in store.copy.segment_changes(batch_size=2)] == [
        "buyers",
        "buyers",
        "vip",
        "buyers",
    ]


def test_deleting_a_segment_deletes_its_members_and_log_but_seqs_are_not_reused(
    store: Store,
) -> None:
    store.segments.put("buyers", BUYERS, T0)
    store.segments.apply_changes(enter("buyers", "p1"), T0)
    used = store.segments.last_change_seq()
    store.segments.delete("buyers")
    store.segments.put("buyers", BUYERS, T1)
    assert store.segments.members("buyers") == [] and store.segments.changes("buyers") == []
    store.segments.apply_changes(enter("buyers", "p2"), T1)
    assert [c.seq > used for c in store.segments.changes("buyers")] == [True]


def test_imported_changes_keep_their_seq_and_rebuild_the_members(store: Store) -> None:
    store.segments.put("buyers", BUYERS, T0)
    log = [
        SegmentChange(10, "buyers", "p1", MembershipKind.ENTERED, T0),
        SegmentChange(11, "buyers", "p2", MembershipKind.ENTERED, T0),
        SegmentChange(12, "buyers", "p1", MembershipKind.EXITED, T1, merged_into="p2"),
        SegmentChange(13, "buyers", "p1", MembershipKind.ENTERED, T2),
    ]
    store.copy.import_segment_changes(log)
    assert list(store.copy.segment_changes()) == log
    assert store.segments.members("buyers") == ["p1", "p2"]
    store.segments.apply_changes(enter("buyers", "p3"), T2)
    assert store.segments.changes("buyers", after=13)[0].seq > 13


def test_importing_changes_of_an_unknown_segment_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="ghost"):
        store.copy.import_segment_changes(
            [SegmentChange(1, "ghost", "p1", MembershipKind.ENTERED, T0)]
        )
    assert list(store.copy.segment_changes()) == []


def test_delete_everything_also_empties_events_and_segments(store: Store) -> None:
    store.events.put([event("e1", COOKIE)], T0)
    store.segments.put("buyers", BUYERS, T0)
    store.segments.apply_changes(enter("buyers", "p1"), T0)
    store.copy.delete_everything()
    assert store.events.count() == 0 and store.segments.get() == []
    assert list(store.copy.segment_changes()) == []


def test_times_with_different_offsets_are_compared_as_instants(store: Store) -> None:
    (a,) = insert(store, rec("a", ident(EMAIL)))
    make_profiles(store, p1=[a])
    # 11:30 UTC written as 13:30+02:00 sorts before 12:00 UTC.
    early = datetime(2026, 1, 1, 13, 30, tzinfo=CEST)
    store.events.put([event("late", EMAIL, at=T0), event("early", EMAIL, at=early)], T0)
    assert ids(store.events.journey("p1", EventQuery(newest_first=False))) == ["early", "late"]
    assert ids(store.events.journey("p1", EventQuery(since=T0))) == ["late"]
