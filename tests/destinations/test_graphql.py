"""Destinations over GraphQL on both stores: scopes (personal fields need pii:read too),
add, read state and dead letters, replay, pause, resume, remove, each audited; and the
server's own delivery worker, on unless IDGRAPH_DESTINATIONS=off."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from identity.destinations import DeliveryWorker, DestinationSettings
from identity.graph import IdentityGraph
from service.app import create_app
from service.auth import create_token
from service.config import Settings
from tests.destinations.conftest import FakeTime, ingest
from tests.destinations.receiver import Consumer, Receiver

ROLES = {
    "writer": ["destinations:write", "destinations:read"],
    "pii_writer": ["destinations:write", "destinations:read", "pii:read"],
    "reader": ["destinations:read"],
}
ADD = """mutation Add($input: AddDestinationInput!) { addDestination(input: $input) {
  __typename
  ... on DestinationAdded { secret destination { name kind url fields state { cursor } } }
  ... on DestinationRefused { code message argument } } }"""
SHOW = """query Show($name: String!) { destination(name: $name) {
  name paused fields
  state { lag attempts lastError lastStatus deliveredRows snapshotInProgress }
  deadLetters { id kind fromSeq toSeq attempts lastStatus status } } }"""
REPLAY = """mutation { replayDeadLetters(destination: "hook") {
  __typename ... on DeadLettersReplayed { replayed { id status } failed { id } } } }"""

Call = Callable[..., dict[str, Any]]


@pytest.fixture
def api(graph: IdentityGraph, tmp_path: Path) -> Iterator[Callable[..., Call]]:
    tokens_file = tmp_path / "tokens.toml"
    tokens = {role: create_token(role, scopes, tokens_file) for role, scopes in ROLES.items()}
    with TestClient(create_app(Settings(tokens_file=tokens_file, destinations="off"), graph)) as c:

        def gql(query: str, role: str = "pii_writer", **variables: Any) -> dict[str, Any]:
            headers = {"Authorization": f"Bearer {tokens[role]}"}
            answer = c.post(
                "/graphql", json={"query": query, "variables": variables}, headers=headers
            )
            assert answer.status_code == 200, answer.text
            result: dict[str, Any] = answer.json()
            return result

        yield gql  # type: ignore[misc]


def _hook(url: str, **more: Any) -> dict[str, Any]:
    return {"name": "hook", "segment": "named", "webhook": url, "start": "now", **more}


def test_adding_a_destination_with_personal_fields_needs_pii_read(
    graph: IdentityGraph, api: Call, receiver: Receiver
) -> None:
    graph.segments.define("named", {"where": {"attribute": "first_name", "exists": True}})
    denied = api(ADD, role="writer", input=_hook(receiver.url, fields=["profile_id", "email"]))
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (
        "'pii:read'" in denied["errors"][0]["message"] and "email" in denied["errors"][0]["message"]
    )
    assert not graph.destinations.all()
    plain = api(ADD, role="writer", input=_hook(receiver.url))
    assert plain["data"]["addDestination"]["__typename"] == "DestinationAdded"
    refused = api(ADD, role="reader", input=_hook(receiver.url))
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_a_destination_round_trip_over_graphql(
    graph: IdentityGraph, api: Call, receiver: Receiver, clock: FakeTime
) -> None:
    graph.segments.define("named", {"where": {"attribute": "first_name", "exists": True}})
    bad = api(ADD, input=_hook("mailto:x", fields=["email"]))["data"]["addDestination"]
    assert bad == {
        "__typename": "DestinationRefused",
        "code": "INVALID_ARGUMENT",
        "message": "url 'mailto:x': must be an http:// or https:// URL with a host",
        "argument": "url",
    }
    added = api(ADD, input=_hook(receiver.url, fields=["email"], maxAttempts=1))
    added = added["data"]["addDestination"]
    assert added["secret"].startswith("whsec_") and added["destination"]["kind"] == "webhook"
    again = api(ADD, input=_hook(receiver.url))["data"]["addDestination"]
    assert again["code"] == "INVALID_ARGUMENT" and again["argument"] == "name"

    ingest(graph, {"id": "a", "email": "a@example.com", "first": "Ann"})
    shown = api(SHOW, role="reader", name="hook")["data"]["destination"]
    assert shown["state"]["lag"] == 1 and shown["deadLetters"] == []
    receiver.will("503")
    DeliveryWorker(graph.destinations, clock=clock.now, sleep=clock.sleep).run_until_idle()
    shown = api(SHOW, role="reader", name="hook")["data"]["destination"]
    (dead,) = shown["deadLetters"]
    assert (dead["kind"], dead["attempts"], dead["lastStatus"]) == ("changes", 1, 503)
    assert shown["state"]["lag"] == 0 and shown["state"]["lastStatus"] == 503

    replayed = api(REPLAY, role="writer")["data"]["replayDeadLetters"]
    assert replayed["replayed"] == [{"id": dead["id"], "status": "replayed"}]
    assert api(SHOW, role="reader", name="hook")["data"]["destination"]["deadLetters"] == []
    consumer = Consumer().take(receiver.processed())
    assert [c[1] for c in consumer.sequence()] == ["entered"]

    paused = api(
        'mutation { pauseDestination(name: "hook") { __typename '
        "... on DestinationChanged { destination { paused } } } }",
        role="writer",
    )
    assert paused["data"]["pauseDestination"]["destination"]["paused"] is True
    resumed = api('mutation { resumeDestination(name: "hook") { __typename } }', role="writer")
    assert resumed["data"]["resumeDestination"]["__typename"] == "DestinationChanged"
    listed = api("{ destinations { name paused } }", role="reader")["data"]["destinations"]
    assert listed == [{"name": "hook", "paused": False}]
    removed = api(
        'mutation { removeDestination(name: "hook") { __typename '
        "... on DestinationRefused { code } } }",
        role="writer",
    )
    assert removed["data"]["removeDestination"]["__typename"] == "DestinationRemoved"
    gone = api(
        'mutation { removeDestination(name: "hook") { __typename '
        "... on DestinationRefused { code } } }",
        role="writer",
    )
    assert gone["data"]["removeDestination"]["code"] == "UNKNOWN_DESTINATION"
    assert api(SHOW, role="reader", name="hook")["data"]["destination"] is None
    actions = [e.entry.action for e in graph.audit.entries(first=50).entries]
    for action in (
        "add_destination",
        "replay_dead_letters",
        "pause_destination",
        "resume_destination",
        "remove_destination",
    ):
        assert action in actions
    added_entry = graph.audit.entries(action="add_destination").entries[0].entry
    assert added_entry.actor == "pii_writer" and "whsec_" not in str(added_entry.after)


def test_the_server_delivers_unless_destinations_are_off(
    graph: IdentityGraph, receiver: Receiver, tmp_path: Path
) -> None:
    graph.segments.define("named", {"where": {"attribute": "first_name", "exists": True}})
    graph.destinations.add(DestinationSettings("hook", "named", url=receiver.url, start="now"))
    ingest(graph, {"id": "a", "email": "a@example.com", "first": "Ann"})
    settings = Settings(tokens_file=tmp_path / "t.toml", destinations="off")
    with TestClient(create_app(settings, graph)):
        time.sleep(0.5)
    assert receiver.requests == []
    settings = Settings(tokens_file=tmp_path / "t.toml", destinations_idle_seconds=0.05)
    with TestClient(create_app(settings, graph)):
        for _ in range(200):
            if receiver.requests:
                break
            time.sleep(0.05)
    assert [row["kind"] for r in receiver.requests for row in r.rows] == ["entered"]
    state = graph.store.destinations.states(["hook"])["hook"]
    assert state.lease_owner is None  # released at shutdown


def test_metrics_show_each_destinations_lag_attempts_and_dead_letters(
    graph: IdentityGraph, receiver: Receiver, clock: FakeTime, tmp_path: Path
) -> None:
    graph.segments.define("named", {"where": {"attribute": "first_name", "exists": True}})
    graph.destinations.add(
        DestinationSettings("hook", "named", url=receiver.url, start="now", batch_size=1)
    )
    ingest(graph, {"id": "a", "email": "a@x.org", "first": "A"})
    receiver.will("400")
    DeliveryWorker(graph.destinations, clock=clock.now, sleep=clock.sleep).run_until_idle()
    ingest(graph, {"id": "b", "email": "b@x.org", "first": "B"})
    receiver.will("500")
    DeliveryWorker(graph.destinations, clock=clock.now, sleep=clock.sleep).run_once()
    settings = Settings(tokens_file=tmp_path / "t.toml", destinations="off")
    with TestClient(create_app(settings, graph)) as client:
        text = client.get("/metrics").text
    assert 'idgraph_destination_dead_letters{destination="hook"} 1.0' in text
    assert 'idgraph_destination_attempts{destination="hook"} 1.0' in text
    assert 'idgraph_destination_lag{destination="hook"} 1.0' in text
