"""Batch probabilistic linkage: blocking with recordlinkage's indexers, comparison vectors,
training the Fellegi-Sunter model without labels, and scoring candidate pairs.

Works on a pandas frame of match fields (one row per record, index = record id, string
values already normalised, missing as None). Several blocking rules are unioned; each rule
is a list of keys, a key being a field or a derived form of it (``surname:sound``,
``given_name:first2``, ``date_of_birth:year``), or a sorted neighbourhood over one key
(:class:`identity.rules.SortedNeighbourhoodRule`). A key value held by more records than
``max_block_size`` gives no candidates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import jellyfish
import numpy as np
import numpy.typing as npt
import pandas as pd

from identity.errors import ConfigError
from identity.matching.chunk_workers import default_chunk_workers, over_chunks
from identity.matching.comparisons import (
    KINDS,
    Comparison,
    Strings,
    local_part,
)
from identity.matching.model import MatchModel, Vectors, probabilities
from identity.matching.pairs import PairComparer, Positions, compared_values
from identity.rules import (
    DEFAULT_CHUNK_PAIRS,
    DEFAULT_EM_SAMPLE_PAIRS,
    DEFAULT_MAX_BLOCK_SIZE,
    BlockingRule,
    SortedNeighbourhoodRule,
    rule_keys,
)

_DERIVED: dict[str, Callable[[str | None], str | None]] = {
    "sound": lambda v: str(jellyfish.metaphone(v)) if v else None,
    "first2": lambda v: v[:2] if v else None,
    "first3": lambda v: v[:3] if v else None,
    # An initial meets every name it begins (``j`` and ``john``), as the initial level
    # compares them.
    "first1": lambda v: v[:1] if v else None,
    # An e-mail's local part as the same-local-part level compares it, +tag and separators
    # dropped (``john.smith+news@gmail.com``: johnsmith), so one handle at two providers
    # meets. Digits stay: the level needs them equal (``john.smith2`` is a namesake).
    "local": lambda v: local_part(v).handle or None if v else None,
    "year": lambda v: v[:4] if v else None,
    "last4": lambda v: v[-4:] if v else None,
    "token1": lambda v: v.split()[0] if v and v.split() else None,
}

Progress = Callable[[str, int, int | None], None]
"""Told the phase of a long job (``"scoring candidate pairs"``), how much of it is done and
out of how much (None: not known ahead)."""


@dataclass(frozen=True, slots=True)
class LinkageSettings:
    """Which fields are compared how, how candidates are blocked, and the thresholds."""

    comparisons: tuple[Comparison, ...]
    blocking: tuple[BlockingRule, ...]
    link_threshold: float = 0.9
    """Match probability at or above which a pair becomes a link."""
    review_threshold: float = 0.5
    """Match probability at or above which (and below link) a pair is queued for review."""
    max_block_size: int = DEFAULT_MAX_BLOCK_SIZE
    """A rule's key value held by more records than this gives no candidates."""
    chunk_pairs: int = DEFAULT_CHUNK_PAIRS
    """Candidate pairs compared (and scored) at a time: memory, never results."""
    em_sample_pairs: int = DEFAULT_EM_SAMPLE_PAIRS
    """At most this many of each blocking rule's candidate pairs train m by EM, and of all
    candidates the prior (seeded samples beyond it)."""

    @classmethod
    def build(
        cls,
        fields: dict[str, str],
        blocking: Sequence[Sequence[str] | SortedNeighbourhoodRule],
        link_threshold: float = 0.9,
        review_threshold: float = 0.5,
        max_block_size: int = DEFAULT_MAX_BLOCK_SIZE,
        chunk_pairs: int = DEFAULT_CHUNK_PAIRS,
        em_sample_pairs: int = DEFAULT_EM_SAMPLE_PAIRS,
    ) -> LinkageSettings:
        """From ``{field: comparison kind}`` and blocking rules; ConfigError naming a bad one."""
        comparisons = []
        for name, kind in fields.items():
            if kind not in KINDS:
                raise ConfigError(
                    f"unknown comparison kind '{kind}' (known: {', '.join(sorted(KINDS))})",
                    field=f"comparisons.{name}",
                )
            comparisons.append(_resolved(KINDS[kind](name), fields))
        rules: list[BlockingRule] = [
            rule if isinstance(rule, SortedNeighbourhoodRule) else tuple(rule) for rule in blocking
        ]
        for number, rule in enumerate(rules, start=1):
            if isinstance(rule, SortedNeighbourhoodRule) and (
                rule.window < 1 or rule.window % 2 == 0
            ):
                raise ConfigError(
                    f"window must be a positive odd number, got {rule.window}",
                    field=f"blocking[{number}].window",
                )
            for key in rule_keys(rule):
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
        for name, value in (
            ("max_block_size", max_block_size),
            ("chunk_pairs", chunk_pairs),
            ("em_sample_pairs", em_sample_pairs),
        ):
            if value < 1:
                raise ConfigError("must be a positive integer", field=name)
        return cls(
            tuple(comparisons),
            tuple(rules),
            link_threshold,
            review_threshold,
            max_block_size,
            chunk_pairs,
            em_sample_pairs,
        )


