"""Benchmark: idgraph, Splink 5 on DuckDB and plain recordlinkage on a multi-source generator.

Run with `make bench` (or `.venv/bin/python -m tests.benchmarks.generator_linkage --people
10000 100000 --runs 3`); Splink comes with the `bench` extra. Two generators:

- `--generator demo` (the default): identity/demo/generator.py, seed 7, five sources with
  the mappings it writes beside them.
- `--generator worldgen`: tests/worldgen, seed 1, five record exports shaped like real
  ones and an app event log, with the mappings in tests/benchmarks/worldgen_mappings/
  (made once with `idgraph mapping suggest`/`check`, never tuned to these scores).

For each population the generator writes its files once. Then, interleaved run by run,
each tool resolves them, and its result is scored with identity/evaluation.py against the
generator's truth: pairwise precision, recall and F1 over *clusters* (two records are a
predicted pair when they end up in the same cluster), so transitive chains count for and
against every tool alike. Only records are scored: events are not records, and their
pairs would swamp the records' (49,000 app events against 23,000 records at 10,000
people); where the truth names each event's person, events are scored apart, by the
journeys they land in.

- idgraph runs its real pipeline: a fresh embedded (SQLite) store in a temporary directory,
  the packaged rules and the mappings, ingest of every record file (normalisation,
  deterministic matching with its junk and household guards), the event files through
  their event mappings (logins stitch cookies, devices and accounts to e-mails), `train`,
  `link`. Its clusters are the stored profiles. The deterministic-only rows are the same
  run scored after the record ingest and after the event ingest.
- Splink and recordlinkage get the records as one frame: the normalised fields idgraph's
  probabilistic matcher compares (`ProbabilisticMatcher.all_frame`, taken from the first
  idgraph store, outside every timing) plus every identifier kind of the id normaliser
  whose values two records share (the demo's customer and loyalty ids). They see the
  records only, not the events. Their predicted pairs (match probability >= idgraph's
  link threshold) are clustered by connected components before scoring. Their time runs
  from that frame to the clusters; idgraph's includes reading, normalising and storing
  the files.

Pairs is the number of candidate pairs each tool scored (Splink's counted after the timed
runs); blocking recall is the share of the true pairs (two records of one person) among
them, computed outside the timings (Splink's from its blocking rules, which are plain
equality joins, evaluated with recordlinkage's block index). Beside the table the script
reports the evidence ceiling: how much of the true pairwise recall is reachable at all,
given what each record shares with its person's other records (and events). The table is
written into docs/benchmarks.md between the markers (`generator-linkage` or
`worldgen-linkage`). `--keep DIR` keeps the last idgraph store and the files for
tests/benchmarks/worldgen_gap.py.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import jellyfish
import numpy as np
import pandas as pd
import recordlinkage
from rapidfuzz.distance import JaroWinkler
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from identity.demo.generator import generate as generate_demo
from identity.errors import RowProblem
from identity.evaluation import PairwiseScores, RecordKey, load_assignment, pairwise
from identity.graph import IdentityGraph
from identity.ingest import Row
from identity.mapping import load_mapping
from identity.mapping.events import EventRowMapper, load_event_mapping
from identity.matching.linker import Linker
from identity.matching.matcher import ProbabilisticMatcher
from identity.model import IdentifierKey, RecordRef
from identity.normalise import Normaliser
from identity.readers import read_file
from tests.benchmarks.common import machine, write_section

try:
    import splink.comparison_library as cl
    from splink import DuckDBAPI, SettingsCreator, block_on
    from splink import Linker as SplinkLinker
    from splink.blocking_analysis import count_comparisons_from_blocking_rules
except ImportError:  # pragma: no cover - a message instead of a traceback
    sys.exit("Splink is not installed: pip install -e '.[dev,bench]'")

SEEDS = {"demo": 7, "worldgen": 1}
WORLDGEN_MAPPINGS = Path(__file__).with_name("worldgen_mappings")
WORLDGEN_EVENT_MAPPINGS = {"app": "app_events.toml"}
"""Worldgen sources whose file is an event log, and their event mapping."""

IDGRAPH_DETERMINISTIC = "idgraph, deterministic only (ingest)"
IDGRAPH_EVENTS = "idgraph, deterministic with app events (ingest, ingest-events)"
IDGRAPH = "idgraph (ingest, train, link)"
SPLINK = f"Splink {version('splink')} (DuckDB {version('duckdb')})"
RECORDLINKAGE = f"recordlinkage {version('recordlinkage')} (ECM)"


@dataclass(frozen=True)
class Population:
    """One generated population: its files with their mappings and the truth."""

    generator: str
    people: int
    seed: int
    record_files: tuple[tuple[Path, Path], ...]
    """(data file, record mapping) per source."""
    event_files: tuple[tuple[Path, Path], ...]
    """(event file, event mapping) per event source."""
    truth: Mapping[RecordKey, str]
    """The records' people (events left out)."""
    event_truth: Mapping[str, str]
    """Each event's person, by event id (empty when the generator writes no events)."""
    work: Path
    data: Path

    @property
    def name(self) -> str:
        label = "generator" if self.generator == "demo" else "worldgen"
        return f"{label}, {self.people:,} people"

    @property
    def records(self) -> int:
        return len(self.truth)


