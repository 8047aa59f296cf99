"""Honorifics written before a name (``Pan``, ``Khun``, ``Smt.``): the packaged table
``identity/config/titles.toml``, read by the full-name parser and the matcher's full-name
words so that a title is never taken for a given name.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from identity.errors import ConfigError
from identity.normalise import normalise_name

TITLES_FILE = "config/titles.toml"
"""The packaged table, inside the ``identity`` package."""


def title_key(word: str) -> str:
    """How a word is looked up in the table: normalised as a name, dots dropped
    (``Smt.`` = ``smt``, ``Khun`` = ``KHUN``, ``คุณ`` = ``khun``)."""
    return normalise_name(word).replace(".", "").strip()


@dataclass(frozen=True, slots=True)
class Honorifics:
    """The titles of the table, as :func:`title_key` writes them."""

    titles: frozenset[str]
    given_name: frozenset[str]
    """Titles that go with the given name: one name after them is the first name."""
    also_a_name: frozenset[str]
    """Titles that are also names people bear: titles only before two or more words."""

    def leading_title(self, words: list[str]) -> bool:
        """Whether the first of a name's words is a title of the table."""
        if not words:
            return False
        key = title_key(words[0])
        if key not in self.titles:
            return False
        return key not in self.also_a_name or len(words) >= 3


def parse_honorifics(text: str, path: str = TITLES_FILE) -> Honorifics:
    """Read and check a titles table (the packaged file's format). Raises ConfigError
    naming the file and the field."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"not valid TOML: {error}", path=path) from error
    titles: set[str] = set()
    given: set[str] = set()
    names: set[str] = set()
    for language, table in doc.items():
        if not isinstance(table, dict):
            raise ConfigError("expected a table per language", path=path, field=language)
        unknown = set(table) - {"source", "titles", "given_name", "also_a_name"}
        if unknown:
            raise ConfigError(
                f"unknown keys {sorted(unknown)}; expected source, titles, given_name, also_a_name",
                path=path,
                field=language,
            )
        if not isinstance(table.get("source"), str) or not table["source"].strip():
            raise ConfigError(
                "each language names the source its titles can be checked against",
                path=path,
                field=f"{language}.source",
            )
        listed = table.get("titles")
        if (
            not isinstance(listed, list)
            or not listed
            or not all(isinstance(t, str) and title_key(t) for t in listed)
        ):
            raise ConfigError(
                "expected a non-empty list of titles", path=path, field=f"{language}.titles"
            )
        keys = {title_key(t) for t in listed}
        titles |= keys
        given_name = table.get("given_name", False)
        if not isinstance(given_name, bool):
            raise ConfigError("expected true or false", path=path, field=f"{language}.given_name")
        if given_name:
            given |= keys
        also = table.get("also_a_name", [])
        if not isinstance(also, list) or not all(isinstance(t, str) for t in also):
            raise ConfigError("expected a list", path=path, field=f"{language}.also_a_name")
        also_keys = {title_key(t) for t in also}
        if not also_keys <= keys:
            raise ConfigError(
                f"{sorted(also_keys - keys)} not among the language's titles",
                path=path,
                field=f"{language}.also_a_name",
            )
        names |= also_keys
    return Honorifics(frozenset(titles), frozenset(given), frozenset(names))


@cache
def honorifics() -> Honorifics:
    """The packaged table, read once."""
    text = resources.files("identity").joinpath(TITLES_FILE).read_text("utf-8")
    return parse_honorifics(text, f"identity/{TITLES_FILE}")
