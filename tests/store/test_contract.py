"""The storage contract: what every backend must do, written once (see conftest.BACKENDS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from identity.errors import ProfilesNotImported, StoreError
from identity.model import (
    Identifier,
    IdentifierFlag,
    IdentifierFlagReason,
    IdentifierKey,
    Link,
    LinkType,
    MatchRow,
    ProfileChanges,
    ProfileRow,
    ProfileStatus,
    RecordRef,
    SourceRecord,
    StoredProfile,
    StoredRecord,
)
from identity.store.base import Store

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
T2 = T0 + timedelta(hours=2)

EMAIL = IdentifierKey("email", "ann@example.com")
PHONE = IdentifierKey("phone", "+447400123456")


def ident(key: IdentifierKey, original: str | None = None) -> Identifier:
    return Identifier(key.kind, key.value, original or key.value)


def rec(key: str, *idents: Identifier, source: str = "crm", **attributes: object) -> SourceRecord:
    return SourceRecord(
        source=source,
        key=key,
        identifiers=idents,
        attributes=dict(attributes),
        timestamp=T0,
        raw={"id": key, **attributes},
    )


def insert(store: Store, *records: SourceRecord) -> list[int]:
    return [w.record_id for w in store.records.upsert(records, T0)]


def make_profiles(store: Store, **members: list[int]) -> None:
    """Create profiles named by the keyword and assign the given records to them."""
    changes = ProfileChanges(created=list(members))
    for pid, rids in members.items():
        changes.assignments.update({rid: pid for rid in rids})
    store.profiles.apply(changes, T0)


# -- sources, metadata, health ---------------------------------------------------------------


def test_source_mappings_are_stored_replaced_and_listed(store: Store) -> None:
    assert store.sources.get("crm") is None
    store.sources.put("shop", {"source": "shop", "priority": 50})
    store.sources.put("crm", {"source": "crm", "priority": 90, "nested": {"a": [1, "é"]}})
    store.sources.put("crm", {"source": "crm", "priority": 80})
    assert store.sources.get("crm") == {"source": "crm", "priority": 80}
    assert store.sources.names() == ["crm", "shop"]


def test_meta_documents_round_trip(store: Store) -> None:
    assert store.meta.get("model") is None
    store.meta.set("model", {"m": [0.9, 0.1], "fields": ["name"]})
    store.meta.set("model", {"m": [0.8]})
    assert store.meta.get("model") == {"m": [0.8]}


def test_health_and_counts_of_an_empty_store(store: Store) -> None:
    health = store.health()
    assert health.ok and health.backend == store.backend
    counts = store.counts()
    assert (counts.records, counts.identifiers, counts.profiles, counts.links) == (0, 0, 0, 0)


# -- records ---------------------------------------------------------------------------------


def test_upsert_creates_records_and_reads_them_back_exactly(store: Store) -> None:
    tz = timezone(timedelta(hours=2))
    record = SourceRecord(
        source="crm",
        key="c1",
        identifiers=(ident(EMAIL, "Ann@Example.com"), ident(PHONE, "07400 123456")),
        attributes={"first_name": "Zoë", "tags": ["a", "b"], "score": 1.5, "vip": True},
        timestamp=datetime(2025, 5, 1, 8, 30, tzinfo=tz),
        raw={"id": "c1", "email": "Ann@Example.com", "extra": None},
    )
    writes = store.records.upsert([record, rec("c2")], T0)
    assert [(w.ref, w.created, w.changed) for w in writes] == [
        (RecordRef("crm", "c1"), True, True),
        (RecordRef("crm", "c2"), True, True),
    ]
    assert writes[0].record_id != writes[1].record_id
    stored = store.records.get([writes[0].record_id, 999_999])
    assert list(stored) == [writes[0].record_id]
    got = stored[writes[0].record_id]
    assert got.record == record
    assert got.record.timestamp is not None and got.record.timestamp.utcoffset() == timedelta(
        hours=2
    )
    assert got.profile_id is None
    assert got.ingested_at == T0 and got.updated_at == T0


def test_resending_an_identical_record_changes_nothing(store: Store) -> None:
    first = store.records.upsert([rec("c1", ident(EMAIL))], T0)[0]
    again = store.records.upsert([rec("c1", ident(EMAIL))], T1)[0]
    assert (again.record_id, again.created, again.changed) == (first.record_id, False, False)
    assert store.records.get([first.record_id])[first.record_id].updated_at == T0


def test_updating_a_record_keeps_its_id_and_reports_removed_identifiers(store: Store) -> None:
    rid = insert(store, rec("c1", ident(EMAIL), ident(PHONE)))[0]
    write = store.records.upsert([rec("c1", ident(PHONE), first_name="Ann")], T1)[0]
    assert (write.record_id, write.created, write.changed) == (rid, False, True)
    assert write.removed_identifiers == (EMAIL,)
    stored = store.records.get([rid])[rid]
    assert stored.record.attributes == {"first_name": "Ann"}
    assert (stored.ingested_at, stored.updated_at) == (T0, T1)
    assert store.records.with_identifiers([EMAIL, PHONE]) == {EMAIL: [], PHONE: [rid]}


def test_duplicate_refs_in_one_call_last_one_wins(store: Store) -> None:
    writes = store.records.upsert([rec("c1", ident(EMAIL)), rec("c1", ident(PHONE)), rec("c2")], T0)
    assert writes[0].record_id == writes[1].record_id
    assert [w.ref.key for w in writes] == ["c1", "c1", "c2"]
    rid = writes[0].record_id
    assert store.records.identifiers_of([rid]) == {rid: [ident(PHONE)]}
    assert store.records.identifier_counts([EMAIL]) == {EMAIL: 0}


def test_several_source_mappings_are_read_at_once(store: Store) -> None:
    store.sources.put("crm", {"source": "crm", "priority": 1})
    store.sources.put("shop", {"source": "shop"})
    assert store.sources.get_many(["shop", "crm", "nosuch", "crm"]) == {
        "crm": {"source": "crm", "priority": 1},
        "shop": {"source": "shop"},
    }
    assert store.sources.get_many([]) == {}


def test_same_key_in_two_sources_is_two_records(store: Store) -> None:
    a, b = insert(store, rec("1", source="crm"), rec("1", source="shop"))
    assert a != b
    refs = store.records.ids([RecordRef("crm", "1"), RecordRef("shop", "1"), RecordRef("x", "1")])
    assert refs == {RecordRef("crm", "1"): a, RecordRef("shop", "1"): b}


def test_identifier_lookups(store: Store) -> None:
    other = IdentifierKey("email", "bob@example.com")
    a, b, c = insert(
        store,
        rec("a", ident(EMAIL, "ANN@example.com"), ident(PHONE)),
        rec("b", ident(EMAIL)),
        rec("c"),
    )
    assert store.records.identifiers_of([a, c]) == {
        a: [ident(EMAIL, "ANN@example.com"), ident(PHONE)],
        c: [],
    }
    assert store.records.identifier_counts([EMAIL, PHONE, other]) == {EMAIL: 2, PHONE: 1, other: 0}
    assert store.records.with_identifiers([EMAIL, other]) == {EMAIL: sorted([a, b]), other: []}


def test_batches_larger_than_any_parameter_limit(store: Store) -> None:
    records = [
        rec(f"r{i:05}", ident(IdentifierKey("email", f"p{i}@example.com"))) for i in range(40_000)
    ]
    rids = insert(store, *records)
    assert len(store.records.get(rids)) == 40_000
    keys = [i.key for r in records for i in r.identifiers]
    assert set(store.records.identifier_counts(keys).values()) == {1}
    assert len(store.records.ids([r.ref for r in records])) == 40_000


def test_iter_record_profiles_in_ref_order_across_batches(store: Store) -> None:
    insert(store, rec("b", source="shop"), rec("b"), rec("a"), rec("c"))
    rows = list(store.records.scan_profiles(batch_size=2))
    assert [r for r, _ in rows] == [
        RecordRef("crm", "a"),
        RecordRef("crm", "b"),
        RecordRef("crm", "c"),
        RecordRef("shop", "b"),
    ]
    assert all(pid is None for _, pid in rows)


# -- identifier flags ------------------------------------------------------------------------


def test_identifier_flags_replace_clear_and_order(store: Store) -> None:
    junk = IdentifierKey("email", "test@test.com")
    store.records.put_flags(
        [
            IdentifierFlag(PHONE, IdentifierFlagReason.OVER_CAP, 30),
            IdentifierFlag(junk, IdentifierFlagReason.BLOCKLISTED, 5),
            IdentifierFlag(EMAIL, IdentifierFlagReason.OVER_CAP, 30),
        ]
    )
    store.records.put_flags([IdentifierFlag(junk, IdentifierFlagReason.BLOCKLISTED, 7)])
    assert store.records.flags() == [
        IdentifierFlag(EMAIL, IdentifierFlagReason.OVER_CAP, 30),
        IdentifierFlag(PHONE, IdentifierFlagReason.OVER_CAP, 30),
        IdentifierFlag(junk, IdentifierFlagReason.BLOCKLISTED, 7),
    ]
    store.records.put_flags([], cleared=[PHONE, IdentifierKey("email", "never@flagged.com")])
    assert [f.key for f in store.records.flags(limit=1)] == [EMAIL]
    assert len(store.records.flags()) == 2


# -- the match index ---------------------------------------------------------------------


def test_match_rows_are_found_by_any_of_their_blocking_keys(store: Store) -> None:
    a, b, c = insert(store, rec("a"), rec("b"), rec("c"))
    store.matching.put_rows(
        [
            MatchRow(a, {"surname": "nowak", "city": None}, ("0:NK|an", "1:1980-01-02")),
            MatchRow(b, {"surname": "nowak", "city": "łódź"}, ("0:NK|an",)),
            MatchRow(c, {"surname": "smith", "city": None}, ("1:1980-01-02", "2:é")),
        ]
    )
    found = store.matching.rows_with_keys(["0:NK|an", "1:1980-01-02", "9:unknown"])
    assert [r.record_id for r in found] == [a, b, c]  # each once, by record id
    assert found[1] == MatchRow(b, {"surname": "nowak", "city": "łódź"}, ("0:NK|an",))
    assert [r.record_id for r in store.matching.rows_with_keys(["2:é"])] == [c]
    assert store.matching.rows_with_keys(["9:unknown"]) == []
    assert store.matching.rows_with_keys([]) == []


def test_putting_a_match_row_again_replaces_its_fields_and_keys(store: Store) -> None:
    a, b = insert(store, rec("a"), rec("b"))
    store.matching.put_rows([MatchRow(a, {"surname": "nowak"}, ("0:old", "1:kept"))])
    store.matching.put_rows([MatchRow(b, {"surname": "kowal"}, ("1:kept",))])
    store.matching.put_rows([MatchRow(a, {"surname": "nowakowska"}, ("1:kept", "2:new"))])
    assert store.matching.rows_with_keys(["0:old"]) == []
    assert store.matching.rows_with_keys(["2:new"]) == [
        MatchRow(a, {"surname": "nowakowska"}, ("1:kept", "2:new"))
    ]
    assert [r.record_id for r in store.matching.rows_with_keys(["1:kept"])] == [a, b]


def test_match_rows_are_read_by_record_id(store: Store) -> None:
    a, b, c = insert(store, rec("a"), rec("b"), rec("c"))
    store.matching.put_rows(
        [
            MatchRow(a, {"surname": "nowak", "city": None}, ("0:NK|an",)),
            MatchRow(c, {"surname": "smith", "city": "łódź"}, ()),
        ]
    )
    # Each once, by record id; a record without an entry and an unknown id are left out.
    found = store.matching.rows_of([c, b, a, c, 999_999])
    assert found == [
        MatchRow(a, {"surname": "nowak", "city": None}, ("0:NK|an",)),
        MatchRow(c, {"surname": "smith", "city": "łódź"}, ()),
    ]
    assert store.matching.rows_of([]) == []
    store.matching.clear()
    assert store.matching.rows_of([a, c]) == []


def test_blocking_keys_are_counted_without_reading_their_records(store: Store) -> None:
    a, b, c = insert(store, rec("a"), rec("b"), rec("c"))
    store.matching.put_rows(
        [
            MatchRow(a, {"n": "a"}, ("0:NK|an", "1:x")),
            MatchRow(b, {"n": "b"}, ("0:NK|an",)),
            MatchRow(c, {"n": "c"}, ("0:NK|an", "2:é")),
        ]
    )
    assert store.matching.key_counts(["0:NK|an", "1:x", "2:é", "9:unknown", "1:x"]) == {
        "0:NK|an": 3,
        "1:x": 1,
        "2:é": 1,
        "9:unknown": 0,
    }
    assert store.matching.key_counts([]) == {}
    store.matching.put_rows([MatchRow(a, {"n": "a"}, ("2:é",))])  # a lost its keys 0 and 1
    assert store.matching.key_counts(["0:NK|an", "1:x", "2:é"]) == {
        "0:NK|an": 2,
        "1:x": 0,
        "2:é": 2,
    }


def test_the_whole_match_index_is_read_in_batches_and_can_be_cleared(store: Store) -> None:
    ids = insert(store, *(rec(f"r{n}") for n in range(5)))
    store.matching.put_rows([MatchRow(rid, {"n": str(rid)}, (f"0:{rid % 2}",)) for rid in ids])
    batches = list(store.matching.scan_rows(batch_size=2))
    assert [len(batch) for batch in batches] == [2, 2, 1]
    assert [row.record_id for batch in batches for row in batch] == sorted(ids)
    assert batches[0][0] == MatchRow(ids[0], {"n": str(ids[0])}, (f"0:{ids[0] % 2}",))
    store.matching.clear()
    assert list(store.matching.scan_rows()) == []
    assert store.matching.rows_with_keys(["0:0", "0:1"]) == []
    store.matching.put_rows([MatchRow(ids[0], {"n": "again"}, ("0:0",))])
    assert [r.record_id for r in store.matching.rows_with_keys(["0:0"])] == [ids[0]]


# -- links -----------------------------------------------------------------------------------


def test_links_are_stored_with_weight_and_evidence_and_found_from_either_end(
    store: Store,
) -> None:
    a, b, c, d = insert(store, rec("a"), rec("b"), rec("c"), rec("d"))
    store.links.put(
        [
            Link(b, a, LinkType.MATCH, "deterministic", 1.0, {"shared": ["email"]}),
            Link(b, c, LinkType.REVIEW, "fellegi_sunter", 0.73, {"name": 2.5}),
            Link(c, d, LinkType.CANNOT_LINK, "steward", 1.0, {"reason": "twins"}),
        ]
    )
    found = store.links.of([b])
    assert [(x.a, x.b, x.type) for x in found] == [
        (a, b, LinkType.MATCH),
        (b, c, LinkType.REVIEW),
    ]
    assert found[1].weight == pytest.approx(0.73)
    assert found[1].evidence == {"name": 2.5}
    assert [x.type for x in store.links.of([b, d], types=[LinkType.CANNOT_LINK])] == [
        LinkType.CANNOT_LINK
    ]
    # Re-putting the same (a, b, type, matcher) replaces it.
    store.links.put([Link(a, b, LinkType.MATCH, "deterministic", 0.5)])
    assert [(x.weight, x.evidence) for x in store.links.of([a])] == [(0.5, {})]
    assert store.counts().links == 3


def test_a_link_given_twice_in_one_call_is_stored_once_as_last_given(store: Store) -> None:
    a, b = insert(store, rec("a"), rec("b"))
    store.links.put(
        [
            Link(a, b, LinkType.MATCH, "deterministic", 0.4, {"n": 1}),
            Link(b, a, LinkType.MATCH, "deterministic", 0.6, {"n": 2}),
            Link(a, b, LinkType.MATCH, "steward", 1.0),
        ]
    )
    assert [(x.matcher, x.weight, x.evidence) for x in store.links.of([a])] == [
        ("deterministic", 0.6, {"n": 2}),
        ("steward", 1.0, {}),
    ]
    assert store.counts().links == 2


def test_links_can_be_read_without_their_evidence(store: Store) -> None:
    a, b = insert(store, rec("a"), rec("b"))
    store.links.put([Link(a, b, LinkType.MATCH, "fellegi_sunter", 0.97, {"fields": {"x": 1}})])
    assert store.links.of([a], evidence=False) == [
        Link(a, b, LinkType.MATCH, "fellegi_sunter", 0.97, {})
    ]
    assert store.links.of([b])[0].evidence == {"fields": {"x": 1}}


def test_replace_links_touches_only_that_matcher_around_those_records(store: Store) -> None:
    a, b, c, d = insert(store, rec("a"), rec("b"), rec("c"), rec("d"))
    store.links.put(
        [
            Link(a, b, LinkType.MATCH, "deterministic"),
            Link(a, b, LinkType.MATCH, "fellegi_sunter", 0.9),
            Link(c, d, LinkType.MATCH, "deterministic"),
        ]
    )
    store.links.replace([a], "deterministic", [Link(a, c, LinkType.MATCH, "deterministic")])
    assert [(x.a, x.b, x.matcher) for x in store.links.of([a, b, c, d])] == [
        (a, b, "fellegi_sunter"),
        (a, c, "deterministic"),
        (c, d, "deterministic"),
    ]


def test_delete_links_by_unordered_pair_and_type(store: Store) -> None:
    a, b, c = insert(store, rec("a"), rec("b"), rec("c"))
    store.links.put(
        [
            Link(a, b, LinkType.REVIEW, "fellegi_sunter", 0.7),
            Link(a, b, LinkType.MATCH, "deterministic"),
            Link(b, c, LinkType.REVIEW, "fellegi_sunter", 0.6),
        ]
    )
    assert store.links.delete([(b, a), (a, c)], [LinkType.REVIEW]) == 1
    assert [(x.a, x.b, x.type) for x in store.links.of([a, b, c])] == [
        (a, b, LinkType.MATCH),
        (b, c, LinkType.REVIEW),
    ]


# -- profiles --------------------------------------------------------------------------------


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


# -- transactions ----------------------------------------------------------------------------


class Boom(Exception):
    pass


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


# -- whole-store export and import (what `idgraph migrate` uses) ------------------------------


def test_meta_keys_are_listed_sorted(store: Store) -> None:
    assert store.meta.names() == []
    store.meta.set("match_model", {"m": [0.9]})
    store.meta.set("a_setting", 1)
    assert store.meta.names() == ["a_setting", "match_model"]


def test_record_refs_are_the_inverse_of_record_ids(store: Store) -> None:
    a, b = insert(store, rec("a"), rec("a", source="shop"))
    assert store.records.refs([b, a, 999_999]) == {
        a: RecordRef("crm", "a"),
        b: RecordRef("shop", "a"),
    }


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


# -- metrics ---------------------------------------------------------------------------------


def test_statements_are_counted_per_operation(store: Store) -> None:
    before = store.statements_per_operation()
    insert(
        store,
        *(rec(f"r{i}", ident(IdentifierKey("email", f"p{i}@example.com"))) for i in range(50)),
    )
    store.records.get([1, 2, 3])
    after = store.statements_per_operation()
    sent = {op: after.get(op, 0) - before.get(op, 0) for op in after}
    assert sent["upsert_records"] >= 1 and sent["get_records"] >= 1
    assert not {op for op, n in sent.items() if n} - {"upsert_records", "get_records"}
    # A snapshot: later work does not change what was returned.
    store.records.get([1])
    assert store.statements_per_operation()["get_records"] == after["get_records"] + 1
