"""The storage contract for segments: definitions, members and the membership change log.

Every test runs once per backend (conftest.BACKENDS)."""

from __future__ import annotations

from identity.model import MembershipChange, MembershipKind
from identity.store.base import Store
from tests.store.builders import BUYERS, T0, T1, enter


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
