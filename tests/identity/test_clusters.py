"""The graph algorithms of cluster inspection on crafted and seeded random graphs: paths
between records, the cuts that would split a cluster (checked against removing each
node and edge by brute force), and which first names count as one name."""

from __future__ import annotations

import itertools
import random

import networkx as nx
import pytest

from identity.clusters import _cuts, _names_conflict, find_paths
from identity.model import IdentifierKey, Link, LinkType


def cost_graph(edges: list[tuple[int, int, float]]) -> nx.Graph:
    graph = nx.Graph()
    graph.add_weighted_edges_from(edges, weight="cost")
    return graph


def test_the_cheapest_path_comes_first_then_edge_disjoint_alternatives() -> None:
    # 1-2-3 by identifiers, 1-4-5-3 around, and 1-3 directly by a costlier matcher link.
    graph = cost_graph([(1, 2, 1.0), (2, 3, 1.0), (1, 4, 1.0), (4, 5, 1.0), (5, 3, 1.0)])
    graph.add_edge(1, 3, cost=2.5)
    paths = find_paths(graph, 1, 3, alternatives=5)
    assert paths == [[1, 2, 3], [1, 3], [1, 4, 5, 3]]
    used = [set(map(frozenset, itertools.pairwise(p))) for p in paths]
    assert not (used[0] & used[1]) and not (used[1] & used[2]) and not (used[0] & used[2])


def test_a_path_prefers_identifiers_to_a_probabilistic_hop_of_the_same_length() -> None:
    graph = cost_graph([(1, 2, 1.1), (2, 4, 1.0), (1, 3, 1.0), (3, 4, 1.0)])
    assert find_paths(graph, 1, 4, alternatives=0) == [[1, 3, 4]]


def test_no_path_between_unconnected_records_is_an_empty_list() -> None:
    graph = cost_graph([(1, 2, 1.0), (3, 4, 1.0)])
    assert find_paths(graph, 1, 4) == []
    assert find_paths(graph, 1, 99) == []


def record(i: int) -> tuple[str, int]:
    return ("r", i)


def identifier(i: int) -> tuple[str, tuple[IdentifierKey, int]]:
    return ("i", (IdentifierKey("email", f"e{i}"), i))


def test_a_shared_identifier_holding_two_groups_is_a_cut_with_both_parts() -> None:
    graph = nx.Graph()
    for r in (1, 2, 3):
        graph.add_edge(identifier(1), record(r))
    for r in (4, 5):
        graph.add_edge(identifier(2), record(r))
    graph.add_edge(identifier(3), record(3))
    graph.add_edge(identifier(3), record(4))
    cuts = {
        str(node): sorted(map(sorted, parts)) for node, parts, _ in _cuts(graph, set(range(1, 6)))
    }
    assert cuts[str(identifier(3))] == [[1, 2, 3], [4, 5]]
    assert cuts[str(record(3))] == [[1, 2], [4, 5]]


def test_a_bridge_link_reports_the_records_on_each_side() -> None:
    graph = nx.Graph()
    weak = Link(2, 3, LinkType.MATCH, "fellegi_sunter", 0.96, {"match_weight": 6.0})
    graph.add_edge(identifier(1), record(1))
    graph.add_edge(identifier(1), record(2))
    graph.add_edge(record(2), record(3), link=weak)
    graph.add_edge(identifier(2), record(3))
    graph.add_edge(identifier(2), record(4))
    bridges = [
        (sorted(map(sorted, parts)), link)
        for node, parts, link in _cuts(graph, {1, 2, 3, 4})
        if link
    ]
    assert bridges == [([[1, 2], [3, 4]], weak)]


@pytest.mark.parametrize("seed", range(25))
def test_cut_parts_equal_brute_force_removal_on_random_graphs(seed: int) -> None:
    rng = random.Random(seed)
    records = list(range(rng.randint(3, 25)))
    graph = nx.Graph()
    graph.add_nodes_from(record(r) for r in records)
    for i in range(rng.randint(1, 10)):
        for r in rng.sample(records, rng.randint(2, 4)):
            graph.add_edge(identifier(i), record(r))
    for _ in range(rng.randint(0, 12)):
        a, b = rng.sample(records, 2)
        graph.add_edge(record(a), record(b), link=Link(a, b, LinkType.MATCH, "m", 0.99))
    if not nx.is_connected(graph):
        parts = list(nx.connected_components(graph))
        for x, y in itertools.pairwise(parts):
            a, b = next(n for n in x if n[0] == "r"), next(n for n in y if n[0] == "r")
            graph.add_edge(a, b, link=Link(a[1], b[1], LinkType.MATCH, "m", 0.99))

    def records_of(parts: list[set[tuple[str, object]]]) -> list[list[object]]:
        found = [sorted(n[1] for n in p if n[0] == "r") for p in parts]
        return sorted(p for p in found if p)

    expected_nodes = {}
    for node in graph.nodes:
        rest = graph.copy()
        rest.remove_node(node)
        parts = list(nx.connected_components(rest))
        if len(parts) > 1:
            expected_nodes[str(node)] = records_of(parts)
    expected_bridges = {}
    for u, v in graph.edges:
        if u[0] == v[0] == "r":
            rest = graph.copy()
            rest.remove_edge(u, v)
            if not nx.has_path(rest, u, v):
                expected_bridges[(min(u[1], v[1]), max(u[1], v[1]))] = records_of(
                    list(nx.connected_components(rest))
                )
    found_nodes, found_bridges = {}, {}
    for node, parts, link in _cuts(graph, set(records)):
        if link is None:
            found_nodes[str(node)] = sorted(sorted(p) for p in parts)
        else:
            found_bridges[(link.a, link.b)] = sorted(sorted(p) for p in parts)
    assert found_nodes == expected_nodes
    assert found_bridges == expected_bridges


@pytest.mark.parametrize(
    ("a", "b", "conflict"),
    [
        ("ann", "bob", True),
        ("robert", "bob", False),  # a nickname
        ("frakn", "frnak", False),  # both mistyped
        ("daev", "david", False),  # a mistyped nickname
        ("becky", "rebecca", False),
        ("cheryl", "frank", True),
        ("kathleen", "vincent", True),
    ],
)
def test_first_names_conflict_only_when_unrelated(a: str, b: str, conflict: bool) -> None:
    assert _names_conflict(a, b) is conflict
    assert _names_conflict(b, a) is conflict
