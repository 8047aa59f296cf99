"""Clustering: connected components over linking identifiers, with limits and steward links."""

from __future__ import annotations

import random
from collections.abc import Mapping

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from identity.clustering import DETERMINISTIC, cluster
from identity.model import IdentifierKey, Link, LinkType, RecordId, RecordRef
from identity.rules import Rules


def make_rules(limits: Mapping[str, int | None] | None = None, cap: int = 1000) -> Rules:
    limits = limits or {}
    kinds = {
        "customer_id": {"normaliser": "id", "case": "upper", "priority": 100},
        "email": {"normaliser": "email", "priority": 80},
        "phone": {"normaliser": "phone", "priority": 60},
        "cookie_id": {"normaliser": "id", "case": "keep", "priority": 20},
    }
    for kind, limit in limits.items():
        if limit is not None:
            kinds[kind]["max_per_profile"] = limit
    return Rules.from_document({"cardinality_cap": cap, "kinds": kinds}, path="test")


def refs_for(n: int) -> dict[RecordId, RecordRef]:
    return {i: RecordRef("crm", f"r{i:04d}") for i in range(n)}


def partition(
    clusters: list[list[RecordId]], refs: Mapping[RecordId, RecordRef]
) -> set[frozenset[RecordRef]]:
    return {frozenset(refs[r] for r in c) for c in clusters}


