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
