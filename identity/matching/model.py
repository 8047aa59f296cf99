"""The Fellegi-Sunter model: per comparison level, how often it occurs among matches (m)
and non-matches (u), learned without labels, and match weights that explain themselves.

u comes from random pairs (almost all non-matches); m and the prior match probability by
expectation-maximisation over blocked candidate pairs with u held fixed, as Splink does.
EM runs on the distinct comparison patterns with their counts, so a million pairs with a
few thousand patterns costs a few thousand rows per iteration. A pair's match weight is
the prior's log-odds plus one term per comparison (log2 m/u of its level, with the exact
level's u replaced by the value's frequency where term frequencies apply); those terms
are the explanation a steward reads.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from identity.errors import ConfigError
from identity.matching.comparisons import MISSING, Comparison
from identity.model import JSONValue
from identity.store.changes import dumps

FloatArray = npt.NDArray[np.float64]
Vectors = npt.NDArray[np.int8]
"""Comparison vectors: one row per pair, one column per comparison, level index or MISSING."""
PairValues = Sequence[str | None] | npt.NDArray[np.object_]
"""The compared values of many pairs: a list, or an object array."""

_FLOOR = 1e-6
MODEL_VERSION = 1


@dataclass(slots=True)
class ComparisonParameters:
    """m and u of each level of one comparison (the last level is "else")."""

    name: str
    levels: tuple[str, ...]
    m: list[float]
    u: list[float]
    term_frequencies: dict[str, float] = field(default_factory=dict)
    """Share of records holding each value, for the exact level's u (may be empty)."""
    term_frequency_total: int | None = None
    """How many records with a value the shares are of (None in models trained before it
    was kept): what a deletion takes one record's share from."""

    def weight(self, level: int) -> float:
        return math.log2(max(self.m[level], _FLOOR) / max(self.u[level], _FLOOR))


@dataclass(frozen=True, slots=True)
class Contribution:
    comparison: str
    level: str
    weight: float


@dataclass(frozen=True, slots=True)
class Score:
    """A scored pair: total match weight (log2 odds), match probability, and why."""

    weight: float
    probability: float
    contributions: tuple[Contribution, ...]

    def evidence(self) -> dict[str, JSONValue]:
        return {
            "match_weight": round(self.weight, 3),
            "match_probability": round(self.probability, 6),
            "fields": {
                c.comparison: {"level": c.level, "weight": round(c.weight, 3)}
                for c in self.contributions
            },
        }


