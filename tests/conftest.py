"""Hooks for the whole suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.store.conftest import RUNNING


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    """Name the running test to the store factories (tests/store/conftest.py: require_mark)."""
    RUNNING.append(item)
    try:
        yield
    finally:
        RUNNING.remove(item)