@pytest.mark.parametrize("seed", range(25))
def test_without_limits_profiles_are_the_connected_components_networkx_finds(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(1, 80)
    refs = refs_for(n)
    kinds = ["email", "phone", "cookie_id"]
    identifiers = {
        r: [
            IdentifierKey(rng.choice(kinds), f"v{rng.randint(0, n)}")
            for _ in range(rng.randint(0, 3))
        ]
        for r in refs
    }
    linking = {k for keys in identifiers.values() for k in keys}
    result = cluster(refs, identifiers, linking, [], make_rules())

    graph = nx.Graph()
    graph.add_nodes_from(("r", r) for r in refs)
    for r, keys in identifiers.items():
        for key in keys:
            graph.add_edge(("r", r), ("i", key))
    expected = {
        frozenset(refs[node[1]] for node in comp if node[0] == "r")
        for comp in nx.connected_components(graph)
    }
    expected.discard(frozenset())
    assert partition(result.clusters, refs) == expected
    # Exactly enough deterministic links to span each cluster.
    assert len(result.links) == n - len(result.clusters)
    assert all(link.matcher == DETERMINISTIC for link in result.links)


def test_identifiers_that_do_not_link_join_nothing() -> None:
    refs = refs_for(2)
    shared = IdentifierKey("email", "test@test.com")
    result = cluster(refs, {0: [shared], 1: [shared]}, linking=set(), links=[], rules=make_rules())
    assert len(result.clusters) == 2


def test_two_customer_ids_are_never_joined_by_a_shared_email() -> None:
    refs = refs_for(2)
    email = IdentifierKey("email", "family@example.com")
    identifiers = {
        0: [IdentifierKey("customer_id", "C1"), email],
        1: [IdentifierKey("customer_id", "C2"), email],
    }
    linking = {k for ks in identifiers.values() for k in ks}
    result = cluster(refs, identifiers, linking, [], make_rules({"customer_id": 1}))
    assert len(result.clusters) == 2
    assert [(u.evidence, u.reason) for u in result.refused] == [
        ("email:family@example.com", "max_per_profile:customer_id")
    ]


def test_a_non_bridging_device_attaches_to_one_person_but_never_joins_two() -> None:
    rules = Rules.from_document(
        {
            "kinds": {
                "email": {"normaliser": "email", "priority": 80},
                "device_id": {"normaliser": "id", "priority": 40, "bridges": False},
            }
        },
        path="test",
    )
    tablet = IdentifierKey("device_id", "tablet")
    mum, kid = IdentifierKey("email", "mum@example.com"), IdentifierKey("email", "kid@example.com")
    # r0/r1: mum's record and her login on the tablet; r2/r3: the kid's; r4: an app
    # session known only by the tablet.
    identifiers = {0: [mum], 1: [mum, tablet], 2: [kid], 3: [kid, tablet], 4: [tablet]}
    refs = refs_for(5)
    linking = {k for ks in identifiers.values() for k in ks}
    result = cluster(refs, identifiers, linking, [], rules)
    assert partition(result.clusters, refs) == partition([[0, 1, 4], [2, 3]], refs)
    assert [(u.evidence, u.reason) for u in result.refused] == [("device_id:tablet", "no_bridge")]


def test_the_lower_priority_identifier_gives_way_deterministically() -> None:
    # r0 and r1 share a customer id (priority 100); r2 shares r1's phone (60) but has its own
    # customer id, so the phone link gives way whatever the record order.
    refs = refs_for(3)
    identifiers = {
        0: [IdentifierKey("customer_id", "C1")],
        1: [IdentifierKey("customer_id", "C1"), IdentifierKey("phone", "+447700900001")],
        2: [IdentifierKey("customer_id", "C2"), IdentifierKey("phone", "+447700900001")],
    }
    linking = {k for ks in identifiers.values() for k in ks}
    result = cluster(refs, identifiers, linking, [], make_rules({"customer_id": 1}))
    assert partition(result.clusters, refs) == {
        frozenset({refs[0], refs[1]}),
        frozenset({refs[2]}),
    }


def test_a_record_already_over_a_limit_still_joins_records_that_add_no_new_value() -> None:
    refs = refs_for(2)
    identifiers = {
        0: [IdentifierKey("customer_id", "C1"), IdentifierKey("customer_id", "C2")],
        1: [IdentifierKey("customer_id", "C1")],
    }
    linking = {k for ks in identifiers.values() for k in ks}
    result = cluster(refs, identifiers, linking, [], make_rules({"customer_id": 1}))
    assert len(result.clusters) == 1


def test_an_email_limit_stops_a_chain_of_emails_at_the_limit() -> None:
    # r0-r1 share e1, r1-r2 share e2, r2-r3 share e3: a chain holding 4 distinct e-mails.
    refs = refs_for(4)
    e = [IdentifierKey("email", f"e{i}@x.com") for i in range(5)]
    identifiers = {0: [e[0], e[1]], 1: [e[1], e[2]], 2: [e[2], e[3]], 3: [e[3], e[4]]}
    linking = set(e)
    unlimited = cluster(refs, identifiers, linking, [], make_rules())
    limited = cluster(refs, identifiers, linking, [], make_rules({"email": 4}))
    assert len(unlimited.clusters) == 1
    assert all(len({k for r in c for k in identifiers[r]}) <= 4 for c in limited.clusters), (
        limited.clusters
    )
    assert len(limited.clusters) == 2


def test_a_cannot_link_is_respected_even_through_a_chain_of_shared_identifiers() -> None:
    refs = refs_for(3)
    e1, e2 = IdentifierKey("email", "a@x.com"), IdentifierKey("email", "b@x.com")
    identifiers = {0: [e1], 1: [e1, e2], 2: [e2]}
    cannot = Link(0, 2, LinkType.CANNOT_LINK, "steward")
    result = cluster(refs, identifiers, {e1, e2}, [cannot], make_rules())
    assert len(result.clusters) == 2
    assert not any({0, 2} <= set(c) for c in result.clusters)


def test_a_must_link_joins_records_that_share_nothing() -> None:
    refs = refs_for(2)
    must = Link(0, 1, LinkType.MUST_LINK, "steward")
    result = cluster(refs, {0: [], 1: []}, set(), [must], make_rules())
    assert len(result.clusters) == 1


def test_matcher_links_join_strongest_first_and_respect_limits() -> None:
    refs = refs_for(3)
    identifiers = {
        0: [IdentifierKey("customer_id", "C1")],
        1: [],
        2: [IdentifierKey("customer_id", "C2")],
    }
    linking = {k for ks in identifiers.values() for k in ks}
    weak = Link(1, 2, LinkType.MATCH, "probabilistic", weight=6.0)
    strong = Link(0, 1, LinkType.MATCH, "probabilistic", weight=12.0)
    result = cluster(refs, identifiers, linking, [weak, strong], make_rules({"customer_id": 1}))
    assert partition(result.clusters, refs) == {
        frozenset({refs[0], refs[1]}),
        frozenset({refs[2]}),
    }


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_the_partition_does_not_depend_on_which_ids_records_were_given(data: st.DataObject) -> None:
    n = data.draw(st.integers(2, 25))
    values = st.sampled_from([f"v{i}" for i in range(6)])
    kinds = st.sampled_from(["customer_id", "email", "phone"])
    by_ref = {
        RecordRef("s", f"k{i:02d}"): data.draw(
            st.lists(st.builds(IdentifierKey, kinds, values), max_size=3)
        )
        for i in range(n)
    }
    rules = make_rules({"customer_id": 1, "email": 2})
    linking = {k for ks in by_ref.values() for k in ks}

    def run(order: list[RecordRef]) -> set[frozenset[RecordRef]]:
        refs = dict(enumerate(order))
        identifiers = {i: by_ref[ref] for i, ref in refs.items()}
        return partition(cluster(refs, identifiers, linking, [], rules).clusters, refs)

    order = list(by_ref)
    shuffled = data.draw(st.permutations(order))
    assert run(order) == run(list(shuffled))


# -- duplicate accounts within one source ----------------------------------------------------


def duplicate_rules(duplicates: object = None, email_limit: int | None = None) -> Rules:
    """customer_id limited to one per profile, with ``duplicates`` as the rules file says it."""
    customer: dict[str, object] = {"normaliser": "id", "priority": 100, "max_per_profile": 1}
    if duplicates is not None:
        customer["duplicates"] = duplicates
    email: dict[str, object] = {"normaliser": "email", "priority": 80}
    if email_limit is not None:
        email["max_per_profile"] = email_limit
    return Rules.from_document({"kinds": {"customer_id": customer, "email": email}}, path="test")


def customers(
    *sources_and_ids: tuple[str, str],
) -> tuple[dict[RecordId, RecordRef], dict[RecordId, list[IdentifierKey]], set[IdentifierKey]]:
    refs = {i: RecordRef(source, f"r{i}") for i, (source, _) in enumerate(sources_and_ids)}
    identifiers = {
        i: [IdentifierKey("customer_id", value)] if value else []
        for i, (_, value) in enumerate(sources_and_ids)
    }
    return refs, identifiers, {k for ks in identifiers.values() for k in ks}


def match(a: RecordId, b: RecordId, weight: float = 0.99) -> Link:
    return Link(a, b, LinkType.MATCH, "fellegi_sunter", weight)


def test_duplicate_accounts_join_over_the_limit_only_where_the_rule_says_link() -> None:
    refs, identifiers, linking = customers(("crm", "C1"), ("crm", "C2"))
    for duplicates, together in (
        (None, False),
        ("review", False),
        ({"pos": "link"}, False),
        ({"crm": "link"}, True),
        ("link", True),
    ):
        rules = duplicate_rules(duplicates)
        result = cluster(refs, identifiers, linking, [match(0, 1)], rules)
        assert (len(result.clusters) == 1) is together, duplicates
        if not together:
            assert [u.reason for u in result.refused] == ["max_per_profile:customer_id"]


def test_records_of_two_sources_are_not_duplicate_accounts() -> None:
    refs, identifiers, linking = customers(("crm", "C1"), ("webshop", "C2"))
    result = cluster(refs, identifiers, linking, [match(0, 1)], duplicate_rules("link"))
    assert len(result.clusters) == 2


def test_a_duplicate_link_lifts_the_limit_for_the_two_accounts_and_nothing_else() -> None:
    # r0/r1: one person's two CRM accounts; r2, a shop order with a third customer id
    # matching r1, is someone else as far as the limit knows.
    refs, identifiers, linking = customers(("crm", "C1"), ("crm", "C2"), ("shop", "C3"))
    links = [match(0, 1, 0.99), match(1, 2, 0.98)]
    result = cluster(refs, identifiers, linking, links, duplicate_rules("link"))
    assert partition(result.clusters, refs) == partition([[0, 1], [2]], refs)
    assert [(u.a, u.b, u.reason) for u in result.refused] == [(1, 2, "max_per_profile:customer_id")]
    # A record adding none of the values (a receipt carrying C2) still joins.
    refs[3], identifiers[3] = RecordRef("pos", "r3"), [IdentifierKey("customer_id", "C2")]
    result = cluster(refs, identifiers, linking, links, duplicate_rules("link"))
    assert partition(result.clusters, refs) == partition([[0, 1, 3], [2]], refs)


def test_a_duplicate_link_respects_a_cannot_link_and_every_other_kinds_limit() -> None:
    refs, identifiers, linking = customers(("crm", "C1"), ("crm", "C2"))
    cannot = Link(0, 1, LinkType.CANNOT_LINK, "steward")
    result = cluster(refs, identifiers, linking, [match(0, 1), cannot], duplicate_rules("link"))
    assert len(result.clusters) == 2
    # Each account with its own e-mail, e-mails limited to one: the rule for customer ids
    # alone does not let the pair break the e-mail limit too.
    identifiers[0].append(IdentifierKey("email", "a@x.com"))
    identifiers[1].append(IdentifierKey("email", "b@x.com"))
    linking = {k for ks in identifiers.values() for k in ks}
    rules = duplicate_rules("link", email_limit=1)
    assert len(cluster(refs, identifiers, linking, [match(0, 1)], rules).clusters) == 2


def test_duplicate_links_chain_one_holders_accounts_whatever_their_order() -> None:
    refs, identifiers, linking = customers(*(("crm", f"C{i}") for i in range(4)))
    links = [match(0, 1, 0.99), match(2, 3, 0.98), match(1, 2, 0.97)]
    result = cluster(refs, identifiers, linking, links, duplicate_rules("link"))
    assert len(result.clusters) == 1


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_with_duplicates_linked_a_profile_holds_one_holders_customer_ids(
    data: st.DataObject,
) -> None:
    """Property, cross-checked with networkx: every profile's customer ids are joined into
    one holder by duplicate links among its own records, and the partition does not
    depend on the records' ids."""
    n = data.draw(st.integers(2, 14))
    sources = st.sampled_from(["crm", "pos"])
    values = st.one_of(st.none(), st.sampled_from([f"C{i}" for i in range(5)]))
    by_ref = {RecordRef(data.draw(sources), f"k{i:02d}"): data.draw(values) for i in range(n)}
    order = list(by_ref)
    pairs = data.draw(
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.floats(0.95, 0.999)),
            max_size=2 * n,
        )
    )
    edges = {(order[a], order[b]): w for a, b, w in pairs if a != b}
    rules = duplicate_rules({"crm": "link"})

    def run(refs_in_order: list[RecordRef]) -> set[frozenset[RecordRef]]:
        refs = dict(enumerate(refs_in_order))
        rid = {ref: i for i, ref in refs.items()}
        identifiers = {
            i: [IdentifierKey("customer_id", v)] if (v := by_ref[ref]) else []
            for i, ref in refs.items()
        }
        linking = {k for ks in identifiers.values() for k in ks}
        links = [match(rid[a], rid[b], w) for (a, b), w in edges.items()]
        return partition(cluster(refs, identifiers, linking, links, rules).clusters, refs)

    found = run(order)
    assert found == run(list(data.draw(st.permutations(order))))
    for members in found:
        holders = nx.Graph()
        holders.add_nodes_from(v for ref in members if (v := by_ref[ref]))
        for (a, b), _ in edges.items():
            if a in members and b in members and a.source == b.source == "crm":
                va, vb = by_ref[a], by_ref[b]
                if va and vb:
                    holders.add_edge(va, vb)
        assert nx.number_connected_components(holders) <= 1, members