@dataclass(slots=True)
class MatchModel:
    """Prior and per-level parameters of every comparison, as a JSON-able document."""

    prior: float
    comparisons: list[ComparisonParameters]
    trained_on: dict[str, JSONValue] = field(default_factory=dict)

    @classmethod
    def start(cls, comparisons: Sequence[Comparison], prior: float = 1e-4) -> MatchModel:
        """Starting values: matches mostly agree exactly, u uniform until estimated."""
        params = []
        for c in comparisons:
            n = len(c.levels)
            m = [0.9] + [0.1 / (n - 1)] * (n - 1) if n > 1 else [1.0]
            params.append(ComparisonParameters(c.name, c.level_names, m, [1.0 / n] * n))
        return cls(prior, params)

    # -- estimation ------------------------------------------------------------------------

    def estimate_u(self, vectors: Vectors) -> None:
        """u of each level from comparison vectors of random pairs (nearly all non-matches)."""
        for column, params in enumerate(self.comparisons):
            counts = _level_counts(vectors[:, column], len(params.levels), None)
            params.u = _smoothed(counts)

    def estimate_m(
        self,
        vectors: Vectors,
        iterations: int = 30,
        tolerance: float = 1e-6,
        columns: Sequence[int] | None = None,
        update_m: bool = True,
    ) -> int:
        """m (of ``columns``, default all) and the prior by EM over candidate pairs, u fixed.

        Comparisons outside ``columns`` are left out of the likelihood: a session trained on
        pairs blocked on a field must not learn that field's m, since blocking made every
        pair agree on it. With ``update_m=False`` only the prior is estimated. Returns the
        iterations run.
        """
        if len(vectors) == 0:
            return 0
        used = list(range(len(self.comparisons))) if columns is None else list(columns)
        patterns, pattern_counts = _patterns(
            vectors[:, used], [len(self.comparisons[c].levels) for c in used]
        )
        weights = pattern_counts.astype(np.float64)
        params_used = [self.comparisons[c] for c in used]
        prior = min(max(self.prior, 1e-6), 0.5)
        step = 0
        for step in range(1, iterations + 1):  # noqa: B007 - the count is returned
            log_m = np.zeros(len(patterns))
            log_u = np.zeros(len(patterns))
            for column, params in enumerate(params_used):
                levels = patterns[:, column]
                present = levels != MISSING
                m = np.log(np.maximum(np.asarray(params.m), _FLOOR))
                u = np.log(np.maximum(np.asarray(params.u), _FLOOR))
                log_m[present] += m[levels[present]]
                log_u[present] += u[levels[present]]
            odds = np.log(prior) - np.log1p(-prior) + log_m - log_u
            p_match = 1.0 / (1.0 + np.exp(-np.clip(odds, -700, 700)))
            responsibility = p_match * weights
            new_prior = float(responsibility.sum() / weights.sum())
            change = abs(new_prior - prior)
            prior = min(max(new_prior, 1e-9), 0.999)
            if update_m:
                for column, params in enumerate(params_used):
                    counts = _level_counts(patterns[:, column], len(params.levels), responsibility)
                    new_m = _smoothed(counts)
                    change = max(
                        change, max(abs(a - b) for a, b in zip(new_m, params.m, strict=True))
                    )
                    params.m = new_m
            if change < tolerance:
                break
        self.prior = prior
        return step

    def estimate_term_frequencies(self, name: str, values: Sequence[str | None]) -> None:
        """The share of records holding each value of the comparison ``name``."""
        params = self._params(name)
        present = [v for v in values if v]
        if not present:
            return
        unique, counts = np.unique(np.asarray(present, dtype=object), return_counts=True)
        total = float(len(present))
        params.term_frequencies = {
            str(v): float(c) / total for v, c in zip(unique, counts, strict=True)
        }
        params.term_frequency_total = len(present)

    def forget_term_frequencies(self, name: str, values: Iterable[str | None]) -> None:
        """Take the values of deleted records out of the comparison ``name``'s term
        frequencies (erasure, retention): each value's count over the records trained on
        goes down by its deleted holders, and a value no one holds any more leaves the
        model. Scoring cannot tell: a value the table lacks weighs as the rarest one."""
        params = self._params(name)
        table = params.term_frequencies
        if not table:
            return
        # One record's share; in a model that did not keep the total, the rarest value's
        # (a value one record held, in all but the smallest tables).
        total = params.term_frequency_total
        unit = 1.0 / total if total else min(table.values())
        for value, gone in Counter(v for v in values if v).items():
            share = table.get(value)
            if share is None:
                continue
            left = round(share / unit) - gone
            if left > 0:
                table[value] = left * unit
            else:
                del table[value]

    # -- scoring ---------------------------------------------------------------------------

    @property
    def prior_weight(self) -> float:
        return math.log2(self.prior / (1.0 - self.prior))

    def weight_table(self) -> list[FloatArray]:
        """Per comparison, the weight of each level (before term-frequency adjustment)."""
        return [
            np.array([p.weight(level) for level in range(len(p.levels))]) for p in self.comparisons
        ]

    def weights(
        self, vectors: Vectors, exact_values: Mapping[int, PairValues] | None = None
    ) -> FloatArray:
        """Total match weight of each pair. ``exact_values[column]`` gives the compared
        value of each pair for term-frequency adjustment of that column's exact level."""
        total = np.full(len(vectors), self.prior_weight)
        for column, table in enumerate(self.weight_table()):
            levels = vectors[:, column]
            present = levels != MISSING
            total[present] += table[levels[present]]
            params = self.comparisons[column]
            if exact_values is not None and column in exact_values and params.term_frequencies:
                total += self._tf_adjustment(params, levels, exact_values[column])
        return total

    def score(self, levels: Sequence[int], exact_values: Sequence[str | None]) -> Score:
        """One pair's score with each comparison's contribution (the explanation)."""
        contributions = []
        weight = self.prior_weight
        for params, level, value in zip(self.comparisons, levels, exact_values, strict=True):
            if level == MISSING:
                contributions.append(Contribution(params.name, "missing", 0.0))
                continue
            w = params.weight(level)
            if level == 0 and value and params.term_frequencies:
                w = _tf_weight(params, value)
            contributions.append(Contribution(params.name, params.levels[level], w))
            weight += w
        return Score(weight, probability(weight), tuple(contributions))

    def level_weights(self, column: int, value: str | None) -> list[float]:
        """The weight of each level of one comparison for pairs with ``value`` on one side
        (the exact level term-frequency adjusted), as :meth:`score` weighs them: many pairs
        sharing that side (a search's probe against its candidates) read one table."""
        params = self.comparisons[column]
        weights = [params.weight(level) for level in range(len(params.levels))]
        if value and params.term_frequencies:
            weights[0] = _tf_weight(params, value)
        return weights

    def explainer(self) -> Explainer:
        """Scores and explanations of many pairs, equal to :meth:`score`'s, faster."""
        return Explainer(self)

    @staticmethod
    def _tf_adjustment(
        params: ComparisonParameters, levels: Vectors, values: PairValues
    ) -> FloatArray:
        adjust = np.zeros(len(levels))
        base = params.weight(0)
        exact = np.flatnonzero(levels == 0)
        # One term-frequency weight per distinct value, not per pair.
        codes, uniques = pd.factorize(np.asarray(values, dtype=object)[exact])
        shift = np.array(
            [_tf_weight(params, v) - base if v else 0.0 for v in uniques] + [0.0],
            dtype=np.float64,
        )
        adjust[exact] = shift[codes]  # code -1 (missing) takes the trailing 0.0
        return adjust

    def _params(self, name: str) -> ComparisonParameters:
        for params in self.comparisons:
            if params.name == name:
                return params
        raise KeyError(name)

    # -- persistence -----------------------------------------------------------------------

    def to_document(self) -> dict[str, JSONValue]:
        return {
            "version": MODEL_VERSION,
            "prior": self.prior,
            "trained_on": self.trained_on,
            "comparisons": [
                {
                    "name": p.name,
                    "levels": [
                        {"name": name, "m": m, "u": u}
                        for name, m, u in zip(p.levels, p.m, p.u, strict=True)
                    ],
                    "term_frequencies": p.term_frequencies,
                    **(
                        {"term_frequency_total": p.term_frequency_total}
                        if p.term_frequency_total is not None
                        else {}
                    ),
                }
                for p in self.comparisons
            ],
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, JSONValue], path: str = "match model") -> MatchModel:
        if doc.get("version") != MODEL_VERSION:
            raise ConfigError(
                f"model version {doc.get('version')!r} is not {MODEL_VERSION}: retrain it "
                "with `idgraph train`",
                path=path,
                field="version",
            )
        try:
            comparisons = [
                ComparisonParameters(
                    name=str(c["name"]),
                    levels=tuple(str(level["name"]) for level in c["levels"]),
                    m=[float(level["m"]) for level in c["levels"]],
                    u=[float(level["u"]) for level in c["levels"]],
                    term_frequencies={
                        str(k): float(v) for k, v in c.get("term_frequencies", {}).items()
                    },
                    term_frequency_total=(
                        int(c["term_frequency_total"]) if "term_frequency_total" in c else None
                    ),
                )
                for c in doc["comparisons"]
            ]
            return cls(float(doc["prior"]), comparisons, dict(doc.get("trained_on", {})))
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigError(f"malformed match model: {error}", path=path) from error


