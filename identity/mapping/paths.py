"""Paths into nested JSON rows: ``contact.email``, ``addresses[0].postcode`` and
``phones[*].number`` (every element of an array, so one path can yield several values).

A field name that is a key of the row as written always wins, so a CSV column named
``e.mail`` or ``tags[1]`` is still read as that column. Paths are parsed once, when the
mapping is loaded, and a syntax error is reported naming the field of the mapping.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from identity.model import JSONValue

_SEGMENT = re.compile(r"([^.\[\]]+)((?:\[(?:\d+|\*)\])*)")
_INDEX = re.compile(r"\[(\d+|\*)\]")
ALL = -1
"""The index written ``[*]``: every element of the array."""


class PathSyntaxError(ValueError):
    """A field path that cannot be read; the message says where and how to write it."""


@dataclass(frozen=True, slots=True)
class FieldPath:
    """A parsed field path: keys and array indexes (``ALL`` for ``[*]``) in order."""

    text: str
    steps: tuple[str | int, ...]

    @property
    def nested(self) -> bool:
        return len(self.steps) > 1

    @property
    def many(self) -> bool:
        """Whether the path can yield several values (it holds ``[*]``)."""
        return ALL in self.steps

    @property
    def top(self) -> str:
        """The row's top-level key the path starts from."""
        first = self.steps[0]
        assert isinstance(first, str)
        return first

    def values(self, row: Mapping[str, JSONValue]) -> list[JSONValue]:
        """Every value at the path (none when a step is missing or of the wrong type).

        An array at the end of a path without ``[*]`` is one value (a list), as a
        top-level JSON array always was."""
        if self.text in row:
            return [row[self.text]]
        current: list[JSONValue] = [dict(row)] if not isinstance(row, dict) else [row]
        for step in self.steps:
            following: list[JSONValue] = []
            for node in current:
                if isinstance(step, str):
                    if isinstance(node, dict) and step in node:
                        following.append(node[step])
                elif isinstance(node, list):
                    if step == ALL:
                        following.extend(node)
                    elif step < len(node):
                        following.append(node[step])
            current = following
        return current

    def get(self, row: Mapping[str, JSONValue]) -> JSONValue:
        """The value at the path: a list of the values for a ``[*]`` path, else the one
        value or None."""
        found = self.values(row)
        if self.many:
            return [v for v in found if v is not None]
        return found[0] if found else None


def parse_path(text: str) -> FieldPath:
    """Parse ``text`` as a field path. Raises PathSyntaxError saying what is wrong."""
    if not text or text != text.strip():
        raise PathSyntaxError("a field path may not be empty or start or end with a space")
    if "[" not in text and "]" not in text and "." not in text:
        return FieldPath(text, (text,))
    steps: list[str | int] = []
    for part in text.split("."):
        match = _SEGMENT.fullmatch(part)
        if match is None:
            raise PathSyntaxError(
                f"cannot read {part!r} in the path {text!r}: write keys joined by '.', each "
                "optionally followed by [0] (an array element) or [*] (every element), as in "
                "'addresses[0].postcode' or 'phones[*].number'"
            )
        steps.append(match.group(1))
        for index in _INDEX.findall(match.group(2)):
            steps.append(ALL if index == "*" else int(index))
    return FieldPath(text, tuple(steps))
