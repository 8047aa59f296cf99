"""The storage contract for whole-store export and import, what `idgraph migrate` uses:
the iter_* readers, the import_* writers and delete_everything (the use case itself is
test_migration.py).

Every test runs once per backend (conftest.BACKENDS)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from identity.errors import ProfilesNotImported, StoreError
from identity.model import (
    AuditEntry,
    IdentifierFlag,
    IdentifierFlagReason,
    IdentifierKey,
    Link,
    LinkType,
    MembershipKind,
    ProfileChangeKind,
    ProfileChanges,
    ProfileRow,
    ProfileStatus,
    SegmentChange,
    SourceRecord,
    StoredProfile,
    StoredRecord,
)
from identity.store.base import Store
from tests.store.builders import (
    BUYERS,
    COOKIE,
    EMAIL,
    PHONE,
    T0,
    T1,
    T2,
    enter,
    event,
    ident,
    insert,
    make_profiles,
    rec,
)


def test_iter_records_reads_whole_records_by_id_across_batches(store: Store) -> None:
    a, b, c = insert(store, rec("z", ident(EMAIL, "ANN@example.com")), rec("y"), rec("x"))
    store.records.upsert([rec("y", ident(PHONE), first_name="Bo")], T1)
    make_profiles(store, p1=[a, b])
    records = list(store.records.scan(batch_size=2))
    assert [r.record_id for r in records] == sorted([a, b, c])
    assert records == [store.records.get([rid])[rid] for rid in sorted([a, b, c])]
    by_key = {r.ref.key: r for r in records}
    assert by_key["z"].record.identifiers == (ident(EMAIL, "ANN@example.com"),)
    assert (by_key["y"].ingested_at, by_key["y"].updated_at) == (T0, T1)
    assert (by_key["z"].profile_id, by_key["x"].profile_id) == ("p1", None)


def test_iter_records_of_an_empty_store_is_empty(store: Store) -> None:
    assert list(store.records.scan()) == []
    assert list(store.copy.links()) == []
    assert list(store.copy.profiles()) == []
    assert list(store.copy.identifier_flags()) == []


def test_import_records_gives_new_ids_and_keeps_times_identifiers_and_profiles(
    store: Store,
) -> None:
    tz = timezone(timedelta(hours=-5))
    (existing,) = insert(store, rec("already-here"))
    store.copy.import_profiles([StoredProfile("p1", ProfileStatus.LIVE, T0, T1)])
    copied = [
        StoredRecord(
            record_id=500,  # the other store's id: not kept
            record=SourceRecord(
                source="shop",
                key="s1",
                identifiers=(ident(EMAIL, "Ann@Example.com"), ident(PHONE)),
                attributes={"first_name": "Zoë", "nested": {"a": [1, None]}},
                timestamp=datetime(2024, 2, 3, 4, 5, tzinfo=tz),
                raw={"email": "Ann@Example.com"},
            ),
            profile_id="p1",
            ingested_at=T0,
            updated_at=T2,
        ),
        StoredRecord(7, rec("c9"), None, T1, T1),
    ]
    ids = store.copy.import_records(copied)
    assert len(set(ids)) == 2 and existing not in ids and ids == sorted(ids)
    stored = store.records.get(ids)
    for rid, original in zip(ids, copied, strict=True):
        got = stored[rid]
        assert got.record == original.record
        assert got.record.timestamp == original.record.timestamp
        assert (got.profile_id, got.ingested_at, got.updated_at) == (
            original.profile_id,
            original.ingested_at,
            original.updated_at,
        )
    assert store.records.with_identifiers([EMAIL]) == {EMAIL: [ids[0]]}
    assert store.profiles.with_identifiers([PHONE]) == {PHONE: ["p1"]}
    assert store.profiles.records_of(["p1"]) == {"p1": [ids[0]]}
    # Ingest goes on after imported records without reusing their ids.
    (later,) = insert(store, rec("new"))
    assert later > max(ids)
    assert store.counts().records == 4


def test_import_records_refuses_a_ref_that_exists_and_writes_nothing(store: Store) -> None:
    insert(store, rec("a"))
    with pytest.raises(StoreError):
        store.copy.import_records(
            [
                StoredRecord(1, rec("b", ident(EMAIL)), None, T0, T0),
                StoredRecord(2, rec("a"), None, T0, T0),
            ]
        )
    assert store.counts().records == 1
    assert store.records.with_identifiers([EMAIL]) == {EMAIL: []}


def test_import_records_refuses_profiles_not_imported_yet(store: Store) -> None:
    store.copy.import_profiles([StoredProfile("p1", ProfileStatus.LIVE, T0, T0)])
    records = [
        StoredRecord(1, rec("a"), "p1", T0, T0),
        StoredRecord(2, rec("b"), "p9", T0, T0),
    ]
    with pytest.raises(ProfilesNotImported, match=r"1 missing, e\.g\. p9\): import the profiles"):
        store.copy.import_records(records)
    assert store.counts().records == 0


def test_iter_links_lists_every_link_in_order_across_batches(store: Store) -> None:
    a, b, c, d = insert(store, rec("a"), rec("b"), rec("c"), rec("d"))
    links = [
        Link(c, d, LinkType.CANNOT_LINK, "steward", 1.0, {"reason": "twins"}),
        Link(a, b, LinkType.MATCH, "fellegi_sunter", 0.93, {"name": 2.5}),
        Link(a, b, LinkType.MATCH, "deterministic", 1.0, {"kind": "email"}),
        Link(a, c, LinkType.REVIEW, "fellegi_sunter", 0.61, {}),
        Link(b, d, LinkType.MUST_LINK, "steward", 1.0, {"by": "ann"}),
    ]
    store.links.put(links)
    expected = sorted(links, key=lambda x: (x.a, x.b, x.type.value, x.matcher))
    for batch_size in (1, 2, 10_000):
        found = list(store.copy.links(batch_size=batch_size))
        assert [(x.a, x.b, x.type, x.matcher) for x in found] == [
            (x.a, x.b, x.type, x.matcher) for x in expected
        ]
        assert [x.evidence for x in found] == [x.evidence for x in expected]
        assert [x.weight for x in found] == pytest.approx([x.weight for x in expected])


def test_iter_identifier_flags_lists_every_flag_by_key_across_batches(store: Store) -> None:
    flags = [
        IdentifierFlag(PHONE, IdentifierFlagReason.OVER_CAP, 30),
        IdentifierFlag(
            IdentifierKey("email", "test@test.com"), IdentifierFlagReason.BLOCKLISTED, 5
        ),
        IdentifierFlag(EMAIL, IdentifierFlagReason.OVER_CAP, 31),
    ]
    store.records.put_flags(flags)
    expected = sorted(flags, key=lambda f: f.key)
    assert list(store.copy.identifier_flags(batch_size=2)) == expected
    assert list(store.copy.identifier_flags()) == expected


def test_iter_profiles_lists_live_merged_and_deleted_ids_with_their_history(
    store: Store,
) -> None:
    a, b, c = insert(store, rec("a"), rec("b"), rec("c"))
    make_profiles(store, p1=[a], p2=[b], p3=[c], p4=[])
    store.profiles.apply(
        ProfileChanges(assignments={b: "p1"}, merged={"p2": "p1"}, touched={"p1"}), T1
    )
    store.profiles.apply(
        ProfileChanges(assignments={a: "p3", b: "p3"}, merged={"p1": "p3"}, touched={"p3"}), T2
    )
    store.profiles.apply(ProfileChanges(deleted=["p4"]), T2)
    profiles = {p.id: p for p in store.copy.profiles(batch_size=3)}
    assert list(profiles) == ["p1", "p2", "p3", "p4"]
    assert profiles["p1"] == StoredProfile("p1", ProfileStatus.MERGED, T0, T2, (), "p3")
    assert profiles["p2"] == StoredProfile("p2", ProfileStatus.MERGED, T0, T1, (), "p3")
    assert profiles["p3"] == StoredProfile("p3", ProfileStatus.LIVE, T0, T2, ("p1", "p2"), None)
    assert profiles["p4"] == StoredProfile("p4", ProfileStatus.DELETED, T0, T2, (), None)


def test_imported_profiles_resolve_as_they_did_including_redirects_imported_first(
    store: Store,
) -> None:
    # A redirect arrives before the profile it names: the copy comes in batches.
    store.copy.import_profiles(
        [
            StoredProfile("p1", ProfileStatus.MERGED, T0, T2, (), "p3"),
            StoredProfile("p2", ProfileStatus.MERGED, T0, T1, (), "p3"),
        ]
    )
    store.copy.import_profiles(
        [
            StoredProfile("p3", ProfileStatus.LIVE, T0, T2, ("p1", "p2"), None),
            StoredProfile("p4", ProfileStatus.DELETED, T1, T2),
        ]
    )
    assert store.profiles.resolve(["p1", "p2", "p3", "p4"]) == {
        "p1": "p3",
        "p2": "p3",
        "p3": "p3",
    }
    assert store.profiles.get(["p3"])["p3"] == ProfileRow("p3", T0, T2, ("p1", "p2"))
    assert list(store.profiles.scan_ids()) == ["p3"]
    assert [p.id for p in store.copy.profiles()] == ["p1", "p2", "p3", "p4"]
    assert store.counts().profiles == 1
    # And the imported history goes on: merging the survivor carries it along.
    (a,) = insert(store, rec("a"))
    make_profiles(store, p5=[a])
    store.profiles.apply(ProfileChanges(merged={"p3": "p5"}, touched={"p5"}), T2)
    assert store.profiles.resolve(["p1"]) == {"p1": "p5"}
    assert store.profiles.get(["p5"])["p5"].merged_from == ("p1", "p2", "p3")


def test_delete_everything_empties_the_store_and_it_stays_usable(store: Store) -> None:
    a, b = insert(store, rec("a", ident(EMAIL)), rec("b", ident(EMAIL)))
    make_profiles(store, p1=[a, b])
    store.links.put([Link(a, b, LinkType.MATCH, "deterministic")])
    store.records.put_flags([IdentifierFlag(PHONE, IdentifierFlagReason.BLOCKLISTED, 0)])
    store.sources.put("crm", {"source": "crm"})
    store.meta.set("match_model", {"m": 1})
    store.copy.delete_everything()
    assert store.counts() == type(store.counts())(0, 0, 0, 0)
    assert store.sources.names() == [] and store.meta.names() == []
    assert list(store.copy.profiles()) == [] and store.records.flags() == []
    assert store.profiles.resolve(["p1"]) == {}
    (c,) = insert(store, rec("a", ident(EMAIL)))
    assert store.records.with_identifiers([EMAIL]) == {EMAIL: [c]}
    assert c > max(a, b), "record ids are never reused"


def test_iter_events_lists_every_event_by_id_across_batches(store: Store) -> None:
    store.events.put([event(f"e{i:02d}", COOKIE) for i in reversed(range(25))], T0)
    assert [e.event_id for e in store.copy.events(batch_size=7)] == [f"e{i:02d}" for i in range(25)]


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
