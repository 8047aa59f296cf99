"""Benchmark: idgraph, Splink 5 on DuckDB and plain recordlinkage on the multi-source generator.

Run with `make bench` (or `.venv/bin/python -m tests.benchmarks.generator_linkage --people
10000 100000 --runs 3`); Splink comes with the `bench` extra.

For each population the demo generator (identity/demo/generator.py, seed 7) writes its five
sources once. Then, interleaved run by run, each tool resolves them, and its result is scored
with identity/evaluation.py against the generator's truth: pairwise precision, recall and F1
over *clusters* (two records are a predicted pair when they end up in the same cluster), so
transitive chains count for and against every tool alike.

- idgraph runs its real pipeline: a fresh embedded (SQLite) store in a temporary directory,
  the packaged rules and demo mappings, ingest of every source file (normalisation,
  deterministic matching with its junk and household guards), `train`, `link`. Its
  clusters are the stored profiles. The deterministic-only row is the same run scored
  after ingest.
- Splink and recordlinkage get the records as one frame: the normalised fields idgraph's
  probabilistic matcher compares (`ProbabilisticMatcher.all_frame`, taken from the first
  idgraph store, outside every timing) plus the customer and loyalty ids. Their predicted
  pairs (match probability >= idgraph's link threshold) are clustered by connected
  components before scoring. Their time runs from that frame to the clusters; idgraph's
  includes reading, normalising and storing the files.

Pairs is the number of candidate pairs each tool scored (Splink's counted after the timed
runs); blocking recall is the share of the true pairs (two records of one person) among
them, computed outside the timings (Splink's from its blocking rules, which are plain
equality joins, evaluated with recordlinkage's block index). Beside the table the script
reports the evidence ceiling: how much of the true pairwise recall is reachable at all,
given what each record shares with its person's other records. The table is written into
docs/benchmarks.md between the markers.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import jellyfish
import numpy as np
import pandas as pd
import recordlinkage
from rapidfuzz.distance import JaroWinkler
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from identity.demo.generator import DemoFiles, generate
from identity.evaluation import PairwiseScores, RecordKey, load_assignment, pairwise
from identity.graph import IdentityGraph
from identity.mapping import load_mapping
from identity.matching.linker import Linker
from identity.matching.matcher import ProbabilisticMatcher
from identity.readers import read_file
from tests.benchmarks.common import machine, write_section

try:
    import splink.comparison_library as cl
    from splink import DuckDBAPI, SettingsCreator, block_on
    from splink import Linker as SplinkLinker
    from splink.blocking_analysis import count_comparisons_from_blocking_rules
except ImportError:  # pragma: no cover - a message instead of a traceback
    sys.exit("Splink is not installed: pip install -e '.[dev,bench]'")

SEED = 7
ID_KINDS = ("customer_id", "loyalty_id")
"""Identifier kinds the peers get as columns beside the matcher's fields."""

IDGRAPH_DETERMINISTIC = "idgraph, deterministic only (ingest)"
IDGRAPH = "idgraph (ingest, train, link)"
SPLINK = f"Splink {version('splink')} (DuckDB {version('duckdb')})"
RECORDLINKAGE = f"recordlinkage {version('recordlinkage')} (ECM)"


@dataclass(frozen=True)
class Population:
    people: int
    files: DemoFiles
    truth: Mapping[RecordKey, str]
    work: Path

    @property
    def name(self) -> str:
        return f"generator, {self.people:,} people"

    @property
    def records(self) -> int:
        return sum(self.files.records.values())


@dataclass
class Outcome:
    seconds: float
    pairs: int
    scores: PairwiseScores
    blocking_recall: float | None = None


@dataclass
class PeerInput:
    """The frame the peers link (index = idgraph record id) and each row's record key."""

    frame: pd.DataFrame
    keys: list[RecordKey]
    threshold: float


# -- idgraph -------------------------------------------------------------------------------


