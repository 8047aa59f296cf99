"""A full name written in one field, parsed into the parts the matcher compares.

Western order (``Mrs Ann M. Lee-Jones Jr.``, ``Lee, Ann``, ``J. Smith``) is parsed by
``nameparser``. A name in Han or Hangul script is written family name first: with a space
the first word is the family name (``王 小明``); without one the first character is, or the
first two when the name has four or more characters or starts with a known two-character
surname (``欧阳修``). That rule is right for nearly every Chinese and Korean name and wrong
for a Japanese name written without a space (``佐藤健``); a space settles it.
"""

from __future__ import annotations

import re
import unicodedata

from nameparser import HumanName

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
    parsed = HumanName(text)
    parts: dict[str, str] = {}
    for part, attribute in PARTS:
        value = str(getattr(parsed, part)).strip()
        if attribute in ("first_name", "middle_name"):
            value = " ".join(_INITIAL.sub(r"\1", word) for word in value.split())
        if value:
            parts[attribute] = value
    return parts
