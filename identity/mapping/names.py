"""A full name written in one field, parsed into the parts the matcher compares.

Western order (``Mrs Ann M. Lee-Jones Jr.``, ``Lee, Ann``, ``J. Smith``) is parsed by
``nameparser``. A name in Han or Hangul script is written family name first: with a space
the first word is the family name (``王 小明``); without one the first character is, or the
first two when the name has four or more characters or starts with a known two-character
surname (``欧阳修``). That rule is right for nearly every Chinese and Korean name and wrong
for a Japanese name written without a space (``佐藤健``); a space settles it.

Two conventions beyond nameparser's: an honorific of the packaged table
(``identity/config/titles.toml``: ``Pan``, ``Pani``, ``Khun``, ``Smt.``) is a title, not a
given name; and a word written all in capitals beside words in mixed case is the family
name (``ZHANG Wei``, ``Wei ZHANG``, ``NGUYEN Van An``), as passports print it (ICAO Doc
9303) and as Chinese names are written in the West to show which part is the surname.
"""

from __future__ import annotations

import re
import unicodedata

from nameparser import HumanName
from nameparser.config import CONSTANTS

from identity.honorifics import honorifics, title_key
from identity.normalise import normalise_name

PARTS: tuple[tuple[str, str], ...] = (
    ("title", "title"),
    ("first", "first_name"),
    ("middle", "middle_name"),
    ("last", "last_name"),
    ("suffix", "suffix"),
)
"""nameparser's part -> the attribute it is stored as."""

_COMPOUND_SURNAMES = frozenset(
    {
        "欧阳", "歐陽", "司马", "司馬", "诸葛", "諸葛", "上官", "司徒", "东方", "東方",
        "皇甫", "令狐", "慕容", "夏侯", "尉迟", "尉遲", "公孙", "公孫", "长孙", "長孫",
        "宇文", "端木", "独孤", "獨孤", "南宫", "南宮", "西门", "西門", "轩辕", "軒轅",
        "鲜于", "鮮于", "闻人", "聞人", "申屠", "澹台", "澹臺",
    }
)  # fmt: skip
_INITIAL = re.compile(r"^(\w)\.$")
_SUFFIXES = CONSTANTS.suffix_acronyms | CONSTANTS.suffix_not_acronyms


def _family_first_script(text: str) -> bool:
    """Whether every letter of ``text`` is Han or Hangul (names written family first)."""
    letters = [c for c in text if not c.isspace() and c not in "·・"]
    return bool(letters) and all(
        unicodedata.name(c, "").startswith(("CJK UNIFIED IDEOGRAPH", "HANGUL SYLLABLE"))
        or "CJK COMPATIBILITY IDEOGRAPH" in unicodedata.name(c, "")
        for c in letters
    )


def _family_first(text: str) -> dict[str, str]:
    words = text.split()
    if len(words) > 1:
        return {"last_name": words[0], "first_name": " ".join(words[1:])}
    family = 2 if len(text) >= 4 or text[:2] in _COMPOUND_SURNAMES else 1
    parts = {"last_name": text[:family]}
    if text[family:]:
        parts["first_name"] = text[family:]
    return parts


def parse_full_name(text: str) -> dict[str, str]:
    """The parts of a full name as attributes (``first_name``, ``last_name``, and
    ``title``, ``middle_name``, ``suffix`` when present); empty parts are left out.
    A lone initial loses its dot (``J.`` -> ``J``) so it compares as an initial."""
    text = " ".join(text.split())
    if not text:
        return {}
    if _family_first_script(text):
        return _family_first(text)
    words = text.split()
    parts: dict[str, str] = {}
    table = honorifics()
    if "," not in text and table.leading_title(words):
        parts["title"], words = words[0], words[1:]
        if len(words) == 1:
            # Khun goes with the given name (``Khun Nok``), Pani with the surname.
            given = title_key(parts["title"]) in table.given_name
            parts["first_name" if given else "last_name"] = words[0]
            return parts
    family = _family_in_capitals(words) if "," not in text else None
    if family is not None:
        start, end = family
        parts.update(_given_parts(words[:start] + words[end:]))
        parts["last_name"] = " ".join(words[start:end])
        return parts
    parsed = HumanName(" ".join(words))
    for part, attribute in PARTS:
        value = str(getattr(parsed, part)).strip()
        if attribute in ("first_name", "middle_name"):
            value = _without_initial_dots(value)
        if value:
            parts[attribute] = value
    return parts


def _without_initial_dots(value: str) -> str:
    return " ".join(_INITIAL.sub(r"\1", word) for word in value.split())


def _given_parts(words: list[str]) -> dict[str, str]:
    """Title, given names and suffix of a name whose family name is known: every word
    nameparser does not take for a title or suffix is a given name, the first the first
    name."""
    parts: dict[str, str] = {}
    if not words:
        return parts
    parsed = HumanName(" ".join(words))
    given = f"{parsed.first} {parsed.middle} {parsed.last}".split()
    if parsed.title:
        parts["title"] = str(parsed.title)
    if given:
        parts["first_name"] = _without_initial_dots(given[0])
    if len(given) > 1:
        parts["middle_name"] = _without_initial_dots(" ".join(given[1:]))
    if parsed.suffix:
        parts["suffix"] = str(parsed.suffix)
    return parts


def _family_in_capitals(words: list[str]) -> tuple[int, int] | None:
    """Where the family name written in capitals is (``ZHANG Wei``: words 0 to 1), when
    the other words are in mixed case; None for a name all in one case (``JOHN SMITH``,
    ``john smith``), where capitals say nothing."""
    capitals = [i for i, word in enumerate(words) if _is_family_in_capitals(word)]
    if not capitals or not any(any(c.islower() for c in word) for word in words):
        return None
    start, end = capitals[0], capitals[-1] + 1
    if end - start != len(capitals):
        return None  # capitals apart (``LI Wei ZHANG``): no one family name
    return start, end


def _is_family_in_capitals(word: str) -> bool:
    """A word that can be a family name written in capitals: two letters or more (``J.``
    is an initial), all capitals, not a title or suffix (``MR``, ``III``), and with a
    vowel (``JP``, ``DJ`` are initials run together)."""
    letters = [c for c in word if c.isalpha()]
    if len(letters) < 2 or not word.isupper():
        return False
    key = title_key(word)
    if key in honorifics().titles or key in CONSTANTS.titles or key in _SUFFIXES:
        return False
    return any(c in "aeiouy" for c in normalise_name(word))
