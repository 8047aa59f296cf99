"""Given names and their other forms, for the matcher's name levels: the English `nicknames`
package, the packaged table of other languages' diminutives and spellings
(``identity/config/diminutives.toml``), the pairs neither may join, initials, and the words
of a full name.

Every name here is a normalised one (:func:`identity.normalise.normalise_name`): case-folded
and transliterated, so ``Gośka`` is ``goska`` and ``Саша`` is ``sasha``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

import jellyfish
from nicknames import NickNamer
from rapidfuzz.distance import DamerauLevenshtein

from identity.errors import ConfigError
from identity.honorifics import honorifics
from identity.normalise import normalise_name

DIMINUTIVES = "config/diminutives.toml"
"""The packaged table, inside the ``identity`` package."""

TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "rev"})
"""Words before a name that are not part of it (``Mr John Smith``); other languages'
honorifics (``Pan``, ``Khun``) are in ``identity/config/titles.toml``."""
SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})
"""Words after a name that are not part of it (``John Smith Jr``)."""

_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_WORD_BREAK = re.compile(r"[\s,.\-]+")
_VOWELS = frozenset("aeiou")
_PACKAGE = NickNamer()


@dataclass(frozen=True, slots=True)
class NameTable:
    """The other forms of each name in the table, and the pairs that are never one name."""

    forms: Mapping[str, frozenset[str]]
    """Every form to the forms of every entry it is in (itself included)."""
    excluded: frozenset[frozenset[str]]
    """Pairs of names the nickname level never joins, whatever the package says."""

    def is_excluded(self, a: str, b: str) -> bool:
        return frozenset((a, b)) in self.excluded


def parse_name_table(text: str, path: str = DIMINUTIVES) -> NameTable:
    """Read and check a diminutives table (the packaged file's format). Raises ConfigError
    naming the file and the field."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"not valid TOML: {error}", path=path) from error
    forms: dict[str, set[str]] = {}
    for language, section in doc.items():
        if language == "exclude":
            continue
        if not isinstance(section, Mapping):
            raise ConfigError("must be a table with source and names", path=path, field=language)
        unknown = sorted(set(section) - {"source", "names"})
        if unknown:
            raise ConfigError(
                "unknown setting; allowed: source, names",
                path=path,
                field=f"{language}.{unknown[0]}",
            )
        if not isinstance(section.get("source"), str) or not section["source"].strip():
            raise ConfigError(
                "say where the entries can be checked", path=path, field=f"{language}.source"
            )
        names = section.get("names")
        if not isinstance(names, Mapping) or not names:
            raise ConfigError(
                'list the names, e.g. "Małgorzata" = ["Gosia"]',
                path=path,
                field=f"{language}.names",
            )
        for name, others in names.items():
            where = f"{language}.names.{name}"
            if not isinstance(others, list) or not all(isinstance(o, str) for o in others):
                raise ConfigError("must be a list of the name's forms", path=path, field=where)
            entry = {form for written in (name, *others) for form in _spellings(written)}
            if "" in entry:
                raise ConfigError("a form is empty", path=path, field=where)
            for form in entry:
                forms.setdefault(form, set()).update(entry)
    return NameTable(
        forms={form: frozenset(found) for form, found in forms.items()},
        excluded=_exclusions(doc.get("exclude", {}), path),
    )


def _spellings(written: str) -> set[str]:
    """A written form as the matcher compares it, and a German one also with ae/oe/ue."""
    return {normalise_name(written), normalise_name(written.casefold().translate(_GERMAN))}


def _exclusions(section: object, path: str) -> frozenset[frozenset[str]]:
    if not isinstance(section, Mapping) or set(section) - {"pairs"}:
        raise ConfigError("must be a table with pairs", path=path, field="exclude")
    pairs = section.get("pairs", [])
    if not isinstance(pairs, list):
        raise ConfigError(
            'must be a list of pairs, e.g. ["john", "ian"]', path=path, field="exclude.pairs"
        )
    found = set()
    for number, pair in enumerate(pairs, 1):
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or not all(isinstance(name, str) and name.strip() for name in pair)
        ):
            raise ConfigError(
                'must be a pair of names, e.g. ["john", "ian"]',
                path=path,
                field=f"exclude.pairs[{number}]",
            )
        found.add(frozenset(normalise_name(name) for name in pair))
    return frozenset(found)


@cache
def name_table() -> NameTable:
    """The packaged table, read once."""
    text = resources.files("identity").joinpath(DIMINUTIVES).read_text("utf-8")
    return parse_name_table(text, f"identity/{DIMINUTIVES}")


