"""The storage contract for records and their identifiers, and identifier flags.

Every test runs once per backend (conftest.BACKENDS)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from identity.model import (
    IdentifierFlag,
    IdentifierFlagReason,
    IdentifierKey,
    RecordRef,
    SourceRecord,
)
from identity.store.base import Store
from tests.store.builders import EMAIL, PHONE, T0, T1, ident, insert, rec


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


def test_attributes_of_picks_the_named_attributes_of_each_record(store: Store) -> None:
    held = {"first_name": "Zoë", "tags": ["a", "b"], "score": 1.5, "vip": True, "no": False}
    rich, bare = insert(store, rec("c1", ident(EMAIL), **held), rec("c2", ident(PHONE)))
    names = ["first_name", "tags", "score", "vip", "no", "absent"]
    assert store.records.attributes_of([rich, bare, 999_999], names) == {
        rich: held,
        bare: {},
    }
    assert store.records.attributes_of([rich], ["vip"]) == {rich: {"vip": True}}
    assert store.records.attributes_of([], names) == {}


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


def test_record_refs_are_the_inverse_of_record_ids(store: Store) -> None:
    a, b = insert(store, rec("a"), rec("a", source="shop"))
    assert store.records.refs([b, a, 999_999]) == {
        a: RecordRef("crm", "a"),
        b: RecordRef("shop", "a"),
    }


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


def test_a_rule_change_finds_the_shared_identifiers_of_a_kind_with_their_counts(
    store: Store,
) -> None:
    family = IdentifierKey("email", "family@example.com")
    own = IdentifierKey("email", "ann@example.com")
    phone = IdentifierKey("phone", "+447911123456")
    insert(
        store,
        rec("a", ident(family), ident(own), ident(phone)),
        rec("b", ident(family), ident(phone)),
        rec("c", ident(family)),
    )
    assert store.records.identifiers_shared("email", 0) == {family: 3, own: 1}
    assert store.records.identifiers_shared("email", 2) == {family: 3}
    assert store.records.identifiers_shared("email", 3) == {}
    assert store.records.identifiers_shared("phone", 1) == {phone: 2}
    assert store.records.identifiers_shared("loyalty_id", 0) == {}


def test_a_rule_change_finds_identifiers_of_any_kind_by_their_trimmed_lower_cased_value(
    store: Store,
) -> None:
    upper = IdentifierKey("customer_id", "N/A")
    lower = IdentifierKey("account_id", "n/a")
    other = IdentifierKey("customer_id", "C1")
    insert(store, rec("a", ident(upper), ident(other)), rec("b", ident(upper), ident(lower)))
    assert store.records.identifiers_valued([" N/a "]) == {upper: 2, lower: 1}
    assert store.records.identifiers_valued(["n/a", "c1"]) == {upper: 2, lower: 1, other: 1}
    assert store.records.identifiers_valued(["none"]) == {}
    assert store.records.identifiers_valued([]) == {}


def test_a_rule_change_finds_the_records_holding_a_kind_each_once_in_order(
    store: Store,
) -> None:
    a, b, c = insert(
        store,
        rec("a", ident(EMAIL), ident(IdentifierKey("email", "x@example.com"))),
        rec("b", ident(PHONE)),
        rec("c", ident(EMAIL), ident(PHONE)),
    )
    assert store.records.holding_kinds(["email"]) == [a, c]
    assert store.records.holding_kinds(["email", "phone"]) == [a, b, c]
    assert store.records.holding_kinds(["device_id"]) == []
    assert store.records.holding_kinds([]) == []