def _fields_of_kinds(kinds: tuple[str, ...], fields: dict[str, str]) -> tuple[str, ...]:
    """Per comparison kind, the field of that kind (``first_name`` and ``last_name`` first,
    as the packaged rules name them); empty unless every kind has a field."""
    found = []
    for kind in kinds:
        named = [name for name, k in fields.items() if k == kind]
        preferred = "last_name" if kind == "name" else kind
        if not named:
            return ()
        found.append(preferred if preferred in named else named[0])
    return tuple(found)


def _resolved(comparison: Comparison, fields: dict[str, str]) -> Comparison:
    """The comparison with its part and overlapping fields named in this configuration."""
    if comparison.parts is not None:
        parts = replace(comparison.parts, fields=_fields_of_kinds(comparison.parts.kinds, fields))
        comparison = replace(comparison, parts=parts)
    if comparison.overlap is not None:
        found = _fields_of_kinds(comparison.overlap.kinds, fields)
        comparison = replace(comparison, overlap=replace(comparison.overlap, fields=found))
    return comparison


@dataclass(slots=True)
class ScoredPairs:
    """Candidate pairs with their comparison vectors, match weights and probabilities."""

    left: np.ndarray
    right: np.ndarray
    vectors: Vectors
    weights: np.ndarray
    probabilities: np.ndarray = field(init=False)
    capped: BlockingCap = field(default_factory=lambda: BlockingCap())
    """Key values blocking skipped as oversized (batch scoring only)."""
    candidates: int = 0
    """Candidate pairs scored (batch scoring only): more than these pairs when only the
    ones at or above a threshold were kept (:meth:`Linker.score_above`)."""

    def __post_init__(self) -> None:
        self.probabilities = probabilities(self.weights)

    def __len__(self) -> int:
        return len(self.left)


@dataclass(frozen=True, slots=True)
class _Blocked:
    """Candidate pairs as row positions (left frame, right frame), sorted and distinct, and
    for each blocking rule the rows of the union it found (when asked for: training)."""

    left: Positions
    right: Positions
    by_rule: tuple[Positions, ...]
    capped: BlockingCap

    def __len__(self) -> int:
        return len(self.left)


@dataclass(slots=True)
class BlockingCap:
    """Key values that gave no candidates for being held by more than ``max_block_size``
    records, and how many records held them (summed over the rules)."""

    keys: int = 0
    records: int = 0
    largest: list[tuple[int, str]] = field(default_factory=list)
    """The biggest few: (records, ``"<rule number>:<value>"``), largest first."""

    def add(self, number: int, sizes: pd.Series) -> None:
        self.keys += len(sizes)
        self.records += int(sizes.sum())
        found = [(int(n), f"{number}:{key}") for key, n in sizes.items()]
        self.largest = sorted(self.largest + found, reverse=True)[:5]


