"""Batches close by bytes as well as rows (``max_batch_bytes``): every request body stays
under the limit unless it holds one row larger than the limit alone, and the consumer
still gets exactly the change feed and the members; on both stores. The option goes
through the command line and GraphQL and is stored with the destination."""

from __future__ import annotations

import itertools
import json
import random
from typing import Any

import pytest

from identity.destinations import Backoff, DeliveryWorker, DestinationSettings
from identity.errors import InvalidArgument
from identity.graph import IdentityGraph
from tests.destinations.conftest import NAMED, FakeTime, ingest
from tests.destinations.receiver import Consumer, Receiver, feed
from tests.destinations.test_cli import cli_graph, idgraph  # noqa: F401  (the fixture)
from tests.destinations.test_graphql import ADD, Call, api  # noqa: F401  (the fixture)

LIMIT = 1500


def _person(rng: random.Random, key: str, size: int | None = None) -> dict[str, Any]:
    size = size if size is not None else rng.randint(10, 400)
    return {"id": key, "email": f"{key}@example.com", "first": "N" * size}


def test_bodies_stay_under_the_byte_limit_and_the_consumer_gets_exactly_the_feed(
    graph: IdentityGraph, receiver: Receiver, clock: FakeTime
) -> None:
    rng = random.Random(2)
    ingest(graph, *[_person(rng, f"c{i}") for i in range(25)])
    ingest(graph, _person(rng, "giant", size=3 * LIMIT))  # alone over the limit
    graph.segments.define("named", NAMED)
    graph.destinations.add(
        DestinationSettings(
            "hook",
            "named",
            url=receiver.url,
            fields=["profile_id", "email", "first_name"],
            batch_size=1000,
            max_batch_bytes=LIMIT,
            max_attempts=100,
        )
    )
    worker = DeliveryWorker(
        graph.destinations,
        clock=clock.now,
        sleep=clock.sleep,
        worker_id="w1",
        backoff=Backoff(rng=random.Random(1)),
    )
    for round_ in range(4):
        rows = [_person(rng, f"r{rng.randrange(12)}") for _ in range(rng.randint(4, 8))]
        rows.append({"id": f"c{rng.randrange(25)}", "email": "gone@example.com"})  # exits
        if round_ == 2:
            rows.append(_person(rng, "giant2", size=2 * LIMIT))
        ingest(graph, *rows)
        receiver.will(*(rng.choice(["200", "500", "close"]) for _ in range(rng.randint(0, 4))))
        worker.run_until_idle(max_wait=float("inf"))
        clock.advance(1)

    assert len(receiver.requests) > 10
    for request in receiver.requests:
        assert len(request.body) <= LIMIT or len(request.rows) == 1, (
            len(request.body),
            len(request.rows),
        )
    alone = [r for r in receiver.requests if len(r.body) > LIMIT]
    assert {r.rows[0]["first_name"] for r in alone} == {"N" * 3 * LIMIT, "N" * 2 * LIMIT}
    # A cut snapshot page was full: the next page's first row would have passed the limit.
    pages: dict[str, bytes] = {}
    for r in receiver.processed():
        if r.rows and r.rows[0]["kind"] == "snapshot":
            pages.setdefault(r.headers["idempotency-key"], r.body)
    bodies = list(pages.values())
    assert len(bodies) > 3
    for body, following in itertools.pairwise(bodies):
        assert len(body) + len(following.splitlines(keepends=True)[0]) > LIMIT
    state = graph.store.destinations.states(["hook"])["hook"]
    assert state.snapshot_seq is not None
    consumer = Consumer().take(receiver.processed())
    changes = graph.store.segments.changes("named", after=state.snapshot_seq, limit=100_000)
    assert any(c.kind.value == "exited" for c in changes)
    assert consumer.sequence() == feed(changes)
    assert consumer.members() == set(graph.store.segments.members("named", limit=10_000))


def test_the_byte_limit_is_checked_and_kept(graph: IdentityGraph, receiver: Receiver) -> None:
    graph.segments.define("named", NAMED)
    with pytest.raises(InvalidArgument, match="max_batch_bytes 0: must be between 1 and"):
        graph.destinations.add(
            DestinationSettings("hook", "named", url=receiver.url, max_batch_bytes=0)
        )
    graph.destinations.add(
        DestinationSettings("hook", "named", url=receiver.url, max_batch_bytes=5000)
    )
    graph.destinations.add(DestinationSettings("plain", "named", url=receiver.url))
    assert graph.destinations.get("hook").max_batch_bytes == 5000
    assert graph.destinations.get("plain").max_batch_bytes == 1024 * 1024
    assert graph.store.destinations.get(["hook"])[0].config["max_batch_bytes"] == 5000


def test_graphql_takes_and_shows_max_batch_bytes(
    graph: IdentityGraph,
    api: Call,  # noqa: F811
    receiver: Receiver,
) -> None:
    graph.segments.define("named", {"where": {"attribute": "first_name", "exists": True}})
    query = ADD.replace("fields state", "fields maxBatchBytes state")
    hook = {"name": "hook", "segment": "named", "webhook": receiver.url, "start": "now"}
    added = api(query, input={**hook, "maxBatchBytes": 4096})
    assert added["data"]["addDestination"]["destination"]["maxBatchBytes"] == 4096
    refused = api(query, input={**hook, "name": "bad", "maxBatchBytes": -1})
    assert refused["data"]["addDestination"]["argument"] == "max_batch_bytes"
    assert "-1" in refused["data"]["addDestination"]["message"]


def test_the_command_line_takes_max_batch_bytes(
    cli_graph: IdentityGraph,  # noqa: F811
) -> None:
    added = idgraph(
        "destinations",
        "add",
        "hook",
        "--segment",
        "named",
        "--webhook",
        "http://127.0.0.1:9/h",
        "--max-batch-bytes",
        "2048",
    )
    assert added.exit_code == 0, added.output
    shown = json.loads(idgraph("destinations", "show", "hook", "--json").stdout)
    assert shown["config"]["max_batch_bytes"] == 2048
    bad = idgraph(
        "destinations",
        "add",
        "bad",
        "--segment",
        "named",
        "--webhook",
        "http://x/h",
        "--max-batch-bytes",
        "0",
    )
    assert bad.exit_code != 0 and "max_batch_bytes 0" in bad.output