class Explainer:
    """:meth:`MatchModel.score` and :meth:`Score.evidence` for one pair after another, with
    every level's weight, rounded weight and name looked up once and each term-frequency
    weight computed once per value: linking a million records explains a million pairs.
    The sums run in the same order as :meth:`MatchModel.score`, so the figures are equal.

    Each field's part of the evidence is also kept encoded as the stores encode it
    (:func:`identity.store.changes.dumps`), per level and per term-frequency value, so
    that :meth:`explain_encoded` gives a pair's evidence as text by joining them:
    encoding each pair's evidence whole cost about as much as explaining it."""

    def __init__(self, model: MatchModel) -> None:
        self._prior = model.prior_weight
        self._columns = [
            (
                p.name,
                p.levels,
                [p.weight(level) for level in range(len(p.levels))],
                [round(p.weight(level), 3) for level in range(len(p.levels))],
                p if p.term_frequencies else None,
            )
            for p in model.comparisons
        ]
        self._encoded = [
            (
                [_encoded_field(name, names[level], rounded[level]) for level in range(len(names))],
                _encoded_field(name, "missing", 0.0),
            )
            for name, names, _, rounded, _ in self._columns
        ]
        self._tf: dict[tuple[int, str], tuple[float, float, str]] = {}

    def explain(
        self, levels: Sequence[int], exact_values: Sequence[str | None]
    ) -> tuple[float, dict[str, JSONValue]]:
        """The pair's match probability and its evidence (as ``score(...).evidence()``)."""
        chance, evidence, _ = self.explain_encoded(levels, exact_values)
        return chance, evidence

    def explain_encoded(
        self, levels: Sequence[int], exact_values: Sequence[str | None]
    ) -> tuple[float, dict[str, JSONValue], str | None]:
        """:meth:`explain`, and its evidence encoded as ``dumps(evidence)`` encodes it; None
        where a weight is not finite (JSON spells those its own way: encode it whole)."""
        weight = self._prior
        fields: dict[str, JSONValue] = {}
        parts: list[str] = []
        for column, level in enumerate(levels):
            name, names, weights, rounded, tf = self._columns[column]
            encoded, missing = self._encoded[column]
            if level == MISSING:
                fields[name] = {"level": "missing", "weight": 0.0}
                parts.append(missing)
                continue
            value = exact_values[column]
            if level == 0 and tf is not None and value:
                found = self._tf.get((column, value))
                if found is None:
                    w = _tf_weight(tf, value)
                    found = self._tf[(column, value)] = (
                        w,
                        round(w, 3),
                        _encoded_field(name, names[level], round(w, 3)),
                    )
                w, shown, part = found
            else:
                w, shown, part = weights[level], rounded[level], encoded[level]
            fields[name] = {"level": names[level], "weight": shown}
            parts.append(part)
            weight += w
        chance = probability(weight)
        evidence: dict[str, JSONValue] = {
            "match_weight": round(weight, 3),
            "match_probability": round(chance, 6),
            "fields": fields,
        }
        if not (math.isfinite(weight) and math.isfinite(chance)):
            return chance, evidence, None
        text = (
            f'{{"match_weight":{float.__repr__(round(weight, 3))},'
            f'"match_probability":{float.__repr__(round(chance, 6))},'
            f'"fields":{{{",".join(parts)}}}}}'
        )
        return chance, evidence, text