def make_population(generator: str, people: int, work: Path) -> Population:
    seed = SEEDS[generator]
    if generator == "demo":
        files = generate_demo(work / "demo", people=people, seed=seed)
        pairs = tuple(
            (path, files.mappings_dir / f"{source}.toml")
            for source, path in sorted(files.files.items())
        )
        return Population(
            generator, people, seed, pairs, (), load_assignment(files.truth), {}, work,
            work / "demo",
        )  # fmt: skip
    from tests.worldgen.generate import generate as generate_world

    world = generate_world(work / "world", people, seed)
    records, events = [], []
    for source, path in sorted(world.files.items()):
        if source in WORLDGEN_EVENT_MAPPINGS:
            events.append((path, WORLDGEN_MAPPINGS / WORLDGEN_EVENT_MAPPINGS[source]))
        else:
            records.append((path, WORLDGEN_MAPPINGS / f"{source}.toml"))
    truth = load_assignment(world.truth)
    event_sources = set(WORLDGEN_EVENT_MAPPINGS)
    return Population(
        generator,
        people,
        seed,
        tuple(records),
        tuple(events),
        {key: person for key, person in truth.items() if key[0] not in event_sources},
        {key[1]: person for key, person in truth.items() if key[0] in event_sources},
        work,
        world.out,
    )


@dataclass
class Outcome:
    seconds: float
    pairs: int
    scores: PairwiseScores
    blocking_recall: float | None = None


@dataclass
class PeerInput:
    """The frame the peers link (index = idgraph record id) and each row's record key,
    with what the evidence ceiling needs: every identifier each record carries and the
    identifiers of each person's events."""

    frame: pd.DataFrame
    keys: list[RecordKey]
    threshold: float
    id_columns: list[str]
    identifiers: list[frozenset[IdentifierKey]] = field(default_factory=list)
    event_identifiers: dict[str, list[frozenset[IdentifierKey]]] = field(default_factory=dict)


@dataclass(frozen=True)
class EventPlacement:
    """Where the events land, by the journeys that hold them: a profile whose records are
    mostly the event's person's ("own"), only profiles whose records are mostly another
    person's, only profiles without records (stitched identifiers no record carries), or
    no journey at all (anonymous sessions never stitched)."""

    events: int
    in_own_journey: int
    also_in_anothers: int
    only_in_anothers: int
    only_without_records: int
    in_none: int


# -- idgraph -------------------------------------------------------------------------------


def _event_rows(path: Path, mapper: EventRowMapper, max_depth: int) -> Iterator[Row]:
    """An event file's rows as the event objects its mapping makes (what `idgraph
    ingest-events --mapping` reads)."""
    m = mapper.mapping
    read = read_file(
        path, m.format, csv_delimiter=m.csv_delimiter, max_depth=max_depth, encoding=m.encoding
    )
    for number, row in read:
        yield number, row if isinstance(row, RowProblem) else mapper.to_event(row)


