"""The backend-free store decisions (identity/store/changes.py): the upsert diff, merge
folding, keyset paging and the stored encodings, each against a naive reference."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from identity.errors import StoreError
from identity.model import (
    Event,
    Identifier,
    ProfileChangeKind,
    ProfileChanges,
    RecordRef,
    RecordWrite,
    SourceRecord,
)
from identity.store.changes import (
    RecordColumns,
    StoredColumns,
    change_log_rows,
    decode_stamp,
    diff_records,
    dumps,
    encode_stamp,
    event_document,
    event_from_document,
    fold_merges,
    identifiers_json,
    keyset_pages,
    load_identifiers,
    unique_keys,
    utc_key,
)
from identity.store.sqlite import SQLiteStore

EMAIL = Identifier("email", "ana.lima@example.com", "Ana.Lima@Example.com")
PHONE = Identifier("phone", "+351912345678", "912 345 678")
LOYALTY = Identifier("loyalty_id", "LY-000123", "ly-000123")
SEEN = datetime(2026, 3, 14, 9, 30, tzinfo=timezone(timedelta(hours=1)))


def crm(key: str, *identifiers: Identifier, city: str = "Lisboa") -> SourceRecord:
    return SourceRecord(
        source="crm",
        key=key,
        identifiers=identifiers,
        attributes={"first_name": "Ana", "city": city},
        timestamp=SEEN,
        raw={"id": key, "email": "Ana.Lima@Example.com", "cidade": city},
    )


def stored(record_id: int, record: SourceRecord) -> StoredColumns:
    return StoredColumns(record_id, RecordColumns.of(record))


# -- encodings ------------------------------------------------------------------------------


def test_stored_text_is_compact_json_that_keeps_non_ascii_as_is() -> None:
    assert dumps({"city": "São Paulo", "n": [1, 2]}) == '{"city":"São Paulo","n":[1,2]}'


def test_identifiers_are_stored_as_kind_value_original_triples_and_read_back() -> None:
    text = identifiers_json((EMAIL, PHONE))
    assert text == (
        '[["email","ana.lima@example.com","Ana.Lima@Example.com"],'
        '["phone","+351912345678","912 345 678"]]'
    )
    assert load_identifiers(text) == (EMAIL, PHONE)


def test_timestamps_keep_their_offset_and_utc_keys_order_as_instants() -> None:
    assert encode_stamp(SEEN) == "2026-03-14T09:30:00+01:00"
    assert decode_stamp(encode_stamp(SEEN)) == SEEN
    assert encode_stamp(None) is None and decode_stamp(None) is None
    # 10:00 at +05:00 reads later than 09:30 at +01:00 but is 05:00Z, earlier than 08:30Z.
    earlier_elsewhere = datetime(2026, 3, 14, 10, 0, tzinfo=timezone(timedelta(hours=5)))
    assert utc_key(SEEN) == "2026-03-14T08:30:00.000000Z"
    assert utc_key(earlier_elsewhere) < utc_key(SEEN)


def test_an_event_document_is_the_text_both_stores_keep_and_reads_back() -> None:
    event = Event(
        event_id="evt-1",
        type="purchase",
        timestamp=SEEN,
        identifiers=(EMAIL,),
        channel="web",
        source="shop",
        properties={"amount": 12.5, "currency": "EUR"},
    )
    document = event_document(event)
    assert document == (
        '{"type":"purchase","timestamp":"2026-03-14T09:30:00+01:00","channel":"web",'
        '"source":"shop","identifiers":[["email","ana.lima@example.com",'
        '"Ana.Lima@Example.com"]],"properties":{"amount":12.5,"currency":"EUR"}}'
    )
    assert event_from_document("evt-1", document) == event


def test_identifier_keys_asked_twice_are_looked_up_once_in_first_seen_order() -> None:
    keys = [PHONE.key, EMAIL.key, ("phone", "+351912345678")]
    assert unique_keys(keys) == [PHONE.key, EMAIL.key]


# -- the record upsert diff -----------------------------------------------------------------


def test_a_new_record_is_created_with_all_its_identifier_edges() -> None:
    record = crm("c-1", EMAIL, PHONE)
    diff = diff_records({}, [record])
    assert diff.created == {record.ref: RecordColumns.of(record)}
    assert diff.updated == {} and diff.removed_edges == []
    assert diff.added_edges == [(record.ref, EMAIL), (record.ref, PHONE)]
    assert diff.writes({record.ref: 7}) == [RecordWrite(7, record.ref, True, True)]


def test_an_unchanged_record_writes_nothing() -> None:
    record = crm("c-1", EMAIL)
    diff = diff_records({record.ref: stored(3, record)}, [record])
    assert not (diff.created or diff.updated or diff.removed_edges or diff.added_edges)
    assert diff.writes({}) == [RecordWrite(3, record.ref, created=False, changed=False)]


def test_a_changed_record_drops_the_identifiers_it_lost() -> None:
    before = crm("c-1", EMAIL, PHONE)
    after = crm("c-1", EMAIL, LOYALTY, city="Porto")
    diff = diff_records({before.ref: stored(3, before)}, [after])
    assert diff.updated_existing() == {after.ref: RecordColumns.of(after)}
    assert diff.removed_edges == [(after.ref, PHONE.key)]
    assert diff.added_edges == [(after.ref, EMAIL), (after.ref, LOYALTY)]
    assert diff.writes({}) == [
        RecordWrite(3, after.ref, False, True, removed_identifiers=(PHONE.key,))
    ]


def test_a_new_record_seen_twice_is_created_once_as_its_last_version() -> None:
    first, second = crm("c-9", EMAIL, PHONE), crm("c-9", EMAIL, city="Faro")
    diff = diff_records({}, [first, second])
    assert diff.created == {first.ref: RecordColumns.of(first)}
    assert diff.created_last() == {first.ref: RecordColumns.of(second)}
    assert diff.updated_existing() == {}
    # Edges go from nothing to the last version: the phone edge is never written.
    assert diff.removed_edges == [] and diff.added_edges == [(first.ref, EMAIL)]
    assert diff.writes({first.ref: 11}) == [
        RecordWrite(11, first.ref, True, True),
        RecordWrite(11, first.ref, False, True, removed_identifiers=(PHONE.key,)),
    ]


def test_new_records_take_ids_in_the_order_they_first_appear() -> None:
    records = [crm("b"), crm("a"), crm("b", city="Porto"), crm("c")]
    assert list(diff_records({}, records).created) == [
        RecordRef("crm", "b"),
        RecordRef("crm", "a"),
        RecordRef("crm", "c"),
    ]


identifier_pool = st.sampled_from([EMAIL, PHONE, LOYALTY, Identifier("email", "x@y.pt", "x@y.pt")])
versions = st.builds(
    crm,
    st.sampled_from(["c-1", "c-2", "c-3"]),
    city=st.sampled_from(["Lisboa", "Porto"]),
).flatmap(
    lambda r: st.lists(identifier_pool, unique=True, max_size=3).map(
        lambda ids: SourceRecord(r.source, r.key, tuple(ids), r.attributes, r.timestamp, r.raw)
    )
)


@settings(max_examples=200, deadline=None)
@given(
    before=st.lists(versions, max_size=3, unique_by=lambda r: r.key),
    incoming=st.lists(versions, max_size=6),
)
def test_the_diff_ends_where_upserting_one_record_at_a_time_ends(
    before: list[SourceRecord], incoming: list[SourceRecord]
) -> None:
    existing = {r.ref: stored(100 + n, r) for n, r in enumerate(before)}
    # Naive reference: apply each record in turn to a dict of rows and a set of edges.
    rows = {ref: s.columns for ref, s in existing.items()}
    edges = {
        (ref, i.key): i
        for ref, s in existing.items()
        for i in load_identifiers(s.columns.identifiers)
    }
    ids = {ref: s.record_id for ref, s in existing.items()}
    expected: list[RecordWrite] = []
    for record in incoming:
        new = RecordColumns.of(record)
        old = rows.get(record.ref)
        created = old is None
        if created:
            ids[record.ref] = len(ids) + 1000
        rid = ids[record.ref]
        if old == new:
            expected.append(RecordWrite(rid, record.ref, False, False))
            continue
        old_keys = [] if old is None else [i.key for i in load_identifiers(old.identifiers)]
        gone = tuple(k for k in old_keys if k not in {i.key for i in record.identifiers})
        expected.append(RecordWrite(rid, record.ref, created, True, () if created else gone))
        rows[record.ref] = new
        edges = {e: i for e, i in edges.items() if e[0] != record.ref}
        edges.update({(record.ref, i.key): i for i in record.identifiers})

    diff = diff_records(existing, incoming)
    new_ids = {ref: ids[ref] for ref in diff.created}
    assert list(new_ids) == [r for r in dict.fromkeys(x.ref for x in incoming) if r not in existing]
    assert diff.writes(new_ids) == expected
    applied = {ref: s.columns for ref, s in existing.items()}
    applied.update(diff.created_last())
    applied.update(diff.updated_existing())
    assert applied == rows
    # The same end by the other route: first versions, then every later version.
    inserted_then_updated = {ref: s.columns for ref, s in existing.items()}
    inserted_then_updated.update(diff.created)
    inserted_then_updated.update(diff.updated)
    assert inserted_then_updated == rows
    got = {
        (ref, i.key): i
        for ref, s in existing.items()
        for i in load_identifiers(s.columns.identifiers)
    }
    for edge in diff.removed_edges:
        del got[edge]
    got.update({(ref, i.key): i for ref, i in diff.added_edges})
    assert got == edges


# -- merges ---------------------------------------------------------------------------------


def test_a_merge_moves_the_retired_history_to_the_survivor() -> None:
    fold = fold_merges({"p-2": "p-1"}, {"p-1": ["p-0"], "p-2": ["p-7"]})
    assert fold.steps == (("p-2", "p-1"),)
    assert fold.histories == {"p-1": ["p-0", "p-2", "p-7"], "p-2": []}
    assert fold.survivors == {"p-1": ["p-0", "p-2", "p-7"]}
    assert fold.redirects == {"p-2": "p-1"}
    assert fold.touched == {"p-1", "p-2"}


def test_a_chain_of_merges_leaves_every_retired_id_pointing_at_the_final_survivor() -> None:
    # p-1 -> p-2 then p-2 -> p-3; p-0 already redirected to p-1 before the batch.
    fold = fold_merges(
        {"p-1": "p-2", "p-2": "p-3"},
        {"p-1": [], "p-2": [], "p-3": []},
        {"p-0": "p-1", "p-1": None, "p-2": None, "p-3": None},
    )
    assert fold.redirects == {"p-0": "p-3", "p-1": "p-3", "p-2": "p-3"}
    assert fold.changed == ["p-0", "p-1", "p-2", "p-3"]
    assert "p-0" not in fold.touched


def test_merging_an_unknown_profile_is_refused() -> None:
    with pytest.raises(StoreError, match="cannot merge unknown profile p-9"):
        fold_merges({"p-9": "p-1"}, {"p-1": []})
    with pytest.raises(StoreError, match="cannot merge into unknown profile p-9"):
        fold_merges({"p-1": "p-9"}, {"p-1": []})


def naive_merges(
    merged: dict[str, str], histories: dict[str, list[str]], redirects: dict[str, str | None]
) -> tuple[dict[str, list[str]], dict[str, str | None]]:
    """The embedded store's statements, one row at a time: read, retire, follow, then
    rewrite each survivor's history."""
    history = {pid: list(h) for pid, h in histories.items()}
    redirect = dict(redirects)
    absorbed: dict[str, set[str]] = {}
    for retired, survivor in sorted(merged.items()):
        absorbed.setdefault(survivor, set()).update({retired, *history[retired]})
        history[retired] = []
        redirect[retired] = survivor
        for pid in list(redirect):
            if redirect[pid] == retired:
                redirect[pid] = survivor
    for survivor, gained in sorted(absorbed.items()):
        history[survivor] = sorted(gained | set(history[survivor]))
    return history, redirect


