"""The probabilistic matcher over the store: train the model, link stored records.

Records enter the store's match index (:mod:`identity.matching.index`) as they are
ingested. Two paths score candidate pairs with the persisted model and store pairs at or
above the link threshold as weighted MATCH links (``matcher = "fellegi_sunter"``) and
pairs in the review band as REVIEW links, each with its explanation as evidence:

- batch (:meth:`ProbabilisticMatcher.link_all`, ``idgraph link``): every candidate pair
  of the whole index, blocked by recordlinkage and compared column-wise;
- incremental (:meth:`ProbabilisticMatcher.link_records`, every ingest batch and every
  record sent over HTTP once a model is trained): the arriving records' pairs with the
  records sharing a blocking key, fetched through the index.

Both put a pair the same way round (the later record first, as recordlinkage's dedup
index does) through the same comparisons and the same decision, so they give the same
links for the same data. The decision includes duplicate accounts within one source
(identity/duplicates.py): a pair whose own limited identifiers the limits hold apart is
a REVIEW pair with a note, or, where the kind's rule says ``link``, a MATCH that may join
over the limit. It counts only identifiers that link, so when one starts or stops
linking (its cardinality cap) ingest scores its holders again. The resolver then
re-clusters: limits from the deterministic rules and stewards' cannot-links still hold,
because clustering refuses any union that breaks them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from identity.clustering import DETERMINISTIC
from identity.duplicates import NOTE, DuplicateAccounts
from identity.errors import ConfigError
from identity.matching.comparisons import Strings
from identity.matching.index import MatchFields, MatchIndex, linkage_settings, model_fingerprint
from identity.matching.linker import BlockingCap, Linker, Progress, ScoredPairs
from identity.matching.model import Explainer, MatchModel
from identity.matching.pairs import Positions, compared_values
from identity.model import (
    EncodedLink,
    IdentifierKey,
    JSONValue,
    Link,
    LinkType,
    MatchRow,
    RecordId,
    RecordRef,
    SourceRecord,
)
from identity.resolution import Resolver
from identity.rules import Rules
from identity.store.base import Store
from identity.store.changes import dumps

MATCHER = "fellegi_sunter"
MODEL_KEY = "match_model"
STAMP_KEY = "match_model_stamp"
"""A small document naming the current model and the settings it was trained for, read
on every ingest batch so a model retrained by another process is picked up."""


LINK_BATCH_SIZE = 5000
"""Records whose links :meth:`ProbabilisticMatcher.link_all` writes and re-resolves per
unit of work, as an ingest batch."""


@dataclass(slots=True)
class LinkReport:
    records: int
    candidate_pairs: int
    links: int
    reviews: int
    profiles_merged: int
    profiles_split: int
    oversized_keys: BlockingCap = field(default_factory=BlockingCap)
    """Blocking key values that gave no candidates, held by more than ``max_block_size``
    records."""
    duplicates_held: int = 0
    """Of the review pairs, duplicate accounts within one source that the matcher links
    and a limit holds apart (``duplicates = "review"``, or evidence against them)."""
    duplicates_linked: int = 0
    """Of the links, duplicate accounts within one source joined over a limit by the rule."""


@dataclass(slots=True)
class IncrementalLinks:
    """What linking arriving records found: pairs compared, links and review pairs."""

    candidate_pairs: int = 0
    links: int = 0
    reviews: int = 0
    oversized_keys: int = 0
    """Arriving records' blocking keys that gave no candidates, held by too many records."""
    skipped: str | None = None
    """Why nothing was scored (no model yet, or one trained for other settings)."""


