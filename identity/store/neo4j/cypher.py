"""Loads the Neo4j store's Cypher statements from the ``cypher`` folder, by name.

Every statement the Neo4j store sends is one ``cypher/NAME.cypher`` file (checked by Neo4j's
own parser in the tests); ``schema.cypher`` holds several statements ended by ``;``.
The folder is installed as the data package ``cypher``, so an editable install reads the
repository's files and a wheel (the Docker image) carries its own copy.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from identity.errors import StoreError

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# A ';' that ends a line (optionally followed by a comment) ends a statement.
_END = re.compile(r";[ \t]*(?://[^\n]*)?$", re.MULTILINE)


def _strip_comments(text: str) -> str:
    return "\n".join(
        line for line in text.splitlines() if not line.lstrip().startswith("//")
    ).strip()


@cache
def statement(name: str) -> str:
    """The text of ``cypher/<name>.cypher``, comments removed."""
    if not _NAME.match(name):
        raise StoreError(f"invalid Cypher statement name {name!r}")
    try:
        text = resources.files("cypher").joinpath(f"{name}.cypher").read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError) as error:
        raise StoreError(f"the Cypher statement cypher/{name}.cypher is not installed") from error
    body = _strip_comments(text)
    if not body:
        raise StoreError(f"cypher/{name}.cypher holds no statement")
    return body


@cache
def statements(name: str) -> tuple[str, ...]:
    """The statements of a multi-statement file such as ``schema.cypher``, in order."""
    return tuple(part.strip() for part in _END.split(statement(name)) if part.strip())


def available() -> list[str]:
    """Names of every packaged statement file, sorted."""
    return sorted(
        entry.name.removesuffix(".cypher")
        for entry in resources.files("cypher").iterdir()
        if entry.name.endswith(".cypher")
    )