@dataclass
class IdgraphRun:
    outcomes: dict[str, Outcome]
    peer_input: PeerInput
    events: EventPlacement | None


def run_idgraph(population: Population, run: int, keep: Path | None = None) -> IdgraphRun:
    """The real pipeline into a fresh store: ingest, score, ingest events, score, train,
    link, score again."""
    db = population.work / f"idgraph-run{run}.db"
    outcomes: dict[str, Outcome] = {}
    started = time.perf_counter()
    graph = IdentityGraph.open(f"sqlite:///{db}")
    try:
        mappings = [load_mapping(m, rules=graph.rules) for _, m in population.record_files]
        for mapping in mappings:
            graph.ingest.register_source(mapping)
        for (path, _), mapping in zip(population.record_files, mappings, strict=True):
            rows = read_file(path, mapping.format, csv_delimiter=mapping.csv_delimiter)
            graph.ingest.ingest_rows(mapping.source, rows)
        elapsed = time.perf_counter() - started
        outcomes[IDGRAPH_DETERMINISTIC] = Outcome(elapsed, 0, _idgraph_scores(graph, population))
        if population.event_files:
            resumed = time.perf_counter()
            normaliser = Normaliser(graph.rules)
            for path, event_mapping in population.event_files:
                mapper = EventRowMapper(load_event_mapping(event_mapping, graph.rules), normaliser)
                graph.events.ingest_rows(_event_rows(path, mapper, graph.rules.limits.max_depth))
            elapsed += time.perf_counter() - resumed
            outcomes[IDGRAPH_EVENTS] = Outcome(elapsed, 0, _idgraph_scores(graph, population))
        resumed = time.perf_counter()
        matcher = ProbabilisticMatcher(graph.store, graph.rules, graph.resolver)
        frame = matcher.all_frame()
        matcher.train(frame)
        report = matcher.link_all(frame)
        elapsed += time.perf_counter() - resumed
        peer_input = _peer_input(graph, matcher, frame, population)
        candidates = Linker(matcher.settings).candidate_pairs(frame)
        recall = blocking_recall(
            peer_input, candidates.get_level_values(0), candidates.get_level_values(1), population
        )
        outcomes[IDGRAPH] = Outcome(
            elapsed, report.candidate_pairs, _idgraph_scores(graph, population), recall
        )
        placement = event_placement(graph, population) if population.event_truth else None
    finally:
        graph.close()
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copy(db, keep / "idgraph.db")
    db.unlink(missing_ok=True)
    return IdgraphRun(outcomes, peer_input, placement)


def _idgraph_scores(graph: IdentityGraph, population: Population) -> PairwiseScores:
    predicted = {(r.source, r.key): pid for r, pid in graph.store.records.scan_profiles()}
    return pairwise(predicted, population.truth)


