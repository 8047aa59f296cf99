"""Households: which profiles live together, derived from the read model, with ids that
last and stewards' corrections that outlive every rebuild.

The joining is cross-checked against networkx's connected components on seeded random
graphs; the rest goes through the real pipeline (ingest, resolve, read model, rebuild) on
an in-memory SQLite store."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from identity.errors import ConfigError, InvalidArgument, InvalidSegment, StewardConflict
from identity.graph import IdentityGraph
from identity.households.derivation import (
    ALONE,
    APART,
    TOGETHER,
    Component,
    SharedValues,
    address_key,
    assign_ids,
    components,
    evidence_edges,
    facts_of,
    family_name,
)
from identity.households.rules import HouseholdRules
from identity.mapping import SourceMapping
from identity.model import IdentifierKey, RecordRef
from identity.rules import Rules, load_rules
from identity.store.factory import open_store
from identity.store.ports import HouseholdCorrection, HouseholdRow

T0 = "2026-01-01T00:00:00+00:00"
T1 = "2026-02-01T00:00:00+00:00"

CRM = {
    "source": "crm",
    "key": "id",
    "phone_region": "GB",
    "identifiers": {"email": "email", "phone": "phone"},
    "attributes": {
        "first": {"name": "first_name", "type": "name"},
        "last": {"name": "last_name", "type": "name"},
        "street": "address",
        "postcode": "postcode",
    },
}
LANDLINE = "0161 496 0123"
"""A Manchester number (Ofcom's range for drama): a fixed line."""


def correction(kind: str, *profiles: str) -> HouseholdCorrection:
    return HouseholdCorrection(kind, profiles, "ann", "checked", T0)


# -- joining -----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(20))
def test_households_are_the_connected_components_of_the_evidence(seed: int) -> None:
    rng = random.Random(seed)
    nodes = [f"P{i:03}" for i in range(rng.randint(2, 60))]
    kinds = ("shared_address_surname", "shared_landline", "shared_email")
    edges = set()
    for _ in range(rng.randint(0, 70)):
        a, b = sorted(rng.sample(nodes, 2))
        edges.add((rng.choice(kinds), a, b))
    graph = nx.Graph()
    graph.add_edges_from((a, b) for _, a, b in edges)
    expected = {frozenset(c) for c in nx.connected_components(graph) if len(c) >= 2}
    found = components(edges, [], max_members=len(nodes))
    assert {frozenset(c.members) for c in found.households} == expected
    assert sorted(e for c in found.households for e in c.evidence) == sorted(edges)


@settings(max_examples=60, deadline=None)
@given(
    edges=st.lists(
        st.tuples(
            st.sampled_from(("shared_address_surname", "shared_landline", "shared_email")),
            st.integers(0, 12),
            st.integers(0, 12),
        ),
        max_size=40,
    ),
    apart=st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12)), max_size=6),
    seed=st.integers(0, 1000),
)
def test_households_do_not_depend_on_the_order_evidence_is_read(
    edges: list[tuple[str, int, int]], apart: list[tuple[int, int]], seed: int
) -> None:
    pairs = [(t, f"P{min(a, b):02}", f"P{max(a, b):02}") for t, a, b in edges if a != b]
    corrections = [correction(APART, f"P{a:02}", f"P{b:02}") for a, b in apart if a != b]
    shuffled = list(pairs)
    random.Random(seed).shuffle(shuffled)
    one = components(pairs, corrections, max_members=6)
    other = components(shuffled, list(reversed(corrections)), max_members=6)
    assert one == other
    for household in one.households:
        assert len(household.members) <= 6
        for c in corrections:
            assert not set(c.profiles) <= set(household.members)


def test_a_group_above_the_cap_is_dropped_whole_and_counted() -> None:
    chain = [("shared_landline", f"P{i}", f"P{i + 1}") for i in range(9)]  # ten profiles
    found = components([*chain, ("shared_email", "Q1", "Q2")], [], max_members=8)
    assert [c.members for c in found.households] == [("Q1", "Q2")]
    assert (found.too_large, found.too_large_profiles) == (1, 10)


