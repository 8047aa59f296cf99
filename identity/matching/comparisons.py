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
from nicknames import NickNamer

MISSING = -1
"""Level index of a pair where a side has no value: no evidence either way."""

Values = Sequence[str | None]
LevelIndex = npt.NDArray[np.int8]
PairTest = Callable[[str, str], bool]


@dataclass(frozen=True, slots=True)
class Level:
    """One level of a comparison: a name and the test a pair of non-empty values passes."""

    name: str
    test: PairTest
    exact: bool = False
    """Whether the level means "the same value" (term-frequency adjustment applies)."""


def _exact(a: str, b: str) -> bool:
    return a == b


def _always(a: str, b: str) -> bool:
    return True


def jaro_winkler_at_least(threshold: float) -> PairTest:
    def test(a: str, b: str) -> bool:
        return _jaro_winkler(a, b) >= threshold

    return test


def levenshtein_at_most(distance: int) -> PairTest:
    def test(a: str, b: str) -> bool:
        return _levenshtein(a, b) <= distance

    return test


@lru_cache(maxsize=1 << 18)
def _jaro_winkler(a: str, b: str) -> float:
    return float(jellyfish.jaro_winkler_similarity(a, b))


@lru_cache(maxsize=1 << 18)
def _levenshtein(a: str, b: str) -> int:
    return int(jellyfish.levenshtein_distance(a, b))


@lru_cache(maxsize=1 << 16)
def _metaphone(a: str) -> str:
    return str(jellyfish.metaphone(a))


def same_sound(a: str, b: str) -> bool:
    """Equal metaphone codes (``Catherine``/``Kathryn``), for names of two letters or more."""
    return len(a) > 1 and len(b) > 1 and _metaphone(a) == _metaphone(b)


_NICKNAMES = NickNamer()


@lru_cache(maxsize=1 << 16)
def _name_forms(name: str) -> frozenset[str]:
    forms = {name}
    forms |= _NICKNAMES.nicknames_of(name)
    forms |= _NICKNAMES.canonicals_of(name)
    return frozenset(forms)


def nickname(a: str, b: str) -> bool:
    """``bob`` and ``robert``: one is a nickname or canonical form of the other."""
    return b in _name_forms(a) or a in _name_forms(b)


def day_month_swapped(a: str, b: str) -> bool:
    """ISO dates (``YYYY-MM-DD`` or ``YYYYMMDD``) equal but for day and month swapped."""
    x, y = a.replace("-", ""), b.replace("-", "")
    return len(x) == len(y) == 8 and x[:4] == y[:4] and x[4:6] == y[6:8] and x[6:8] == y[4:6]


def same_year(a: str, b: str) -> bool:
    return len(a) >= 4 and a[:4] == b[:4]


def tokens_overlap(at_least: float) -> PairTest:
    """Jaccard overlap of whitespace tokens (``12 high st`` vs ``12 high street``)."""

    def test(a: str, b: str) -> bool:
        x, y = set(a.split()), set(b.split())
        return len(x & y) / len(x | y) >= at_least if x and y else False

    return test


def same_leading_token(a: str, b: str) -> bool:
    """Same first token: the house number of an address, the outward code of a postcode."""
    x, y = a.split(maxsplit=1), b.split(maxsplit=1)
    return bool(x and y) and x[0] == y[0]


def same_local_part(a: str, b: str) -> bool:
    """Two e-mails with the same part before the @ (one person, two providers)."""
    return a.split("@", 1)[0] == b.split("@", 1)[0]


def same_last_digits(count: int) -> PairTest:
    def test(a: str, b: str) -> bool:
        return len(a) >= count and a[-count:] == b[-count:]

    return test


@dataclass(frozen=True, slots=True)
class Comparison:
    """A named comparison of one field, with its levels in order of evidence."""

    name: str
    field: str
    levels: tuple[Level, ...]
    term_frequency: bool = False
    """Adjust the exact level by how common the value is (``smith`` is weak evidence)."""

    @property
    def level_names(self) -> tuple[str, ...]:
        return tuple(level.name for level in self.levels)

    def compare(self, left: Values, right: Values) -> LevelIndex:
        """The level of each pair (``left[i]``, ``right[i]``), or MISSING."""
        out = np.full(len(left), MISSING, dtype=np.int8)
        tests = [level.test for level in self.levels]
        for i, (a, b) in enumerate(zip(left, right, strict=True)):
            if not a or not b:
                continue
            if a == b:
                # Every comparison's first level accepts equal values; skip the tests.
                out[i] = 0
                continue
            for index, test in enumerate(tests):
                if test(a, b):
                    out[i] = index
                    break
        return out


def name_comparison(field: str, *, nicknames: bool) -> Comparison:
    levels = [Level("exact", _exact, exact=True)]
    if nicknames:
        levels.append(Level("nickname", nickname))
    levels += [
        Level("jaro_winkler_0.92", jaro_winkler_at_least(0.92)),
        Level("same_sound", same_sound),
        Level("jaro_winkler_0.80", jaro_winkler_at_least(0.80)),
        Level("else", _always),
    ]
    return Comparison(field, field, tuple(levels), term_frequency=True)


def date_comparison(field: str) -> Comparison:
    return Comparison(
        field,
        field,
        (
            Level("exact", _exact, exact=True),
            Level("day_month_swapped", day_month_swapped),
            Level("one_typo", levenshtein_at_most(1)),
            Level("same_year", same_year),
            Level("else", _always),
        ),
    )


def id_comparison(field: str) -> Comparison:
    return Comparison(
        field,
        field,
        (
            Level("exact", _exact, exact=True),
            Level("one_typo", levenshtein_at_most(1)),
            Level("two_typos", levenshtein_at_most(2)),
            Level("else", _always),
        ),
    )


def postcode_comparison(field: str) -> Comparison:
    return Comparison(
        field,
        field,
        (
            Level("exact", _exact, exact=True),
            Level("one_typo", levenshtein_at_most(1)),
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
            Level("exact", _exact, exact=True),
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
            Level("exact", _exact, exact=True),
            Level("jaro_winkler_0.88", jaro_winkler_at_least(0.88)),
            Level("else", _always),
        ),
        term_frequency=True,
    )


def email_comparison(field: str) -> Comparison:
    return Comparison(
        field,
        field,
        (
            Level("exact", _exact, exact=True),
            Level("same_local_part", same_local_part),
            Level("else", _always),
        ),
    )


def phone_comparison(field: str) -> Comparison:
    return Comparison(
        field,
        field,
        (
            Level("exact", _exact, exact=True),
            Level("same_last_7_digits", same_last_digits(7)),
            Level("else", _always),
        ),
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
