"""Comparison vectors of candidate pairs: each record's compared values worked out once
over a frame, then pairs compared a chunk at a time (in worker processes when there are
many: identity/matching/chunk_workers.py). The linker (identity/matching/linker.py)
blocks, trains and scores; this module is what it compares with."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from identity.matching.comparisons import MISSING, Comparison, LevelIndex, Mask, Strings
from identity.matching.model import Vectors

if TYPE_CHECKING:
    from identity.matching.linker import LinkageSettings

Positions = npt.NDArray[np.int64]
"""Row positions of records in a frame."""


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


_FEWEST_PAIRS_PER_WORKER = 100_000
"""Below this, a chunk of pairs is compared faster here than a worker process starts."""


class PairComparer:
    """Comparison vectors of many pairs of records, a chunk of pairs at a time.

    Whatever belongs to a record, not a pair (its compared value, a full name joined from
    its parts, whether it has the overlapping fields, the code of its value), is worked out
    once over the frame; a chunk then costs integer-array work over its pairs plus each
    comparison run once per distinct pair of values in it (FEBRL's states, street numbers
    and common names repeat across many pairs), its levels spread back over the pairs.
    A pair's levels depend on its two values alone, so the vectors do not depend on where
    the chunks fall.
    """

    def __init__(
        self,
        settings: LinkageSettings,
        frame: pd.DataFrame,
        other: pd.DataFrame | None,
        left: Positions,
        right: Positions,
    ) -> None:
        self.settings = settings
        self.left = left
        self.right = right
        self.columns = [
            _ComparedColumn(comparison, frame, other, left, right, settings.chunk_pairs)
            for comparison in settings.comparisons
        ]
        self.tf_columns = [
            i for i, comparison in enumerate(settings.comparisons) if comparison.term_frequency
        ]

    def __len__(self) -> int:
        return len(self.left)

    def chunks(self, at_least: int = 1) -> list[tuple[int, int]]:
        """(start, stop) of each chunk of at most ``chunk_pairs`` pairs, in order; at
        least ``at_least`` of them (one per worker) when there are enough pairs to be
        worth a process."""
        size = min(
            self.settings.chunk_pairs, max(_FEWEST_PAIRS_PER_WORKER, -(-len(self) // at_least))
        )
        return [(start, min(start + size, len(self.left))) for start in range(0, len(self), size)]

    def compare(self, start: int, stop: int) -> tuple[Vectors, dict[int, Strings]]:
        """The vectors of pairs ``start:stop``, and the left record's compared value of
        each term-frequency column (what the model's exact level is adjusted by)."""
        return self.levels(start, stop), self.exact(start, stop)

    def levels(self, start: int, stop: int) -> Vectors:
        """The vectors of pairs ``start:stop``: the comparisons' work."""
        left, right = self.left[start:stop], self.right[start:stop]
        vectors = np.empty((len(left), len(self.columns)), dtype=np.int8)
        for number, column in enumerate(self.columns):
            vectors[:, number] = column.levels(left, right)
        return vectors

    def exact(self, start: int, stop: int) -> dict[int, Strings]:
        """The left record's compared value of each term-frequency column of pairs
        ``start:stop``: a lookup, cheaper here than pickled back from a worker."""
        left = self.left[start:stop]
        return {number: self.columns[number].values_a[left] for number in self.tf_columns}


class _ComparedColumn:
    """One comparison's per-record state over a frame (and another frame, linking two)."""

    def __init__(
        self,
        comparison: Comparison,
        frame: pd.DataFrame,
        other: pd.DataFrame | None,
        left: Positions,
        right: Positions,
        chunk: int,
    ) -> None:
        self.comparison = comparison
        self.covered_a = covered_records(frame, comparison)
        self.covered_b = self.covered_a if other is None else covered_records(other, comparison)
        # A field made of parts is joined from them only at the records of pairs that
        # compare it (not both covered): joining every first and last name of a million
        # records costs seconds. Those records are found a chunk of pairs at a time.
        wanted_a: Positions | None = None
        wanted_b: Positions | None = None
        if comparison.parts is not None and comparison.part_fields:
            mask_a = np.zeros(len(frame), dtype=bool)
            mask_b = mask_a if other is None else np.zeros(len(other), dtype=bool)
            for start in range(0, len(left), chunk):
                needed_left, needed_right = (
                    left[start : start + chunk],
                    right[start : start + chunk],
                )
                if self.covered_a is not None and self.covered_b is not None:
                    compares = ~(self.covered_a[needed_left] & self.covered_b[needed_right])
                    needed_left, needed_right = needed_left[compares], needed_right[compares]
                mask_a[needed_left] = True
                mask_b[needed_right] = True
            wanted_a, wanted_b = np.flatnonzero(mask_a), np.flatnonzero(mask_b)
        a = compared_values(frame, comparison, wanted_a)
        b = a if other is None else compared_values(other, comparison, wanted_b)
        self.values_a: Strings = a
        # One code per distinct value over both sides; None and NaN (code -1) and "" are
        # not present, and a pair with a side not present is MISSING.
        codes, uniques = pd.factorize(a if other is None else np.concatenate([a, b]))
        valid = np.fromiter((bool(v) for v in uniques), bool, len(uniques))
        self.codes = np.where(codes >= 0, codes, len(uniques))
        self.valid = np.append(valid, False)
        self.uniques: Strings = np.asarray(uniques, dtype=object)
        self.codes_a = self.codes[: len(a)]
        self.codes_b = self.codes_a if other is None else self.codes[len(a) :]

    def levels(self, left: Positions, right: Positions) -> LevelIndex:
        """The comparison's level of each pair (``left[i]``, ``right[i]``). The pairs whose
        records both have the comparison's overlapping fields are settled by
        :meth:`Comparison.settle_overlap` without running the levels."""
        comparison = self.comparison
        at_a, at_b = self.codes_a[left], self.codes_b[right]
        present = self.valid[at_a] & self.valid[at_b]
        settled = None
        if self.covered_a is not None and self.covered_b is not None:
            both = self.covered_a[left] & self.covered_b[right]
            settled = present & both
            present &= ~both
        width = len(self.uniques) + 1
        pair_codes = at_a[present].astype(np.int64) * width + at_b[present]
        inverse, distinct = pd.factorize(pair_codes)
        found = comparison.compare(
            self.uniques[distinct // width].tolist(), self.uniques[distinct % width].tolist()
        )
        out = np.full(len(left), MISSING, dtype=np.int8)
        out[present] = found[inverse]
        if settled is not None:
            comparison.settle_overlap(out, settled, at_a == at_b)
        return out
