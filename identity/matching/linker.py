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
from identity.matching.comparisons import (
    KINDS,
    MISSING,
    Comparison,
    LevelIndex,
    Mask,
    Strings,
    local_part,
)
from identity.matching.model import MatchModel, Vectors, probabilities
from identity.rules import (
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

Positions = npt.NDArray[np.int64]
"""Row positions of records in a frame."""


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

    @classmethod
    def build(
        cls,
        fields: dict[str, str],
        blocking: Sequence[Sequence[str] | SortedNeighbourhoodRule],
        link_threshold: float = 0.9,
        review_threshold: float = 0.5,
        max_block_size: int = DEFAULT_MAX_BLOCK_SIZE,
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
        if max_block_size < 1:
            raise ConfigError("must be a positive integer", field="max_block_size")
        return cls(
            tuple(comparisons),
            tuple(rules),
            link_threshold,
            review_threshold,
            max_block_size,
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


def covered_records(frame: pd.DataFrame, comparison: Comparison) -> Mask | None:
    """Which records of a frame have every field the comparison overlaps (a pair of two
    such records: :meth:`Comparison.settle_overlap`); None if it overlaps none."""
    if not comparison.overlap_fields:
        return None
    found: Mask = np.logical_and.reduce(
        [frame[f].to_numpy(dtype=object).astype(bool) for f in comparison.overlap_fields]
    )
    return found


def compared_values(
    frame: pd.DataFrame, comparison: Comparison, rows: Positions | None = None
) -> Strings:
    """A comparison's value of the records of a frame: its own, else its parts joined
    (:meth:`Comparison.value_of`); joined only at ``rows`` if given (the records whose
    pairs need it: joining every first and last name of a million records costs seconds)."""
    values: Strings = frame[comparison.field].to_numpy(dtype=object)
    if comparison.parts is None or not comparison.part_fields:
        return values
    columns = [frame[p].to_numpy(dtype=object) for p in comparison.part_fields]
    fill = np.logical_and.reduce([c.astype(bool) for c in columns]) & ~values.astype(bool)
    if rows is not None:
        wanted = np.zeros(len(values), dtype=bool)
        wanted[rows] = True
        fill &= wanted
    at = np.flatnonzero(fill)
    if len(at):
        values = values.copy()
        join = comparison.parts.join
        values[at] = [join([str(c[i]) for c in columns]) for i in at]
    return values


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

    def __post_init__(self) -> None:
        self.probabilities = probabilities(self.weights)

    def __len__(self) -> int:
        return len(self.left)


@dataclass(frozen=True, slots=True)
class _Blocked:
    """Candidate pairs as row positions (left frame, right frame), sorted and distinct, and
    for each blocking rule the rows of the union it found."""

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
        """One rule's pairs by recordlinkage's blocking or sorted-neighbourhood indexer, as
        row positions."""
        keys = [self._keys(frame, rule)] + ([] if other is None else [self._keys(other, rule)])
        keys = self._drop_oversized(number, keys, capped)
        names = list(keys[0].columns)
        # Imported here: recordlinkage brings scikit-learn and SciPy's statistics, most of
        # the time and memory of importing the domain, for the batch linker alone (every
        # API process, export process and CLI command imports this module).
        import recordlinkage.index

        indexer: recordlinkage.base.BaseIndexAlgorithm
        if isinstance(rule, SortedNeighbourhoodRule):
            indexer = recordlinkage.index.SortedNeighbourhood(
                left_on=names[0], window=rule.window, block_on=names[1:]
            )
        else:
            indexer = recordlinkage.index.Block(left_on=names, right_on=names)
        found: pd.MultiIndex = indexer.index(*keys)
        # The keys frames are indexed by position, so the pair labels are the positions.
        return (
            found.get_level_values(0).to_numpy(dtype=np.int64),
            found.get_level_values(1).to_numpy(dtype=np.int64),
        )

    def _block(self, frame: pd.DataFrame, other: pd.DataFrame | None) -> _Blocked:
        for named, data in (("frame", frame), ("other frame", other)):
            if data is not None and not data.index.is_unique:
                raise ValueError(f"the {named}'s index (record ids) is not unique")
        width = max(len(frame if other is None else other), 1)
        keys = []
        capped = BlockingCap()
        for number, rule in enumerate(self.settings.blocking):
            left, right = self._rule_pairs(number, rule, frame, other, capped)
            keys.append(left * width + right)
        union = np.unique(np.concatenate(keys)) if keys else np.empty(0, dtype=np.int64)
        by_rule = tuple(np.searchsorted(union, found) for found in keys)
        return _Blocked(union // width, union % width, by_rule, capped)

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
    ) -> tuple[Vectors, dict[int, Strings]]:
        vectors = np.empty((len(left), len(self.settings.comparisons)), dtype=np.int8)
        exact: dict[int, Strings] = {}
        for column, comparison in enumerate(self.settings.comparisons):
            covered_a = covered_records(frame, comparison)
            covered_b = covered_a if other is None else covered_records(other, comparison)
            both = None
            needed_left, needed_right = left, right
            if covered_a is not None and covered_b is not None:
                both = covered_a[left] & covered_b[right]
                needed_left, needed_right = left[~both], right[~both]
            if other is None:
                a = compared_values(frame, comparison, np.concatenate([needed_left, needed_right]))
                b = None
            else:
                a = compared_values(frame, comparison, needed_left)
                b = compared_values(other, comparison, needed_right)
            vectors[:, column] = _levels(comparison, a, b, left, right, both)
            if comparison.term_frequency:
                exact[column] = a[left]
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
        li = rng.integers(0, len(frame), n)
        ri = rng.integers(0, len(right), n)
        keep = li != ri if other is None else np.ones(n, dtype=bool)
        vectors, _ = self._compare_positions(li[keep], ri[keep], frame, other)
        model.estimate_u(vectors)
        combined = frame if other is None else pd.concat([frame, other])
        for comparison in self.settings.comparisons:
            # A field made of parts whose records all have only the parts is never compared
            # (MISSING): no frequencies of every composed full name in the model document.
            if comparison.term_frequency and combined[comparison.field].astype(bool).any():
                values = compared_values(combined, comparison)
                model.estimate_term_frequencies(comparison.name, list(values))
        # The candidates are blocked and compared once; each blocking rule's EM session
        # takes its rows of the union.
        blocked = self._block(frame, other)
        compared, _ = self._compare_positions(blocked.left, blocked.right, frame, other)
        # m by EM in one session per blocking rule, on that rule's pairs, leaving out the
        # comparisons the rule blocks on (blocking made them agree); each comparison's m is
        # the mean over the sessions that estimated it.
        estimates: dict[int, list[list[float]]] = {}
        iterations = 0
        for rule, rows in zip(self.settings.blocking, blocked.by_rule, strict=True):
            # A sorted neighbourhood's key mostly agrees too (neighbours are near values).
            blocked_fields = self._blocked_fields(rule)
            columns = [
                i for i, c in enumerate(self.settings.comparisons) if c.field not in blocked_fields
            ]
            if not columns or len(rows) == 0:
                continue
            session = MatchModel.from_document(model.to_document())
            session.prior = min(0.5, max(1e-6, len(frame) / len(rows) * 0.5))
            iterations += session.estimate_m(compared[rows], columns=columns)
            for i in columns:
                estimates.setdefault(i, []).append(session.comparisons[i].m)
        for i, found in estimates.items():
            mean = np.mean(np.asarray(found), axis=0)
            model.comparisons[i].m = [float(x) for x in mean / mean.sum()]
        # The share of matches among the candidates, with m and u now fixed, scaled to the
        # prior of two random records matching: scores then read as for any pair, so a
        # candidate links on its evidence, not for having passed blocking.
        model.prior = min(0.5, max(1e-6, len(frame) / max(len(blocked), 1) * 0.5))
        model.estimate_m(compared, update_m=False)
        n = len(frame)
        all_pairs = n * (n - 1) / 2 if other is None else n * len(other)
        model.prior = min(0.5, max(1e-12, model.prior * len(blocked) / max(all_pairs, 1.0)))
        model.trained_on = {
            "records": len(combined),
            "random_pairs": len(vectors),
            "candidate_pairs": len(blocked),
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
        """Every candidate pair with its weight and probability under the current model."""
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
        return self._index(blocked, frame, other), scored


def _levels(
    comparison: Comparison,
    a: Strings,
    b: Strings | None,
    left: Positions,
    right: Positions,
    both: Mask | None = None,
) -> LevelIndex:
    """The comparison's level of each pair (``a[left[i]]``, ``b[right[i]]``), computed once
    per distinct pair of values. ``b`` is None when both sides come from ``a``. The pairs
    in ``both`` (both records have the comparison's overlapping fields) are settled by
    :meth:`Comparison.settle_overlap` without running the levels."""
    # One code per distinct value over both sides; None and NaN (code -1) and "" are not
    # present, and a pair with a side not present is MISSING.
    codes, uniques = pd.factorize(a if b is None else np.concatenate([a, b]))
    valid = np.fromiter((bool(v) for v in uniques), bool, len(uniques))
    codes = np.where(codes >= 0, codes, len(uniques))
    valid = np.append(valid, False)
    codes_a = codes[: len(a)]
    codes_b = codes_a if b is None else codes[len(a) :]
    at_a, at_b = codes_a[left], codes_b[right]
    present = valid[at_a] & valid[at_b]
    settled = None
    if both is not None:
        settled = present & both
        present &= ~both
    width = len(uniques) + 1
    pair_codes = at_a[present].astype(np.int64) * width + at_b[present]
    inverse, distinct = pd.factorize(pair_codes)
    found = comparison.compare(
        uniques[distinct // width].tolist(), uniques[distinct % width].tolist()
    )
    out = np.full(len(left), MISSING, dtype=np.int8)
    out[present] = found[inverse]
    if settled is not None:
        comparison.settle_overlap(out, settled, at_a == at_b)
    return out
