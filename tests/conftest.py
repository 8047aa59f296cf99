"""Hooks for the whole suite."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

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


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One Spark local-mode session for every test that asks (starting the JVM costs
    seconds); `idgraph link --engine spark` in a test runs on it, as on a notebook's."""
    from service.spark_session import spark_session

    # The JIT's first tier only: the tests' jobs are small and short, so compiling hot code
    # fully costs more than it saves (a third off starting the JVM and the first jobs).
    fast_start = {"spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1"}
    with spark_session("local[2]", conf=fast_start, partitions=2) as session:
        yield session
