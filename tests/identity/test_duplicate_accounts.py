"""Duplicate accounts within one source: two CRM records of one person, each with its own
customer id (a kind limited to one value per profile), on a real store with a model
trained on generated people."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from identity.demo.generator import generate
from identity.graph import IdentityGraph
from identity.mapping import load_mapping
from identity.matching.matcher import MATCHER
from identity.model import JSONValue, LinkType, RecordRef
from identity.readers import read_file

PACKAGED_RULES = Path(__file__).parents[2] / "identity" / "config" / "rules.toml"

# One person registered twice in the CRM: every field agrees but the customer number.
TWICE = [
    {
        "customer_no": "C-DUP-1",
        "first_name": "Ottoline",
        "last_name": "Quarrington",
        "email": "ottoline.q@example.org",
        "mobile": "07411 583920",
        "birth_date": "14/03/1971",
        "address_line": "12 Wexcombe Lane",
        "city": "Marlborough",
        "postcode": "SN8 3RT",
        "updated_at": "2024-02-01T10:00:00",
    },
    {
        "customer_no": "C-DUP-2",
        "first_name": "Ottoline",
        "last_name": "Quarrington",
        "email": "ottoline.q@example.org",
        "mobile": "07411 583920",
        "birth_date": "14/03/1971",
        "address_line": "12 Wexcombe Lane",
        "city": "Marlborough",
        "postcode": "SN8 3RT",
        "updated_at": "2024-06-01T10:00:00",
    },
]
FIRST, SECOND = RecordRef("crm", "C-DUP-1"), RecordRef("crm", "C-DUP-2")


@pytest.fixture(scope="module")
def trained_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated people and the duplicated customer, ingested and trained on, closed."""
    tmp = tmp_path_factory.mktemp("duplicates")
    files = generate(tmp / "demo", people=300, seed=21)
    path = tmp / "trained.db"
    graph = IdentityGraph.open(f"sqlite:///{path}")
    for mapping in sorted(files.mappings_dir.glob("*.toml")):
        graph.ingest.register_source(load_mapping(mapping, rules=graph.rules))
    for source, data in sorted(files.files.items()):
        graph.ingest.ingest_rows(source, read_file(data, graph.ingest.source(source).format))
    rows: list[tuple[int, dict[str, JSONValue]]] = [(n, dict(r)) for n, r in enumerate(TWICE, 1)]
    graph.ingest.ingest_rows("crm", rows)
    graph.probabilistic().train()
    graph.close()
    return path


@pytest.fixture
def graph(trained_store: Path, tmp_path: Path) -> Iterator[IdentityGraph]:
    """A copy of the trained store, opened with the packaged rules."""
    copy = tmp_path / "store.db"
    shutil.copy(trained_store, copy)
    opened = IdentityGraph.open(f"sqlite:///{copy}")
    yield opened
    opened.close()


def profiles(graph: IdentityGraph, *refs: RecordRef) -> set[str]:
    ids = graph.store.record_ids(refs)
    return set(graph.store.profile_ids_of(ids.values()).values())


def links_between(graph: IdentityGraph, a: RecordRef, b: RecordRef) -> list:  # type: ignore[type-arg]
    ids = graph.store.record_ids([a, b])
    pair = {ids[a], ids[b]}
    return [x for x in graph.store.links_of(list(pair)) if {x.a, x.b} == pair]


def refusals(graph: IdentityGraph) -> set[tuple[str, str]]:
    """The unions clustering refuses between the two records, as (evidence, reason)."""
    ids = graph.store.record_ids([FIRST, SECOND])
    pair = {ids[FIRST], ids[SECOND]}
    with graph.store.unit_of_work():
        outcome = graph.resolver.resolve(sorted(pair))
    return {(x.evidence, x.reason) for x in outcome.refused if {x.a, x.b} == pair}


def in_review_queue(graph: IdentityGraph, a: RecordRef, b: RecordRef) -> bool:
    page = graph.stewardship.review_queue(first=500)
    return any({p.a, p.b} == {a, b} for p in page.pairs)


def test_today_duplicate_accounts_stay_apart_at_ingest(graph: IdentityGraph) -> None:
    # The shared e-mail and mobile would join them, but a profile holds one customer id.
    assert len(profiles(graph, FIRST, SECOND)) == 2
    assert not in_review_queue(graph, FIRST, SECOND)
    assert refusals(graph) == {
        ("email:ottoline.q@example.org", "max_per_profile:customer_id"),
        ("phone:+447411583920", "max_per_profile:customer_id"),
    }


def test_today_the_matchers_link_between_duplicate_accounts_is_refused_silently(
    graph: IdentityGraph,
) -> None:
    graph.probabilistic().link_all()
    found = [x for x in links_between(graph, FIRST, SECOND) if x.matcher == MATCHER]
    assert [x.type for x in found] == [LinkType.MATCH]
    assert found[0].weight >= 0.99
    assert len(profiles(graph, FIRST, SECOND)) == 2
    assert not in_review_queue(graph, FIRST, SECOND)
    assert (MATCHER, "max_per_profile:customer_id") in refusals(graph)