def test_profiles_a_steward_kept_apart_never_share_a_household_whatever_the_order() -> None:
    edges = [
        ("shared_landline", "A", "C"),
        ("shared_landline", "B", "C"),
        ("shared_address_surname", "A", "B"),
    ]
    expected = None
    for shuffled in (edges, list(reversed(edges))):
        found = components(shuffled, [correction(APART, "A", "B")], max_members=8)
        households = [c.members for c in found.households]
        # The address evidence is joined first (A-B, refused), then A-C; B-C is refused.
        assert households == [("A", "C")]
        assert found.refused == 2
        expected = expected or households
        assert households == expected


def test_a_profile_a_steward_took_out_is_in_no_household() -> None:
    edges = [("shared_landline", "A", "B"), ("shared_landline", "B", "C")]
    found = components(edges, [correction(ALONE, "B")], max_members=8)
    assert found.households == []


def test_a_stewards_join_makes_a_household_without_evidence() -> None:
    found = components([], [correction(TOGETHER, "A", "B")], max_members=8)
    assert found.households == [Component(("A", "B"), (("steward", "A", "B"),))]


# -- ids ---------------------------------------------------------------------------------------


def test_a_household_keeps_its_id_when_most_of_its_members_stay() -> None:
    old = HouseholdRow("h-old", ("A", "B", "C"), (), T0)
    previous = {"A": old, "B": old, "C": old}
    rows = assign_ids([Component(("A", "B", "D"), ()), Component(("C", "E"), ())], previous, T1)
    assert (rows[0].id, rows[0].since) == ("h-old", T0)
    assert rows[1].id != "h-old" and rows[1].since == T1


def test_when_two_households_meet_the_one_with_more_members_there_keeps_its_id() -> None:
    big = HouseholdRow("h-big", ("A", "B", "C"), (), T1)
    small = HouseholdRow("h-small", ("D", "E"), (), T0)
    previous = {"A": big, "B": big, "C": big, "D": small, "E": small}
    (row,) = assign_ids([Component(("A", "B", "C", "D", "E"), ())], previous, T1)
    assert row.id == "h-big"


def test_on_a_tie_the_older_household_keeps_its_id() -> None:
    newer = HouseholdRow("h-a", ("A", "B"), (), T1)
    older = HouseholdRow("h-z", ("C", "D"), (), T0)
    previous = {"A": newer, "B": newer, "C": older, "D": older}
    (row,) = assign_ids([Component(("A", "B", "C", "D"), ())], previous, T1)
    assert (row.id, row.since) == ("h-z", T0)


def test_new_ids_hold_no_personal_value_and_do_not_repeat_one_in_use() -> None:
    first = assign_ids([Component(("P1", "P2"), ())], {}, T0)[0].id
    assert first.startswith("h") and "P1" not in first
    second = assign_ids([Component(("P1", "P2"), ())], {}, T0, taken={first})[0].id
    assert second != first


# -- evidence ----------------------------------------------------------------------------------


def test_family_names_fold_polish_feminine_forms_and_spellings_of_case() -> None:
    assert family_name("Kowalska") == family_name("KOWALSKI") == "kowalski"
    assert family_name("Nowicka") == family_name("Nowicki")
    assert family_name("Müller") == family_name("muller")
    assert family_name("Costa") != family_name("Costo")


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (("Rosenstraße 15", "10705"), ("Rosenstr. 15", "10705")),
        (("Flat 5, 148 Highfield Rd", "W2 6QP"), ("148 Highfield Road, Flat 5", "W2 6QP")),
        (("148 Highfield Rd, Flat 5, London W2 6QP", None), ("Flat 5, 148 Highfield Rd", "W26QP")),
        (("7242 Highland Rd, Unit 1F", "10153-0694"), ("7242 Highland Rd Unit 1F", "10153")),
        (("PO Box 59922-00800, Nairobi", "00800"), ("P. O. Box 59922-00800", "00800")),
    ],
)
def test_one_home_written_two_ways_has_one_address_key(
    one: tuple[str, str | None], other: tuple[str, str | None]
) -> None:
    assert address_key(*one) == address_key(*other) is not None


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (("Flat 5, 148 Highfield Rd", "W2 6QP"), ("Flat 6, 148 Highfield Rd", "W2 6QP")),
        (("12 High Street", "LS1 4AP"), ("12 High Street", "M1 1AE")),
    ],
)
def test_two_homes_have_two_address_keys(
    one: tuple[str, str | None], other: tuple[str, str | None]
) -> None:
    assert address_key(*one) != address_key(*other)