def _encoded_field(name: str, level: str, shown: float) -> str:
    """One field's part of the evidence, ``"name":{"level":...,"weight":...}``, as
    ``dumps`` encodes it (floats as ``float.__repr__``, which json uses; a weight that is
    not finite would be spelled wrongly, but then neither is the pair's, whose evidence
    :meth:`Explainer.explain_encoded` leaves to ``dumps``)."""
    return f'{dumps(name)}:{{"level":{dumps(level)},"weight":{float.__repr__(float(shown))}}}'


def probability(weight: float) -> float:
    """Match probability of a match weight (log2 odds)."""
    if weight > 60:
        return 1.0
    odds: float = 2.0**weight
    return odds / (1.0 + odds)


def probabilities(weights: npt.ArrayLike) -> FloatArray:
    """:func:`probability` of each of many match weights."""
    w = np.asarray(weights, dtype=np.float64)
    odds = np.power(2.0, np.minimum(w, 60.0))
    found: FloatArray = np.where(w > 60, 1.0, odds / (1.0 + odds))
    return found


def _tf_weight(params: ComparisonParameters, value: str) -> float:
    """The exact level's weight with u = how often this value occurs (at least u's floor)."""
    tf = params.term_frequencies.get(value)
    u = tf if tf is not None else min(params.term_frequencies.values(), default=params.u[0])
    return math.log2(max(params.m[0], _FLOOR) / max(u, _FLOOR))


def _patterns(
    vectors: Vectors, level_counts: Sequence[int]
) -> tuple[Vectors, npt.NDArray[np.int64]]:
    """The distinct rows of ``vectors`` in lexicographic order, and how often each occurs.

    Each row is packed into one integer (level + 1 per column, column 0 most significant),
    which orders as the rows do, so this equals ``np.unique(vectors, axis=0)`` at the cost
    of a one-dimensional sort.
    """
    radices = [n + 1 for n in level_counts]
    if math.prod(radices) >= 2**62:  # too wide to pack: the row-wise unique
        found, counts = np.unique(vectors, axis=0, return_counts=True)
        return found, counts
    packed = np.zeros(len(vectors), dtype=np.int64)
    for column, radix in enumerate(radices):
        packed = packed * radix + (vectors[:, column].astype(np.int64) + 1)
    _, first, counts = np.unique(packed, return_index=True, return_counts=True)
    return vectors[first], counts


def _level_counts(levels: Vectors, n: int, weights: FloatArray | None) -> FloatArray:
    present = levels != MISSING
    counts: FloatArray = np.bincount(
        levels[present].astype(np.int64),
        weights=None if weights is None else weights[present],
        minlength=n,
    ).astype(np.float64)
    return counts


def _smoothed(counts: FloatArray) -> list[float]:
    """Proportions with a tiny pseudo-count so no level has probability zero."""
    smoothed = counts + 1e-3
    return [float(x) for x in smoothed / smoothed.sum()]
