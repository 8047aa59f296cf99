"""Pairwise evaluation: hand-computed cases, the truth/export file reader, brute-force agreement."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from identity.errors import ConfigError
from identity.evaluation import RecordKey, load_assignment, pairwise


def recs(*keys: str) -> list[RecordKey]:
    return [("shop", k) for k in keys]


def assign(**clusters: str) -> dict[RecordKey, str]:
    """assign(a="1", b="1") -> {("shop", "a"): "1", ("shop", "b"): "1"}"""
    return {("shop", k): v for k, v in clusters.items()}


def test_a_perfect_clustering_scores_one_whatever_the_labels() -> None:
    truth = assign(a="1", b="1", c="1", d="2", e="2", f="3")
    predicted = assign(a="x", b="x", c="x", d="y", e="y", f="z")
    scores = pairwise(predicted, truth)
    assert (scores.true_positive_pairs, scores.false_positive_pairs) == (4, 0)
    assert scores.false_negative_pairs == 0
    assert (scores.precision, scores.recall, scores.f1) == (1.0, 1.0, 1.0)
    assert (scores.over_merged_clusters, scores.under_merged_entities) == (0, 0)
    assert scores.records_compared == 6


def test_all_singletons_have_precision_one_by_convention_and_recall_zero() -> None:
    truth = assign(a="1", b="1", c="1", d="2", e="2")
    predicted: dict[RecordKey, str | None] = {r: None for r in truth}
    scores = pairwise(predicted, truth)
    assert scores.true_positive_pairs == 0
    assert scores.false_positive_pairs == 0
    assert scores.false_negative_pairs == 3 + 1
    assert scores.precision == 1.0  # nothing was paired, so nothing was paired wrongly
    assert scores.recall == 0.0
    assert scores.f1 == 0.0
    assert scores.under_merged_entities == 2
    assert scores.over_merged_clusters == 0


def test_one_over_merge() -> None:
    # Two people of two records each end up in one profile: 6 predicted pairs, 2 true.
    truth = assign(a="1", b="1", c="2", d="2", e="3")
    predicted = assign(a="p", b="p", c="p", d="p", e="q")
    scores = pairwise(predicted, truth)
    assert (scores.true_positive_pairs, scores.false_positive_pairs) == (2, 4)
    assert scores.false_negative_pairs == 0
    assert scores.precision == pytest.approx(2 / 6)
    assert scores.recall == 1.0
    assert scores.f1 == pytest.approx(2 * (1 / 3) / (1 / 3 + 1))
    assert (scores.over_merged_clusters, scores.under_merged_entities) == (1, 0)
    # B-cubed: a-d each share their profile of 4 with 2 of their own; e is alone and right.
    assert scores.bcubed_precision == pytest.approx((4 * 2 / 4 + 1) / 5)
    assert scores.bcubed_recall == 1.0


def test_one_under_merge() -> None:
    # One person of four records split in two profiles: 2 of the 6 true pairs found.
    truth = assign(a="1", b="1", c="1", d="1", e="2", f="2")
    predicted = assign(a="p", b="p", c="q", d="q", e="r", f="r")
    scores = pairwise(predicted, truth)
    assert (scores.true_positive_pairs, scores.false_positive_pairs) == (3, 0)
    assert scores.false_negative_pairs == 4
    assert scores.precision == 1.0
    assert scores.recall == pytest.approx(3 / 7)
    assert (scores.over_merged_clusters, scores.under_merged_entities) == (0, 1)
    assert scores.bcubed_precision == 1.0
    assert scores.bcubed_recall == pytest.approx((4 * 2 / 4 + 2) / 6)
    assert scores.bcubed_f1 == pytest.approx(2 * (2 / 3) / (1 + 2 / 3))


def test_the_cli_example_one_person_in_two_profiles() -> None:
    truth = assign(a="1", b="1", c="1")
    predicted = assign(a="p", b="p", c="q")
    scores = pairwise(predicted, truth)
    assert scores.precision == 1.0
    assert scores.recall == pytest.approx(1 / 3)


def test_only_records_in_both_maps_are_compared_and_the_rest_counted() -> None:
    truth = assign(a="1", b="1", c="1", t="9")
    predicted: dict[RecordKey, str | None] = {**assign(a="p", b="p", c="p"), ("pos", "z"): "p"}
    scores = pairwise(predicted, truth)
    assert scores.records_compared == 3
    assert scores.records_only_predicted == 1
    assert scores.records_only_truth == 1
    assert (scores.precision, scores.recall) == (1.0, 1.0)


def test_a_record_predicted_none_is_a_singleton() -> None:
    truth = assign(a="1", b="1", c="1")
    predicted: dict[RecordKey, str | None] = {**assign(a="p", b="p"), ("shop", "c"): None}
    scores = pairwise(predicted, truth)
    assert (scores.true_positive_pairs, scores.false_negative_pairs) == (1, 2)
    assert scores.under_merged_entities == 1
    # a, b: 2 of 3 of their person; c alone: 1 of 3. Every profile is pure.
    assert scores.bcubed_precision == 1.0
    assert scores.bcubed_recall == pytest.approx((2 / 3 + 2 / 3 + 1 / 3) / 3)


def test_empty_inputs_score_one() -> None:
    scores = pairwise({}, {})
    assert (scores.precision, scores.recall, scores.f1, scores.records_compared) == (
        1.0,
        1.0,
        1.0,
        0,
    )


# --- files ----------------------------------------------------------------------------------


def test_reads_a_truth_file_and_a_profile_export(tmp_path: Path) -> None:
    truth = tmp_path / "truth.csv"
    truth.write_text("source,record_key,entity_id\ncrm,C1,E1\nweb,w1,E1\npos,T1,E2\n")
    export = tmp_path / "profiles.csv"
    export.write_text("source,record_key,profile_id\ncrm,C1,p-1\nweb,w1,p-1\npos,T1,\n")
    t = load_assignment(truth)
    e = load_assignment(export)
    assert t == {("crm", "C1"): "E1", ("web", "w1"): "E1", ("pos", "T1"): "E2"}
    assert e[("crm", "C1")] == e[("web", "w1")] == "p-1"
    # A record in no profile is a singleton, never grouped with another unassigned record.
    assert e[("pos", "T1")] not in {"", "p-1"}
    assert pairwise(e, t).precision == 1.0


def test_two_unassigned_records_do_not_pair(tmp_path: Path) -> None:
    export = tmp_path / "profiles.csv"
    export.write_text("source,record_key,profile_id\npos,T1,\npos,T2,\n")
    truth = {("pos", "T1"): "E1", ("pos", "T2"): "E1"}
    scores = pairwise(load_assignment(export), truth)
    assert (scores.true_positive_pairs, scores.false_positive_pairs) == (0, 0)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("", "line 1"),
        ("source,key,entity_id\ncrm,C1,E1\n", "line 1"),
        ("source,record_key,person\ncrm,C1,E1\n", "person"),
        ("source,record_key,entity_id\ncrm,C1,E1\ncrm,C2\n", "line 3"),
        ("source,record_key,entity_id\ncrm,C1,E1\n,C2,E1\n", "line 3"),
        ("source,record_key,entity_id\ncrm,C1,E1\nweb,w,E1\ncrm,C1,E2\n", "line 4"),
    ],
)
def test_bad_files_raise_config_error_naming_file_and_line(
    tmp_path: Path, content: str, fragment: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ConfigError) as raised:
        load_assignment(path)
    assert fragment in str(raised.value)
    assert str(path) in str(raised.value)


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_assignment(tmp_path / "nope.csv")


# --- brute force ----------------------------------------------------------------------------


def brute_force(
    predicted: Mapping[RecordKey, str | None], truth: Mapping[RecordKey, str]
) -> tuple[int, int, int, int, int]:
    common = sorted(set(predicted) & set(truth))
    tp = fp = fn = 0
    for r, s in itertools.combinations(common, 2):
        same_pred = predicted[r] is not None and predicted[r] == predicted[s]
        same_truth = truth[r] == truth[s]
        tp += same_pred and same_truth
        fp += same_pred and not same_truth
        fn += same_truth and not same_pred
    clusters: dict[str, set[str]] = {}
    entities: dict[str, set[object]] = {}
    for r in common:
        cluster = predicted[r]
        if cluster is not None:
            clusters.setdefault(cluster, set()).add(truth[r])
        entities.setdefault(truth[r], set()).add(cluster if cluster is not None else r)
    over = sum(1 for e in clusters.values() if len(e) > 1)
    under = sum(1 for c in entities.values() if len(c) > 1)
    return tp, fp, fn, over, under


keys = st.sampled_from(recs(*"abcdefghijklmnop") + [("pos", k) for k in "abcdef"])


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(keys, st.none() | st.sampled_from("pqrst"), max_size=22),
    st.dictionaries(keys, st.sampled_from("12345"), max_size=22),
)
def test_contingency_counts_match_brute_force_pair_enumeration(
    predicted: dict[RecordKey, str | None], truth: dict[RecordKey, str]
) -> None:
    scores = pairwise(predicted, truth)
    tp, fp, fn, over, under = brute_force(predicted, truth)
    assert (
        scores.true_positive_pairs,
        scores.false_positive_pairs,
        scores.false_negative_pairs,
    ) == (tp, fp, fn)
    assert (scores.over_merged_clusters, scores.under_merged_entities) == (over, under)
    assert scores.precision == (tp / (tp + fp) if tp + fp else 1.0)
    assert scores.recall == (tp / (tp + fn) if tp + fn else 1.0)
    common = len(set(predicted) & set(truth))
    assert scores.records_compared == common
    assert scores.records_only_predicted == len(predicted) - common
    assert scores.records_only_truth == len(truth) - common