def _peer_input(
    graph: IdentityGraph, matcher: ProbabilisticMatcher, frame: pd.DataFrame, population: Population
) -> PeerInput:
    """The records of the truth (not the stitch records events make) with the frame's
    fields, and as columns the id kinds whose values two records share."""
    refs = [ref for ref, _ in graph.store.records.scan_profiles()]
    by_id = {record_id: ref for ref, record_id in graph.store.records.ids(refs).items()}
    ids = [int(i) for i in frame.index if _key(by_id[int(i)]) in population.truth]
    held = graph.store.records.identifiers_of(ids)
    rules = graph.rules
    id_kinds = sorted(
        {
            i.kind
            for found in held.values()
            for i in found
            if rules.kinds[i.kind].normaliser == "id" and i.kind not in rules.events.anonymous_kinds
        }
    )
    peer = frame.loc[ids].copy()
    columns = []
    for kind in id_kinds:
        values = []
        for i in ids:
            found = sorted(x.value for x in held.get(i, []) if x.kind == kind)
            values.append(found[0] if found else None)
        if pd.Series(values).dropna().duplicated().any():  # shared by two records at least
            peer[kind] = values
            columns.append(kind)
    if "birth_date" in peer:  # a date no format read is kept as written: not a date
        peer["birth_date"] = [
            v if isinstance(v, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", v) else None
            for v in peer["birth_date"]
        ]
    peer = peer.astype(object).where(peer.notna(), None)
    keys = [_key(by_id[i]) for i in ids]
    identifiers = [frozenset(x.key for x in held.get(i, [])) for i in ids]
    events: dict[str, list[frozenset[IdentifierKey]]] = {}
    if population.event_truth:
        for event in graph.store.copy.events():
            person = population.event_truth.get(event.event_id)
            if person is not None and len(event.identifiers) > 1:
                events.setdefault(person, []).append(frozenset(x.key for x in event.identifiers))
    return PeerInput(peer, keys, matcher.settings.link_threshold, columns, identifiers, events)


def _key(ref: RecordRef) -> RecordKey:
    return (ref.source, ref.key)


def event_placement(graph: IdentityGraph, population: Population) -> EventPlacement:
    """Which journeys each event of the truth lands in, against the people whose records
    make each profile."""
    people_in: dict[str, Counter[str]] = {}
    for ref, pid in graph.store.records.scan_profiles():
        person = population.truth.get(_key(ref))
        if pid is not None and person is not None:
            people_in.setdefault(pid, Counter())[person] += 1
    mostly = {pid: counts.most_common(1)[0][0] for pid, counts in people_in.items()}
    own = also = only = bare = none = 0
    event_ids = list(population.event_truth)
    for start in range(0, len(event_ids), 5000):
        batch = event_ids[start : start + 5000]
        found = graph.store.events.profiles_of(batch)
        for event_id in batch:
            person = population.event_truth[event_id]
            owners = [mostly.get(pid) for pid in found.get(event_id, [])]
            if not owners:
                none += 1
            elif person in owners:
                own += 1
                also += any(o is not None and o != person for o in owners)
            elif any(o is not None for o in owners):
                only += 1
            else:
                bare += 1
    return EventPlacement(len(event_ids), own, also, only, bare, none)


# -- clustering and blocking recall shared by the tools ------------------------------------


def blocking_recall(
    data: PeerInput, left: pd.Index, right: pd.Index, population: Population
) -> float:
    """The share of true pairs (two records of one person) among candidate pairs given as
    record ids; the pairs must be distinct and unordered. Pairs with a record outside the
    frame (a stitch record an event made) are left out."""
    people, _ = pd.factorize(np.array([population.truth[key] for key in data.keys]))
    position = pd.Index(data.frame.index)
    at_a = position.get_indexer(left)
    at_b = position.get_indexer(right)
    inside = (at_a >= 0) & (at_b >= 0)
    a = people[at_a[inside]]
    b = people[at_b[inside]]
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

SPLINK_DETERMINISTIC_RECALL = 0.7
# Not a full-name block: its EM drives an m of the ids to 0.0 at 10k people, which Splink rejects.
SPLINK_EM_BLOCKING = [block_on("email"), block_on("phone"), block_on("postcode")]


def splink_blocking(id_columns: list[str]) -> list[object]:
    return [
        block_on("last_name", "substr(first_name, 1, 2)"),
        block_on("birth_date"),
        block_on("postcode", "substr(last_name, 1, 2)"),
        block_on("email"),
        block_on("phone"),
        *(block_on(column) for column in id_columns),
    ]


def splink_deterministic(id_columns: list[str]) -> list[object]:
    return [
        block_on("email"),
        *(block_on(column) for column in id_columns),
        block_on("first_name", "last_name", "birth_date"),
    ]


def splink_settings(id_columns: list[str]) -> SettingsCreator:
    return SettingsCreator(
        unique_id_column_name="rec_id",
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=splink_blocking(id_columns),
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
            # An id many records share (a household's loyalty card) is weak evidence.
            *(
                cl.ExactMatch(column).configure(
                    term_frequency_adjustments=column in SPLINK_ID_FREQUENCIES
                )
                for column in id_columns
            ),
        ],
    )


