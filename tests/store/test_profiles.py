"""The storage contract for profiles: applying changes, redirects of merged ids and the
profile change log.

Every test runs once per backend (conftest.BACKENDS)."""

from __future__ import annotations

from identity.model import ProfileChangeKind, ProfileChanges, ProfileStatus, RecordRef
from identity.store.base import Store
from tests.store.builders import EMAIL, PHONE, T0, T1, T2, ident, insert, make_profiles, rec


def test_created_profiles_hold_their_records(store: Store) -> None:
    a, b, c = insert(store, rec("a", ident(EMAIL)), rec("b", ident(EMAIL)), rec("c"))
    make_profiles(store, p1=[b, a], p2=[c])
    assert store.profiles.ids_of([a, b, c, 12345]) == {a: "p1", b: "p1", c: "p2"}
    assert store.profiles.records_of(["p1", "p2", "nope"]) == {
        "p1": sorted([a, b]),
        "p2": [c],
        "nope": [],
    }
    rows = store.profiles.get(["p1", "nope"])
    assert list(rows) == ["p1"]
    assert (rows["p1"].created_at, rows["p1"].updated_at, rows["p1"].merged_from) == (T0, T0, ())
    assert store.profiles.with_identifiers([EMAIL, PHONE]) == {EMAIL: ["p1"], PHONE: []}
    assert store.profiles.resolve(["p1", "p2", "never"]) == {"p1": "p1", "p2": "p2"}
    assert store.records.get([a])[a].profile_id == "p1"
    assert store.counts().profiles == 2
    assert dict(store.records.scan_profiles())[RecordRef("crm", "c")] == "p2"


def test_a_merged_id_redirects_to_its_survivor_through_later_merges(store: Store) -> None:
    a, b, c = insert(store, rec("a"), rec("b"), rec("c"))
    make_profiles(store, p1=[a], p2=[b], p3=[c])
    store.profiles.apply(
        ProfileChanges(assignments={b: "p1"}, merged={"p2": "p1"}, touched={"p1"}), T1
    )
    store.profiles.apply(
        ProfileChanges(assignments={a: "p3", b: "p3"}, merged={"p1": "p3"}, touched={"p3"}), T2
    )
    assert store.profiles.resolve(["p1", "p2", "p3"]) == {"p1": "p3", "p2": "p3", "p3": "p3"}
    survivor = store.profiles.get(["p1", "p2", "p3"])
    assert list(survivor) == ["p3"]
    assert set(survivor["p3"].merged_from) == {"p1", "p2"}
    assert survivor["p3"].created_at == T0 and survivor["p3"].updated_at == T2
    assert store.profiles.records_of(["p3", "p1"]) == {"p3": sorted([a, b, c]), "p1": []}
    assert list(store.profiles.scan_ids()) == ["p3"]


def test_deleted_profiles_are_no_longer_resolved(store: Store) -> None:
    (a,) = insert(store, rec("a"))
    make_profiles(store, p1=[a], p2=[])
    store.profiles.apply(ProfileChanges(deleted=["p2"]), T1)
    assert store.profiles.resolve(["p1", "p2"]) == {"p1": "p1"}
    assert store.profiles.get(["p2"]) == {}


def test_touched_profiles_get_the_new_time(store: Store) -> None:
    a, b = insert(store, rec("a"), rec("b"))
    make_profiles(store, p1=[a], p2=[b])
    store.profiles.apply(ProfileChanges(touched={"p2"}), T1)
    rows = store.profiles.get(["p1", "p2"])
    assert (rows["p1"].updated_at, rows["p2"].updated_at) == (T0, T1)


def test_iter_profile_ids_ascending_across_batches(store: Store) -> None:
    ids = [f"p{i:03}" for i in range(25)]
    store.profiles.apply(ProfileChanges(created=list(reversed(ids))), T0)
    assert list(store.profiles.scan_ids(batch_size=10)) == ids


def test_profile_changes_are_logged_in_order_with_what_they_relate_to(store: Store) -> None:
    a, b, c = insert(store, rec("a"), rec("b"), rec("c"))
    make_profiles(store, p1=[a, b], p2=[c])
    store.profiles.apply(
        ProfileChanges(
            created=["p3"], assignments={b: "p3"}, split_from={"p3": "p1"}, touched={"p1"}
        ),
        T1,
    )
    store.profiles.apply(ProfileChanges(merged={"p2": "p1"}, touched={"p1"}), T2)
    store.profiles.apply(ProfileChanges(deleted=["p3"]), T2)
    log = store.profiles.changes()
    assert [(r.kind, r.profile_id, r.related, r.at) for r in log] == [
        (ProfileChangeKind.CREATED, "p1", None, T0),
        (ProfileChangeKind.CREATED, "p2", None, T0),
        (ProfileChangeKind.SPLIT, "p3", "p1", T1),
        (ProfileChangeKind.MERGED, "p2", "p1", T2),
        (ProfileChangeKind.DELETED, "p3", None, T2),
    ]
    seqs = [r.seq for r in log]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    assert store.profiles.changes(after=seqs[1], limit=2) == log[2:4]
    assert store.profiles.get(["p3", "p1"]) == {"p1": store.profiles.get(["p1"])["p1"]}
    assert store.profiles.get(["p1"])["p1"].split_from is None


def test_a_split_off_profile_remembers_its_origin(store: Store) -> None:
    a, b = insert(store, rec("a"), rec("b"))
    make_profiles(store, p1=[a, b])
    store.profiles.apply(
        ProfileChanges(created=["p2"], assignments={b: "p2"}, split_from={"p2": "p1"}), T1
    )
    assert store.profiles.get(["p2"])["p2"].split_from == "p1"
    (copied,) = [p for p in store.copy.profiles() if p.id == "p2"]
    assert copied.split_from == "p1"


def test_a_part_that_joins_another_profile_is_logged_as_split_off_and_merged_into_it(
    store: Store,
) -> None:
    # The resolver's change when a split-off part joins an existing profile: the part's
    # new id is created and merged in one change, so its id redirects to where it went.
    a, b, c, d = insert(store, rec("a"), rec("b"), rec("c"), rec("d"))
    make_profiles(store, p1=[a, b, c], p2=[d])
    # Sequences only increase; where they start is the store's own (Neo4j's need not be 1).
    before = store.profiles.changes()[-1].seq
    store.profiles.apply(
        ProfileChanges(
            created=["p3"],
            assignments={c: "p2"},
            merged={"p3": "p2"},
            split_from={"p3": "p1"},
            touched={"p1", "p2"},
        ),
        T1,
    )
    log = store.profiles.changes(after=before)
    assert [(r.kind, r.profile_id, r.related, r.at) for r in log] == [
        (ProfileChangeKind.SPLIT, "p3", "p1", T1),
        (ProfileChangeKind.MERGED, "p3", "p2", T1),
    ]
    assert store.profiles.resolve(["p3", "p1"]) == {"p3": "p2", "p1": "p1"}
    assert store.profiles.records_of(["p1", "p2"]) == {"p1": [a, b], "p2": [c, d]}
    live = store.profiles.get(["p1", "p2", "p3"])
    assert sorted(live) == ["p1", "p2"] and live["p2"].merged_from == ("p3",)
    (copied,) = [p for p in store.copy.profiles() if p.id == "p3"]
    assert (copied.status, copied.redirect_to, copied.split_from) == (
        ProfileStatus.MERGED,
        "p2",
        "p1",
    )