def test_shared_values_pair_their_holders_and_a_crowded_value_pairs_no_one() -> None:
    rules = HouseholdRules(max_members=3)
    shop = "+441614960999"
    golden = {"last_name": "Hale", "address": "1 Mill Lane", "postcode": "M1 1AE"}
    facts = [
        facts_of("P1", golden, [("phone", "+441614960123"), ("phone", shop)], rules, _none),
        facts_of("P2", golden, [("phone", "+447700900123"), ("phone", shop)], rules, _none),
        facts_of("P3", {}, [("phone", "+441614960123"), ("phone", shop)], rules, _none),
        facts_of("P4", {}, [("phone", "+447700900123"), ("phone", shop)], rules, _none),
        facts_of("P5", {}, [("email", "thehales@example.com")], rules, _none),
        facts_of("P6", {}, [("email", "thehales@example.com")], rules, _none),
    ]
    shared = SharedValues(rules.evidence)
    shared.add(facts)
    found = evidence_edges(shared, rules.max_members)
    assert found.edges == [
        ("shared_address_surname", "P1", "P2"),
        ("shared_landline", "P1", "P3"),  # the mobile P2 and P4 share is personal
        ("shared_email", "P5", "P6"),
    ]
    assert found.crowded_values == 1  # the shop's number on four profiles


def test_blocklisted_values_are_no_evidence() -> None:
    rules = load_rules(None)
    junk = "test@test.com"
    assert rules.is_blocklisted(IdentifierKey("email", junk))
    shared = SharedValues(rules.households.evidence)
    shared.add(
        facts_of(p, {}, [("email", junk)], rules.households, rules.is_blocklisted)
        for p in ("P1", "P2")
    )
    assert evidence_edges(shared, 8).edges == []


def _none(key: IdentifierKey) -> bool:
    return False


# -- through the pipeline ----------------------------------------------------------------------


def open_graph(rules: Rules | None = None) -> IdentityGraph:
    graph = IdentityGraph(open_store("sqlite:///:memory:"), rules or load_rules(None))
    graph.ingest.register_source(SourceMapping.from_document(CRM, rules=graph.rules))
    return graph


@pytest.fixture
def graph() -> Iterator[IdentityGraph]:
    g = open_graph()
    yield g
    g.close()


def person(key: str, first: str, last: str, **more: Any) -> dict[str, Any]:
    return {"id": key, "first": first, "last": last, **more}


HALES = [
    person("1", "Ann", "Hale", street="1 Mill Lane", postcode="M1 1AE", email="ann@example.com"),
    person("2", "Bob", "HALE", street="1, Mill Lane", postcode="M11AE", email="bob@example.com"),
    person("3", "Cy", "Hale", phone=LANDLINE, email="cy@example.com"),
    person("4", "Di", "Hale", phone=LANDLINE, street="1 Mill Lane", postcode="M1 1AE"),
]
LODGER = person("5", "Eve", "Stone", street="1 Mill Lane", postcode="M1 1AE")


def ingest(graph: IdentityGraph, *rows: dict[str, Any]) -> None:
    report = graph.ingest.ingest_rows("crm", list(enumerate(rows, start=1)))
    assert not report.errors, report.errors


def pid(graph: IdentityGraph, key: str) -> str:
    rid = graph.store.records.ids([RecordRef("crm", key)])[RecordRef("crm", key)]
    return graph.store.profiles.ids_of([rid])[rid]


def members_of(graph: IdentityGraph, key: str) -> set[str]:
    """The record keys of the profiles in the household of record ``key``'s profile."""
    found = graph.households.of_profiles([pid(graph, key)])
    if not found:
        return set()
    refs = graph.store.records.ids([RecordRef("crm", k) for k in "12345"])
    profiles = graph.store.profiles.ids_of(list(refs.values()))
    by_profile = {profiles[rid]: ref.key for ref, rid in refs.items()}
    return {by_profile[p] for p in found[pid(graph, key)].members}


