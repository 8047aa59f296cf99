"""Field comparisons as ordered levels, as Splink composes them, evaluated on columns.

A :class:`Comparison` looks at one field of both records of many candidate pairs and puts
each pair in one *level*: the first level whose test passes, best evidence first, the
last level catching the rest. A pair where either side is missing gets ``MISSING`` and
contributes no evidence. The model (:mod:`identity.matching.model`) learns how often each
level occurs among matches (m) and non-matches (u); the levels themselves are plain data
named in the model document, so a comparison is explained as "first_name: nickname".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import jellyfish
import numpy as np
import numpy.typing as npt
import pandas as pd
import phonenumbers
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler

from identity.matching.names import (
    initial_agrees,
    initial_of,
    is_nickname,
    name_table,
    name_words,
)

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

nickname = _pairwise(is_nickname)
"""``bob`` and ``robert``, ``gosia`` and ``malgorzata``: one is a form of the other, in the
``nicknames`` package or the packaged table of other languages' diminutives
(:mod:`identity.matching.names`)."""


initial = _pairwise(initial_agrees)


def _one_name(test: PairTest) -> PairTest:
    """``test`` for pairs of written-out first names that may be one name: an initial
    agrees with a name by the initial level or not at all (``j``/``k`` are not one typo
    apart, they disagree), and a pair the name table excludes is two names however alike
    it sounds (``john``/``jane``: the same metaphone)."""
    table = name_table()
    listed = frozenset(name for pair in table.excluded for name in pair)

    def guarded(a: Strings, b: Strings) -> Mask:
        # Per distinct value, not per pair: whether it is an initial, whether it is listed.
        codes, uniques = pd.factorize(np.concatenate([a, b]))
        initials = np.fromiter((initial_of(v) is not None for v in uniques), bool, len(uniques))
        excluded = np.fromiter((v in listed for v in uniques), bool, len(uniques))
        x, y = codes[: len(a)], codes[len(a) :]
        written = ~(initials[x] | initials[y])
        for i in np.flatnonzero(written & excluded[x] & excluded[y]):
            written[i] = not table.is_excluded(a[i], b[i])
        found = np.zeros(len(a), dtype=bool)
        if written.any():
            found[written] = test(a[written], b[written])
        return found

    return guarded


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


# -- full names ------------------------------------------------------------------------------

_EXACT_WORD, _NICKNAME_WORD, _INITIAL_WORD, _SIMILAR_WORD = range(4)


def _word_agreement(a: str, b: str) -> int | None:
    """How two words of two full names agree, best first, or None."""
    if a == b:
        return _EXACT_WORD
    if initial_of(a) is not None or initial_of(b) is not None:
        return _INITIAL_WORD if initial_agrees(a, b) else None
    if name_table().is_excluded(a, b):
        return None
    if is_nickname(a, b):
        return _NICKNAME_WORD
    if JaroWinkler.normalized_similarity(a, b) >= 0.92 or (
        min(len(a), len(b)) >= 4 and DamerauLevenshtein.distance(a, b) <= 1
    ):
        return _SIMILAR_WORD
    return None


@dataclass(frozen=True, slots=True)
class WordPairing:
    """How the words of two full names pair up, one to one, the best agreements first."""

    paired: bool
    """Every word of the shorter name agrees with its own word of the longer one."""
    worst: int
    """The weakest agreement among the pairs (exact, nickname, initial, similar)."""
    extra: int
    """Words of the longer name left over (a middle name, a second surname)."""
    shorter: int
    """Words of the shorter name."""
    written_out: bool
    """Some word agrees exactly or as a nickname, not only by initials or typos."""


@lru_cache(maxsize=1 << 16)
def pair_words(a: str, b: str) -> WordPairing:
    """The one-to-one pairing of the words of two full names, in any order."""
    x, y = name_words(a), name_words(b)
    if len(x) > len(y):
        x, y = y, x
    found = sorted(
        (agreement, i, j)
        for i, u in enumerate(x)
        for j, v in enumerate(y)
        if (agreement := _word_agreement(u, v)) is not None
    )
    used_x: set[int] = set()
    used_y: set[int] = set()
    kinds = []
    for agreement, i, j in found:
        if i not in used_x and j not in used_y:
            used_x.add(i)
            used_y.add(j)
            kinds.append(agreement)
    return WordPairing(
        paired=bool(x) and len(used_x) == len(x),
        worst=max(kinds, default=_SIMILAR_WORD),
        extra=len(y) - len(x),
        shorter=len(x),
        written_out=any(k in (_EXACT_WORD, _NICKNAME_WORD) for k in kinds),
    )


def _same_words(a: str, b: str) -> bool:
    return sorted(name_words(a)) == sorted(name_words(b))


def _pairing_test(accept: Callable[[WordPairing], bool]) -> PairTest:
    return _pairwise(lambda a, b: accept(pair_words(a, b)))


def full_name_value(parts: Sequence[str]) -> str:
    """A full name as compared: the words of the given name and surname, or of a name as
    written, joined by single spaces (``mr j. smith-jones``: ``j smith jones``)."""
    return " ".join(name_words(" ".join(parts)))


def _full_name_parts(value: str) -> tuple[str | None, str | None]:
    """A full name's given name and surname for blocking: its first and last words."""
    words = name_words(value)
    return (words[0], words[-1]) if len(words) > 1 else (None, None)


