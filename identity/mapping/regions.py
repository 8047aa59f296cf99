"""A row's phone region from a country field: ISO 3166 codes (``GB``, ``us``), a few ISO
alpha-3 codes, the English names people type (``United Kingdom``, ``USA``, ``India``),
formal names (``Republic of India``, ``Federal Republic of Germany``) and the countries'
own names in their own scripts (``Deutschland``, ``Polska``, ``中国``, ``ประเทศไทย``).

``phonenumbers`` knows every region by its two-letter code but names none, so the names
are a small table here, documented in docs/sources.md; a country it lacks is reported per
row and the mapping's default region used. pycountry would name them all, at the price of
a large dependency for a column that, in real exports, holds a few dozen countries.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

_NAMES: dict[str, str] = {
    # alpha-3 codes and English names, casefolded, without accents or punctuation
    "gbr": "GB", "united kingdom": "GB", "uk": "GB", "great britain": "GB", "britain": "GB",
    "england": "GB", "scotland": "GB", "wales": "GB", "northern ireland": "GB",
    "united kingdom of great britain and northern ireland": "GB",
    "usa": "US", "united states": "US", "united states of america": "US", "america": "US",
    "us of a": "US",
    "ind": "IN", "india": "IN", "bharat": "IN",
    "pol": "PL", "poland": "PL", "polska": "PL",
    "deu": "DE", "germany": "DE", "deutschland": "DE",
    "ken": "KE", "kenya": "KE",
    "chn": "CN", "china": "CN", "peoples republic of china": "CN", "prc": "CN",
    "tha": "TH", "thailand": "TH",
    "irl": "IE", "ireland": "IE", "republic of ireland": "IE", "eire": "IE",
    "fra": "FR", "france": "FR",
    "esp": "ES", "spain": "ES", "espana": "ES",
    "ita": "IT", "italy": "IT", "italia": "IT",
    "nld": "NL", "netherlands": "NL", "the netherlands": "NL", "holland": "NL",
    "bel": "BE", "belgium": "BE",
    "che": "CH", "switzerland": "CH",
    "aut": "AT", "austria": "AT",
    "prt": "PT", "portugal": "PT",
    "swe": "SE", "sweden": "SE",
    "nor": "NO", "norway": "NO",
    "dnk": "DK", "denmark": "DK",
    "fin": "FI", "finland": "FI",
    "cze": "CZ", "czech republic": "CZ", "czechia": "CZ",
    "rou": "RO", "romania": "RO",
    "grc": "GR", "greece": "GR",
    "tur": "TR", "turkey": "TR", "turkiye": "TR",
    "ukr": "UA", "ukraine": "UA",
    "rus": "RU", "russia": "RU", "russian federation": "RU",
    "can": "CA", "canada": "CA",
    "mex": "MX", "mexico": "MX",
    "bra": "BR", "brazil": "BR", "brasil": "BR",
    "arg": "AR", "argentina": "AR",
    "aus": "AU", "australia": "AU",
    "nzl": "NZ", "new zealand": "NZ",
    "jpn": "JP", "japan": "JP",
    "kor": "KR", "south korea": "KR", "korea": "KR", "republic of korea": "KR",
    "twn": "TW", "taiwan": "TW",
    "hkg": "HK", "hong kong": "HK",
    "sgp": "SG", "singapore": "SG",
    "mys": "MY", "malaysia": "MY",
    "idn": "ID", "indonesia": "ID",
    "phl": "PH", "philippines": "PH",
    "vnm": "VN", "vietnam": "VN", "viet nam": "VN",
    "pak": "PK", "pakistan": "PK",
    "bgd": "BD", "bangladesh": "BD",
    "lka": "LK", "sri lanka": "LK",
    "npl": "NP", "nepal": "NP",
    "are": "AE", "united arab emirates": "AE", "uae": "AE",
    "sau": "SA", "saudi arabia": "SA",
    "isr": "IL", "israel": "IL",
    "egy": "EG", "egypt": "EG",
    "nga": "NG", "nigeria": "NG",
    "gha": "GH", "ghana": "GH",
    "zaf": "ZA", "south africa": "ZA",
    "tza": "TZ", "tanzania": "TZ",
    "uga": "UG", "uganda": "UG",
    "eth": "ET", "ethiopia": "ET",
    # names in the countries' own languages, written in Latin letters
    "rzeczpospolita polska": "PL", "bundesrepublik deutschland": "DE",
    "jamhuri ya kenya": "KE", "zhongguo": "CN", "pr china": "CN", "prathet thai": "TH",
    "siam": "TH", "nederland": "NL", "belgie": "BE", "belgique": "BE", "schweiz": "CH",
    "suisse": "CH", "svizzera": "CH", "osterreich": "AT", "sverige": "SE", "norge": "NO",
    "danmark": "DK", "suomi": "FI", "cesko": "CZ", "ceska republika": "CZ",
    "nippon": "JP", "nihon": "JP", "hellas": "GR", "ellada": "GR",
    "republique francaise": "FR", "reino de espana": "ES", "repubblica italiana": "IT",
    # formal names whose short form is another country's: the prefix rule must not apply
    "democratic peoples republic of korea": "KP", "north korea": "KP",
}  # fmt: skip
_OWN_SCRIPT: dict[str, str] = {
    "中国": "CN", "中華人民共和國": "CN", "中华人民共和国": "CN",
    "ประเทศไทย": "TH", "ราชอาณาจักรไทย": "TH", "ไทย": "TH",
    "भारत": "IN", "भारत गणराज्य": "IN",
    "україна": "UA", "россия": "RU", "ελλάδα": "GR", "ελλάς": "GR",
    "日本": "JP", "대한민국": "KR", "한국": "KR", "台灣": "TW", "臺灣": "TW", "台湾": "TW",
    "香港": "HK", "việt nam": "VN", "ኢትዮጵያ": "ET", "مصر": "EG", "ישראל": "IL",
}  # fmt: skip
# "Republic of India", "Kingdom of Thailand", "Federal Republic of Germany": a formal
# name is a form of state and "of" before the name people use.
_FORMAL = re.compile(
    r"^(?:(?:democratic|federal|federative|socialist|peoples|islamic|united|arab|"
    r"hellenic|plurinational|bolivarian|oriental|co-operative|cooperative)\s+)*"
    r"(?:republic|kingdom|state|states|commonwealth|confederation|federation|"
    r"principality|grand duchy|sultanate|emirates?)\s+of\s+(?:the\s+)?(.+)$"
)
_NOT_LETTERS = re.compile(r"[^a-z ]+")
_SPACES = re.compile(r"\s+")


def region_code(text: str) -> str | None:
    """The ``phonenumbers`` region for a country as written, or None when unknown."""
    code = text.strip().upper()
    if code in phonenumbers.SUPPORTED_REGIONS:
        return code
    own = _OWN_SCRIPT.get(_SPACES.sub(" ", text.strip().casefold()))
    if own is not None:
        return own
    plain = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    # Dots and apostrophes join what they stand in ("U.S.A.", "People's"); other
    # punctuation separates words.
    plain = plain.replace("'", "").replace(".", "")
    plain = _SPACES.sub(" ", _NOT_LETTERS.sub(" ", plain)).strip()
    plain = plain.removeprefix("the ") if plain not in _NAMES else plain
    if plain in _NAMES:
        return _NAMES[plain]
    formal = _FORMAL.match(plain)
    return _NAMES.get(formal.group(1)) if formal else None