profile_ids = st.sampled_from([f"p-{n}" for n in range(8)])


@settings(max_examples=300, deadline=None)
@given(
    merged=st.dictionaries(profile_ids, profile_ids, max_size=5).map(
        lambda m: {r: s for r, s in m.items() if r != s}
    ),
    histories=st.dictionaries(profile_ids, st.lists(st.sampled_from(["h-1", "h-2"]), unique=True)),
    followers=st.dictionaries(st.sampled_from(["f-1", "f-2", "f-3"]), profile_ids),
)
def test_folding_merges_ends_as_applying_them_one_by_one(
    merged: dict[str, str], histories: dict[str, list[str]], followers: dict[str, str]
) -> None:
    known = {pid: histories.get(pid, []) for pid in {*merged, *merged.values()}}
    redirects: dict[str, str | None] = {pid: None for pid in known}
    redirects.update(followers)
    history, redirect = naive_merges(merged, known, redirects)
    fold = fold_merges(merged, known, redirects)
    assert {**known, **fold.histories} == history
    assert {**redirects, **fold.redirects} == redirect
    assert {pid for pid in redirect if redirect[pid] != redirects[pid]} <= set(fold.redirects)
    assert fold.touched == set(merged) | set(merged.values())


def test_change_log_rows_are_creations_then_merges_then_deletions_each_in_id_order() -> None:
    changes = ProfileChanges(
        created=["p-5", "p-4"],
        merged={"p-3": "p-1", "p-2": "p-1"},
        deleted=["p-9", "p-8"],
        split_from={"p-5": "p-1"},
    )
    assert change_log_rows(changes) == [
        (ProfileChangeKind.CREATED, "p-4", None),
        (ProfileChangeKind.SPLIT, "p-5", "p-1"),
        (ProfileChangeKind.MERGED, "p-2", "p-1"),
        (ProfileChangeKind.MERGED, "p-3", "p-1"),
        (ProfileChangeKind.DELETED, "p-8", None),
        (ProfileChangeKind.DELETED, "p-9", None),
    ]


