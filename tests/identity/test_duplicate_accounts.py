"""Duplicate accounts within one source: two CRM records of one person, each with its own
customer id (a kind limited to one value per profile), on a real store with a model
trained on generated people. Deterministic matching keeps them apart (the limit); the
matcher's pair waits for a steward with its reason, or joins over the limit where the
rules say ``duplicates = "link"``, unless evidence counts against it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from identity.demo.generator import generate
from identity.duplicates import NOTE, DuplicateNote
from identity.graph import IdentityGraph
from identity.mapping import load_mapping
from identity.matching.matcher import MATCHER
from identity.model import JSONValue, Link, LinkType, RecordRef
from identity.readers import read_file
from identity.stewardship import ReviewPair

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
# Two accounts alike but for the birth date: a person has one.
BORN_TWICE = [
    {
        **TWICE[0],
        "customer_no": f"C-DOB-{n}",
        "first_name": "Ignatius",
        "last_name": "Fernihough",
        "email": "i.fernihough@example.net",
        "mobile": "07411 583921",
        "address_line": "3 Tolpuddle Row",
        "postcode": "DT2 7EH",
        "city": "Dorchester",
        "birth_date": born,
    }
    for n, born in ((1, "02/09/1958"), (2, "21/11/1983"))
]
ELDER, YOUNGER = RecordRef("crm", "C-DOB-1"), RecordRef("crm", "C-DOB-2")
LINK_CRM_DUPLICATES = ('duplicates = "review"\n', 'duplicates = { crm = "link" }\n')


def trained_store_at(path: Path, crm_rows: list[dict[str, JSONValue]]) -> None:
    """A store of 300 generated people and ``crm_rows`` (the demo's mappings), with a
    match model trained on them, closed."""
    files = generate(path.parent / "demo", people=300, seed=21)
    graph = IdentityGraph.open(f"sqlite:///{path}")
    for mapping in sorted(files.mappings_dir.glob("*.toml")):
        graph.ingest.register_source(load_mapping(mapping, rules=graph.rules))
    for source, data in sorted(files.files.items()):
        graph.ingest.ingest_rows(source, read_file(data, graph.ingest.source(source).format))
    graph.ingest.ingest_rows("crm", [(n, dict(r)) for n, r in enumerate(crm_rows, 1)])
    graph.probabilistic().train()
    graph.close()


@pytest.fixture(scope="module")
def trained_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("duplicates") / "trained.db"
    trained_store_at(path, TWICE + BORN_TWICE)
    return path


def opened(trained_store: Path, tmp_path: Path, rules: Path | None = None) -> IdentityGraph:
    """A copy of the trained store, opened with the packaged rules or ``rules``."""
    copy = tmp_path / "store.db"
    shutil.copy(trained_store, copy)
    return IdentityGraph.open(f"sqlite:///{copy}", rules)


@pytest.fixture
def graph(trained_store: Path, tmp_path: Path) -> Iterator[IdentityGraph]:
    found = opened(trained_store, tmp_path)
    yield found
    found.close()


@pytest.fixture
def linking_graph(trained_store: Path, tmp_path: Path) -> Iterator[IdentityGraph]:
    """The same, with rules that let the CRM's duplicate accounts link."""
    rules = tmp_path / "rules.toml"
    text = PACKAGED_RULES.read_text(encoding="utf-8")
    assert text.count(LINK_CRM_DUPLICATES[0]) == 1
    rules.write_text(text.replace(*LINK_CRM_DUPLICATES), encoding="utf-8")
    found = opened(trained_store, tmp_path, rules)
    assert found.rules.kind("customer_id").duplicates.policy("crm") == "link"
    yield found
    found.close()


def profiles(graph: IdentityGraph, *refs: RecordRef) -> set[str]:
    ids = graph.store.records.ids(refs)
    return set(graph.store.profiles.ids_of(ids.values()).values())


def matcher_link(graph: IdentityGraph, a: RecordRef, b: RecordRef) -> Link:
    ids = graph.store.records.ids([a, b])
    pair = {ids[a], ids[b]}
    (found,) = [
        x for x in graph.store.links.of(list(pair)) if {x.a, x.b} == pair and x.matcher == MATCHER
    ]
    return found


def refusals(graph: IdentityGraph) -> set[tuple[str, str]]:
    """The unions clustering refuses between the two records, as (evidence, reason)."""
    ids = graph.store.records.ids([FIRST, SECOND])
    pair = {ids[FIRST], ids[SECOND]}
    with graph.store.unit_of_work():
        outcome = graph.resolver.resolve(sorted(pair))
    return {(x.evidence, x.reason) for x in outcome.refused if {x.a, x.b} == pair}


def queued(graph: IdentityGraph, a: RecordRef, b: RecordRef) -> ReviewPair | None:
    page = graph.stewardship.review_queue(first=500)
    assert not page.has_next_page
    found = [p for p in page.pairs if {p.a, p.b} == {a, b}]
    return found[0] if found else None


def customer_ids(graph: IdentityGraph, ref: RecordRef) -> set[str]:
    (pid,) = profiles(graph, ref)
    found = graph.profiles.get(pid)
    return {i.value for i in found.identifiers if i.kind == "customer_id"}


def test_without_a_model_duplicate_accounts_stay_apart_and_the_limit_says_why(
    graph: IdentityGraph,
) -> None:
    # The shared e-mail and mobile would join them, but a profile holds one customer id:
    # deterministic evidence alone cannot tell two accounts of one person from a couple.
    assert len(profiles(graph, FIRST, SECOND)) == 2
    assert queued(graph, FIRST, SECOND) is None
    assert refusals(graph) == {
        ("email:ottoline.q@example.org", "max_per_profile:customer_id"),
        ("phone:+447411583920", "max_per_profile:customer_id"),
    }


def test_a_duplicate_account_the_matcher_links_waits_for_a_steward_with_its_reason(
    graph: IdentityGraph,
) -> None:
    report = graph.probabilistic().link_all()
    link = matcher_link(graph, FIRST, SECOND)
    assert link.type is LinkType.REVIEW and link.weight >= 0.99
    assert link.evidence[NOTE] == {
        "source": "crm",
        "limits": {"customer_id": 1},
        "rule": "review",
        "outcome": "held",
    }
    assert report.duplicates_held >= 1 and report.duplicates_linked == 0
    assert len(profiles(graph, FIRST, SECOND)) == 2
    pair = queued(graph, FIRST, SECOND)
    assert pair is not None
    assert pair.duplicate == DuplicateNote("crm", {"customer_id": 1}, "review", "held")
    assert pair.reason == (
        "likely duplicate account within source crm: the match reaches the link threshold, "
        'but a profile holds at most 1 customer_id (duplicates = "review")'
    )


def test_accepting_a_duplicate_account_merges_over_the_limit_and_undo_splits_it(
    graph: IdentityGraph,
) -> None:
    graph.probabilistic().link_all()
    steward = graph.stewardship
    done = steward.accept_match(FIRST, SECOND, "same person, two sign-ups", "steward:ann")
    assert len(profiles(graph, FIRST, SECOND)) == 1
    assert customer_ids(graph, FIRST) == {"C-DUP-1", "C-DUP-2"}
    assert queued(graph, FIRST, SECOND) is None
    entry = graph.store.audit.get([done.action_id])[done.action_id].entry
    assert entry.action == "accept_match" and entry.actor == "steward:ann"
    # The steward's decision holds when the matcher states the pair again.
    graph.probabilistic().link_all()
    assert len(profiles(graph, FIRST, SECOND)) == 1

    steward.undo(done.action_id, "wrong person", "steward:ann")
    assert len(profiles(graph, FIRST, SECOND)) == 2
    assert customer_ids(graph, FIRST) == {"C-DUP-1"}
    again = queued(graph, FIRST, SECOND)
    assert again is not None and again.duplicate is not None


def test_with_duplicates_link_the_sources_duplicates_join_over_the_limit(
    linking_graph: IdentityGraph,
) -> None:
    graph = linking_graph
    report = graph.probabilistic().link_all()
    link = matcher_link(graph, FIRST, SECOND)
    assert link.type is LinkType.MATCH
    assert link.evidence[NOTE]["outcome"] == "linked"
    assert link.evidence[NOTE]["rule"] == "link"
    assert report.duplicates_linked >= 1
    assert len(profiles(graph, FIRST, SECOND)) == 1
    assert customer_ids(graph, FIRST) == {"C-DUP-1", "C-DUP-2"}
    assert queued(graph, FIRST, SECOND) is None


def test_with_duplicates_link_a_pair_whose_birth_dates_differ_still_waits_for_review(
    linking_graph: IdentityGraph,
) -> None:
    graph = linking_graph
    graph.probabilistic().link_all()
    link = matcher_link(graph, ELDER, YOUNGER)
    assert link.type is LinkType.REVIEW
    assert link.evidence[NOTE]["counts_against"] == ["birth_date"]
    assert len(profiles(graph, ELDER, YOUNGER)) == 2
    pair = queued(graph, ELDER, YOUNGER)
    assert pair is not None and "birth_date counts against it" in pair.reason


def test_with_duplicates_link_a_stewards_separation_still_holds(
    linking_graph: IdentityGraph,
) -> None:
    graph = linking_graph
    graph.probabilistic().link_all()
    assert len(profiles(graph, FIRST, SECOND)) == 1
    graph.stewardship.separate_records(FIRST, SECOND, "two brothers", "steward:ann")
    assert len(profiles(graph, FIRST, SECOND)) == 2
    graph.probabilistic().link_all()
    assert len(profiles(graph, FIRST, SECOND)) == 2


def receipt(n: int, card: str, first: str, last: str, phone: str) -> dict[str, JSONValue]:
    return {
        "transaction_id": f"T-CARD-{n}",
        "loyalty_card": card,
        "first_name": first,
        "last_name": last,
        "phone": phone,
        "postcode": "BA1 2QH",
        "store": "Bath",
        "purchased_at": f"0{n}/05/2024 12:00",
    }


def test_a_card_that_stops_linking_at_its_cap_has_its_holders_scored_again(
    graph: IdentityGraph,
) -> None:
    # One person's receipts: one with her own card, one with the shop's card the cashier
    # swiped. While the shop's card links, the limit of one card holds them apart; once
    # more receipts than its cap carry it, it is junk, and the pair is no duplicate.
    own, shop = "LC555000001", "LC999999990"
    mine = RecordRef("pos", "T-CARD-1"), RecordRef("pos", "T-CARD-2")
    arriving = [
        receipt(1, own, "Wilhelmina", "Stroud", "07411 583922"),
        receipt(2, shop, "Wilhelmina", "Stroud", "07411 583922"),
    ]
    for n, row in enumerate(arriving, 1):
        graph.ingest.ingest_rows("pos", [(n, row)])
    held = matcher_link(graph, *mine)
    assert held.type is LinkType.REVIEW and held.evidence[NOTE]["limits"] == {"loyalty_id": 1}
    assert len(profiles(graph, *mine)) == 2

    cap = graph.rules.kind("loyalty_id").cardinality_cap
    others = [
        receipt(n, shop, f"Other{n}", f"Shopper{n}", f"07411 58{n:04d}") for n in range(3, cap + 3)
    ]
    for n, row in enumerate(others, 3):
        graph.ingest.ingest_rows("pos", [(n, row)])
    linked = matcher_link(graph, *mine)
    assert linked.type is LinkType.MATCH and NOTE not in linked.evidence
    assert len(profiles(graph, *mine)) == 1
    # What a batch run over everything stored decides, the records arriving one by one got.
    graph.probabilistic().link_all()
    assert matcher_link(graph, *mine) == linked
