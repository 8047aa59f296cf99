"""Households on the demo's people (600, seed 7) through the real pipeline pair the people
who live together, scored against the generator's household truth as
tests/benchmarks/households.py counts it (each profile stands for the person holding most
of its records; pairs of distinct people)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from identity.graph import IdentityGraph
from identity.rules import load_rules
from identity.store.factory import open_store
from tests.benchmarks.households import (
    Population,
    household_scores,
    load,
    make_population,
    person_of_profiles,
)

PRECISION_FLOOR = 0.95
"""A household pair is a mailing sent once to two people: a wrong one mails a stranger as
family. Measured 1.000 (64 of 64 pairs right)."""
RECALL_FLOOR = 0.5
"""Measured 0.577 (64 of 111 pairs). Out of reach by design of the rule, not missed: the
generator gives a fifth of members another surname than the head's (partners who kept
theirs), whom only a landline can join, and a household's landline reaches only some of
its members' records; people known only from the till or the newsletter have no street
address in any record."""
FOUR = ("E0000483", "E0000484", "E0000485", "E0000486")
"""A household of four in the truth (seed 7), found whole."""


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[IdentityGraph, Population]]:
    work: Path = tmp_path_factory.mktemp("households")
    population = make_population("demo", 600, work)
    graph = IdentityGraph(open_store("sqlite:///:memory:"), load_rules(None))
    load(graph, population, link=False)
    graph.households.rebuild()
    yield graph, population
    graph.close()


def test_households_on_the_demo_pair_the_people_who_live_together(
    loaded: tuple[IdentityGraph, Population],
) -> None:
    graph, population = loaded
    predicted = [h.members for page in graph.households.scan() for h in page]
    scores = household_scores(
        predicted, person_of_profiles(graph, population.truth), population.households
    )
    assert scores.true_pairs > 100
    assert scores.precision >= PRECISION_FLOOR, scores
    assert scores.recall >= RECALL_FLOOR, scores


def test_a_household_of_four_is_found_whole(loaded: tuple[IdentityGraph, Population]) -> None:
    graph, population = loaded
    assert {population.households[e] for e in FOUR} == {"E0000483"}
    person_of = person_of_profiles(graph, population.truth)
    profiles = [p for p, e in person_of.items() if e in FOUR]
    found = graph.households.of_profiles(profiles)
    assert len({h.id for h in found.values()}) == 1
    (household,) = {h.id: h for h in found.values()}.values()
    assert {person_of[p] for p in household.members} == set(FOUR)
