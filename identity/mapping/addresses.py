"""A one-line address read for the two parts the matcher can compare: postcode and city.

Postcodes are found by regular expressions for the forms below, the rightmost match
winning (a postcode comes late in an address; a house number early). The city is a
heuristic, documented in docs/sources.md: the text next to the postcode in its
comma-separated part (after it, as in ``10115 Berlin``; else before it, as in
``Leeds LS1 4AP``, a US state code dropped), else the part before (or after, when the
part before holds digits or there is none); without a postcode, the last part after the
first that is not a country.
"""

from __future__ import annotations

import re

from identity.mapping.regions import region_code

_POSTCODES: tuple[tuple[str, str], ...] = (
    ("uk", r"(?:GIR ?0AA|[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2})"),
    (
        "kenya",
        r"(?<=[0-9]-)[0-9]{5}",
    ),  # P.O. Box 12345-00100: the code after the box
    ("us_zip4", r"[0-9]{5}-[0-9]{4}"),
    ("poland", r"[0-9]{2}-[0-9]{3}"),
    ("india", r"[1-9][0-9]{2} [0-9]{3}"),  # a PIN is also written 560 001
    ("six_digits", r"[0-9]{6}"),  # India PIN, China
    ("five_digits", r"[0-9]{5}"),  # US ZIP, Germany, Kenya, Thailand
)
POSTCODE = re.compile(
    "|".join(
        f"(?P<{name}>{'' if name == 'kenya' else '(?<![A-Z0-9-])'}{pattern}(?![A-Z0-9]))"
        for name, pattern in _POSTCODES
    ),
    re.IGNORECASE,
)
_US_STATE = re.compile(r"\s*\b[A-Z]{2}$")
_EDGES = " \t,;-–"


def postcode_in(text: str) -> re.Match[str] | None:
    """The rightmost postcode in ``text``, or None."""
    found = None
    for match in POSTCODE.finditer(text):
        found = match
    return found


def _tidy(postcode: str, form: str | None) -> str:
    code = " ".join(postcode.upper().split())
    if form == "uk" and " " not in code:
        code = f"{code[:-3]} {code[-3:]}"
    if form == "india":
        code = code.replace(" ", "")
    return code


def parse_address(text: str) -> dict[str, str]:
    """``postcode`` and ``city`` of a one-line address, each left out when not found."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        return {}
    found: dict[str, str] = {}
    for number in range(len(parts) - 1, -1, -1):
        match = postcode_in(parts[number])
        if match is None:
            continue
        found["postcode"] = _tidy(match.group(), match.lastgroup)
        part = parts[number]
        after = part[match.end() :].strip(_EDGES)
        before = part[: match.start()].strip(_EDGES)
        if match.lastgroup in ("five_digits", "us_zip4"):
            before = _US_STATE.sub("", before).strip(_EDGES)
        if "box" in before.casefold():  # P.O. Box 123-00100 Nairobi: the box is no city
            before = ""
        city = after or before
        if city and any(c.isdigit() for c in city):  # a street in the same part
            city = city.split()[-1]
        if not city and number > 0 and not any(c.isdigit() for c in parts[number - 1]):
            city = parts[number - 1]
        elif not city and number + 1 < len(parts) and region_code(parts[number + 1]) is None:
            city = parts[number + 1]  # P.O. Box 123-00100, Nairobi
        if city and not any(c.isdigit() for c in city):
            found["city"] = city
        return found
    candidates = parts[1:]
    while candidates and region_code(candidates[-1]) is not None:
        candidates.pop()  # "..., Leeds, United Kingdom": the country is no city
    if candidates and not any(c.isdigit() for c in candidates[-1]):
        found["city"] = candidates[-1]
    return found