SPLINK_ID_FREQUENCIES = frozenset({"loyalty_id"})
"""Id columns compared with term frequencies (the demo's loyalty card is shared by the
receipts of one card and, through households, by several people)."""


def _splink_frame(data: PeerInput) -> pd.DataFrame:
    return data.frame.rename_axis("rec_id").reset_index()


def run_splink(data: PeerInput, population: Population) -> Outcome:
    started = time.perf_counter()
    db_api = DuckDBAPI()
    inputs = db_api.register(_splink_frame(data), dataset_display_name="records")
    linker = SplinkLinker(inputs, splink_settings(data.id_columns), log_level=logging.ERROR)
    training = linker.training
    training.estimate_probability_two_random_records_match(
        splink_deterministic(data.id_columns), recall=SPLINK_DETERMINISTIC_RECALL
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
    """The blocking recall of splink_blocking, whose rules are equality joins on columns
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
        *([column] for column in data.id_columns),
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
        blocking_rules=splink_blocking(data.id_columns),
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
]
RL_FUZZY = ["first_name", "last_name", "address", "city"]
RL_EXACT = ["birth_date", "postcode", "email", "phone"]


def run_recordlinkage(data: PeerInput, population: Population) -> Outcome:
    started = time.perf_counter()
    keyed = data.frame.copy()
    keyed["last_name_sound"] = _sound(keyed["last_name"])
    keyed["first_name_first2"] = _prefix(keyed["first_name"])
    keyed["last_name_first2"] = _prefix(keyed["last_name"])
    pairs = _union_of_blocks(keyed, [*RL_BLOCKING, *([c] for c in data.id_columns)])
    compare = recordlinkage.Compare()
    for name in RL_FUZZY:
        compare.string(name, name, method="jarowinkler", threshold=0.85, label=name)
    for name in [*RL_EXACT, *data.id_columns]:
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


def _given_near(a: str | None, b: str | None) -> bool:
    """First names near, or one an initial of the other (`j` and `john`)."""
    if not a or not b:
        return False
    if len(a) == 1 or len(b) == 1:
        return a[0] == b[0]
    return _near(a, b)


CEILING_LEVELS = (
    "shared identifier (records)",
    "shared identifier (records and events)",
    "with names",
    "with anything beyond a first name",
)


@dataclass(frozen=True)
class Ceiling:
    """Pairwise recall reachable when every record of a person joins the others it shares
    evidence with, level by level (no tool can do better than the last one)."""

    reachable: dict[str, float]
    records_with_nothing_shared: dict[str, int]


def evidence_ceiling(data: PeerInput, truth: Mapping[RecordKey, str]) -> Ceiling:
    """Within each true person, which records share evidence, from the records as stored:

    1. an identifier value (any kind the records carry: e-mail, phone, ids);
    2. the same, also through the person's own events (a login carrying a shop account and
       an e-mail joins the records holding either);
    3. or names: first names near (Jaro-Winkler 0.8, or one an initial of the other) and
       last names near;
    4. or anything but a first name: a last name, birth date, postcode or address, or an
       e-mail whose local part spells the other's surname or is the other's local part.
    """
    frame = data.frame
    entity = [truth[key] for key in data.keys]
    sources = [key[0] for key in data.keys]
    rows = frame.to_dict("records")
    members: dict[str, list[int]] = {}
    for position, person in enumerate(entity):
        members.setdefault(person, []).append(position)
    reachable = [0] * len(CEILING_LEVELS)
    total = 0
    alone: dict[str, int] = {}

    def find(parent: dict[int, int], x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(parent: dict[int, int], a: int, b: int) -> None:
        parent[find(parent, a)] = find(parent, b)

    for person, group in members.items():
        total += len(group) * (len(group) - 1) // 2
        if len(group) < 2:
            continue
        parents = [{p: p for p in group} for _ in CEILING_LEVELS]
        # Levels 2-4 also join records through the person's events that carry two or more
        # identifiers: each such event is a node (negative ids) joined to the records
        # holding any of its identifiers.
        events = data.event_identifiers.get(person, [])
        holders: dict[IdentifierKey, list[int]] = {}
        for p in group:
            for key in data.identifiers[p]:
                holders.setdefault(key, []).append(p)
        for number, carried in enumerate(events):
            node = -1 - number
            for parent in parents[1:]:
                parent[node] = node
            for key in carried:
                for p in holders.get(key, []):
                    for parent in parents[1:]:
                        union(parent, node, p)
        touched: set[int] = set()
        for a, b in itertools.combinations(group, 2):
            x, y = rows[a], rows[b]
            identifier = bool(data.identifiers[a] & data.identifiers[b])
            name = _given_near(x["first_name"], y["first_name"]) and _near(
                x["last_name"], y["last_name"]
            )
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
                (identifier, identifier, identifier or name, identifier or name or other)
            ):
                if joined:
                    union(parents[level], a, b)
            if identifier or name or other:
                touched |= {a, b}
        last = parents[-1]
        for level, parent in enumerate(parents):
            sizes: dict[int, int] = {}
            for p in group:
                root = find(parent, p)
                sizes[root] = sizes.get(root, 0) + 1
            reachable[level] += sum(n * (n - 1) // 2 for n in sizes.values())
        for p in group:
            if p not in touched and sum(find(last, q) == find(last, p) for q in group) == 1:
                alone[sources[p]] = alone.get(sources[p], 0) + 1
    share = [r / total if total else 1.0 for r in reachable]
    return Ceiling(dict(zip(CEILING_LEVELS, share, strict=True)), dict(sorted(alone.items())))


# -- the run -------------------------------------------------------------------------------

PEERS: dict[str, Callable[[PeerInput, Population], Outcome]] = {
    SPLINK: run_splink,
    RECORDLINKAGE: run_recordlinkage,
}


@dataclass
class Measured:
    timings: list[float]
    first: Outcome


@dataclass
class Measurement:
    population: Population
    by_tool: dict[str, Measured]
    ceiling: Ceiling
    events: EventPlacement | None
    load: tuple[float, float]
    """The 1-minute load average when the population's runs started and ended."""