@lru_cache(maxsize=1 << 16)
def name_forms(name: str) -> frozenset[str]:
    """A first name with its nicknames, the names it is short for and, from the table, its
    other forms (``gosia``: malgorzata, malgosia, ...), itself included, less the pairs the
    table excludes: what the nickname level accepts directly."""
    table = name_table()
    found = {name}
    found |= _PACKAGE.nicknames_of(name)
    found |= _PACKAGE.canonicals_of(name)
    found |= table.forms.get(name, frozenset())
    return frozenset(form for form in found if not table.is_excluded(name, form))


def spelling_of(a: str, b: str) -> bool:
    """Another spelling of one name: the same sound, one letter apart, the same vowels
    (``katherine``/``catherine``, ``sara``/``sarah``, ``ann``/``anne``). A changed or added
    vowel makes another name (``jean``/``joan``, ``jon``/``joan``), and a short form is no
    spelling (``joshua``/``josh``)."""
    return (
        abs(len(a) - len(b)) <= 1
        and DamerauLevenshtein.distance(a, b) <= 1
        and _vowels(a) == _vowels(b)
        and _metaphone(a) == _metaphone(b)
    )


def _vowels(name: str) -> str:
    """The vowels of a name in order, ``y`` as ``i``, a final silent ``e`` dropped."""
    stem = name[:-1] if len(name) > 3 and name.endswith("e") else name
    return "".join("i" if c == "y" else c for c in stem if c in _VOWELS or c == "y")


def _metaphone(value: str) -> str | None:
    return str(jellyfish.metaphone(value)) if len(value) > 1 else None


@lru_cache(maxsize=1 << 16)
def is_nickname(a: str, b: str) -> bool:
    """``bob`` and ``robert``, ``gosia`` and ``malgorzata``: one is a form of the other
    (:func:`name_forms`), or short for another spelling of it (``kate`` is short for
    katherine, a spelling of ``catherine``). Names that are merely both short for one name
    stay apart (``josh``/``joe``, ``chris``/``kit``): brothers have such names. Neither is
    a pair the table excludes."""
    if name_table().is_excluded(a, b):
        return False
    if b in name_forms(a) or a in name_forms(b):
        return True
    return any(spelling_of(full, b) for full in _canonicals(a)) or any(
        spelling_of(full, a) for full in _canonicals(b)
    )


@lru_cache(maxsize=1 << 16)
def _canonicals(name: str) -> tuple[str, ...]:
    """The names the package says ``name`` is short for."""
    return tuple(sorted(_PACKAGE.canonicals_of(name)))


def initial_of(name: str) -> str | None:
    """The letter of a name written as an initial (``j``, ``j.``), else None."""
    letters = name.replace(".", "").strip()
    return letters if len(letters) == 1 and letters.isalpha() else None


def initial_agrees(a: str, b: str) -> bool:
    """A name written as an initial that the other starts with (``j``/``john``), or the
    same initial written two ways (``j.``/``j``). No name written out agrees here."""
    x, y = initial_of(a), initial_of(b)
    if x is None and y is None:
        return False
    return (x or a[:1]) == (y or b[:1])


def same_persons_name(a: str, b: str) -> bool:
    """Two first names one person may be recorded under, as the matcher's first-name
    levels read them: the same name, a nickname or other form of it (:func:`is_nickname`:
    ``bob``/``robert``, ``gosia``/``malgorzata``), or an initial for it (``j``/``john``).
    Spellings close enough to be a typo are not: siblings' names differ by a letter
    (``ava``/``ana``, ``jan``/``jon``)."""
    return (
        a == b
        or initial_agrees(a, b)
        or (initial_of(a) is None and initial_of(b) is None and is_nickname(a, b))
    )


def name_words(name: str) -> tuple[str, ...]:
    """The words of a full name, given names first, without titles and suffixes, hyphens
    and dots breaking words (``mr j. smith-jones`` is j, smith, jones). A comma puts the
    surname first (``smith, john`` is john, smith), unless only suffixes follow it (``john
    smith, jr``)."""
    surname, comma, given = name.partition(",")
    after = [w for w in _WORD_BREAK.split(given) if w]
    if comma and not all(w in SUFFIXES for w in after):
        return _words(given) + _words(surname)
    return _words(surname)


def _words(text: str) -> tuple[str, ...]:
    words = [w for w in _WORD_BREAK.split(text) if w]
    while words and (words[0] in TITLES or honorifics().leading_title(words)):
        words = words[1:]
    while len(words) > 1 and words[-1] in SUFFIXES:
        words = words[:-1]
    return tuple(words)