def run_idgraph(population: Population, run: int) -> tuple[Outcome, Outcome, PeerInput]:
    """The real pipeline into a fresh store: ingest, score, train, link, score again."""
    db = population.work / f"idgraph-run{run}.db"
    started = time.perf_counter()
    graph = IdentityGraph.open(f"sqlite:///{db}")
    try:
        for path in sorted(population.files.mappings_dir.glob("*.toml")):
            graph.ingest.register_source(load_mapping(path, rules=graph.rules))
        for source, path in sorted(population.files.files.items()):
            mapping = graph.ingest.source(source)
            rows = read_file(path, mapping.format, csv_delimiter=mapping.csv_delimiter)
            graph.ingest.ingest_rows(source, rows)
        ingested = time.perf_counter() - started
        deterministic = _idgraph_scores(graph, population)  # outside the timing
        resumed = time.perf_counter()
        matcher = ProbabilisticMatcher(graph.store, graph.rules, graph.resolver)
        frame = matcher.all_frame()
        matcher.train(frame)
        report = matcher.link_all(frame)
        total = ingested + time.perf_counter() - resumed
        linked = _idgraph_scores(graph, population)
        peer_input = _peer_input(graph, matcher, frame)
        candidates = Linker(matcher.settings).candidate_pairs(frame)
        recall = blocking_recall(
            peer_input, candidates.get_level_values(0), candidates.get_level_values(1), population
        )
    finally:
        graph.close()
    db.unlink(missing_ok=True)
    return (
        Outcome(ingested, 0, deterministic),
        Outcome(total, report.candidate_pairs, linked, recall),
        peer_input,
    )


def _idgraph_scores(graph: IdentityGraph, population: Population) -> PairwiseScores:
    predicted = {(r.source, r.key): pid for r, pid in graph.store.iter_record_profiles()}
    return pairwise(predicted, population.truth)


def _peer_input(
    graph: IdentityGraph, matcher: ProbabilisticMatcher, frame: pd.DataFrame
) -> PeerInput:
    refs = [ref for ref, _ in graph.store.iter_record_profiles()]
    by_id = {record_id: ref for ref, record_id in graph.store.record_ids(refs).items()}
    ids = [int(i) for i in frame.index]
    held = graph.store.identifiers_of(ids)
    peer = frame.copy()
    for kind in ID_KINDS:
        if kind in peer:
            continue
        values = []
        for i in ids:
            found = sorted(x.value for x in held.get(i, []) if x.kind == kind)
            values.append(found[0] if found else None)
        peer[kind] = values
    peer = peer.astype(object).where(peer.notna(), None)
    keys = [(by_id[i].source, by_id[i].key) for i in ids]
    return PeerInput(peer, keys, matcher.settings.link_threshold)


# -- clustering and blocking recall shared by the tools ------------------------------------