def test_a_household_joins_the_members_of_one_home_and_leaves_the_lodger_out(
    graph: IdentityGraph,
) -> None:
    ingest(graph, *HALES, LODGER)
    report = graph.households.rebuild()
    assert (report.profiles, report.households, report.members) == (5, 1, 4)
    assert members_of(graph, "1") == {"1", "2", "3", "4"}
    assert members_of(graph, "5") == set()
    household = graph.households.of_profiles([pid(graph, "3")])[pid(graph, "3")]
    assert household.evidence_types == ("shared_address_surname", "shared_landline")
    # Evidence names kinds and profiles, never the shared values.
    assert "Mill" not in repr(household) and "0161" not in repr(household)


def test_a_rebuild_keeps_the_household_id_and_follows_a_merge(graph: IdentityGraph) -> None:
    ingest(graph, *HALES)
    graph.households.rebuild()
    first = graph.households.of_profiles([pid(graph, "1")])[pid(graph, "1")].id
    # Cy's new e-mail merges Bob's profile into Cy's: the household reads through the merge.
    bob = pid(graph, "2")
    ingest(graph, person("3", "Cy", "Hale", phone=LANDLINE, email="bob@example.com"))
    assert graph.households.of_profiles([bob])[bob].id == first
    report = graph.households.rebuild()
    assert report.kept_ids == 1
    assert graph.households.of_profiles([pid(graph, "4")])[pid(graph, "4")].id == first


def test_a_steward_keeps_two_profiles_apart_and_every_rebuild_keeps_it(
    graph: IdentityGraph,
) -> None:
    ingest(graph, *HALES)
    graph.households.rebuild()
    reason = "Cy moved out; the landline is Di's"
    result = graph.households.keep_apart(pid(graph, "3"), pid(graph, "4"), reason, "ann")
    # Cy was joined by the landline alone: Cy leaves, the others stay together.
    assert result.households[pid(graph, "3")] is None
    assert members_of(graph, "4") == {"1", "2", "4"}
    report = graph.households.rebuild()
    assert report.refused_by_stewards == 1
    assert members_of(graph, "3") == set()
    assert members_of(graph, "4") == {"1", "2", "4"}
    entry = graph.store.audit.get([result.action_id])[result.action_id].entry
    assert (entry.action, entry.actor, entry.reason) == ("household_keep_apart", "ann", reason)


def test_undo_brings_the_household_back_as_it_was(graph: IdentityGraph) -> None:
    ingest(graph, *HALES)
    graph.households.rebuild()
    ann = pid(graph, "1")
    before = graph.households.of_profiles([ann])[ann]
    done = graph.households.remove(ann, "a care worker's address, not her home", "ann")
    assert done.households == {ann: None}
    assert graph.households.of_profiles([ann]) == {}
    graph.households.undo(done.action_id, "wrong profile", "bo")
    assert graph.households.of_profiles([ann])[ann] == before
    assert graph.store.households.corrections() == []
    with pytest.raises(StewardConflict):
        graph.households.undo(done.action_id, "again", "bo")


def test_a_steward_joins_two_profiles_and_the_join_survives_a_rebuild(
    graph: IdentityGraph,
) -> None:
    ingest(graph, *HALES, LODGER)
    graph.households.rebuild()
    eve, ann = pid(graph, "5"), pid(graph, "1")
    done = graph.households.join(eve, ann, "Eve is Ann's partner", "ann")
    assert eve in (done.households[eve] or pytest.fail("no household")).members
    graph.households.rebuild()
    assert members_of(graph, "5") == {"1", "2", "3", "4", "5"}
    household = graph.households.of_profiles([eve])[eve]
    assert ("steward", *sorted((eve, ann))) in household.evidence


def test_a_join_past_the_cap_is_refused_and_changes_nothing() -> None:
    rules = load_rules(None)
    small = Rules(
        **{f: getattr(rules, f) for f in rules.__dataclass_fields__ if f != "households"},
        households=HouseholdRules(max_members=4),
    )
    graph = open_graph(small)
    try:
        ingest(graph, *HALES, LODGER)
        graph.households.rebuild()
        with pytest.raises(StewardConflict, match="max_members"):
            graph.households.join(pid(graph, "5"), pid(graph, "1"), "partner", "ann")
        assert graph.store.households.corrections() == []
        assert members_of(graph, "5") == set()
    finally:
        graph.close()


