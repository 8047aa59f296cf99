"""Batch probabilistic linkage: blocking with recordlinkage's indexers, comparison vectors,
training the Fellegi-Sunter model without labels, and scoring candidate pairs.

Works on a pandas frame of match fields (one row per record, index = record id, string
values already normalised, missing as None). Several blocking rules are unioned; each rule
is a list of keys, a key being a field or a derived form of it (``surname:sound``,
``given_name:first2``, ``date_of_birth:year``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import jellyfish
import numpy as np
import pandas as pd
import recordlinkage

from identity.errors import ConfigError
from identity.matching.comparisons import KINDS, Comparison
from identity.matching.model import MatchModel, Vectors, probability

_DERIVED: dict[str, Callable[[str | None], str | None]] = {
    "sound": lambda v: str(jellyfish.metaphone(v)) if v else None,
    "first2": lambda v: v[:2] if v else None,
    "first3": lambda v: v[:3] if v else None,
    "year": lambda v: v[:4] if v else None,
    "last4": lambda v: v[-4:] if v else None,
    "token1": lambda v: v.split()[0] if v and v.split() else None,
}


@dataclass(frozen=True, slots=True)
class LinkageSettings:
    """Which fields are compared how, how candidates are blocked, and the thresholds."""

    comparisons: tuple[Comparison, ...]
    blocking: tuple[tuple[str, ...], ...]
    link_threshold: float = 0.9
    """Match probability at or above which a pair becomes a link."""
    review_threshold: float = 0.5
    """Match probability at or above which (and below link) a pair is queued for review."""

    @classmethod
    def build(
        cls,
        fields: dict[str, str],
        blocking: Sequence[Sequence[str]],
        link_threshold: float = 0.9,
        review_threshold: float = 0.5,
    ) -> LinkageSettings:
        """From ``{field: comparison kind}`` and blocking rules; ConfigError naming a bad one."""
        comparisons = []
        for name, kind in fields.items():
            if kind not in KINDS:
                raise ConfigError(
                    f"unknown comparison kind '{kind}' (known: {', '.join(sorted(KINDS))})",
                    field=f"comparisons.{name}",
                )
            comparisons.append(KINDS[kind](name))
        for number, rule in enumerate(blocking, start=1):
            for key in rule:
                base, _, form = key.partition(":")
                if base not in fields or (form and form not in _DERIVED):
                    raise ConfigError(
                        f"blocking key '{key}' names no compared field or known form "
                        f"(forms: {', '.join(sorted(_DERIVED))})",
                        field=f"blocking[{number}]",
                    )
        if not 0 < review_threshold <= link_threshold < 1:
            raise ConfigError(
                "thresholds must satisfy 0 < review <= link < 1", field="link_threshold"
            )
        return cls(
            tuple(comparisons),
            tuple(tuple(rule) for rule in blocking),
            link_threshold,
            review_threshold,
        )


@dataclass(slots=True)
class ScoredPairs:
    """Candidate pairs with their comparison vectors, match weights and probabilities."""

    left: np.ndarray
    right: np.ndarray
    vectors: Vectors
    weights: np.ndarray
    probabilities: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.probabilities = np.array([probability(w) for w in self.weights])

    def __len__(self) -> int:
        return len(self.left)


class Linker:
    """Blocks, compares, trains and scores over a frame of match fields."""

    def __init__(self, settings: LinkageSettings, model: MatchModel | None = None) -> None:
        self.settings = settings
        self.model = model or MatchModel.start(settings.comparisons)

    # -- candidates ------------------------------------------------------------------------

    @staticmethod
    def _with_keys(frame: pd.DataFrame, rules: Sequence[Sequence[str]]) -> pd.DataFrame:
        keyed = frame.copy()
        for rule in rules:
            for key in rule:
                base, _, form = key.partition(":")
                if form and key not in keyed:
                    keyed[key] = [_DERIVED[form](v) for v in frame[base]]
        return keyed

    def _pairs_of(
        self, rule: Sequence[str], frame: pd.DataFrame, other: pd.DataFrame | None
    ) -> pd.MultiIndex:
        left = self._with_keys(frame, [rule])
        indexer = recordlinkage.Index()
        indexer.block(left_on=list(rule), right_on=list(rule))
        if other is None:
            found: pd.MultiIndex = indexer.index(left)
        else:
            found = indexer.index(left, self._with_keys(other, [rule]))
        return found

    def candidate_pairs(
        self, frame: pd.DataFrame, other: pd.DataFrame | None = None
    ) -> pd.MultiIndex:
        """The union of every blocking rule's pairs (deduplication, or linking two frames)."""
        pairs: pd.MultiIndex | None = None
        for rule in self.settings.blocking:
            found = self._pairs_of(rule, frame, other)
            pairs = found if pairs is None else pairs.union(found)
        assert pairs is not None
        return pairs

    # -- comparison ------------------------------------------------------------------------

    def compare(
        self, pairs: pd.MultiIndex, frame: pd.DataFrame, other: pd.DataFrame | None = None
    ) -> tuple[Vectors, dict[int, list[str | None]]]:
        """Comparison vectors of the pairs, and the left values of term-frequency columns."""
        right_frame = frame if other is None else other
        left_ids = pairs.get_level_values(0)
        right_ids = pairs.get_level_values(1)
        vectors = np.empty((len(pairs), len(self.settings.comparisons)), dtype=np.int8)
        exact: dict[int, list[str | None]] = {}
        for column, comparison in enumerate(self.settings.comparisons):
            a = frame[comparison.field].reindex(left_ids).tolist()
            b = right_frame[comparison.field].reindex(right_ids).tolist()
            vectors[:, column] = comparison.compare(a, b)
            if comparison.term_frequency:
                exact[column] = a
        return vectors, exact

    # -- training and scoring --------------------------------------------------------------

    def train(
        self,
        frame: pd.DataFrame,
        other: pd.DataFrame | None = None,
        random_pairs: int = 200_000,
        seed: int = 42,
    ) -> MatchModel:
        """u from random pairs, term frequencies from the data, m and prior by EM."""
        model = MatchModel.start(self.settings.comparisons)
        rng = np.random.default_rng(seed)
        right = frame if other is None else other
        n = min(random_pairs, len(frame) * len(right))
        li = frame.index.to_numpy()[rng.integers(0, len(frame), n)]
        ri = right.index.to_numpy()[rng.integers(0, len(right), n)]
        keep = li != ri if other is None else np.ones(n, dtype=bool)
        random_index = pd.MultiIndex.from_arrays([li[keep], ri[keep]])
        vectors, _ = self.compare(random_index, frame, other)
        model.estimate_u(vectors)
        combined = frame if other is None else pd.concat([frame, other])
        for comparison in self.settings.comparisons:
            if comparison.term_frequency:
                model.estimate_term_frequencies(comparison.name, combined[comparison.field])
        # m by EM in one session per blocking rule, on that rule's pairs, leaving out the
        # comparisons the rule blocks on (blocking made them agree); each comparison's m is
        # the mean over the sessions that estimated it.
        estimates: dict[int, list[list[float]]] = {}
        iterations = 0
        for rule in self.settings.blocking:
            blocked_fields = {key.partition(":")[0] for key in rule}
            columns = [
                i for i, c in enumerate(self.settings.comparisons) if c.field not in blocked_fields
            ]
            rule_pairs = self._pairs_of(rule, frame, other)
            if not columns or len(rule_pairs) == 0:
                continue
            vectors, _ = self.compare(rule_pairs, frame, other)
            session = MatchModel.from_document(model.to_document())
            session.prior = min(0.5, max(1e-6, len(frame) / len(rule_pairs) * 0.5))
            iterations += session.estimate_m(vectors, columns=columns)
            for i in columns:
                estimates.setdefault(i, []).append(session.comparisons[i].m)
        for i, found in estimates.items():
            mean = np.mean(np.asarray(found), axis=0)
            model.comparisons[i].m = [float(x) for x in mean / mean.sum()]
        # The share of matches among the candidates, with m and u now fixed, scaled to the
        # prior of two random records matching: scores then read as for any pair, so a
        # candidate links on its evidence, not for having passed blocking.
        pairs = self.candidate_pairs(frame, other)
        blocked, _ = self.compare(pairs, frame, other)
        model.prior = min(0.5, max(1e-6, len(frame) / max(len(pairs), 1) * 0.5))
        model.estimate_m(blocked, update_m=False)
        n = len(frame)
        all_pairs = n * (n - 1) / 2 if other is None else n * len(other)
        model.prior = min(0.5, max(1e-12, model.prior * len(pairs) / max(all_pairs, 1.0)))
        model.trained_on = {
            "records": len(combined),
            "random_pairs": len(random_index),
            "candidate_pairs": len(pairs),
            "em_iterations": iterations,
        }
        self.model = model
        return model

    def score(
        self, frame: pd.DataFrame, other: pd.DataFrame | None = None
    ) -> tuple[pd.MultiIndex, ScoredPairs]:
        """Every candidate pair with its weight and probability under the current model."""
        pairs = self.candidate_pairs(frame, other)
        vectors, exact = self.compare(pairs, frame, other)
        weights = self.model.weights(vectors, exact)
        scored = ScoredPairs(
            pairs.get_level_values(0).to_numpy(),
            pairs.get_level_values(1).to_numpy(),
            vectors,
            weights,
        )
        return pairs, scored
