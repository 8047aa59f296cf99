"""Field comparisons as ordered levels, as Splink composes them, evaluated on columns.

A :class:`Comparison` looks at one field of both records of many candidate pairs and puts
each pair in one *level*: the first level whose test passes, best evidence first, the
last level catching the rest. A pair where either side is missing gets ``MISSING`` and
contributes no evidence. The model (:mod:`identity.matching.model`) learns how often each
level occurs among matches (m) and non-matches (u); the levels themselves are plain data
named in the model document, so a comparison is explained as "first_name: nickname".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import jellyfish
import numpy as np
import numpy.typing as npt
import pandas as pd
from nicknames import NickNamer
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler

MISSING = -1
"""Level index of a pair where a side has no value: no evidence either way."""

Values = Sequence[str | None]
LevelIndex = npt.NDArray[np.int8]
Strings = npt.NDArray[np.object_]
Mask = npt.NDArray[np.bool_]
PairTest = Callable[[Strings, Strings], Mask]
"""A level's test over aligned arrays of non-empty values: which pairs pass."""


@dataclass(frozen=True, slots=True)
class Level:
    """One level of a comparison: a name and the test a pair of non-empty values passes."""

    name: str
    test: PairTest


def _pairwise(fn: Callable[[str, str], bool]) -> PairTest:
    def test(a: Strings, b: Strings) -> Mask:
        return np.fromiter((fn(x, y) for x, y in zip(a, b, strict=True)), bool, len(a))

    return test


def _same(fn: Callable[[str], object]) -> PairTest:
    """Pairs whose values agree on ``fn`` (a code, a prefix, a part)."""

    def test(a: Strings, b: Strings) -> Mask:
        # fn once per distinct value; pairs agree where their values' keys share a code,
        # and a None or "" key (code -1) agrees with nothing.
        codes, uniques = pd.factorize(np.concatenate([a, b]))
        keys = [fn(v) for v in uniques]
        key_codes, _ = pd.factorize(np.array([*keys, None], dtype=object))
        key_codes[np.array([k == "" for k in keys] + [True])] = -1
        found = key_codes[codes]
        x, y = found[: len(a)], found[len(a) :]
        return np.asarray((x == y) & (x >= 0), dtype=bool)

    return test


def _exact(a: Strings, b: Strings) -> Mask:
    return np.asarray(a == b, dtype=bool)


def _always(a: Strings, b: Strings) -> Mask:
    return np.ones(len(a), dtype=bool)


def jaro_winkler_at_least(threshold: float) -> PairTest:
    def test(a: Strings, b: Strings) -> Mask:
        scores = process.cpdist(
            list(a), list(b), scorer=JaroWinkler.normalized_similarity, workers=-1
        )
        return np.asarray(scores >= threshold - 1e-6, dtype=bool)

    return test


def edits_at_most(distance: int) -> PairTest:
    """Damerau-Levenshtein distance: a transposition (``6147``/``6174``) is one typo."""

    def test(a: Strings, b: Strings) -> Mask:
        found = process.cpdist(list(a), list(b), scorer=DamerauLevenshtein.distance, workers=-1)
        return np.asarray(found <= distance, dtype=bool)

    return test


def _metaphone(value: str) -> str | None:
    """The metaphone code of a name of two letters or more (shorter names have none)."""
    return str(jellyfish.metaphone(value)) if len(value) > 1 else None


same_sound = _same(_metaphone)
"""Equal metaphone codes (``Catherine``/``Kathryn``)."""

_NICKNAMES = NickNamer()


@lru_cache(maxsize=1 << 16)
def name_forms(name: str) -> frozenset[str]:
    """A first name with its nicknames and the names it is short for (``bob``: robert,
    bobby, ...), itself included: what the nickname level accepts directly."""
    forms = {name}
    forms |= _NICKNAMES.nicknames_of(name)
    forms |= _NICKNAMES.canonicals_of(name)
    return frozenset(forms)


def _spelling_of(a: str, b: str) -> bool:
    """Another spelling of one name: the same sound, about the same length
    (``katherine``/``catherine``; not ``joshua``/``josh``, a short form)."""
    return abs(len(a) - len(b)) <= 1 and _metaphone(a) == _metaphone(b)


def _is_nickname(a: str, b: str) -> bool:
    if b in name_forms(a) or a in name_forms(b):
        return True
    # Short for another spelling of the other name: ``kate`` is short for katherine, a
    # spelling of ``catherine``. Names that are merely both short for one name stay apart
    # (``josh``/``joe``, ``chris``/``kit``): brothers have such names.
    return any(_spelling_of(full, b) for full in _NICKNAMES.canonicals_of(a)) or any(
        _spelling_of(full, a) for full in _NICKNAMES.canonicals_of(b)
    )


nickname = _pairwise(_is_nickname)
"""``bob`` and ``robert``: one is a nickname or canonical form of the other (or of a
same-sounding spelling of it: ``kate``/``catherine``)."""


def _swapped(a: str, b: str) -> bool:
    x, y = a.replace("-", ""), b.replace("-", "")
    return len(x) == len(y) == 8 and x[:4] == y[:4] and x[4:6] == y[6:8] and x[6:8] == y[4:6]


day_month_swapped = _pairwise(_swapped)
"""ISO dates (``YYYY-MM-DD`` or ``YYYYMMDD``) equal but for day and month swapped."""

same_year = _same(lambda v: v[:4] if len(v) >= 4 else None)


