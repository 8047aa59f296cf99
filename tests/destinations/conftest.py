"""A graph on each store, a fake clock whose sleep is instant, and a receiver."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from identity.destinations import DeliveryWorker
from identity.graph import IdentityGraph
from identity.mapping import SourceMapping
from identity.rules import load_rules
from identity.store.base import Store
from service.webhooks import HttpxTransport, wire
from tests.destinations.receiver import Receiver
from tests.store.conftest import store  # noqa: F401  (the fixture over both backends)

START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CRM: dict[str, Any] = {
    "source": "crm",
    "key": "id",
    "phone_region": "GB",
    "priority": 90,
    "identifiers": {"email": "email", "phone": "phone"},
    "attributes": {
        "first": {"name": "first_name", "type": "name"},
        "email_ok": {"name": "email_ok", "type": "boolean"},
    },
    "consent": {"email": "email_ok"},
}


@dataclass
class FakeTime:
    """The graph's and the worker's clock; ``sleep`` moves it on at once."""

    now_: datetime = START
    slept: list[float] | None = None

    def now(self) -> datetime:
        return self.now_

    def sleep(self, seconds: float) -> None:
        if self.slept is not None:
            self.slept.append(seconds)
        self.now_ += timedelta(seconds=seconds)

    def advance(self, seconds: float) -> None:
        self.now_ += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime(slept=[])


@pytest.fixture
def graph(store: Store, clock: FakeTime) -> Iterator[IdentityGraph]:  # noqa: F811
    g = IdentityGraph(store, load_rules(), clock=clock.now)
    g.ingest.register_source(SourceMapping.from_document(CRM, rules=g.rules))
    transport = wire(g, HttpxTransport())
    yield g
    transport.close()


@pytest.fixture
def receiver(graph: IdentityGraph, clock: FakeTime) -> Iterator[Receiver]:
    def secret() -> str:
        found = graph.destinations.all()
        assert found and found[0].secret
        return found[0].secret

    r = Receiver(secret, lambda: clock.now().timestamp()).start()
    yield r
    r.stop()


def ingest(graph: IdentityGraph, *rows: dict[str, Any]) -> None:
    report = graph.ingest.ingest_rows("crm", list(enumerate(rows, start=1)))
    assert not report.errors, report.errors


NAMED = {"where": {"attribute": "first_name", "exists": True}}
"""The segment most destination tests follow: profiles with a first name."""


class Crash(BaseException):
    """The process dies at the point a test chooses (not an Exception: nothing catches it)."""


def delivery_worker(
    graph: IdentityGraph, clock: FakeTime, name: str = "w1", **kw: Any
) -> DeliveryWorker:
    """A delivery worker on the test's clock, which sleeps by moving that clock."""
    return DeliveryWorker(
        graph.destinations, clock=clock.now, sleep=clock.sleep, worker_id=name, **kw
    )


def read_csv(folder: Path, name: str) -> list[dict[str, str]]:
    with (folder / name).open(newline="") as handle:
        return list(csv.DictReader(handle))
