"""The storage contract for the match index: match rows and their blocking keys.

Every test runs once per backend (conftest.BACKENDS)."""

from __future__ import annotations

from identity.model import MatchRow
from identity.store.base import Store
from tests.store.builders import insert, rec


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