class ProbabilisticMatcher:
    """Trains the Fellegi-Sunter model on the stored records and links them with it."""

    def __init__(
        self, store: Store, rules: Rules, resolver: Resolver, batch_size: int = LINK_BATCH_SIZE
    ) -> None:
        if rules.matching is None:
            raise ConfigError(
                "the rules have no [matching] section: add one to use the probabilistic "
                "matcher (see docs/matching.md)",
                field="matching",
            )
        self.store = store
        self.rules = rules
        self.resolver = resolver
        self.batch_size = batch_size
        self.settings = linkage_settings(rules.matching)
        self.index = MatchIndex(store, rules, self.settings)
        self.fingerprint = model_fingerprint(rules, self.settings)
        names = [c.field for c in self.settings.comparisons]
        required = rules.matching.require_agreement
        # (column, index of its "else" level) of every field that must not disagree.
        self._vetoes = [
            (i, len(c.levels) - 1)
            for i, c in enumerate(self.settings.comparisons)
            if c.field in required
        ]
        self._names = names
        # Fields one of which must weigh for a pair to link (names alone do not).
        self._corroborating = [
            name for name in names if name in rules.matching.link_requires_one_of
        ]
        self._tf_columns = [i for i, c in enumerate(self.settings.comparisons) if c.term_frequency]
        self._cached: tuple[JSONValue, MatchModel] | None = None
        self.duplicates = DuplicateAccounts(store, rules)

    # -- frames and the model --------------------------------------------------------------

    def all_frame(self, progress: Progress | None = None) -> pd.DataFrame:
        """Every indexed record's compared fields (rebuilding the index if it is stale)."""
        say = progress or _quiet
        if not self.index.is_current():
            say("indexing the stored records for the [matching] settings", 0, None)
            self.index.rebuild(
                lambda done: say(
                    "indexing the stored records for the [matching] settings", done, None
                )
            )
        return self.index.frame_of_batches(
            self.store.matching.scan_rows(), lambda done: say("reading records", done, None)
        )

    def model(self) -> MatchModel | None:
        doc = self.store.meta.get(MODEL_KEY)
        return MatchModel.from_document(doc) if doc is not None else None

    def current_model(self) -> tuple[MatchModel | None, str | None]:
        """The persisted model if it fits the current settings, else None and why; the
        document is parsed again only when its stamp changed."""
        stamp = self.store.meta.get(STAMP_KEY)
        if not isinstance(stamp, dict):
            return None, "no trained match model (run `idgraph train`)"
        if stamp.get("settings") != self.fingerprint:
            return None, (
                "the match model was trained for other [matching] settings or comparison "
                "levels (run `idgraph train`)"
            )
        if self._cached is None or self._cached[0] != stamp:
            model = self.model()
            if model is None:
                return None, "no trained match model (run `idgraph train`)"
            self._cached = (stamp, model)
        return self._cached[1], None

    def forget(self, rows: Sequence[MatchRow]) -> None:
        """Take the compared values of records about to be deleted (their match-index
        rows) out of the trained model's term frequencies, so an erased person's rare
        name or e-mail is not kept in the model (docs/privacy.md). Call inside the unit
        of work that deletes them."""
        model = self.model()
        if model is None or not rows:
            return
        for comparison in self.settings.comparisons:
            if comparison.term_frequency:
                values = [comparison.value_of(row.fields)[0] for row in rows]
                model.forget_term_frequencies(comparison.name, values)
        stamp = self.store.meta.get(STAMP_KEY)
        self.store.meta.set(MODEL_KEY, model.to_document())
        if isinstance(stamp, dict):
            # A new stamp: every process reads the model again.
            self.store.meta.set(STAMP_KEY, {**stamp, "id": uuid.uuid4().hex})

    def train(
        self, frame: pd.DataFrame | None = None, progress: Progress | None = None
    ) -> MatchModel:
        """Estimate the model on every stored record and persist it with the store."""
        frame = self.all_frame(progress) if frame is None else frame
        if len(frame) < 2:
            raise ConfigError("training needs at least two stored records", field="records")
        model = Linker(self.settings).train(frame, progress=progress)
        with self.store.unit_of_work():
            self.store.meta.set(MODEL_KEY, model.to_document())
            self.store.meta.set(STAMP_KEY, {"id": uuid.uuid4().hex, "settings": self.fingerprint})
        return model

    # -- deciding links --------------------------------------------------------------------

    def _links(self, model: MatchModel, scored: ScoredPairs, frame: pd.DataFrame) -> list[Link]:
        """MATCH and REVIEW links of the scored pairs at or above the review threshold,
        duplicate accounts within one source decided by the rules."""
        chosen = np.flatnonzero(scored.probabilities >= self.settings.review_threshold)
        values = self._left_values(scored, chosen, frame)
        return self._decide(model.explainer(), scored, chosen, values)[0]

    def _left_values(
        self, scored: ScoredPairs, chosen: Positions, frame: pd.DataFrame
    ) -> dict[int, Strings]:
        """The left record's value of each term-frequency column, for the pairs ``chosen``
        (aligned with it): what the explanation adjusts the exact level by."""
        comparisons = self.settings.comparisons
        rows = frame.index.get_indexer(scored.left[chosen])
        return {
            column: compared_values(frame, comparisons[column], rows)[rows]
            for column in self._tf_columns
        }

    def _decide(
        self,
        explainer: Explainer,
        scored: ScoredPairs,
        chosen: Positions,
        tf_values: dict[int, Strings],
    ) -> tuple[list[Link], list[str | None]]:
        """The links of the scored pairs ``chosen`` (``tf_values`` aligned with it), each
        with its explanation, duplicate accounts within one source decided by the rules;
        and each explanation as the stores encode it, None where the link's evidence is
        more than the explanation (encode that whole)."""
        links: list[Link] = []
        texts: list[str | None] = []
        values: list[str | None] = [None] * len(self._names)
        lefts, rights = scored.left[chosen].tolist(), scored.right[chosen].tolist()
        by_column = [(column, found.tolist()) for column, found in tf_values.items()]
        for n, i in enumerate(chosen.tolist()):
            for column, found in by_column:
                values[column] = found[n]
            levels = scored.vectors[i].tolist()
            chance, evidence, text = explainer.explain_encoded(levels, values)
            vetoed = [self._names[c] for c, last in self._vetoes if levels[c] == last]
            if vetoed:
                evidence["disagrees_on"] = vetoed
                text = None
            uncorroborated = bool(self._corroborating) and not _weighs_for(
                evidence, self._corroborating
            )
            if uncorroborated:
                evidence["needs_one_of"] = list(self._corroborating)
                text = None
            texts.append(text)
            kind = (
                LinkType.MATCH
                if chance >= self.settings.link_threshold and not vetoed and not uncorroborated
                else LinkType.REVIEW
            )
            links.append(Link(lefts[n], rights[n], kind, MATCHER, chance, evidence))
        return self.duplicates.decide(links), texts

    # -- batch -----------------------------------------------------------------------------

    def link_all(
        self, frame: pd.DataFrame | None = None, progress: Progress | None = None
    ) -> LinkReport:
        """Score every candidate pair of the stored records with the persisted model, store
        the links and review pairs, and re-resolve the profiles they touch.

        Only the records whose links this changes are written and re-resolved, in batches
        of about ``batch_size`` records, each batch one unit of work: a whole store's
        links in one transaction outgrew a networked store's transaction memory (Neo4j
        with a 1 GB heap at 100,000 records). A batch holds whole groups of records that
        share a changed pair or a profile, so every changed pair is written and resolved
        with both its ends; stopped part way, the batches done are complete, and running
        it again links the rest.

        Memory follows the links, not the candidates: pairs are scored a chunk at a time
        (:meth:`Linker.score_above`), and the links with their explanations (a few
        kilobytes each as objects) are made a slice at a time, each kept only as arrays
        and its evidence as the JSON text the store writes (a few hundred bytes): making
        them again batch by batch as they were written, as this once did, doubled the
        explaining and encoding that was most of a first link's time."""
        model, why = self.current_model()
        if model is None:
            raise ConfigError(f"{why}", field="model")
        frame = self.all_frame(progress) if frame is None else frame
        scored = Linker(self.settings, model).score_above(
            frame, self.settings.review_threshold, progress=progress
        )
        record_ids: list[RecordId] = [int(x) for x in frame.index]
        return self.link_scored(model, scored, frame, record_ids, progress)

    def decide_links(
        self, model: MatchModel, scored: ScoredPairs, frame: pd.DataFrame
    ) -> list[Link]:
        """The MATCH and REVIEW links of scored pairs at or above the review threshold, as
        :meth:`link_scored` decides them, all at once (``frame`` holds at least every
        pair's left record): for another engine's report of what it linked."""
        return self._links(model, scored, frame)

    def link_scored(
        self,
        model: MatchModel,
        scored: ScoredPairs,
        frame: pd.DataFrame,
        record_ids: list[RecordId],
        progress: Progress | None = None,
    ) -> LinkReport:
        """The second half of :meth:`link_all`, for pairs scored here or by another
        engine (identity/matching/spark.py): decide the links of the pairs at or above the
        review threshold, make them this matcher's links of ``record_ids`` (every record
        scored) and re-resolve the profiles they change, in batches. ``frame`` holds at
        least every pair's left record; ``scored.candidates`` and ``scored.capped`` say
        what blocking found and skipped."""
        say = progress or _quiet
        chosen = np.flatnonzero(scored.probabilities >= self.settings.review_threshold)
        tf_values = self._left_values(scored, chosen, frame)
        explainer = model.explainer()
        decided = _Decided.of_size(len(chosen))
        phase = "deciding links"
        say(phase, 0, len(chosen))
        for start in range(0, len(chosen), _DECIDE_SLICE):
            at = slice(start, start + _DECIDE_SLICE)
            part = {column: found[at] for column, found in tf_values.items()}
            decided.put(start, *self._decide(explainer, scored, chosen[at], part))
            say(phase, min(start + _DECIDE_SLICE, len(chosen)), len(chosen))
        say("comparing with the stored links", 0, None)
        batches = self._link_batches(record_ids, decided)
        total = sum(len(records) for records, _ in batches)
        holding = decided.holders()
        merged = split = done = 0
        phase = "writing links, re-resolving (records)"
        say(phase, 0, total)
        for records, seeds in batches:
            # Every link touching the batch's records: replace_links drops all of theirs.
            touching = decided.encoded(holding(sorted(records)))
            with self.store.unit_of_work():
                self.store.links.replace_encoded(sorted(records), MATCHER, touching)
                outcome = self.resolver.resolve(sorted(seeds), matcher_links_only=True)
            merged += outcome.profiles_merged
            split += outcome.profiles_split
            done += len(records)
            say(phase, done, total)
        reviews = int(len(chosen) - decided.match.sum())
        return LinkReport(
            records=len(record_ids),
            candidate_pairs=scored.candidates,
            links=len(chosen) - reviews,
            reviews=reviews,
            profiles_merged=merged,
            profiles_split=split,
            oversized_keys=scored.capped,
            duplicates_held=decided.held,
            duplicates_linked=decided.linked,
        )

    def _link_batches(
        self, record_ids: list[RecordId], decided: _Decided
    ) -> list[tuple[set[RecordId], set[RecordId]]]:
        """Batches of (records whose links to rewrite, records to re-resolve).

        A pair changes when this matcher's link between its records appears, goes, changes
        type or changes weight (the evidence follows from the weight's comparison levels);
        only MATCH changes need re-resolving, since REVIEW links do not cluster and the
        rest was resolved as it was stored. Weights count because limits give way in order
        of weight. Records sharing a changed pair or a profile go in one batch, so a batch
        never leaves a profile half linked for the next one to finish.

        Nor does a MATCH change between two records that steward must-links and shared
        identifiers already join: clustering applies those before any matcher link
        (identity/clustering.py), so such a link joins nothing, whatever its weight. Most
        of a first link's pairs are of that kind (the same person's records sharing an
        e-mail or a phone: 93% of the links at 341,231 demo records), and re-resolving
        their profiles was most of its time.

        The stored links are read a page at a time, without their evidence, and kept as
        arrays, as the new ones are: millions of links as objects and dictionaries held
        5 GB."""
        ids = np.asarray(record_ids, dtype=np.int64)
        stored = _StoredLinks.read(self.store, record_ids)
        width = int(max(ids.max(initial=0), stored.a.max(initial=0), stored.b.max(initial=0)))
        width = max(width, int(stored.joined.max(initial=0))) + 1
        stored.key_by(width)
        new_keys = decided.a * width + decided.b
        order = np.argsort(new_keys, kind="stable")
        new_keys, new_match, new_weight = (
            new_keys[order],
            decided.match[order],
            decided.weight[order],
        )
        keys = np.union1d(stored.keys, new_keys)
        was, old_at = _lookup(stored.keys, keys)
        now, new_at = _lookup(new_keys, keys)
        # One element more, so an empty side can be indexed (where masked off anyway).
        old_type, old_weights = np.append(stored.match, False), np.append(stored.weight, 0.0)
        new_type, new_weights = np.append(new_match, False), np.append(new_weight, 0.0)
        old_match, now_match = was & old_type[old_at], now & new_type[new_at]
        changed = (was != now) | (
            was
            & now
            & (
                (old_type[old_at] != new_type[new_at])
                | (old_weights[old_at] != new_weights[new_at])
            )
        )
        keys, old_match, now_match = keys[changed], old_match[changed], now_match[changed]
        if len(keys) == 0:
            return []
        a, b = keys // width, keys % width
        position = np.full(width, -1, dtype=np.int64)
        position[ids] = np.arange(len(ids))
        ends = position[stored.joined]
        ends = ends[(ends >= 0).all(axis=1)]
        labels = _components(len(ids), ends[:, 0], ends[:, 1])
        pa, pb = position[a], position[b]
        joined = (pa >= 0) & (pb >= 0) & (labels[np.maximum(pa, 0)] == labels[np.maximum(pb, 0)])
        resolving = (old_match | now_match) & ~joined
        resolve = set(np.concatenate([a[resolving], b[resolving]]).tolist())
        # Components of the changed pairs and the records' current profiles.
        touched = np.unique(np.concatenate([a, b]))
        profiles = self.store.profiles.ids_of(touched.tolist())
        profile_codes, _ = pd.factorize(
            np.asarray([profiles.get(rid) for rid in touched.tolist()], dtype=object)
        )
        at = np.searchsorted(touched, np.concatenate([a, b]))
        edges_from = [at[: len(a)]]
        edges_to = [at[len(a) :]]
        held = profile_codes >= 0
        edges_from.append(np.flatnonzero(held))
        edges_to.append(len(touched) + profile_codes[held])
        count = len(touched) + int(profile_codes.max(initial=-1)) + 1
        group = _components(count, np.concatenate(edges_from), np.concatenate(edges_to))[
            : len(touched)
        ]
        # Groups in the order of their smallest record; records ascending within them.
        order = np.lexsort((touched, group))
        group, members = group[order], touched[order]
        starts = np.flatnonzero(np.concatenate([[True], group[1:] != group[:-1]]))
        groups = np.split(members, starts[1:])
        groups.sort(key=lambda g: int(g[0]))
        batches: list[tuple[set[RecordId], set[RecordId]]] = []
        records: set[RecordId] = set()
        for found in groups:
            if records and len(records) + len(found) > self.batch_size:
                batches.append((records, records & resolve))
                records = set()
            records |= set(found.tolist())
        batches.append((records, records & resolve))
        return batches

    # -- incremental -----------------------------------------------------------------------

    def rescored_on(self, changed: Sequence[IdentifierKey]) -> list[RecordId]:
        """The stored records to score again because these identifiers started or stopped
        linking: the holders of limited kinds' values, whose pairs may have become (or
        stopped being) duplicate accounts. Empty for every other kind."""
        keys = [k for k in changed if k.kind in self.duplicates.kinds]
        if not keys:
            return []
        return sorted(
            {rid for ids in self.store.records.with_identifiers(keys).values() for rid in ids}
        )

    def link_records(
        self,
        records: Sequence[tuple[RecordId, SourceRecord]],
        rescore: Sequence[RecordId] = (),
        derived: Mapping[RecordRef, tuple[SourceRecord, MatchFields]] | None = None,
    ) -> IncrementalLinks:
        """Index arriving (new or changed) records and, when a model fits the settings,
        replace their probabilistic links by scoring them against every record sharing a
        blocking key; ``rescore`` names stored records to score again the same way (see
        :meth:`rescored_on`). ``derived``: match rows worked out elsewhere
        (:meth:`MatchIndex.put`). Call inside the ingest's unit of work, before resolving."""
        result = IncrementalLinks()
        rows = self.index.put(records, derived)
        model, why = self.current_model()
        if model is None or not self.index.is_current():
            result.skipped = why or "the match index is being rebuilt (run `idgraph train`)"
            return result
        arriving_ids = {row.record_id for row in rows}
        again = [rid for rid in rescore if rid not in arriving_ids]
        if again:
            rows = [*rows, *self.store.matching.rows_of(again)]
        arriving = {row.record_id for row in rows}
        candidates = self.store.matching.rows_with_keys({k for row in rows for k in row.keys})
        by_key: dict[str, list[RecordId]] = {}
        for row in candidates:
            for key in row.keys:
                by_key.setdefault(key, []).append(row.record_id)
        # A key held by more records than the cap gives no candidates, as in batch.
        cap = self.settings.max_block_size
        pairs: set[tuple[RecordId, RecordId]] = set()
        for row in rows:
            for key in row.keys:
                holders = by_key.get(key, ())
                if len(holders) > cap:
                    result.oversized_keys += 1
                    continue
                for other in holders:
                    if other != row.record_id:
                        # The later record first, as recordlinkage's dedup index gives them.
                        pairs.add((max(other, row.record_id), min(other, row.record_id)))
        links: list[Link] = []
        if pairs:
            frame = self.index.frame(candidates)
            index = pd.MultiIndex.from_tuples(sorted(pairs))
            linker = Linker(self.settings, model)
            vectors, exact = linker.compare(index, frame)
            scored = ScoredPairs(
                index.get_level_values(0).to_numpy(),
                index.get_level_values(1).to_numpy(),
                vectors,
                model.weights(vectors, exact),
            )
            links = self._links(model, scored, frame)
        self.store.links.replace(sorted(arriving), MATCHER, links)
        result.candidate_pairs = len(pairs)
        result.reviews = sum(1 for link in links if link.type is LinkType.REVIEW)
        result.links = len(links) - result.reviews
        return result