def _block_pairs(keys: list[pd.DataFrame]) -> tuple[Positions, Positions]:
    """The pairs of rows agreeing on every key column, as recordlinkage's block index
    gives them: a row missing any key pairs with nothing; one frame of keys pairs each
    row with every earlier one (the later row first), two frames pair across them. Made
    group by group with integer arrays, without the self-join of every block recordlinkage
    makes and filters (a block of 2,000 records is 4 million joined rows)."""
    combined = pd.concat(keys, ignore_index=True) if len(keys) > 1 else keys[0]
    grouped = combined.groupby(list(combined.columns), dropna=True, sort=False).ngroup()
    codes = grouped.fillna(-1).to_numpy(dtype=np.int64)
    if len(keys) == 1:
        rows = np.flatnonzero(codes >= 0)
        rows = rows[np.argsort(codes[rows], kind="stable")]  # by group, then position
        groups = codes[rows]
        starts = np.flatnonzero(np.concatenate([[True], groups[1:] != groups[:-1]]))
        first = np.repeat(starts, np.diff(np.append(starts, len(rows))))
        earlier = np.arange(len(rows)) - first  # each row pairs with the ones before it
        left = np.repeat(rows, earlier)
        right = rows[np.repeat(first, earlier) + _ranges(earlier)]
        return left, right
    size = len(keys[0])
    codes_a, codes_b = codes[:size], codes[size:]
    rows_b = np.flatnonzero(codes_b >= 0)
    rows_b = rows_b[np.argsort(codes_b[rows_b], kind="stable")]
    held_b = np.bincount(codes_b[rows_b], minlength=int(codes.max(initial=-1)) + 1)
    start_b = np.cumsum(held_b) - held_b
    rows_a = np.flatnonzero(codes_a >= 0)
    matched = held_b[codes_a[rows_a]]
    left = np.repeat(rows_a, matched)
    right = rows_b[np.repeat(start_b[codes_a[rows_a]], matched) + _ranges(matched)]
    return left, right