@dataclass(frozen=True, slots=True)
class Parts:
    """A field that other compared fields make up: a full name is a given name and a
    surname. A record without a value of its own is compared by its parts joined, and one
    without the parts is blocked by its own value split into them."""

    kinds: tuple[str, ...]
    """The comparison kinds of the parts, in order (``first_name``, ``name``)."""
    join: Callable[[Sequence[str]], str]
    split: Callable[[str], tuple[str | None, ...]]
    fields: tuple[str, ...] = ()
    """The part fields of a configuration (set by the linkage settings); empty: the field
    is compared only where both records have a value of their own."""


@dataclass(frozen=True, slots=True)
class Overlap:
    """Other compared fields whose comparisons already weigh what this one's levels would
    say: where both records have every one of them, this comparison says nothing more
    (MISSING), or, with ``keep_exact``, only whether the values are the same (exact or
    else). A full name repeats the given name and surname; a name read out of an e-mail's
    local part repeats the surname. Counted twice, one name would weigh as two."""

    kinds: tuple[str, ...]
    """The comparison kinds of the overlapping fields (``name`` for surnames)."""
    keep_exact: bool
    fields: tuple[str, ...] = ()
    """The overlapping fields of a configuration (set by the linkage settings); empty:
    no field of those kinds is compared, so nothing overlaps."""


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
    parts: Parts | None = None
    """The fields this one is made of, if any (see :class:`Parts`)."""
    overlap: Overlap | None = None
    """The fields whose evidence some of its levels repeat, if any (see :class:`Overlap`)."""

    @property
    def level_names(self) -> tuple[str, ...]:
        return tuple(level.name for level in self.levels)

    @property
    def part_fields(self) -> tuple[str, ...]:
        return self.parts.fields if self.parts is not None else ()

    @property
    def overlap_fields(self) -> tuple[str, ...]:
        return self.overlap.fields if self.overlap is not None else ()

    def value_of(self, fields: Mapping[str, str | None]) -> tuple[str | None, bool]:
        """A record's compared value (its own, else its parts joined) and whether it has
        every overlapping field (a pair of two such records: :meth:`settle_overlap`)."""
        own = fields.get(self.field) or None
        if self.parts is not None and own is None and self.part_fields:
            values = [fields.get(p) or "" for p in self.part_fields]
            if all(values):
                own = self.parts.join(values)
        overlapping = self.overlap_fields
        return own, bool(overlapping) and all(fields.get(f) for f in overlapping)

    def settle_overlap(self, levels: LevelIndex, both: Mask, same: Mask) -> None:
        """Put the pairs in which both records have every overlapping field (``both``) in
        MISSING, or, keeping the exact level, in exact where their values are the same
        (``same``) and else where not. In place."""
        if self.overlap is None:
            return
        if self.overlap.keep_exact:
            levels[both] = np.where(same[both], 0, len(self.levels) - 1)
        else:
            levels[both] = MISSING

    def blocking_value(self, part: str, fields: Mapping[str, str | None]) -> str | None:
        """The value of the part field ``part`` for blocking: the record's own, or, for a
        record with this field's value but not the part, the part read from that value
        (a full name's last word as the surname)."""
        value = fields.get(part) or None
        if value is not None or self.parts is None or part not in self.part_fields:
            return value
        own = fields.get(self.field)
        return self.parts.split(own)[self.part_fields.index(part)] if own else None

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
    """Levels of a name; with ``nicknames`` (first names) also nicknames and initials, and
    the loosest spelling level is one typo rather than Jaro-Winkler 0.80.

    A first name tells household members apart: they share a surname, an address and a
    phone, and only a first name that falls to "else" vetoes a link (``require_agreement``).
    Jaro-Winkler 0.80 takes sisters' names such as ``valentine``/``florentine``; one typo
    (``galy``/``gary``) does not. An initial (``j``) agrees with every name it begins
    (``john``, ``jane``): weaker evidence than any spelling of the name, and no veto; the
    spelling levels never take an initial (``j``/``k`` disagree, not one typo apart).
    """
    if not nicknames:
        return Comparison(
            field,
            field,
            (
                Level("exact", _exact),
                Level("jaro_winkler_0.92", jaro_winkler_at_least(0.92)),
                Level("same_sound", same_sound),
                Level("jaro_winkler_0.80", jaro_winkler_at_least(0.80)),
                Level("else", _always),
            ),
            term_frequency=True,
        )
    return Comparison(
        field,
        field,
        (
            Level("exact", _exact),
            Level("nickname", _one_name(nickname)),
            Level("jaro_winkler_0.92", _one_name(jaro_winkler_at_least(0.92))),
            Level("same_sound", _one_name(same_sound)),
            Level("one_typo", _one_name(edits_at_most(1))),
            Level("initial", initial),
            Level("else", _always),
        ),
        term_frequency=True,
    )