def measure(population: Population, runs: int, keep: Path | None = None) -> Measurement:
    results: dict[str, Measured] = {}
    peer_input: PeerInput | None = None
    placement: EventPlacement | None = None
    load_before = os.getloadavg()[0]

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
        ours = run_idgraph(population, run, keep if run == runs - 1 else None)
        for tool, outcome in ours.outcomes.items():
            note(tool, run, outcome)
        peer_input = peer_input or ours.peer_input
        placement = placement or ours.events
        for tool, fn in PEERS.items():
            note(tool, run, fn(peer_input, population))
    assert peer_input is not None
    results[SPLINK].first.pairs = splink_pairs(peer_input)
    results[SPLINK].first.blocking_recall = splink_blocking_recall(peer_input, population)
    if keep is not None:
        peer_input.frame.assign(
            source=[k[0] for k in peer_input.keys], key=[k[1] for k in peer_input.keys]
        ).to_pickle(keep / "frame.pkl")
    return Measurement(
        population,
        results,
        evidence_ceiling(peer_input, population.truth),
        placement,
        (load_before, os.getloadavg()[0]),
    )


def _short(tool: str) -> str:
    if tool == IDGRAPH_DETERMINISTIC:
        return "deterministic"
    if tool == IDGRAPH_EVENTS:
        return "with events"
    return tool.split(" (")[0]