def test_a_correction_needs_a_reason(graph: IdentityGraph) -> None:
    ingest(graph, *HALES)
    with pytest.raises(InvalidArgument, match="reason"):
        graph.households.remove(pid(graph, "1"), "  ", "ann")


def test_households_turned_off_build_nothing_and_read_none() -> None:
    rules = load_rules(None)
    off = Rules(
        **{f: getattr(rules, f) for f in rules.__dataclass_fields__ if f != "households"},
        households=HouseholdRules(enabled=False),
    )
    graph = open_graph(off)
    try:
        ingest(graph, *HALES)
        with pytest.raises(ConfigError, match="enabled"):
            graph.households.rebuild()
        assert graph.households.of_profiles([pid(graph, "1")]) == {}
    finally:
        graph.close()


def test_the_rules_file_refuses_an_unknown_household_setting_naming_it() -> None:
    doc = {"kinds": {"email": {"normaliser": "email"}}, "households": {"max_member": 5}}
    with pytest.raises(ConfigError, match=r"households\.max_member"):
        Rules.from_document(doc)
    doc = {"kinds": {"email": {"normaliser": "email"}}, "households": {"evidence": ["gut"]}}
    with pytest.raises(ConfigError, match=r"households\.evidence"):
        Rules.from_document(doc)


# -- segments on households --------------------------------------------------------------------

ANY_CY = {"where": {"household": {"any": {"attribute": "first_name", "eq": "Cy"}}}}
ANY_BOUGHT = {"where": {"household": {"any": {"event": "purchase", "within_days": 30}}}}


def segment_keys(graph: IdentityGraph, name: str) -> set[str]:
    members = set(graph.store.segments.members(name, limit=100))
    refs = graph.store.records.ids([RecordRef("crm", k) for k in "12345"])
    profiles = graph.store.profiles.ids_of(list(refs.values()))
    return {ref.key for ref, rid in refs.items() if profiles[rid] in members}


def test_a_household_condition_holds_for_every_member_when_any_member_satisfies_it(
    graph: IdentityGraph,
) -> None:
    ingest(graph, *HALES, LODGER)
    graph.segments.define("cys_family", ANY_CY)
    assert segment_keys(graph, "cys_family") == set()  # no household built yet
    report = graph.households.rebuild()
    assert segment_keys(graph, "cys_family") == {"1", "2", "3", "4"}
    assert report.segment_changes == 4
    # Cy taken out of the household: Cy has none, and the others no longer hold a Cy.
    graph.households.remove(pid(graph, "3"), "Cy moved out", "ann")
    assert segment_keys(graph, "cys_family") == set()


def test_a_members_purchase_brings_the_whole_household_in_at_once(graph: IdentityGraph) -> None:
    ingest(graph, *HALES, LODGER)
    graph.households.rebuild()
    graph.segments.define("household_bought", ANY_BOUGHT)
    assert segment_keys(graph, "household_bought") == set()
    now = graph.segments.clock()
    event = {
        "event_id": "ev-1",
        "type": "purchase",
        "timestamp": now.isoformat(),
        "identifiers": {"email": "ann@example.com"},
        "properties": {"order_value": 12.5},
    }
    report = graph.events.ingest_rows([(1, event)])
    assert not report.errors, report.errors
    assert segment_keys(graph, "household_bought") == {"1", "2", "3", "4"}


@pytest.mark.parametrize(
    ("where", "problem"),
    [
        ({"household": {"all": {"consent": "email"}}}, "where.household"),
        ({"household": {"any": {"household": {"any": {"consent": "email"}}}}}, "household.any"),
    ],
)
def test_a_household_condition_is_any_of_one_condition_not_nested(
    graph: IdentityGraph, where: dict[str, Any], problem: str
) -> None:
    with pytest.raises(InvalidSegment, match=problem):
        graph.segments.define("bad", {"where": where})
