"""Loads the SQLite store's statements from ``queries/<area>.sql``, by area and name.

Each file holds named statements in the aiosql/yesql convention: a ``-- name: NAME`` line,
then the statement up to the next name; other ``--`` lines are comments. The files are
package data, so a wheel (the Docker image) carries them as it carries the migrations.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

from identity.errors import StoreError

_AREA = re.compile(r"^[a-z][a-z0-9_]*$")
_NAME_LINE = re.compile(r"^--\s*name:\s*([a-z][a-z0-9_]*)\s*$")


def parse(area: str, text: str) -> dict[str, str]:
    """The named statements of the text of ``queries/<area>.sql``, comments removed."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        named = _NAME_LINE.match(line.strip())
        if named:
            name = named.group(1)
            if name in found:
                raise StoreError(f"queries/{area}.sql names the statement {name!r} twice")
            current = found[name] = []
        elif line.lstrip().startswith("--") or current is None:
            continue
        else:
            current.append(line.rstrip())
    statements: dict[str, str] = {}
    for name, lines in found.items():
        body = "\n".join(lines).strip().removesuffix(";").strip()
        if not body:
            raise StoreError(f"queries/{area}.sql: the statement {name!r} is empty")
        statements[name] = body
    return statements


@cache
def area_statements(area: str) -> dict[str, str]:
    """Every statement of ``queries/<area>.sql``, by name."""
    if not _AREA.match(area):
        raise StoreError(f"invalid SQL area name {area!r}")
    folder = resources.files("identity.store.sqlite").joinpath("queries")
    try:
        text = folder.joinpath(f"{area}.sql").read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise StoreError(f"the SQL file queries/{area}.sql is not installed") from error
    return parse(area, text)


@cache
def statement(area: str, name: str) -> str:
    """The text of the statement ``name`` in ``queries/<area>.sql``."""
    statements = area_statements(area)
    try:
        return statements[name]
    except KeyError:
        raise StoreError(
            f"queries/{area}.sql has no statement named {name!r} "
            f"(it has: {', '.join(sorted(statements))})"
        ) from None


def available() -> dict[str, list[str]]:
    """The statement names of every packaged ``queries/*.sql`` file, by area, sorted."""
    folder = resources.files("identity.store.sqlite").joinpath("queries")
    areas = sorted(
        entry.name.removesuffix(".sql") for entry in folder.iterdir() if entry.name.endswith(".sql")
    )
    return {area: sorted(area_statements(area)) for area in areas}


def named_row(fields: Sequence[str], row: Sequence[Any]) -> dict[str, Any]:
    """A selected row by column name, for a statement that selects ``fields`` in order."""
    return dict(zip(fields, row, strict=True))
