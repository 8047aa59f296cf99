"""GraphQL subscriptions over WebSocket (graphql-transport-ws): the profile and segment
change feeds pushed as records arrive, resumed from a cursor, with the API's tokens,
scopes and limits."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from identity.graph import IdentityGraph
from identity.store.base import Store
from identity.store.neo4j import Neo4jStore
from identity.store.sqlite import SQLiteStore
from tests.service.conftest import SCOPE_ROLES, Api
from tests.store.conftest import NoNeo4j, neo4j_server

pytestmark = pytest.mark.both_stores

PROTOCOL = "graphql-transport-ws"
POLL = 0.05

PROFILE_CHANGES = """subscription ($after: String) {
  profileChanges(after: $after) { cursor node { kind profileId related at } }
}"""
SEGMENT_CHANGES = """subscription ($segment: String!, $after: String) {
  segmentChanges(segment: $segment, after: $after) { cursor node { kind profileId mergedInto } }
}"""
FEED = """query ($after: String) {
  profileChanges(after: $after) { edges { cursor node { kind profileId related } } }
}"""
PROFILE = """query ($kind: String!, $value: String!) {
  profileByIdentifier(kind: $kind, value: $value) { id }
}"""
DEFINE = """mutation ($name: String!, $definition: JSON!) {
  defineSegment(name: $name, definition: $definition) { __typename }
}"""


def receive(ws: WebSocketTestSession, seconds: float = 10) -> dict[str, Any]:
    """The next message, failing the test when none comes within ``seconds`` (the test
    client's own receive waits for ever). A close raises WebSocketDisconnect."""

    async def next_message() -> Any:
        with anyio.fail_after(seconds):
            return await ws._send_rx.receive()

    message = ws.portal.call(next_message)
    ws._raise_on_close(message)
    found: dict[str, Any] = json.loads(message["text"])
    return found


@contextmanager
def connect(
    api: Api, role: str | None = "admin", payload: dict[str, Any] | None = None
) -> Iterator[WebSocketTestSession]:
    """A connection acknowledged by the server: the token of ``role`` in the upgrade
    request's header, or whatever ``payload`` says in ``connection_init``."""
    headers = api.auth(role) if payload is None else {}
    with api.client.websocket_connect("/graphql", subprotocols=[PROTOCOL], headers=headers) as ws:
        assert ws.accepted_subprotocol == PROTOCOL
        ws.send_json({"type": "connection_init", "payload": payload or {}})
        assert receive(ws) == {"type": "connection_ack"}
        yield ws


def subscribe(ws: WebSocketTestSession, query: str, id: str = "1", **variables: Any) -> None:
    ws.send_json(
        {"id": id, "type": "subscribe", "payload": {"query": query, "variables": variables}}
    )


def events(ws: WebSocketTestSession, count: int, id: str = "1") -> list[dict[str, Any]]:
    """The next ``count`` events of subscription ``id`` (its field's value)."""
    found = []
    for _ in range(count):
        message = receive(ws)
        assert message["type"] == "next" and message["id"] == id, message
        assert "errors" not in message["payload"], message
        (value,) = message["payload"]["data"].values()
        found.append(value)
    return found


def profile_id(api: Api, email: str) -> str:
    result = api.graphql(PROFILE, kind="email", value=email)
    assert "errors" not in result, result
    found: str = result["data"]["profileByIdentifier"]["id"]
    return found


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api(subscription_poll_seconds=POLL)


def test_a_subscriber_receives_the_merge_when_a_record_joins_two_profiles(api: Api) -> None:
    api.ingest("shop", [{"id": "s1", "email": "ann@example.com"}])
    api.ingest("shop", [{"id": "s2", "phone": "07400 123456"}])
    ann, phone = profile_id(api, "ann@example.com"), None
    with connect(api, role="reader") as ws:
        subscribe(ws, PROFILE_CHANGES)
        created = events(ws, 2)
        assert [e["node"]["kind"] for e in created] == ["CREATED", "CREATED"]
        phone = ({e["node"]["profileId"] for e in created} - {ann}).pop()
        # A record holding both identifiers, sent over REST, joins the two profiles.
        api.ingest(
            "crm", [{"customer_no": "c1", "email": "ann@example.com", "phone": "07400123456"}]
        )
        (merged,) = events(ws, 1)
    survivor = profile_id(api, "ann@example.com")
    assert merged["node"]["kind"] == "MERGED"
    assert {merged["node"]["profileId"], merged["node"]["related"]} == {ann, phone}
    assert merged["node"]["related"] == survivor
    # The same entry, with the same cursor, as the query feed gives after the creations.
    feed = api.graphql(FEED, after=created[-1]["cursor"])["data"]["profileChanges"]["edges"]
    assert [(e["cursor"], e["node"]["kind"]) for e in feed] == [(merged["cursor"], "MERGED")]


def test_a_subscriber_receives_a_profile_entering_a_segment(api: Api) -> None:
    result = api.graphql(
        DEFINE,
        role="admin",
        name="londoners",
        definition={"where": {"attribute": "city", "eq": "london"}},
    )
    assert result["data"]["defineSegment"]["__typename"] == "SegmentDefined", result
    with connect(api, role="activator") as ws:
        subscribe(ws, SEGMENT_CHANGES, segment="londoners")
        api.ingest("crm", [{"customer_no": "c1", "email": "leeds@example.com", "city": "Leeds"}])
        api.ingest("crm", [{"customer_no": "c2", "email": "ann@example.com", "city": "London"}])
        (entered,) = events(ws, 1)
    assert entered["node"] == {
        "kind": "ENTERED",
        "profileId": profile_id(api, "ann@example.com"),
        "mergedInto": None,
    }
    assert entered["cursor"]


def test_resuming_from_a_cursor_gives_what_followed_it_once(api: Api) -> None:
    api.ingest("shop", [{"id": f"s{n}", "email": f"p{n}@example.com"} for n in range(3)])
    with connect(api) as ws:
        subscribe(ws, PROFILE_CHANGES)
        first = events(ws, 3)
    # Disconnected after the second of three; three more are written meanwhile.
    api.ingest("shop", [{"id": f"t{n}", "email": f"q{n}@example.com"} for n in range(3)])
    with connect(api) as ws:
        subscribe(ws, PROFILE_CHANGES, after=first[1]["cursor"])
        resumed = events(ws, 4)
        # One more while subscribed comes next, after the four: none is sent twice.
        api.ingest("shop", [{"id": "u", "email": "last@example.com"}])
        (last,) = events(ws, 1)
    assert resumed[0] == first[2]
    ids = [e["node"]["profileId"] for e in [*first[:2], *resumed, last]]
    assert len(ids) == len(set(ids)) == 7
    assert last["node"]["profileId"] == profile_id(api, "last@example.com")
    everything = api.graphql(FEED)["data"]["profileChanges"]["edges"]
    assert [e["cursor"] for e in everything] == [e["cursor"] for e in [*first[:2], *resumed, last]]


def test_the_token_may_come_in_connection_init(api: Api) -> None:
    for key in ("authorization", "Authorization"):
        payload = {key: f"Bearer {api.tokens['reader']}"}
        with connect(api, payload=payload) as ws:
            subscribe(ws, PROFILE_CHANGES)
            api.ingest("shop", [{"id": key, "email": f"{key}@example.com"}])
            (created,) = events(ws, 1)
            assert created["node"]["kind"] == "CREATED"


@pytest.mark.parametrize(
    ("headers", "payload"),
    [
        ({}, {}),
        ({}, {"authorization": "Bearer idg_not-a-token"}),
        ({}, {"authorization": "idg_no-scheme"}),
        ({"Authorization": "Bearer idg_not-a-token"}, {}),
    ],
)
def test_a_connection_without_a_valid_token_is_closed_forbidden(
    api: Api, headers: dict[str, str], payload: dict[str, Any]
) -> None:
    with api.client.websocket_connect("/graphql", subprotocols=[PROTOCOL], headers=headers) as ws:
        ws.send_json({"type": "connection_init", "payload": payload})
        with pytest.raises(WebSocketDisconnect) as closed:
            receive(ws)
    assert (closed.value.code, closed.value.reason) == (4403, "Forbidden")


def test_a_subscribe_before_the_connection_is_acknowledged_is_closed_unauthorized(
    api: Api,
) -> None:
    with api.client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
        subscribe(ws, PROFILE_CHANGES)
        with pytest.raises(WebSocketDisconnect) as closed:
            receive(ws)
    assert closed.value.code == 4401


def test_a_token_without_the_feeds_scope_gets_forbidden(api: Api) -> None:
    api.graphql(
        DEFINE,
        role="admin",
        name="everyone",
        definition={"where": {"attribute": "city", "exists": True}},
    )
    with connect(api, role="activator") as ws:  # segments:read, not profiles:read
        subscribe(ws, PROFILE_CHANGES)
        refused = receive(ws)
        subscribe(ws, SEGMENT_CHANGES, id="2", segment="everyone")
        api.ingest("crm", [{"customer_no": "c1", "email": "x@example.com", "city": "York"}])
        (allowed,) = events(ws, 1, id="2")
    assert refused["type"] == "error" and refused["id"] == "1"
    assert [e["extensions"]["code"] for e in refused["payload"]] == ["FORBIDDEN"]
    assert allowed["node"]["kind"] == "ENTERED"
    with connect(api, role="reader") as ws:
        subscribe(ws, SEGMENT_CHANGES, segment="everyone")
        refused = receive(ws)
    assert refused["type"] == "error"
    assert [e["extensions"]["code"] for e in refused["payload"]] == ["FORBIDDEN"]


def test_a_bad_subscription_gets_an_error_message_and_the_connection_stays(api: Api) -> None:
    cases = {
        "subscription { profileChanges { cursor nope } }": "GRAPHQL_VALIDATION_FAILED",
        'subscription { profileChanges(after: "bogus") { cursor } }': "INVALID_CURSOR",
        'subscription { segmentChanges(segment: "none") { cursor } }': "UNKNOWN_SEGMENT",
        '{ profile(id: "x") { id } }': "INVALID_REQUEST",  # queries go to POST /graphql
    }
    with connect(api) as ws:
        for number, (query, code) in enumerate(cases.items()):
            subscribe(ws, query, id=str(number))
            refused = receive(ws)
            assert refused["type"] == "error" and refused["id"] == str(number), refused
            assert [e["extensions"]["code"] for e in refused["payload"]] == [code], refused
        # Still open: a good subscription runs.
        api.ingest("shop", [{"id": "s1", "email": "ann@example.com"}])
        subscribe(ws, PROFILE_CHANGES, id="ok")
        assert events(ws, 1, id="ok")[0]["node"]["kind"] == "CREATED"


def test_a_subscription_that_does_not_parse_closes_the_connection_4400(api: Api) -> None:
    with connect(api) as ws:
        subscribe(ws, "subscription { profileChanges { ")
        with pytest.raises(WebSocketDisconnect) as closed:
            receive(ws)
    assert closed.value.code == 4400


def test_the_query_limits_hold_on_subscribe(make_api: Callable[..., Api]) -> None:
    api = make_api(subscription_poll_seconds=POLL, graphql_max_aliases=0, graphql_max_depth=1)
    with connect(api) as ws:
        subscribe(ws, "subscription { a: profileChanges { cursor } }")
        aliased = receive(ws)
        subscribe(ws, PROFILE_CHANGES, id="2")  # profileChanges, node, kind: depth 2
        deep = receive(ws)
    assert aliased["type"] == "error"
    assert aliased["payload"][0]["extensions"] == {"code": "QUERY_TOO_COMPLEX", "limit": "aliases"}
    assert deep["type"] == "error" and "exceeds maximum operation depth" in str(deep["payload"])


def test_subscriptions_over_the_process_limit_are_refused_until_one_ends(
    make_api: Callable[..., Api],
) -> None:
    api = make_api(subscription_poll_seconds=POLL, max_subscriptions=2)
    api.ingest("shop", [{"id": "s1", "email": "ann@example.com"}])
    with connect(api) as ws, connect(api, role="reader") as other:
        subscribe(ws, PROFILE_CHANGES, id="a")
        subscribe(other, PROFILE_CHANGES, id="b")
        events(ws, 1, id="a"), events(other, 1, id="b")
        subscribe(ws, PROFILE_CHANGES, id="c")
        refused = receive(ws)
        assert refused["type"] == "error" and refused["id"] == "c"
        assert refused["payload"][0]["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"
        assert "IDGRAPH_MAX_SUBSCRIPTIONS" in refused["payload"][0]["message"]
        # The client ends one: its place is free again.
        ws.send_json({"id": "a", "type": "complete"})
        for _ in range(50):
            subscribe(ws, PROFILE_CHANGES, id="d")
            message = receive(ws)
            if message["type"] == "next":
                break
            anyio.run(anyio.sleep, POLL)
        assert message["type"] == "next" and message["id"] == "d", message


SUBSCRIPTION_SCOPES = {
    "profileChanges": ("profiles:read", "subscription { profileChanges { cursor } }"),
    "segmentChanges": (
        "segments:read",
        'subscription { segmentChanges(segment: "everyone") { cursor } }',
    ),
}
"""Each subscription and the one scope it needs: its query feed's."""


def test_each_subscription_lets_in_its_scope_and_admin_and_refuses_every_other(
    api: Api,
) -> None:
    schema = api.graphql("{ __schema { subscriptionType { fields { name } } } }", role="admin")
    fields = {f["name"] for f in schema["data"]["__schema"]["subscriptionType"]["fields"]}
    assert fields == set(SUBSCRIPTION_SCOPES)
    definition = {"where": {"attribute": "city", "exists": True}}
    api.graphql(DEFINE, role="admin", name="everyone", definition=definition)
    api.ingest("crm", [{"customer_no": "c1", "email": "x@example.com", "city": "York"}])
    for field, (scope, query) in SUBSCRIPTION_SCOPES.items():
        for other, role in SCOPE_ROLES.items():
            with connect(api, role=role) as ws:
                subscribe(ws, query)
                message = receive(ws)
            if other in (scope, "admin"):
                assert message["type"] == "next", (field, role, message)
                assert "errors" not in message["payload"], (field, role, message)
            else:
                assert message["type"] == "error", (field, role, message)
                (error,) = message["payload"]
                assert error["extensions"]["code"] == "FORBIDDEN", (field, role, message)
                assert f"'{scope}'" in error["message"]


def _second_store(store_backend: str, tmp_path: Path) -> Store:
    """Another connection to the graph fixture's store, as another process would open."""
    if store_backend == "sqlite":
        return SQLiteStore(tmp_path / "store.db")  # the path tests/store/conftest.py uses
    server = neo4j_server()
    assert not isinstance(server, NoNeo4j), server
    uri, settings = server
    return Neo4jStore(uri, **settings)


def test_changes_written_through_another_connection_to_the_store_arrive(
    api: Api, graph: IdentityGraph, store_backend: str, tmp_path: Path
) -> None:
    other = IdentityGraph(_second_store(store_backend, tmp_path), graph.rules)
    try:
        with connect(api, role="reader") as ws:
            subscribe(ws, PROFILE_CHANGES)
            other.ingest.ingest_rows("shop", [(1, {"id": "w1", "email": "elsewhere@example.com"})])
            (created,) = events(ws, 1)
    finally:
        other.close()
    assert created["node"]["kind"] == "CREATED"
    assert created["node"]["profileId"] == profile_id(api, "elsewhere@example.com")


def test_a_closed_connection_gives_its_subscriptions_places_back(
    make_api: Callable[..., Api],
) -> None:
    api = make_api(subscription_poll_seconds=POLL, max_subscriptions=1)
    api.ingest("shop", [{"id": "s1", "email": "ann@example.com"}])
    with connect(api) as ws:
        subscribe(ws, PROFILE_CHANGES)
        events(ws, 1)
    # The client went away without `complete`: its place is free once the server sees it.
    for _ in range(50):
        with connect(api) as ws:
            subscribe(ws, PROFILE_CHANGES)
            message = receive(ws)
        if message["type"] == "next":
            break
        anyio.run(anyio.sleep, POLL)
    assert message["type"] == "next", message


def test_a_subscription_sent_over_http_is_refused_with_where_to_send_it(api: Api) -> None:
    query = "subscription { profileChanges { cursor } }"
    headers = api.auth("admin")
    for response in (
        api.client.post("/graphql", json={"query": query}, headers=headers),
        api.client.get("/graphql", params={"query": query}, headers=headers),
    ):
        assert response.status_code == 200, response.text
        (error,) = response.json()["errors"]
        assert error["extensions"]["code"] == "INVALID_REQUEST"
        assert "WebSocket" in error["message"]


def test_idle_subscribers_of_one_feed_share_one_read_per_poll(
    make_api: Callable[..., Api], graph: IdentityGraph
) -> None:
    poll, subscribers, seconds = 0.2, 5, 1.5
    api = make_api(subscription_poll_seconds=poll)
    api.ingest("shop", [{"id": "s1", "email": "ann@example.com"}])

    def reads() -> int:
        return graph.store.statements_per_operation().get("profiles.changes", 0)

    with ExitStack() as stack:
        sockets = [stack.enter_context(connect(api, role="reader")) for _ in range(subscribers)]
        for ws in sockets:
            subscribe(ws, PROFILE_CHANGES)
            events(ws, 1)  # caught up
        before = reads()
        anyio.run(anyio.sleep, seconds)
        idle = reads() - before
        # All of them still follow the log: the next change reaches each once.
        api.ingest("shop", [{"id": "s2", "email": "bo@example.com"}])
        arrived = [events(ws, 1)[0]["node"]["profileId"] for ws in sockets]
    assert arrived == [profile_id(api, "bo@example.com")] * subscribers
    # One read per interval for the feed (a subscriber each would be five).
    assert 0 < idle <= seconds / poll + 2, idle