def tokens_overlap(at_least: float) -> PairTest:
    """Jaccard overlap of whitespace tokens (``12 high st`` vs ``12 high street``)."""

    def overlap(a: str, b: str) -> bool:
        x, y = set(a.split()), set(b.split())
        return len(x & y) / len(x | y) >= at_least if x and y else False

    return _pairwise(overlap)


same_leading_token = _same(lambda v: v.split(maxsplit=1)[0] if v.split() else None)
"""Same first token: the house number of an address, the outward code of a postcode."""


def same_last_digits(count: int) -> PairTest:
    return _same(lambda v: v[-count:] if len(v) >= count else None)


@dataclass(frozen=True, slots=True)
class Comparison:
    """A named comparison of one field, with its levels in order of evidence.

    Level 0 is always "exact" (the same value): the model adjusts that level, and only
    that one, by term frequency.
    """

    name: str
    field: str
    levels: tuple[Level, ...]
    term_frequency: bool = False
    """Adjust the exact level by how common the value is (``smith`` is weak evidence)."""

    @property
    def level_names(self) -> tuple[str, ...]:
        return tuple(level.name for level in self.levels)

    def compare(self, left: Values, right: Values) -> LevelIndex:
        """The level of each pair (``left[i]``, ``right[i]``), or MISSING.

        Each level tests only the pairs no better level took, so the common case (random
        pairs falling through to "else") costs one vectorised pass per level.
        """
        a = np.asarray(left, dtype=object)
        b = np.asarray(right, dtype=object)
        out = np.full(len(a), MISSING, dtype=np.int8)
        present = a.astype(bool) & b.astype(bool)
        remaining = np.flatnonzero(present)
        for index, level in enumerate(self.levels):
            if remaining.size == 0:
                break
            hit = level.test(a[remaining], b[remaining])
            out[remaining[hit]] = index
            remaining = remaining[~hit]
        return out


def name_comparison(field: str, *, nicknames: bool) -> Comparison:
    """Levels of a name; with ``nicknames`` (first names) also nicknames, and the loosest
    level is one typo rather than Jaro-Winkler 0.80.

    A first name tells household members apart: they share a surname, an address and a
    phone, and only a first name that falls to "else" vetoes a link (``require_agreement``).
    Jaro-Winkler 0.80 takes sisters' names such as ``valentine``/``florentine``; one typo
    (``galy``/``gary``) does not.
    """
    levels = [Level("exact", _exact)]
    if nicknames:
        levels.append(Level("nickname", nickname))
    levels += [
        Level("jaro_winkler_0.92", jaro_winkler_at_least(0.92)),
        Level("same_sound", same_sound),
        Level("one_typo", edits_at_most(1))
        if nicknames
        else Level("jaro_winkler_0.80", jaro_winkler_at_least(0.80)),
        Level("else", _always),
    ]
    return Comparison(field, field, tuple(levels), term_frequency=True)


def date_comparison(field: str) -> Comparison:
    return Comparison(
        field,
        field,
        (
            Level("exact", _exact),
            Level("day_month_swapped", day_month_swapped),
            Level("one_typo", edits_at_most(1)),
            Level("same_year", same_year),
            Level("else", _always),
        ),
    )


def id_comparison(field: str) -> Comparison:
    return Comparison(
        field,
        field,
        (
            Level("exact", _exact),
            Level("one_typo", edits_at_most(1)),
            Level("two_typos", edits_at_most(2)),
            Level("else", _always),
        ),
    )


def postcode_comparison(field: str) -> Comparison:
    return Comparison(
        field,
        field,
        (
            Level("exact", _exact),
            Level("one_typo", edits_at_most(1)),
            Level("same_district", same_leading_token),
            Level("else", _always),
        ),
        term_frequency=True,
    )


def address_comparison(field: str) -> Comparison:
    return Comparison(
        field,
        field,
        (
            Level("exact", _exact),
            Level("jaro_winkler_0.90", jaro_winkler_at_least(0.90)),
            Level("tokens_0.5", tokens_overlap(0.5)),
            Level("same_number", same_leading_token),
            Level("else", _always),
        ),
    )


def text_comparison(field: str) -> Comparison:
    """A place name or other short text: exact, close, else."""
    return Comparison(
        field,
        field,
        (
            Level("exact", _exact),
            Level("jaro_winkler_0.88", jaro_winkler_at_least(0.88)),
            Level("else", _always),
        ),
        term_frequency=True,
    )


def email_comparison(field: str) -> Comparison:
    """Exact (weighed by how common the address is), else.

    Term frequencies make a value on many records (``noreply@example.com``, a family
    address) weak evidence. There is no "same local part" level: local parts are made
    of names (``nicola.martin@``), so at another provider they repeat the name evidence
    and join namesakes.
    """
    return Comparison(
        field,
        field,
        (Level("exact", _exact), Level("else", _always)),
        term_frequency=True,
    )


def phone_comparison(field: str) -> Comparison:
    """Exact (weighed by how common the number is: a shop's own number, a household
    landline), the same last seven digits, else."""
    return Comparison(
        field,
        field,
        (
            Level("exact", _exact),
            Level("same_last_7_digits", same_last_digits(7)),
            Level("else", _always),
        ),
        term_frequency=True,
    )


KINDS: dict[str, Callable[[str], Comparison]] = {
    "first_name": lambda f: name_comparison(f, nicknames=True),
    "name": lambda f: name_comparison(f, nicknames=False),
    "date": date_comparison,
    "id": id_comparison,
    "postcode": postcode_comparison,
    "address": address_comparison,
    "text": text_comparison,
    "email": email_comparison,
    "phone": phone_comparison,
}
"""Comparison kinds a matching configuration names per field."""