def blocking_recall(
    data: PeerInput, left: pd.Index, right: pd.Index, population: Population
) -> float:
    """The share of true pairs (two records of one person) among candidate pairs given as
    record ids; the pairs must be distinct and unordered."""
    people, _ = pd.factorize(np.array([population.truth[key] for key in data.keys]))
    position = pd.Index(data.frame.index)
    a = people[position.get_indexer(left)]
    b = people[position.get_indexer(right)]
    sizes = np.bincount(people).astype(np.int64)
    true_pairs = int((sizes * (sizes - 1) // 2).sum())
    return int((a == b).sum()) / true_pairs if true_pairs else 1.0


def clustered_scores(
    data: PeerInput, left: np.ndarray, right: np.ndarray, truth: Mapping[RecordKey, str]
) -> PairwiseScores:
    """Connected components of the predicted pairs (record ids), scored pairwise."""
    position = pd.Index(data.frame.index)
    a = position.get_indexer(left)
    b = position.get_indexer(right)
    n = len(position)
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    predicted = {key: str(label) for key, label in zip(data.keys, labels, strict=True)}
    return pairwise(predicted, truth)


# -- Splink 5 on DuckDB --------------------------------------------------------------------

SPLINK_BLOCKING = [
    block_on("last_name", "substr(first_name, 1, 2)"),
    block_on("birth_date"),
    block_on("postcode", "substr(last_name, 1, 2)"),
    block_on("email"),
    block_on("phone"),
    block_on("customer_id"),
    block_on("loyalty_id"),
]
SPLINK_DETERMINISTIC = [
    block_on("email"),
    block_on("customer_id"),
    block_on("loyalty_id"),
    block_on("first_name", "last_name", "birth_date"),
]
SPLINK_DETERMINISTIC_RECALL = 0.7
# Not a full-name block: its EM drives an m of the ids to 0.0 at 10k people, which Splink rejects.
SPLINK_EM_BLOCKING = [block_on("email"), block_on("phone"), block_on("postcode")]


def splink_settings() -> SettingsCreator:
    return SettingsCreator(
        unique_id_column_name="rec_id",
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=SPLINK_BLOCKING,
        comparisons=[
            cl.NameComparison("first_name"),  # term frequencies on its exact level
            cl.NameComparison("last_name"),
            cl.DateOfBirthComparison(
                "birth_date", input_is_string=True, datetime_format="%Y-%m-%d"
            ),
            cl.JaroWinklerAtThresholds("address", [0.9, 0.7]),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(
                term_frequency_adjustments=True
            ),
            cl.JaroWinklerAtThresholds("city", [0.9]).configure(term_frequency_adjustments=True),
            # Term frequencies weaken the shared junk (a shop's own phone number).
            cl.EmailComparison("email").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("phone", [1, 2]).configure(
                term_frequency_adjustments=True
            ),
            cl.ExactMatch("customer_id"),
            cl.ExactMatch("loyalty_id").configure(term_frequency_adjustments=True),
        ],
    )


def _splink_frame(data: PeerInput) -> pd.DataFrame:
    return data.frame.rename_axis("rec_id").reset_index()


def run_splink(data: PeerInput, population: Population) -> Outcome:
    started = time.perf_counter()
    db_api = DuckDBAPI()
    inputs = db_api.register(_splink_frame(data), dataset_display_name="records")
    linker = SplinkLinker(inputs, splink_settings(), log_level=logging.ERROR)
    training = linker.training
    training.estimate_probability_two_random_records_match(
        SPLINK_DETERMINISTIC, recall=SPLINK_DETERMINISTIC_RECALL
    )
    training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    for rule in SPLINK_EM_BLOCKING:
        training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True
        )
    predictions = linker.inference.predict(
        threshold_match_probability=data.threshold, warning_mode="never"
    ).as_pandas_dataframe()
    chosen = predictions[predictions["match_probability"] >= data.threshold]
    scores = clustered_scores(
        data, chosen["rec_id_l"].to_numpy(), chosen["rec_id_r"].to_numpy(), population.truth
    )
    return Outcome(time.perf_counter() - started, -1, scores)


def splink_blocking_recall(data: PeerInput, population: Population) -> float:
    """The blocking recall of SPLINK_BLOCKING, whose rules are equality joins on columns
    and two-letter prefixes: the same pairs through recordlinkage's block index."""
    keyed = data.frame.copy()
    keyed["first_name_first2"] = _prefix(keyed["first_name"])
    keyed["last_name_first2"] = _prefix(keyed["last_name"])
    rules = [
        ["last_name", "first_name_first2"],
        ["birth_date"],
        ["postcode", "last_name_first2"],
        ["email"],
        ["phone"],
        ["customer_id"],
        ["loyalty_id"],
    ]
    pairs = _union_of_blocks(keyed, rules)
    return blocking_recall(data, pairs.get_level_values(0), pairs.get_level_values(1), population)


def _union_of_blocks(keyed: pd.DataFrame, rules: list[list[str]]) -> pd.MultiIndex:
    pairs: pd.MultiIndex | None = None
    for rule in rules:
        indexer = recordlinkage.Index()
        indexer.block(left_on=rule, right_on=rule)
        found = indexer.index(keyed)
        pairs = found if pairs is None else pairs.union(found)
    assert pairs is not None
    return pairs


def splink_pairs(data: PeerInput) -> int:
    """Splink's candidate pairs (outside the timings)."""
    db_api = DuckDBAPI()
    inputs = db_api.register(_splink_frame(data), dataset_display_name="records")
    counted = count_comparisons_from_blocking_rules(
        inputs,
        blocking_rules=SPLINK_BLOCKING,
        link_type="dedupe_only",
        unique_id_column_name="rec_id",
        record_sample_proportion=1.0,
    )
    return int(counted[-1]["cumulative_comparison_count"])


# -- plain recordlinkage -------------------------------------------------------------------


def _sound(values: pd.Series) -> list[str | None]:
    return [str(jellyfish.metaphone(v)) if v else None for v in values]


def _prefix(values: pd.Series) -> list[str | None]:
    return [v[:2] if v else None for v in values]


RL_BLOCKING = [
    ["last_name_sound", "first_name_first2"],
    ["birth_date"],
    ["postcode", "last_name_first2"],
    ["email"],
    ["phone"],
    ["customer_id"],
    ["loyalty_id"],
]
RL_FUZZY = ["first_name", "last_name", "address", "city"]
RL_EXACT = ["birth_date", "postcode", "email", "phone", "customer_id", "loyalty_id"]


def run_recordlinkage(data: PeerInput, population: Population) -> Outcome:
    started = time.perf_counter()
    keyed = data.frame.copy()
    keyed["last_name_sound"] = _sound(keyed["last_name"])
    keyed["first_name_first2"] = _prefix(keyed["first_name"])
    keyed["last_name_first2"] = _prefix(keyed["last_name"])
    pairs = _union_of_blocks(keyed, RL_BLOCKING)
    compare = recordlinkage.Compare()
    for name in RL_FUZZY:
        compare.string(name, name, method="jarowinkler", threshold=0.85, label=name)
    for name in RL_EXACT:
        compare.exact(name, name, label=name)
    features = compare.compute(pairs, keyed)
    ecm = recordlinkage.ECMClassifier(binarize=None)
    ecm.fit(features)
    chosen = features.index[ecm.prob(features).to_numpy() >= data.threshold]
    scores = clustered_scores(
        data,
        chosen.get_level_values(0).to_numpy(),
        chosen.get_level_values(1).to_numpy(),
        population.truth,
    )
    seconds = time.perf_counter() - started
    recall = blocking_recall(data, pairs.get_level_values(0), pairs.get_level_values(1), population)
    return Outcome(seconds, len(pairs), scores, recall)


# -- the evidence ceiling ------------------------------------------------------------------


def _letters(text: str | None) -> str:
    return re.sub(r"[^a-z]", "", text or "")


def _near(a: str | None, b: str | None) -> bool:
    return bool(a and b) and (a == b or JaroWinkler.normalized_similarity(a, b) >= 0.8)


@dataclass(frozen=True)
class Ceiling:
    """Pairwise recall reachable when every record of a person joins the others it shares
    evidence with (and no tool can do better than the last one)."""

    shared_identifier: float
    plus_full_name: float
    plus_anything_beyond_first_name: float
    records_with_nothing_shared: dict[str, int]


def evidence_ceiling(data: PeerInput, truth: Mapping[RecordKey, str]) -> Ceiling:
    """Within each true person, which records share an identifier value (e-mail, phone or
    id, as the frame holds them), a full name (first and last name within Jaro-Winkler
    0.8), or anything but a first name (a last name, birth date, postcode, address, or an
    e-mail whose local part spells the other's surname or the other's local part)."""
    frame = data.frame
    entity = [truth[key] for key in data.keys]
    sources = [key[0] for key in data.keys]
    ids = ("email", "phone", *ID_KINDS)
    rows = frame.to_dict("records")
    members: dict[str, list[int]] = {}
    for position, person in enumerate(entity):
        members.setdefault(person, []).append(position)
    reachable = [0, 0, 0]
    total = 0
    alone: dict[str, int] = {}
    for group in members.values():
        total += len(group) * (len(group) - 1) // 2
        if len(group) < 2:
            continue
        parents = [{p: p for p in group} for _ in range(3)]

        def find(parent: dict[int, int], x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        touched: set[int] = set()
        for a, b in itertools.combinations(group, 2):
            x, y = rows[a], rows[b]
            identifier = any(x[k] and x[k] == y[k] for k in ids if k in x)
            name = _near(x["first_name"], y["first_name"]) and _near(x["last_name"], y["last_name"])
            local_x = _letters((x["email"] or "").split("@")[0])
            local_y = _letters((y["email"] or "").split("@")[0])
            mail = bool(local_x and local_x == local_y) or any(
                len(surname) >= 3 and surname in local
                for surname, local in (
                    (_letters(x["last_name"]), local_y),
                    (_letters(y["last_name"]), local_x),
                )
            )
            other = (
                _near(x["last_name"], y["last_name"])
                or any(x[k] and x[k] == y[k] for k in ("birth_date", "postcode", "address"))
                or mail
            )
            for level, joined in enumerate(
                (identifier, identifier or name, identifier or name or other)
            ):
                if joined:
                    parent = parents[level]
                    parent[find(parent, a)] = find(parent, b)
                    if level == 2:
                        touched |= {a, b}
        for level, parent in enumerate(parents):
            sizes: dict[int, int] = {}
            for p in group:
                root = find(parent, p)
                sizes[root] = sizes.get(root, 0) + 1
            reachable[level] += sum(n * (n - 1) // 2 for n in sizes.values())
        for p in set(group) - touched:
            alone[sources[p]] = alone.get(sources[p], 0) + 1
    share = [r / total if total else 1.0 for r in reachable]
    return Ceiling(share[0], share[1], share[2], dict(sorted(alone.items())))


# -- the run -------------------------------------------------------------------------------

PEERS: dict[str, Callable[[PeerInput, Population], Outcome]] = {
    SPLINK: run_splink,
    RECORDLINKAGE: run_recordlinkage,
}


@dataclass
class Measured:
    timings: list[float]
    first: Outcome


def measure(population: Population, runs: int) -> tuple[dict[str, Measured], Ceiling]:
    results: dict[str, Measured] = {}
    peer_input: PeerInput | None = None

    def note(tool: str, run: int, outcome: Outcome) -> None:
        found = results.setdefault(tool, Measured([], outcome))
        found.timings.append(outcome.seconds)
        if outcome.scores != found.first.scores:
            print(f"warning: {tool} scored differently in run {run + 1}", file=sys.stderr)
        s = outcome.scores
        print(
            f"{population.name} run {run + 1}: {tool} {outcome.seconds:.1f}s, "
            f"P {s.precision:.4f} R {s.recall:.4f} F1 {s.f1:.4f}",
            file=sys.stderr,
        )

    for run in range(runs):  # interleaved, so drift hits every tool alike
        deterministic, linked, found_input = run_idgraph(population, run)
        note(IDGRAPH_DETERMINISTIC, run, deterministic)
        note(IDGRAPH, run, linked)
        peer_input = peer_input or found_input
        for tool, fn in PEERS.items():
            note(tool, run, fn(peer_input, population))
    assert peer_input is not None
    results[SPLINK].first.pairs = splink_pairs(peer_input)
    results[SPLINK].first.blocking_recall = splink_blocking_recall(peer_input, population)
    return results, evidence_ceiling(peer_input, population.truth)


def table(results: dict[str, tuple[Population, dict[str, Measured], Ceiling]], runs: int) -> str:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}; {runs} run(s), median time; "
        "pairwise scores over clusters (profiles for idgraph, connected components of the "
        "predicted pairs for the peers).",
        "",
        "| data | records | tool | median time | candidate pairs | blocking recall | precision "
        "| recall | F1 | B-cubed F1 |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, (population, by_tool, _) in results.items():
        for tool, m in by_tool.items():
            s = m.first.scores
            pairs = f"{m.first.pairs:,}" if m.first.pairs > 0 else "-"
            found = m.first.blocking_recall
            recall = "-" if found is None else f"{found:.4f}"
            lines.append(
                f"| {name} | {population.records:,} | {tool} | "
                f"{statistics.median(m.timings):.1f} s | {pairs} | {recall} | {s.precision:.4f} | "
                f"{s.recall:.4f} | {s.f1:.4f} | {s.bcubed_f1:.4f} |"
            )
    lines.append("")
    for name, (_, by_tool, ceiling) in results.items():
        runs_text = "; ".join(
            f"{tool.split(' (')[0] if tool != IDGRAPH_DETERMINISTIC else 'deterministic'} "
            f"{', '.join(f'{t:.1f}' for t in m.timings)}"
            for tool, m in by_tool.items()
        )
        ours, splink = by_tool[IDGRAPH], by_tool[SPLINK]
        ratio = statistics.median(ours.timings) / statistics.median(splink.timings)
        s = ours.first.scores
        lines.append(
            f"{name}: runs (s) {runs_text}. idgraph against Splink: F1 "
            f"{s.f1 - splink.first.scores.f1:+.4f}, time x{ratio:.2f}. idgraph over-merged "
            f"profiles {s.over_merged_clusters:,}, under-merged people "
            f"{s.under_merged_entities:,}. Evidence ceiling of pairwise recall: shared "
            f"identifier {ceiling.shared_identifier:.4f}, with full names "
            f"{ceiling.plus_full_name:.4f}, with anything beyond a first name "
            f"{ceiling.plus_anything_beyond_first_name:.4f}; records sharing nothing but a "
            f"first name with their person: "
            + ", ".join(f"{src} {n:,}" for src, n in ceiling.records_with_nothing_shared.items())
            + "."
        )
        lines.append("")
    return "\n".join(lines).rstrip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print, do not edit the doc")
    args = parser.parse_args()

    results = {}
    with tempfile.TemporaryDirectory(prefix="idgraph-generator-bench-") as tmp:
        for people in args.people:
            work = Path(tmp) / f"p{people}"
            print(f"generating {people:,} people ...", file=sys.stderr)
            files = generate(work / "demo", people=people, seed=SEED)
            population = Population(people, files, load_assignment(files.truth), work)
            print(f"{population.name}: {population.records:,} records", file=sys.stderr)
            measured, ceiling = measure(population, args.runs)
            results[population.name] = (population, measured, ceiling)
            print(table(results, args.runs), file=sys.stderr)
    text = table(results, args.runs)
    print(text)
    if not args.no_write:
        write_section(
            "generator-linkage",
            text,
            "Matching quality on the multi-source generator, against Splink and recordlinkage",
        )


if __name__ == "__main__":
    main()