def table(results: list[Measurement], runs: int) -> str:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}; {runs} run(s), median time; "
        "pairwise scores over clusters (profiles for idgraph, connected components of the "
        "predicted pairs for the peers); records only (events are scored apart).",
        "",
        "| data | records | tool | median time | candidate pairs | blocking recall | precision "
        "| recall | F1 | B-cubed F1 |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in results:
        for tool, measured in m.by_tool.items():
            s = measured.first.scores
            pairs = f"{measured.first.pairs:,}" if measured.first.pairs > 0 else "-"
            found = measured.first.blocking_recall
            recall = "-" if found is None else f"{found:.4f}"
            lines.append(
                f"| {m.population.name} | {m.population.records:,} | {tool} | "
                f"{statistics.median(measured.timings):.1f} s | {pairs} | {recall} | "
                f"{s.precision:.4f} | {s.recall:.4f} | {s.f1:.4f} | {s.bcubed_f1:.4f} |"
            )
    lines.append("")
    for m in results:
        runs_text = "; ".join(
            f"{_short(tool)} {', '.join(f'{t:.1f}' for t in measured.timings)}"
            for tool, measured in m.by_tool.items()
        )
        ours, splink = m.by_tool[IDGRAPH], m.by_tool[SPLINK]
        ratio = statistics.median(ours.timings) / statistics.median(splink.timings)
        s = ours.first.scores
        ceiling = ", ".join(
            f"{level} {share:.4f}"
            for level, share in m.ceiling.reachable.items()
            if m.population.event_files or "events" not in level
        )
        alone = ", ".join(
            f"{src} {n:,}" for src, n in m.ceiling.records_with_nothing_shared.items()
        )
        text = (
            f"{m.population.name} (seed {m.population.seed}): load average "
            f"{m.load[0]:.2f} at the start, {m.load[1]:.2f} at the end; runs (s) {runs_text}. "
            f"idgraph against Splink: F1 {s.f1 - splink.first.scores.f1:+.4f}, time "
            f"x{ratio:.2f}. idgraph over-merged profiles {s.over_merged_clusters:,}, "
            f"under-merged people {s.under_merged_entities:,}. Evidence ceiling of pairwise "
            f"recall: {ceiling}; records sharing nothing but a first name with their "
            f"person: {alone or 'none'}."
        )
        if m.events is not None:
            e = m.events
            text += (
                f" Events: {e.events:,}; in a journey of their person's records "
                f"{e.in_own_journey:,} ({e.in_own_journey / e.events:.1%}; "
                f"{e.also_in_anothers:,} of them in another person's too), only in another "
                f"person's {e.only_in_anothers:,} ({e.only_in_anothers / e.events:.1%}), "
                f"only in profiles without records {e.only_without_records:,} "
                f"({e.only_without_records / e.events:.1%}), in no journey "
                f"{e.in_none:,} ({e.in_none / e.events:.1%})."
            )
        lines += [text, ""]
    return "\n".join(lines).rstrip()


SECTIONS = {
    "demo": (
        "generator-linkage",
        "Matching quality on the multi-source generator, against Splink and recordlinkage",
    ),
    "worldgen": (
        "worldgen-linkage",
        "Matching quality on real-world-shaped exports (worldgen), against Splink and "
        "recordlinkage",
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--generator", choices=sorted(SEEDS), default="demo")
    parser.add_argument("--people", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print, do not edit the doc")
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep the files, the last idgraph store and the peers' frame here "
        "(a folder per population), for tests/benchmarks/worldgen_gap.py",
    )
    args = parser.parse_args()

    results: list[Measurement] = []
    with tempfile.TemporaryDirectory(prefix="idgraph-generator-bench-") as tmp:
        for people in args.people:
            work = (args.keep or Path(tmp)) / f"{args.generator}-p{people}"
            work.mkdir(parents=True, exist_ok=True)
            print(f"generating {people:,} people ({args.generator}) ...", file=sys.stderr)
            population = make_population(args.generator, people, work)
            print(f"{population.name}: {population.records:,} records", file=sys.stderr)
            results.append(measure(population, args.runs, work if args.keep else None))
            print(table(results, args.runs), file=sys.stderr)
    text = table(results, args.runs)
    print(text)
    if not args.no_write:
        write_section(*SECTIONS[args.generator][:1], text, SECTIONS[args.generator][1])


if __name__ == "__main__":
    main()