def _ranges(counts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """0..count-1 for each count, concatenated (``[2, 0, 3]``: 0 1 0 1 2)."""
    total = int(counts.sum())
    found: npt.NDArray[np.int64] = np.arange(total, dtype=np.int64) - np.repeat(
        np.cumsum(counts) - counts, counts
    )
    return found


class Linker:
    """Blocks, compares, trains and scores over a frame of match fields.

    Pairs are handled as row positions inside the linker: blocking, the union of the rules
    and the per-rule selection for EM are integer-array work, and each comparison runs once
    per distinct pair of values (FEBRL's states, street numbers and common names repeat
    across many pairs), then spreads its levels back over the pairs.
    """

    def __init__(self, settings: LinkageSettings, model: MatchModel | None = None) -> None:
        self.settings = settings
        self.model = model or MatchModel.start(settings.comparisons)

    # -- candidates ------------------------------------------------------------------------

    def _blocking_column(self, frame: pd.DataFrame, base: str) -> Strings:
        """A field's values for blocking: a part of another field (a full name's surname)
        is read from that field where a record has it but not the part
        (:meth:`Comparison.blocking_value`), so records with only a full name meet the
        records with a given name and surname under the same rules."""
        values: Strings = frame[base].to_numpy(dtype=object)
        for comparison in self.settings.comparisons:
            if comparison.parts is None or base not in comparison.part_fields:
                continue
            own = frame[comparison.field].to_numpy(dtype=object)
            borrow = np.flatnonzero(~values.astype(bool) & own.astype(bool))
            if len(borrow):
                values = values.copy()
                position = comparison.part_fields.index(base)
                split = comparison.parts.split
                values[borrow] = [split(str(v))[position] for v in own[borrow]]
        return values

    def _keys(self, frame: pd.DataFrame, rule: BlockingRule) -> pd.DataFrame:
        """The rule's blocking keys, one column per key, rows by position."""
        columns: dict[str, object] = {}
        for number, key in enumerate(rule_keys(rule)):
            base, _, form = key.partition(":")
            values = self._blocking_column(frame, base)
            if form:
                # Derived once per distinct value; missing (code -1) stays missing.
                codes, uniques = pd.factorize(values)
                derive = _DERIVED[form]
                mapped = np.array([derive(v) for v in uniques] + [None], dtype=object)
                values = mapped[codes]
            columns[f"key_{number}"] = values
        return pd.DataFrame(columns, index=pd.RangeIndex(len(frame)))

    def blocking_keys(self, frame: pd.DataFrame, rule: BlockingRule) -> pd.DataFrame:
        """A rule's blocking keys of the records of a frame, as this linker blocks on them
        (one column per key, rows by position, missing as None): for another engine that
        blocks itself and must find the same pairs."""
        return self._keys(frame, rule)

    def _drop_oversized(
        self, number: int, keys: list[pd.DataFrame], capped: BlockingCap
    ) -> list[pd.DataFrame]:
        """The key frames without the rows whose key values (all of them together, over
        every frame) are held by more than ``max_block_size`` records."""
        combined = pd.concat(keys, ignore_index=True) if len(keys) > 1 else keys[0]
        names = list(combined.columns)
        grouped = combined.groupby(names, dropna=True, sort=False).ngroup()
        group = grouped.fillna(-1).to_numpy(dtype=np.int64)
        held = group >= 0
        sizes = np.bincount(group[held]) if held.any() else np.zeros(0, dtype=np.int64)
        over = np.flatnonzero(sizes > self.settings.max_block_size)
        if len(over) == 0:
            return keys
        dropped = np.zeros(len(combined), dtype=bool)
        dropped[held] = np.isin(group[held], over)
        first = pd.Series(np.flatnonzero(dropped)).groupby(group[dropped]).first()
        labels = combined.iloc[first.to_numpy()].astype(str).agg("|".join, axis=1)
        capped.add(number, pd.Series(sizes[first.index.to_numpy()], index=labels.to_numpy()))
        out = []
        start = 0
        for part in keys:
            drop = dropped[start : start + len(part)]
            start += len(part)
            # A missing first key drops the row from the indexer, as any missing key does.
            cleared = part.copy()
            cleared.loc[drop, "key_0"] = None
            out.append(cleared)
        return out

    def _rule_pairs(
        self,
        number: int,
        rule: BlockingRule,
        frame: pd.DataFrame,
        other: pd.DataFrame | None,
        capped: BlockingCap,
    ) -> tuple[Positions, Positions]:
        """One rule's pairs as row positions: a block rule's by :func:`_block_pairs` (the
        pairs recordlinkage's block index gives), a sorted neighbourhood's by
        recordlinkage's indexer."""
        keys = [self._keys(frame, rule)] + ([] if other is None else [self._keys(other, rule)])
        keys = self._drop_oversized(number, keys, capped)
        if not isinstance(rule, SortedNeighbourhoodRule):
            return _block_pairs(keys)
        names = list(keys[0].columns)
        # Imported here: recordlinkage brings scikit-learn and SciPy's statistics, most of
        # the time and memory of importing the domain, for the batch linker alone (every
        # API process, export process and CLI command imports this module).
        import recordlinkage.index

        indexer = recordlinkage.index.SortedNeighbourhood(
            left_on=names[0], window=rule.window, block_on=names[1:]
        )
        found: pd.MultiIndex = indexer.index(*keys)
        # The keys frames are indexed by position, so the pair labels are the positions.
        return (
            found.get_level_values(0).to_numpy(dtype=np.int64),
            found.get_level_values(1).to_numpy(dtype=np.int64),
        )

    def _block(
        self, frame: pd.DataFrame, other: pd.DataFrame | None, by_rule: bool = False
    ) -> _Blocked:
        for named, data in (("frame", frame), ("other frame", other)):
            if data is not None and not data.index.is_unique:
                raise ValueError(f"the {named}'s index (record ids) is not unique")
        width = max(len(frame if other is None else other), 1)
        keys = []
        capped = BlockingCap()
        for number, rule in enumerate(self.settings.blocking):
            left, right = self._rule_pairs(number, rule, frame, other, capped)
            # Sorted, so a rule's sample (training) does not depend on how it was found.
            keys.append(np.sort(left * width + right))
        # Sorted and distinct; np.unique's hashing took 11 s for 4 million pairs.
        union = np.sort(np.concatenate(keys)) if keys else np.empty(0, dtype=np.int64)
        if len(union):
            union = union[np.concatenate([[True], union[1:] != union[:-1]])]
        rows = tuple(np.searchsorted(union, found) for found in keys) if by_rule else ()
        return _Blocked(union // width, union % width, rows, capped)

    @staticmethod
    def _index(blocked: _Blocked, frame: pd.DataFrame, other: pd.DataFrame | None) -> pd.MultiIndex:
        """The pairs as a MultiIndex of record ids, named as recordlinkage names them."""
        right = frame if other is None else other
        name_left, name_right = frame.index.name, right.index.name
        if name_left is not None and name_left == name_right:
            names = [f"{name_left}_1", f"{name_right}_2"]
        else:
            names = [name_left, name_right]
        return pd.MultiIndex(
            levels=[frame.index, right.index],
            codes=[blocked.left, blocked.right],
            names=names,
            verify_integrity=False,
        )

    def candidate_pairs(
        self, frame: pd.DataFrame, other: pd.DataFrame | None = None
    ) -> pd.MultiIndex:
        """The union of every blocking rule's pairs (deduplication, or linking two frames)."""
        return self._index(self._block(frame, other), frame, other)

    def oversized_keys(self, frame: pd.DataFrame, other: pd.DataFrame | None = None) -> BlockingCap:
        """The key values that blocking skips for being held by too many records."""
        return self._block(frame, other).capped

    # -- comparison ------------------------------------------------------------------------

    def compare(
        self, pairs: pd.MultiIndex, frame: pd.DataFrame, other: pd.DataFrame | None = None
    ) -> tuple[Vectors, dict[int, Strings]]:
        """Comparison vectors of the pairs, and the left values of term-frequency columns.

        KeyError if a pair names a record that is not in the frames."""
        right_frame = frame if other is None else other
        left = frame.index.get_indexer(pairs.get_level_values(0))
        right = right_frame.index.get_indexer(pairs.get_level_values(1))
        if (left < 0).any() or (right < 0).any():
            raise KeyError("pairs name records that are not in the frame")
        return self._compare_positions(left, right, frame, other)

    def _compare_positions(
        self,
        left: Positions,
        right: Positions,
        frame: pd.DataFrame,
        other: pd.DataFrame | None,
        progress: Progress | None = None,
        phase: str = "comparing pairs",
    ) -> tuple[Vectors, dict[int, Strings]]:
        """Every pair's vector, compared chunk by chunk (all in memory at the end)."""
        comparer = PairComparer(self.settings, frame, other, left, right)
        vectors = np.empty((len(left), len(self.settings.comparisons)), dtype=np.int8)
        exact: dict[int, Strings] = {
            column: np.empty(len(left), dtype=object) for column in comparer.tf_columns
        }
        chunks = comparer.chunks(at_least=default_chunk_workers())
        for (start, stop), found in over_chunks(comparer.levels, chunks):
            values = comparer.exact(start, stop)
            vectors[start:stop] = found
            for column, chunk in values.items():
                exact[column][start:stop] = chunk
            if progress is not None:
                progress(phase, stop, len(left))
        return vectors, exact

    # -- training and scoring --------------------------------------------------------------

    def train(
        self,
        frame: pd.DataFrame,
        other: pd.DataFrame | None = None,
        random_pairs: int = 200_000,
        seed: int = 42,
        progress: Progress | None = None,
    ) -> MatchModel:
        """u from random pairs, term frequencies from the data, m and prior by EM.

        m and the prior are estimated on at most ``em_sample_pairs`` of each blocking
        rule's candidates and of their union (seeded uniform samples; all of them when
        fewer): a few dozen proportions do not need every one of tens of millions of
        pairs compared."""
        model = MatchModel.start(self.settings.comparisons)
        rng = np.random.default_rng(seed)
        right = frame if other is None else other
        n = min(random_pairs, len(frame) * len(right))
        li = rng.integers(0, len(frame), n)
        ri = rng.integers(0, len(right), n)
        keep = li != ri if other is None else np.ones(n, dtype=bool)
        vectors, _ = self._compare_positions(
            li[keep], ri[keep], frame, other, progress, "comparing random pairs (u)"
        )
        model.estimate_u(vectors)
        combined = frame if other is None else pd.concat([frame, other])
        for comparison in self.settings.comparisons:
            # A field made of parts whose records all have only the parts is never compared
            # (MISSING): no frequencies of every composed full name in the model document.
            if comparison.term_frequency and combined[comparison.field].astype(bool).any():
                values = compared_values(combined, comparison)
                model.estimate_term_frequencies(comparison.name, list(values))
        if progress is not None:
            progress("blocking", 0, None)
        blocked = self._block(frame, other, by_rule=True)
        # Each blocking rule's EM session takes (a sample of) its rows of the union, and
        # the prior a sample of the whole union; the union of the samples is compared once.
        sample_rng = np.random.default_rng(seed)
        limit = self.settings.em_sample_pairs
        rule_rows = [_sample(rows, limit, sample_rng) for rows in blocked.by_rule]
        all_rows = _sample(np.arange(len(blocked), dtype=np.int64), limit, sample_rng)
        chosen = np.unique(np.concatenate([all_rows, *rule_rows]))
        compared, _ = self._compare_positions(
            blocked.left[chosen],
            blocked.right[chosen],
            frame,
            other,
            progress,
            f"comparing {len(chosen):,} of {len(blocked):,} candidates (m)",
        )
        # m by EM in one session per blocking rule, on that rule's pairs, leaving out the
        # comparisons the rule blocks on (blocking made them agree); each comparison's m is
        # the mean over the sessions that estimated it.
        if progress is not None:
            progress("estimating m and the prior (EM)", 0, None)
        estimates: dict[int, list[list[float]]] = {}
        iterations = 0
        for rule, all_of_rule, rows in zip(
            self.settings.blocking, blocked.by_rule, rule_rows, strict=True
        ):
            # A sorted neighbourhood's key mostly agrees too (neighbours are near values).
            blocked_fields = self._blocked_fields(rule)
            columns = [
                i for i, c in enumerate(self.settings.comparisons) if c.field not in blocked_fields
            ]
            if not columns or len(rows) == 0:
                continue
            session = MatchModel.from_document(model.to_document())
            # The starting prior from the rule's whole count, not its sample's.
            session.prior = min(0.5, max(1e-6, len(frame) / len(all_of_rule) * 0.5))
            iterations += session.estimate_m(
                compared[np.searchsorted(chosen, rows)], columns=columns
            )
            for i in columns:
                estimates.setdefault(i, []).append(session.comparisons[i].m)
        for i, found in estimates.items():
            mean = np.mean(np.asarray(found), axis=0)
            model.comparisons[i].m = [float(x) for x in mean / mean.sum()]
        # The share of matches among the candidates, with m and u now fixed, scaled to the
        # prior of two random records matching: scores then read as for any pair, so a
        # candidate links on its evidence, not for having passed blocking.
        model.prior = min(0.5, max(1e-6, len(frame) / max(len(blocked), 1) * 0.5))
        model.estimate_m(compared[np.searchsorted(chosen, all_rows)], update_m=False)
        n = len(frame)
        all_pairs = n * (n - 1) / 2 if other is None else n * len(other)
        model.prior = min(0.5, max(1e-12, model.prior * len(blocked) / max(all_pairs, 1.0)))
        model.trained_on = {
            "records": len(combined),
            "random_pairs": len(vectors),
            "candidate_pairs": len(blocked),
            "em_pairs": len(chosen),
            "em_iterations": iterations,
            "oversized_blocking_keys": blocked.capped.keys,
        }
        self.model = model
        return model

    def _blocked_fields(self, rule: BlockingRule) -> set[str]:
        """The fields a rule's pairs mostly agree on: its keys' fields; a field made of
        parts where a part is blocked on (records with only a full name are blocked by its
        words: the surname rule makes full names agree); its parts where it is."""
        keys = {key.partition(":")[0] for key in rule_keys(rule)}
        found = set(keys)
        for comparison in self.settings.comparisons:
            parts = set(comparison.part_fields)
            if parts & keys:
                found.add(comparison.field)
            if comparison.field in keys:
                found |= parts
        return found

    def score(
        self, frame: pd.DataFrame, other: pd.DataFrame | None = None
    ) -> tuple[pd.MultiIndex, ScoredPairs]:
        """Every candidate pair with its weight and probability under the current model
        (all of them in memory: :meth:`score_above` keeps only the pairs that count)."""
        blocked = self._block(frame, other)
        vectors, exact = self._compare_positions(blocked.left, blocked.right, frame, other)
        weights = self.model.weights(vectors, exact)
        right = frame if other is None else other
        scored = ScoredPairs(
            frame.index.to_numpy()[blocked.left],
            right.index.to_numpy()[blocked.right],
            vectors,
            weights,
        )
        scored.capped = blocked.capped
        scored.candidates = len(blocked)
        return self._index(blocked, frame, other), scored

    def score_above(
        self,
        frame: pd.DataFrame,
        threshold: float,
        other: pd.DataFrame | None = None,
        progress: Progress | None = None,
    ) -> ScoredPairs:
        """The candidate pairs whose match probability is at least ``threshold``, in the
        order :meth:`score` gives them, with equal vectors and weights; ``candidates``
        counts every pair scored. Pairs are compared and scored ``chunk_pairs`` at a time
        and only the kept ones stay, so memory follows the links, not the candidates.
        """
        if progress is not None:
            progress("blocking", 0, None)
        blocked = self._block(frame, other)
        comparer = PairComparer(self.settings, frame, other, blocked.left, blocked.right)
        model = self.model

        def kept_of(start: int, stop: int) -> tuple[Positions, Vectors, npt.NDArray[np.float64]]:
            vectors, exact = comparer.compare(start, stop)
            weights = model.weights(vectors, exact)
            at = np.flatnonzero(probabilities(weights) >= threshold)
            return at + start, vectors[at], weights[at]

        kept: list[tuple[Positions, Vectors, npt.NDArray[np.float64]]] = []
        chunks = comparer.chunks(at_least=default_chunk_workers())
        for (_, stop), found in over_chunks(kept_of, chunks):
            kept.append(found)
            if progress is not None:
                progress("scoring candidate pairs", stop, len(blocked))
        rows = np.concatenate([k[0] for k in kept]) if kept else np.empty(0, dtype=np.int64)
        width = len(self.settings.comparisons)
        right = frame if other is None else other
        scored = ScoredPairs(
            frame.index.to_numpy()[blocked.left[rows]],
            right.index.to_numpy()[blocked.right[rows]],
            np.concatenate([k[1] for k in kept]) if kept else np.empty((0, width), np.int8),
            np.concatenate([k[2] for k in kept]) if kept else np.empty(0, np.float64),
        )
        scored.capped = blocked.capped
        scored.candidates = len(blocked)
        return scored


def _sample(rows: Positions, limit: int, rng: np.random.Generator) -> Positions:
    """At most ``limit`` of ``rows``, drawn without replacement, in their order; all of them
    (the same array) when there are no more than that."""
    if len(rows) <= limit:
        return rows
    return rows[np.sort(rng.choice(len(rows), size=limit, replace=False))]