def _lookup(
    sorted_keys: npt.NDArray[np.int64], keys: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
    """Which ``keys`` are in ``sorted_keys``, and where (0 where not: mask the result, and
    index an array of ``sorted_keys``' length padded with one element)."""
    if len(sorted_keys) == 0:
        return np.zeros(len(keys), dtype=bool), np.zeros(len(keys), dtype=np.int64)
    at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[at] == keys, at


def _components(
    count: int, first: npt.NDArray[np.int64], second: npt.NDArray[np.int64]
) -> npt.NDArray[np.int32]:
    """The connected component of each of ``count`` nodes, given edges (first, second)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(first), dtype=np.int8), (first, second)), (count, count))
    _, labels = connected_components(graph, directed=False)
    found: npt.NDArray[np.int32] = labels
    return found


@dataclass(slots=True)
class _StoredLinks:
    """This matcher's stored links as arrays (distinct pairs), and the pairs that
    must-links and deterministic links join; keyed ``a * width + b`` by :meth:`key_by`."""

    a: npt.NDArray[np.int64]
    b: npt.NDArray[np.int64]
    match: npt.NDArray[np.bool_]
    weight: npt.NDArray[np.float64]
    joined: npt.NDArray[np.int64]
    """(a, b) rows: the stored deterministic links and must-links."""
    keys: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    @classmethod
    def read(cls, store: Store, record_ids: Sequence[RecordId]) -> _StoredLinks:
        """The stored links touching ``record_ids``, streamed without their evidence."""
        a, b, match, weight, joined = [], [], [], [], []
        ids = np.unique(np.asarray(record_ids, dtype=np.int64))
        types = (LinkType.MATCH, LinkType.REVIEW, LinkType.MUST_LINK)
        for page in store.links.scan(types):
            ends = np.asarray([(x.a, x.b) for x in page], dtype=np.int64).reshape(-1, 2)
            touching = (np.isin(ends[:, 0], ids) | np.isin(ends[:, 1], ids)).tolist()
            found = [x for x, keep in zip(page, touching, strict=True) if keep]
            ours = [x for x in found if x.matcher == MATCHER]
            a.append(np.asarray([x.a for x in ours], dtype=np.int64))
            b.append(np.asarray([x.b for x in ours], dtype=np.int64))
            match.append(np.asarray([x.type is LinkType.MATCH for x in ours], dtype=bool))
            weight.append(np.asarray([x.weight for x in ours], dtype=np.float64))
            joined.append(
                np.asarray(
                    [
                        (x.a, x.b)
                        for x in found
                        if x.type is LinkType.MUST_LINK
                        or (x.type is LinkType.MATCH and x.matcher == DETERMINISTIC)
                    ],
                    dtype=np.int64,
                ).reshape(-1, 2)
            )

        def joined_up(parts: list[npt.NDArray[Any]], dtype: type) -> npt.NDArray[Any]:
            return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)

        return cls(
            joined_up(a, np.int64),
            joined_up(b, np.int64),
            joined_up(match, bool),
            joined_up(weight, np.float64),
            np.concatenate(joined) if joined else np.empty((0, 2), dtype=np.int64),
        )

    def key_by(self, width: int) -> None:
        """Key the links ``a * width + b``, sorted, each pair once (the first in the
        store's order where one pair has links of two types)."""
        self.keys, first = np.unique(self.a * width + self.b, return_index=True)
        self.a, self.b = self.a[first], self.b[first]
        self.match, self.weight = self.match[first], self.weight[first]


_DECIDE_SLICE = 50_000
"""Pairs whose links (with their explanations) are made at a time to learn their types."""


@dataclass(slots=True)
class _Decided:
    """Each chosen pair's link as arrays, without its explanation: its records (the lower
    id first, as a Link holds them), whether it is a MATCH, its weight; and how many
    duplicate accounts were held and linked."""

    a: npt.NDArray[np.int64]
    b: npt.NDArray[np.int64]
    match: npt.NDArray[np.bool_]
    weight: npt.NDArray[np.float64]
    evidence: list[str]
    """Each link's explanation as stored (JSON text): encoded once, as the link is
    decided, rather than explained and encoded again as it is written (a few hundred
    bytes a link, a tenth of what the links held as objects)."""
    held: int = 0
    linked: int = 0

    @classmethod
    def of_size(cls, n: int) -> _Decided:
        return cls(
            np.zeros(n, dtype=np.int64),
            np.zeros(n, dtype=np.int64),
            np.zeros(n, dtype=bool),
            np.zeros(n, dtype=np.float64),
            [""] * n,
        )

    def put(self, start: int, links: Sequence[Link], texts: Sequence[str | None]) -> None:
        """Keep ``links`` from position ``start`` on, ``texts`` their explanations encoded
        (:meth:`ProbabilisticMatcher._decide`): the evidence is encoded whole only where
        there is no text or a duplicate-account note was added to it since."""
        at = slice(start, start + len(links))
        self.a[at] = [x.a for x in links]
        self.b[at] = [x.b for x in links]
        self.match[at] = [x.type is LinkType.MATCH for x in links]
        self.weight[at] = [x.weight for x in links]
        self.evidence[at] = [
            text if text is not None and NOTE not in x.evidence else dumps(x.evidence)
            for x, text in zip(links, texts, strict=True)
        ]
        outcomes = [x.evidence[NOTE].get("outcome") for x in links if NOTE in x.evidence]
        self.held += outcomes.count("held")
        self.linked += outcomes.count("linked")

    def encoded(self, positions: Positions) -> list[EncodedLink]:
        """The links at ``positions``, in their order, as the store writes them."""
        evidence = self.evidence
        match, review = LinkType.MATCH, LinkType.REVIEW
        return [
            EncodedLink(a, b, match if m else review, w, evidence[i])
            for i, a, b, m, w in zip(
                positions.tolist(),
                self.a[positions].tolist(),
                self.b[positions].tolist(),
                self.match[positions].tolist(),
                self.weight[positions].tolist(),
                strict=True,
            )
        ]

    def holders(self) -> Callable[[Sequence[RecordId]], Positions]:
        """A lookup of the pairs (their positions, ascending) touching any of some records
        (sorted ids): one sort now, two binary searches per lookup."""
        ends = np.concatenate([self.a, self.b])
        positions = np.concatenate([np.arange(len(self.a))] * 2)
        order = np.argsort(ends, kind="stable")
        ends, positions = ends[order], positions[order]

        def lookup(records: Sequence[RecordId]) -> Positions:
            wanted = np.asarray(records, dtype=np.int64)
            first = np.searchsorted(ends, wanted, side="left")
            last = np.searchsorted(ends, wanted, side="right")
            counts = last - first
            if counts.sum() == 0:
                return np.empty(0, dtype=np.int64)
            # The ranges first[i]:last[i], concatenated without a Python loop.
            offsets = np.repeat(first - np.cumsum(counts) + counts, counts)
            found = positions[np.arange(int(counts.sum())) + offsets]
            return np.unique(found)

        return lookup


def _quiet(phase: str, done: int, total: int | None) -> None:
    """Progress that goes nowhere."""


def _weighs_for(evidence: dict[str, JSONValue], names: Sequence[str]) -> bool:
    """Whether one of the fields ``names`` weighs for the pair in its explanation."""
    fields = evidence.get("fields")
    if not isinstance(fields, dict):
        return False
    for name in names:
        found = fields.get(name)
        if isinstance(found, dict):
            weight = found.get("weight")
            if isinstance(weight, int | float) and weight > 0:
                return True
    return False
