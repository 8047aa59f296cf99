"""The probabilistic matcher over a real store, on generated people with known truth."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from identity.clustering import DETERMINISTIC
from identity.demo.generator import generate
from identity.errors import ConfigError
from identity.evaluation import load_assignment, pairwise
from identity.graph import IdentityGraph
from identity.mapping import load_mapping
from identity.matching.linker import Linker
from identity.matching.matcher import MATCHER, ProbabilisticMatcher
from identity.matching.model import ComparisonParameters, MatchModel, probability
from identity.model import LinkType
from identity.readers import read_file
from identity.rules import Rules, load_rules
from identity.store.factory import open_store


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[IdentityGraph, Path]:
    tmp = tmp_path_factory.mktemp("prob")
    files = generate(tmp / "demo", people=600, seed=11)
    graph = IdentityGraph.open(f"sqlite:///{tmp / 'store.db'}")
    for path in sorted(files.mappings_dir.glob("*.toml")):
        graph.ingest.register_source(load_mapping(path, rules=graph.rules))
    for source, path in sorted(files.files.items()):
        mapping = graph.ingest.source(source)
        graph.ingest.ingest_rows(source, read_file(path, mapping.format))
    return graph, files.truth


def record_ids(graph: IdentityGraph) -> list[int]:
    refs = [ref for ref, _ in graph.store.records.scan_profiles()]
    return sorted(graph.store.records.ids(refs).values())


def scores(graph: IdentityGraph, truth: Path):  # type: ignore[no-untyped-def]
    predicted = {(r.source, r.key): p for r, p in graph.store.records.scan_profiles()}
    return pairwise(predicted, load_assignment(truth))


def test_probabilistic_links_raise_recall_without_merging_households(
    demo: tuple[IdentityGraph, Path],
) -> None:
    graph, truth = demo
    before = scores(graph, truth)
    matcher = ProbabilisticMatcher(graph.store, graph.rules, graph.resolver)
    with pytest.raises(ConfigError, match="idgraph train"):
        matcher.link_all()
    model = matcher.train()
    assert graph.store.meta.get("match_model") == model.to_document()
    report = matcher.link_all()
    after = scores(graph, truth)
    assert report.links > 0 and report.reviews > 0
    assert after.recall >= before.recall + 0.03, (before, after)
    assert after.precision >= before.precision - 0.01, (before, after)

    links = [link for link in graph.store.links.of(record_ids(graph)) if link.matcher == MATCHER]
    assert links
    for link in links:
        fields = link.evidence["fields"]
        total = sum(f["weight"] for f in fields.values())
        assert link.weight == pytest.approx(link.evidence["match_probability"], abs=1e-6)
        assert total == pytest.approx(link.evidence["match_weight"] - model.prior_weight, abs=0.01)


def test_a_pair_whose_first_names_disagree_is_reviewed_not_linked(
    demo: tuple[IdentityGraph, Path],
) -> None:
    graph, _ = demo
    rids = record_ids(graph)
    for link in graph.store.links.of(rids, types=[LinkType.MATCH]):
        if link.matcher == MATCHER:
            assert "disagrees_on" not in link.evidence
    reviews = [
        link
        for link in graph.store.links.of(rids, types=[LinkType.REVIEW])
        if "disagrees_on" in link.evidence
    ]
    assert reviews and all(r.evidence["disagrees_on"] == ["first_name"] for r in reviews)


CORROBORATING = ("birth_date", "address", "postcode", "email", "phone")


def test_a_pair_agreeing_on_nothing_but_names_is_reviewed_not_linked(
    tmp_path: Path,
) -> None:
    packaged = load_rules()
    assert packaged.matching is not None and packaged.matching.link_requires_one_of == ()
    rules = replace(
        packaged, matching=replace(packaged.matching, link_requires_one_of=CORROBORATING)
    )
    files = generate(tmp_path / "demo", people=600, seed=11)
    graph = IdentityGraph(open_store(f"sqlite:///{tmp_path / 'store.db'}"), rules)
    for path in sorted(files.mappings_dir.glob("*.toml")):
        graph.ingest.register_source(load_mapping(path, rules=graph.rules))
    for source, path in sorted(files.files.items()):
        mapping = graph.ingest.source(source)
        graph.ingest.ingest_rows(source, read_file(path, mapping.format))
    matcher = ProbabilisticMatcher(graph.store, graph.rules, graph.resolver)
    matcher.train()
    matcher.link_all()
    needed = CORROBORATING
    rids = record_ids(graph)

    def corroborated(evidence: dict) -> bool:  # type: ignore[type-arg]
        return any(evidence["fields"].get(name, {}).get("weight", 0) > 0 for name in needed)

    for link in graph.store.links.of(rids, types=[LinkType.MATCH]):
        if link.matcher == MATCHER:
            assert corroborated(link.evidence), link.evidence
    held = [
        link
        for link in graph.store.links.of(rids, types=[LinkType.REVIEW])
        if "needs_one_of" in link.evidence
    ]
    assert held
    for link in held:
        assert not corroborated(link.evidence)
        assert link.evidence["needs_one_of"] == [
            name for name in link.evidence["fields"] if name in needed
        ]
    reasons = {pair.reason for pair in graph.stewardship.review_queue(first=500).pairs}
    assert any(reason.startswith("nothing but names agree") for reason in reasons)
    graph.close()


def test_the_review_queue_gives_the_match_weight_and_the_probability_apart(
    demo: tuple[IdentityGraph, Path],
) -> None:
    graph, _ = demo
    page = graph.stewardship.review_queue(first=20)
    assert page.pairs
    for pair in page.pairs:
        assert 0 < pair.probability <= 1  # a vetoed pair (disagrees_on) can be near-certain
        assert pair.probability == pytest.approx(pair.link.evidence["match_probability"])
        assert pair.weight == pytest.approx(pair.link.evidence["match_weight"])
        # The weight is the log2 odds of the probability, not the probability again.
        assert probability(pair.weight) == pytest.approx(pair.probability, abs=1e-3)  # rounded
        assert pair.weight != pytest.approx(pair.probability)


def test_matching_rules_are_validated_naming_the_field() -> None:
    doc = {"kinds": {"email": {"normaliser": "email"}}}
    assert Rules.from_document(doc).matching is None
    bad = {
        **doc,
        "matching": {
            "fields": {"last_name": "name"},
            "blocking": [["last_name"]],
            "link_threshold": 0.5,
            "review_threshold": 0.7,
        },
    }
    with pytest.raises(ConfigError, match=r"matching\.review_threshold"):
        Rules.from_document(bad)
    bad["matching"] = {"fields": {"last_name": "name"}, "blocking": "last_name"}
    with pytest.raises(ConfigError, match=r"matching\.blocking"):
        Rules.from_document(bad)
    assert load_rules().matching is not None


def test_link_re_resolves_only_what_its_links_change_and_agrees_with_a_full_resolve(
    demo: tuple[IdentityGraph, Path],
) -> None:
    graph, _ = demo
    matcher = ProbabilisticMatcher(graph.store, graph.rules, graph.resolver)
    if matcher.current_model()[0] is None:
        matcher.train()
    matcher.link_all()
    rids = record_ids(graph)
    profiles = dict(graph.store.records.scan_profiles())
    deterministic = [link for link in graph.store.links.of(rids) if link.matcher == DETERMINISTIC]

    again = matcher.link_all()
    assert (again.profiles_merged, again.profiles_split) == (0, 0)
    assert dict(graph.store.records.scan_profiles()) == profiles
    assert [
        link for link in graph.store.links.of(rids) if link.matcher == DETERMINISTIC
    ] == deterministic

    # Re-resolving every record from scratch finds nothing to change.
    with graph.store.unit_of_work():
        full = graph.resolver.resolve(rids)
    assert not full.changes.assignments and not full.changes.created
    assert dict(graph.store.records.scan_profiles()) == profiles


def test_link_in_small_batches_gives_what_one_batch_gives(tmp_path: Path) -> None:
    # link_all writes and re-resolves in units of work of about batch_size records; the
    # profiles and links must not depend on where the batches fall.
    files = generate(tmp_path / "demo", people=300, seed=5)
    outcomes = []
    for batch_size in (1_000_000, 7):
        graph = IdentityGraph.open(f"sqlite:///{tmp_path / f'store-{batch_size}.db'}")
        for path in sorted(files.mappings_dir.glob("*.toml")):
            graph.ingest.register_source(load_mapping(path, rules=graph.rules))
        for source, path in sorted(files.files.items()):
            mapping = graph.ingest.source(source)
            graph.ingest.ingest_rows(source, read_file(path, mapping.format))
        matcher = ProbabilisticMatcher(graph.store, graph.rules, graph.resolver, batch_size)
        matcher.train()
        report = matcher.link_all()
        rids = record_ids(graph)
        refs = graph.store.records.refs(rids)
        profiles = dict(graph.store.records.scan_profiles())
        partition = sorted(
            sorted(ref for ref, pid in profiles.items() if pid == profile)
            for profile in set(profiles.values())
        )
        links = sorted(
            (refs[x.a], refs[x.b], x.type.value, x.matcher, round(x.weight, 9))
            for x in graph.store.links.of(rids)
        )
        outcomes.append((partition, links, report.links, report.reviews))
        # Nothing is left for a full re-resolution to change.
        with graph.store.unit_of_work():
            full = graph.resolver.resolve(rids)
        assert not full.changes.assignments and not full.changes.created
        graph.close()
    assert outcomes[0][2] > 0
    assert outcomes[1] == outcomes[0]


def test_forgetting_deleted_records_values_lowers_their_counts_and_drops_the_last_holders() -> None:
    params = ComparisonParameters("last_name", ("exact", "else"), [0.9, 0.1], [0.01, 0.99])
    model = MatchModel(0.01, [params])
    model.estimate_term_frequencies("last_name", ["smith", "smith", "smith", "lee", "zed", None])

    model.forget_term_frequencies("last_name", ["smith", "lee", None, "unknown"])

    assert params.term_frequencies == {"smith": 2 / 5, "zed": 1 / 5}
    restored = MatchModel.from_document(model.to_document()).comparisons[0]
    assert restored.term_frequency_total == 5
    # A model trained before the total was kept takes one record's share from its rarest value.
    restored.term_frequency_total = None
    MatchModel(0.01, [restored]).forget_term_frequencies("last_name", ["smith", "zed"])
    assert restored.term_frequencies == {"smith": pytest.approx(1 / 5)}


def test_scoring_in_chunks_keeps_exactly_the_pairs_that_scoring_all_at_once_keeps(
    demo: tuple[IdentityGraph, Path],
) -> None:
    # Batch linking compares and scores chunk_pairs pairs at a time and keeps only those at
    # or above the review threshold; the kept pairs, their levels and weights must not
    # depend on where the chunks fall.
    graph, _ = demo
    matcher = ProbabilisticMatcher(graph.store, graph.rules, graph.resolver)
    frame = matcher.all_frame()
    model = Linker(matcher.settings).train(frame)
    threshold = matcher.settings.review_threshold
    _, everything = Linker(replace(matcher.settings, chunk_pairs=10**9), model).score(frame)
    kept = everything.probabilities >= threshold
    assert 0 < kept.sum() < len(everything)
    for chunk in (7, 1_000, 10**9):
        found = Linker(replace(matcher.settings, chunk_pairs=chunk), model).score_above(
            frame, threshold
        )
        assert found.candidates == len(everything)
        assert np.array_equal(found.left, everything.left[kept])
        assert np.array_equal(found.right, everything.right[kept])
        assert np.array_equal(found.vectors, everything.vectors[kept])
        assert np.array_equal(found.weights, everything.weights[kept])


def test_link_all_in_chunks_of_seven_pairs_stores_the_links_of_one_chunk(tmp_path: Path) -> None:
    files = generate(tmp_path / "demo", people=200, seed=3)
    outcomes = []
    for chunk in (10**9, 7):
        graph = IdentityGraph.open(f"sqlite:///{tmp_path / f'store-{chunk}.db'}")
        for path in sorted(files.mappings_dir.glob("*.toml")):
            graph.ingest.register_source(load_mapping(path, rules=graph.rules))
        for source, path in sorted(files.files.items()):
            mapping = graph.ingest.source(source)
            graph.ingest.ingest_rows(source, read_file(path, mapping.format))
        matcher = ProbabilisticMatcher(graph.store, graph.rules, graph.resolver)
        matcher.train()
        matcher.settings = replace(matcher.settings, chunk_pairs=chunk)
        report = matcher.link_all()
        rids = record_ids(graph)
        refs = graph.store.records.refs(rids)
        links = sorted(
            (refs[x.a], refs[x.b], x.type.value, x.weight, repr(sorted(x.evidence.items())))
            for x in graph.store.links.of(rids)
            if x.matcher == MATCHER
        )
        profiles = dict(graph.store.records.scan_profiles())
        partition = sorted(
            sorted(ref for ref, pid in profiles.items() if pid == profile)
            for profile in set(profiles.values())
        )
        outcomes.append((links, partition, report))
        graph.close()
    assert outcomes[0][2].links > 0
    assert outcomes[1] == outcomes[0]


def test_em_on_a_sample_that_covers_every_candidate_is_em_on_every_candidate(
    demo: tuple[IdentityGraph, Path],
) -> None:
    graph, _ = demo
    matcher = ProbabilisticMatcher(graph.store, graph.rules, graph.resolver)
    frame = matcher.all_frame()
    everything = Linker(replace(matcher.settings, em_sample_pairs=10**9)).train(frame)
    candidates = everything.trained_on["candidate_pairs"]
    assert isinstance(candidates, int) and candidates > 1_000
    exactly = Linker(replace(matcher.settings, em_sample_pairs=candidates)).train(frame)
    assert exactly.to_document() == everything.to_document()
    assert everything.trained_on["em_pairs"] == candidates


def test_em_on_a_fifth_of_the_candidates_learns_nearly_the_same_model(
    demo: tuple[IdentityGraph, Path],
) -> None:
    graph, _ = demo
    matcher = ProbabilisticMatcher(graph.store, graph.rules, graph.resolver)
    frame = matcher.all_frame()
    everything = Linker(replace(matcher.settings, em_sample_pairs=10**9)).train(frame)
    candidates = everything.trained_on["candidate_pairs"]
    assert isinstance(candidates, int)
    sampled = Linker(replace(matcher.settings, em_sample_pairs=candidates // 5)).train(frame)
    em_pairs = sampled.trained_on["em_pairs"]
    assert isinstance(em_pairs, int) and em_pairs < candidates
    for ours, theirs in zip(sampled.comparisons, everything.comparisons, strict=True):
        assert ours.u == theirs.u  # u comes from random pairs, not the sample
        assert ours.m == pytest.approx(theirs.m, abs=0.05), ours.name
    assert sampled.prior == pytest.approx(everything.prior, rel=0.25)
