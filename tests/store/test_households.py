"""The storage contract for households: a rebuild's result replaces every household at
once, a correction rewrites a few, a profile's household is found by the profile, the
households are scanned by id for export, and stewards' corrections are kept by key.

Every test runs once per backend (conftest.BACKENDS)."""

from __future__ import annotations

from itertools import pairwise

import pytest

from identity.errors import StoreError
from identity.store.base import Store
from identity.store.ports import HouseholdCorrection, HouseholdRow

T = "2026-01-01T00:00:00+00:00"


def household(hid: str, *members: str, evidence: str = "shared_landline") -> HouseholdRow:
    """A household whose members are joined in a chain by one kind of evidence."""
    pairs = tuple((evidence, a, b) for a, b in pairwise(members))
    return HouseholdRow(hid, tuple(members), pairs, T)


def test_a_rebuild_replaces_every_household_and_finds_each_members(store: Store) -> None:
    smiths = household("h1", "P1", "P2", evidence="shared_address_surname")
    jones = household("h2", "P3", "P4", "P5")
    store.households.replace([smiths, jones])
    assert store.households.of_profiles(["P1", "P2", "P4", "P9"]) == {
        "P1": smiths,
        "P2": smiths,
        "P4": jones,
    }
    assert store.households.count() == (2, 5)

    again = household("h3", "P1", "P5")
    store.households.replace([again])
    assert store.households.of_profiles(["P1", "P2", "P3", "P5"]) == {"P1": again, "P5": again}
    assert store.households.get(["h1", "h2", "h3"]) == {"h3": again}
    assert store.households.count() == (1, 2)


def test_evidence_and_since_come_back_as_written(store: Store) -> None:
    row = HouseholdRow(
        "h1",
        ("P1", "P2", "P3"),
        (("shared_address_surname", "P1", "P2"), ("shared_email", "P2", "P3")),
        "2025-05-05T10:00:00+00:00",
    )
    store.households.replace([row])
    assert store.households.get(["h1"]) == {"h1": row}


def test_a_rebuild_to_nothing_leaves_no_household(store: Store) -> None:
    store.households.replace([household("h1", "P1", "P2")])
    store.households.replace([])
    assert store.households.of_profiles(["P1", "P2"]) == {}
    assert store.households.count() == (0, 0)
    assert list(store.households.scan()) == []


def test_put_rewrites_a_household_and_removes_others_without_leaving_old_members(
    store: Store,
) -> None:
    store.households.replace(
        [
            household("h1", "P1", "P2", "P3"),
            household("h2", "P4", "P5"),
            household("h9", "P8", "P9"),
        ]
    )
    smaller = household("h1", "P1", "P2")
    moved = household("h4", "P3", "P4", "P5")
    store.households.put([smaller, moved], removed={"h2"})
    assert store.households.of_profiles(["P1", "P2", "P3", "P4", "P5", "P8"]) == {
        "P1": smaller,
        "P2": smaller,
        "P3": moved,
        "P4": moved,
        "P5": moved,
        "P8": household("h9", "P8", "P9"),
    }
    assert store.households.count() == (3, 7)


def test_scan_pages_every_household_by_id(store: Store) -> None:
    rows = [household(f"h{i:03}", f"A{i}", f"B{i}") for i in range(25)]
    store.households.replace(list(reversed(rows)))
    pages = list(store.households.scan(batch_size=10))
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [h for page in pages for h in page] == rows


def test_replace_inside_a_failed_unit_of_work_leaves_the_old_households(store: Store) -> None:
    old = household("h1", "P1", "P2")
    store.households.replace([old])
    with pytest.raises(RuntimeError), store.unit_of_work():
        store.households.replace([household("h2", "P3", "P4")])
        raise RuntimeError("the rebuild failed after writing")
    assert store.households.of_profiles(["P1", "P3"]) == {"P1": old}


def test_a_profile_is_in_one_household_at_most(store: Store) -> None:
    with pytest.raises(StoreError):
        store.households.replace([household("h1", "P1", "P2"), household("h2", "P2", "P3")])


def test_corrections_are_kept_by_key_and_replaced_or_removed(store: Store) -> None:
    apart = HouseholdCorrection("apart", ("P1", "P2"), "ann", "twins, two homes", T)
    alone = HouseholdCorrection("alone", ("P3",), "bo", "lodger", T)
    store.households.put_corrections([apart, alone])
    assert store.households.corrections() == [alone, apart]  # by key: alone:..., apart:...

    again = HouseholdCorrection("apart", ("P1", "P2"), "cy", "checked again", T)
    together = HouseholdCorrection("together", ("P4", "P5"), "cy", "one family", T)
    store.households.put_corrections([again, together], removed=[alone.key])
    assert store.households.corrections() == [again, together]
    assert again.key == "apart:P1:P2"
