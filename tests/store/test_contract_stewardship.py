"""The storage contract for stewardship: the profile change log, split origins, the
review queue's paging and the audit log (see conftest.BACKENDS for the legs)."""

from __future__ import annotations

from identity.model import (
    AuditEntry,
    Link,
    LinkType,
    ProfileChangeKind,
    ProfileChanges,
    ProfileStatus,
)
from identity.store.base import Store
from tests.store.test_contract import T0, T1, T2, insert, make_profiles, rec


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


def test_links_of_one_type_page_by_their_ends(store: Store) -> None:
    ids = insert(store, *(rec(f"r{i}") for i in range(6)))
    reviews = [
        Link(ids[i], ids[j], LinkType.REVIEW, "probabilistic", 0.7, {"p": 0.7})
        for i, j in ((0, 1), (0, 2), (3, 4), (1, 5))
    ]
    store.links.put([*reviews, Link(ids[0], ids[3], LinkType.MATCH, "probabilistic", 0.99)])
    first = store.links.of_type(LinkType.REVIEW, limit=3)
    assert [(x.a, x.b) for x in first] == [(ids[0], ids[1]), (ids[0], ids[2]), (ids[1], ids[5])]
    assert first[0].evidence == {"p": 0.7} and first[0].weight == 0.7
    rest = store.links.of_type(LinkType.REVIEW, after=(first[-1].a, first[-1].b))
    assert [(x.a, x.b) for x in rest] == [(ids[3], ids[4])]


def test_the_audit_log_is_newest_first_filtered_and_knows_what_was_undone(
    store: Store,
) -> None:
    merge = AuditEntry(
        "steward-ann",
        "merge_profiles",
        target="p1",
        reason="same person, confirmed by phone",
        before={"profiles": ["p1", "p2"]},
        after={"profile": "p1"},
    )
    first, second = store.audit.append([merge, AuditEntry("loader", "ingest", "crm")], T0)
    assert second > first
    (undo,) = store.audit.append([AuditEntry("steward-bo", "undo", undoes=first)], T1)
    newest = store.audit.entries()
    assert [e.id for e in newest] == [undo, second, first]
    assert newest[2].entry == merge and newest[2].at == T0
    assert newest[2].undone_by == undo and newest[0].undone_by is None
    assert [e.id for e in store.audit.entries(before=undo, limit=1)] == [second]
    assert [e.id for e in store.audit.entries(actor="steward-ann")] == [first]
    assert [e.id for e in store.audit.entries(action="undo")] == [undo]
    found = store.audit.get([first, 999])
    assert list(found) == [first] and found[first].undone_by == undo


def test_imported_audit_entries_and_profile_changes_keep_their_ids(store: Store) -> None:
    from identity.model import ProfileChangeRecord, StoredAuditEntry

    entries = [
        StoredAuditEntry(7, T0, AuditEntry("ann", "merge_profiles", "p1")),
        StoredAuditEntry(9, T1, AuditEntry("bo", "undo", undoes=7)),
    ]
    store.copy.import_audit(entries)
    found = store.audit.entries()
    assert [(e.id, e.at, e.entry) for e in found] == [
        (9, T1, entries[1].entry),
        (7, T0, entries[0].entry),
    ]
    assert found[1].undone_by == 9
    assert store.audit.append([AuditEntry("cy", "ingest")], T2)[0] > 9
    changes = [
        ProfileChangeRecord(4, ProfileChangeKind.CREATED, "p1", T0),
        ProfileChangeRecord(6, ProfileChangeKind.MERGED, "p2", T1, related="p1"),
    ]
    store.copy.import_profile_changes(changes)
    assert store.profiles.changes() == changes
    (a,) = insert(store, rec("a"))
    make_profiles(store, p9=[a])
    assert store.profiles.changes(after=6)[0].seq > 6
