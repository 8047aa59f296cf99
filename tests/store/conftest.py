"""The store contract suite runs once per backend registered here.

A backend factory takes pytest's ``tmp_path`` and returns an empty, migrated store, or
calls ``pytest.skip`` with the reason it cannot run on this machine. The Neo4j store's
issue adds its leg here; nothing else in the suite may differ between backends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from identity.store.base import Store
from identity.store.sqlite import SQLiteStore


def _sqlite(tmp_path: Path) -> Store:
    return SQLiteStore(tmp_path / "store.db")


BACKENDS: dict[str, Callable[[Path], Store]] = {"sqlite": _sqlite}


@pytest.fixture(params=sorted(BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened = BACKENDS[request.param](tmp_path)
    yield opened
    opened.close()