# -- keyset paging --------------------------------------------------------------------------


class Table:
    """Rows ordered by key, fetched ``limit`` at a time after a key, counting fetches."""

    def __init__(self, keys: Sequence[int], limit: int) -> None:
        self.keys, self.limit, self.fetches = sorted(keys), limit, 0

    def page(self, after: int) -> list[int]:
        self.fetches += 1
        return [k for k in self.keys if k > after][: self.limit]


@settings(max_examples=200, deadline=None)
@given(keys=st.sets(st.integers(0, 500), max_size=60), batch_size=st.integers(1, 25))
def test_keyset_pages_yield_every_row_once_in_key_order(keys: set[int], batch_size: int) -> None:
    table = Table(list(keys), batch_size)
    pages = list(keyset_pages(table.page, lambda k: k, -1, batch_size))
    assert [k for page in pages for k in page] == sorted(keys)
    assert all(pages) and all(len(p) == batch_size for p in pages[:-1])
    # A full last page costs one more fetch, which comes back empty.
    assert table.fetches == len(keys) // batch_size + 1


@settings(max_examples=100, deadline=None)
@given(keys=st.sets(st.integers(0, 500), max_size=60), batch_size=st.integers(1, 25))
def test_paging_until_empty_fetches_one_page_past_the_last_short_one(
    keys: set[int], batch_size: int
) -> None:
    table = Table(list(keys), batch_size)
    pages = list(keyset_pages(table.page, lambda k: k, -1, batch_size, until_empty=True))
    assert [k for page in pages for k in page] == sorted(keys)
    assert table.fetches == len(pages) + 1


def test_keyset_pages_key_on_several_columns() -> None:
    rows = [("email", "a@x.pt"), ("email", "b@x.pt"), ("phone", "+1"), ("phone", "+2")]

    def page(after: tuple[str, str]) -> list[tuple[str, str]]:
        return [r for r in rows if r > after][:2]

    pages = list(keyset_pages(page, lambda r: r, ("", ""), 2))
    assert [list(p) for p in pages] == [rows[:2], rows[2:]]


def test_utc_key_is_fixed_width() -> None:
    assert len(utc_key(datetime(2026, 1, 1, tzinfo=UTC))) == len(utc_key(SEEN)) == 27


def test_each_paging_method_counts_its_statements_under_its_own_name(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "graph.db")
    try:
        store.records.upsert([crm(f"c-{n}", EMAIL) for n in range(5)], SEEN)
        assert len(list(store.records.scan(batch_size=2))) == 5
        assert list(store.copy.events(batch_size=2)) == []
        counts = store.statements_per_operation()
    finally:
        store.close()
    # Pages of 2, 2 and 1 rows; the event log is read until an empty page.
    assert counts["records.scan"] == 3
    assert counts["copy.events"] == 1