def full_name_comparison(field: str) -> Comparison:
    """A whole name in one field (``John A. Smith``, ``Smith, John``), against the other
    record's whole name or its given name and surname; compared word by word in any order
    with the first names' nickname and initial rules.

    Levels: the same words in any order; the same number of words, one a nickname
    (``bob smith``/``robert smith``); an initial for a name (``j smith``/``john smith``);
    words left over on one side, a middle name or second surname (``maria garcia``/``maria
    garcia lopez``); a typo in a word; else. The last four need at least two words on each
    side and one word agreeing exactly or as a nickname: a surname alone, or initials
    alone, say too little. A surname shared with different first names (``john smith``/
    ``jane smith``) is "else", so ``require_agreement`` can veto household members.
    """

    def same_count(p: WordPairing) -> bool:
        return p.paired and p.extra == 0 and p.written_out

    def partial(p: WordPairing) -> bool:
        return p.paired and p.shorter >= 2 and p.written_out

    return Comparison(
        field,
        field,
        (
            Level("exact", _pairwise(_same_words)),
            Level(
                "nickname",
                _pairing_test(lambda p: same_count(p) and p.worst <= _NICKNAME_WORD),
            ),
            Level(
                "initial",
                _pairing_test(
                    lambda p: same_count(p) and p.shorter >= 2 and p.worst <= _INITIAL_WORD
                ),
            ),
            Level("extra_names", _pairing_test(lambda p: partial(p) and p.worst <= _INITIAL_WORD)),
            Level("similar_words", _pairing_test(partial)),
            Level("else", _always),
        ),
        term_frequency=True,
        parts=Parts(("first_name", "name"), full_name_value, _full_name_parts),
        overlap=Overlap(("first_name", "name"), keep_exact=False),
    )


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


# -- e-mails -----------------------------------------------------------------------------------

_LOCAL_SEPARATORS = re.compile(r"[._\-]+")
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class LocalPart:
    """What an address's local part says of its holder: the handle without separators
    (``john.smith84``: johnsmith84), its digits, and its words without digits."""

    handle: str
    digits: str
    words: tuple[str, ...]


@lru_cache(maxsize=1 << 16)
def local_part(address: str) -> LocalPart:
    """The local part of an address, its ``+tag`` dropped (a tag is not the handle)."""
    local = address.rpartition("@")[0] if "@" in address else address
    local = local.split("+", 1)[0]
    words = [w for w in _LOCAL_SEPARATORS.split(local) if w]
    handle = "".join(words)
    letters = tuple(w for w in (_DIGITS.sub("", w) for w in words) if w)
    return LocalPart(handle, "".join(_DIGITS.findall(handle)), letters)