def test_equal_weight_links_to_two_holders_choose_by_ref_not_by_record_id() -> None:
    """A record tied between two customers (links of equal weight) joins the same one
    whichever ids the three records got (found by the property above)."""
    rules = duplicate_rules({"crm": "link"})
    wanted = {
        RecordRef("crm", "k09"): "C1",
        RecordRef("pos", "k08"): "C0",
        RecordRef("pos", "k11"): None,
    }
    pos_without_id, pos_with_id, crm = (
        RecordRef("pos", "k11"),
        RecordRef("pos", "k08"),
        RecordRef("crm", "k09"),
    )
    found = []
    for ids in ([crm, pos_with_id, pos_without_id], [pos_with_id, pos_without_id, crm]):
        refs = dict(enumerate(ids))
        rid = {ref: i for i, ref in refs.items()}
        identifiers = {
            i: [IdentifierKey("customer_id", v)] if (v := wanted[ref]) else []
            for i, ref in refs.items()
        }
        linking = {k for ks in identifiers.values() for k in ks}
        links = [
            match(rid[pos_with_id], rid[pos_without_id], 0.96875),
            match(rid[crm], rid[pos_without_id], 0.96875),
        ]
        found.append(partition(cluster(refs, identifiers, linking, links, rules).clusters, refs))
    assert found[0] == found[1]
    assert frozenset({crm, pos_without_id}) in found[0]