def _name_forms_of(words: tuple[str, ...]) -> frozenset[str]:
    """The handles a two-or-more-word local part's name is also written as: its first and
    last word either way round, whole or with one as an initial (``john.smith``:
    smithjohn, jsmith, smithj, johns, sjohn)."""
    if len(words) < 2:
        return frozenset()
    f, s = words[0], words[-1]
    return frozenset({f + s, s + f, f[0] + s, s + f[0], f + s[0], s[0] + f})


def _same_handle(a: str, b: str) -> bool:
    x, y = local_part(a), local_part(b)
    return bool(x.handle) and x.handle == y.handle


def _local_name_form(a: str, b: str) -> bool:
    x, y = local_part(a), local_part(b)
    if x.digits != y.digits:
        return False
    hx, hy = "".join(x.words), "".join(y.words)
    if min(len(hx), len(hy)) < 4:
        return False
    return hx in _name_forms_of(y.words) or hy in _name_forms_of(x.words)


def _local_similar(a: str, b: str) -> bool:
    x, y = local_part(a), local_part(b)
    hx, hy = "".join(x.words), "".join(y.words)
    return (
        x.digits == y.digits
        and min(len(hx), len(hy)) >= 4
        and JaroWinkler.normalized_similarity(hx, hy) >= 0.92
    )


def email_comparison(field: str) -> Comparison:
    """Exact (weighed by how common the address is), then, for two different addresses,
    what their local parts say: evidence for the model, never a link of their own.

    Term frequencies make a value on many records (``noreply@example.com``, a family
    address) weak evidence. Two addresses of one person often share the handle at two
    providers (``john.smith@gmail.com``/``john.smith@yahoo.co.uk``, separators aside), or
    write one name two ways (``john.smith@``/``jsmith@``/``smith.john@``), or differ by a
    typo (Jaro-Winkler >= 0.92 of the handles, as for first names). Digits must agree in
    the last two: ``john.smith2@`` is the number a provider offers the second John Smith,
    so digits that differ point to namesakes.

    A local part is made of the holder's name, so it says again what the names say: where
    both records carry a surname, these levels are not used (a different address is
    "else", as without them), since John Smith and his namesake john.smith@ at another
    provider would otherwise agree twice on one name. They weigh where a record has no
    surname of its own (a newsletter sign-up with a first name and an address).
    """
    return Comparison(
        field,
        field,
        (
            Level("exact", _exact),
            Level("same_local_part", _pairwise(_same_handle)),
            Level("local_name_form", _pairwise(_local_name_form)),
            Level("local_jaro_winkler_0.92", _pairwise(_local_similar)),
            Level("else", _always),
        ),
        term_frequency=True,
        overlap=Overlap(("name",), keep_exact=True),
    )


# -- phones ------------------------------------------------------------------------------------


@lru_cache(maxsize=1 << 16)
def _national_number(number: str) -> str | None:
    """The national significant number of a number in E.164 form (``+441512345678``:
    1512345678), or None if it is not one."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    return str(phonenumbers.national_significant_number(parsed))


same_national_number = _same(_national_number)
"""The same national number; after the exact level, under another country code."""


def phone_comparison(field: str) -> Comparison:
    """Exact (weighed by how common the number is: a shop's own number, a household
    landline), then near agreements, evidence for the model and never links of their own:

    - the same national number under another country code: a number written without its
      country code is read in the source's region, so a German ``0151 2345678`` typed into
      a UK form is +44 151 234 5678 there and +49 151 2345678 elsewhere;
    - one digit mistyped or two swapped (Damerau-Levenshtein 1);
    - the same last seven digits (another area code), else.
    """
    return Comparison(
        field,
        field,
        (
            Level("exact", _exact),
            Level("same_national_number", same_national_number),
            Level("one_typo", edits_at_most(1)),
            Level("same_last_7_digits", same_last_digits(7)),
            Level("else", _always),
        ),
        term_frequency=True,
    )


KINDS: dict[str, Callable[[str], Comparison]] = {
    "first_name": lambda f: name_comparison(f, nicknames=True),
    "name": lambda f: name_comparison(f, nicknames=False),
    "full_name": full_name_comparison,
    "date": date_comparison,
    "id": id_comparison,
    "postcode": postcode_comparison,
    "address": address_comparison,
    "text": text_comparison,
    "email": email_comparison,
    "phone": phone_comparison,
}
"""Comparison kinds a matching configuration names per field."""
