"""A destination whose segment is deleted stops visibly (state ``segment_removed``, the
date, what to do) in the service, the CLI answer, GraphQL and /metrics; the worker passes
it by without a retry or a log line per pass; resuming it once the segment is defined
again starts over with a new snapshot. On both stores."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from identity.destinations import DestinationSettings
from identity.errors import InvalidArgument
from identity.graph import IdentityGraph
from service.app import create_app
from service.auth import create_token
from service.config import Settings
from tests.destinations.conftest import NAMED, FakeTime, delivery_worker, ingest
from tests.destinations.receiver import Receiver
from tests.destinations.test_cli import cli_graph, idgraph  # noqa: F401  (the fixture)


def test_a_deleted_segment_stops_its_destination_until_it_is_defined_again_and_resumed(
    graph: IdentityGraph, receiver: Receiver, clock: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    ingest(graph, {"id": "a", "email": "a@x.org", "first": "A"})
    graph.segments.define("named", NAMED)
    graph.segments.define("other", NAMED)
    graph.destinations.add(DestinationSettings("hook", "named", url=receiver.url))
    graph.destinations.add(DestinationSettings("keeps", "other", url=receiver.url, start="now"))
    worker = delivery_worker(graph, clock)
    worker.run_until_idle()
    assert [row["kind"] for r in receiver.requests for row in r.rows] == ["snapshot"]

    clock.advance(3600)
    deleted = graph.segments.delete("named")
    assert deleted is not None and deleted.stopped_destinations == ["hook"]
    view = graph.destinations.views(["hook"])[0]
    assert view.status == "segment_removed"
    assert view.state.stopped_at == clock.now()
    assert view.problem is not None
    assert "segment named was removed on 2026-06-01 13:00 UTC" in view.problem
    assert graph.destinations.views(["keeps"])[0].status == "ok"
    audit = graph.store.audit.entries(action="delete_segment")[0]
    assert audit.entry.after == {"stopped_destinations": ["hook"]}

    # The worker passes it by: no request, no failure, no log line, however often it looks.
    ingest(graph, {"id": "b", "email": "b@x.org", "first": "B"})  # "keeps" gets b
    sent = len(receiver.requests)
    said_at_delete = [r.getMessage() for r in caplog.records if r.name == "identity.segments"]
    assert said_at_delete == ["segment named deleted: destination(s) hook stopped until resumed"]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="identity.destinations"):
        for _ in range(3):
            report = worker.run_once()
            assert report.failures == 0
    assert [r.headers["idgraph-destination"] for r in receiver.requests[sent:]] == ["keeps"]
    assert not [r for r in caplog.records if "hook" in r.getMessage()]
    assert graph.destinations.views(["hook"])[0].state.attempts == 0

    with pytest.raises(InvalidArgument, match="segment named was removed on 2026-06-01"):
        graph.destinations.set_paused("hook", False)
    with pytest.raises(InvalidArgument, match="segment named was removed on 2026-06-01"):
        graph.destinations.replay("hook")
    assert graph.destinations.views(["hook"])[0].status == "segment_removed"

    # Defined again: still stopped (its old cursor means nothing to the new segment)...
    graph.segments.define("named", NAMED)
    worker.run_until_idle()
    assert not [r for r in receiver.requests[sent:] if r.headers["idgraph-destination"] == "hook"]
    assert graph.destinations.views(["hook"])[0].status == "segment_removed"
    # ...until resumed: a new snapshot of the members now, then changes.
    graph.destinations.set_paused("hook", False)
    assert graph.destinations.views(["hook"])[0].status == "snapshot"
    worker.run_until_idle()
    ingest(graph, {"id": "c", "email": "c@x.org", "first": "C"})
    worker.run_until_idle()
    hook = [r for r in receiver.requests[sent:] if r.headers["idgraph-destination"] == "hook"]
    rows = [(row["kind"], row["profile_id"]) for r in hook for row in r.rows]
    members = sorted(graph.store.segments.members("named", after=None, limit=100))
    assert [k for k, _ in rows] == ["snapshot", "snapshot", "entered"]
    assert sorted(p for k, p in rows if k == "snapshot") == members[:2]
    assert graph.destinations.views(["hook"])[0].status == "ok"


def test_a_segment_deleted_behind_the_services_back_stops_its_destination_once(
    graph: IdentityGraph, receiver: Receiver, clock: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    """As an older idgraph deleted segments: the store's delete alone, destinations not
    told. The worker finds out, stops it and says so once."""
    ingest(graph, {"id": "a", "email": "a@x.org", "first": "A"})
    graph.segments.define("named", NAMED)
    graph.destinations.add(DestinationSettings("hook", "named", url=receiver.url))
    worker = delivery_worker(graph, clock)
    worker.run_until_idle()
    graph.store.segments.delete("named")
    with caplog.at_level(logging.INFO, logger="identity.destinations"):
        for _ in range(3):
            worker.run_once()
            clock.advance(5)
    said = [r for r in caplog.records if "hook" in r.getMessage()]
    assert len(said) == 1 and "segment named no longer exists" in said[0].getMessage()
    view = graph.destinations.views(["hook"])[0]
    assert view.status == "segment_removed" and view.problem is not None


ROLES = {"admin": ["admin", "destinations:read", "destinations:write"]}


def test_graphql_and_metrics_show_the_stopped_destination(
    graph: IdentityGraph, receiver: Receiver, tmp_path: Path
) -> None:
    graph.segments.define("named", NAMED)
    graph.destinations.add(DestinationSettings("hook", "named", url=receiver.url, start="now"))
    tokens_file = tmp_path / "tokens.toml"
    token = create_token("admin", ROLES["admin"], tokens_file)
    settings = Settings(tokens_file=tokens_file, destinations="off")
    with TestClient(create_app(settings, graph)) as client:

        def gql(query: str) -> dict[str, Any]:
            answer = client.post(
                "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"}
            )
            assert answer.status_code == 200, answer.text
            body: dict[str, Any] = answer.json()
            assert "errors" not in body, body
            data: dict[str, Any] = body["data"]
            return data

        assert 'idgraph_destination_stopped{destination="hook"} 0.0' in client.get("/metrics").text
        deleted = gql(
            'mutation { deleteSegment(name: "named") { __typename '
            "... on SegmentDeleted { name stoppedDestinations } } }"
        )
        assert deleted["deleteSegment"] == {
            "__typename": "SegmentDeleted",
            "name": "named",
            "stoppedDestinations": ["hook"],
        }
        shown = gql("{ destinations { name state { status stoppedAt problem } } }")
        (hook,) = shown["destinations"]
        assert hook["state"]["status"] == "segment_removed"
        assert hook["state"]["stoppedAt"] is not None
        assert "segment named was removed" in hook["state"]["problem"]
        resumed = gql(
            'mutation { resumeDestination(name: "hook") { __typename '
            "... on DestinationRefused { code message argument } } }"
        )
        assert resumed["resumeDestination"]["code"] == "INVALID_ARGUMENT"
        assert "segment named was removed" in resumed["resumeDestination"]["message"]
        assert 'idgraph_destination_stopped{destination="hook"} 1.0' in client.get("/metrics").text


def test_the_command_line_names_the_stopped_destinations(
    cli_graph: IdentityGraph,  # noqa: F811
) -> None:
    cli_graph.destinations.add(
        DestinationSettings("hook", "named", url="http://127.0.0.1:9/h", start="now")
    )
    deleted = idgraph("segments", "delete", "named")
    assert deleted.exit_code == 0, deleted.output
    assert "destination(s) hook followed segment named and are stopped" in deleted.output
    listed = idgraph("destinations", "list")
    assert "segment_removed" in listed.stdout
    assert "hook: segment named was removed on" in listed.output
    shown = json.loads(idgraph("destinations", "show", "hook", "--json").stdout)
    assert shown["state"] == "segment_removed"
    assert shown["stopped"]["reason"] == "segment_removed"
    assert "define the segment again and resume" in shown["stopped"]["message"]
    refused = idgraph("destinations", "resume", "hook")
    assert refused.exit_code != 0
    assert "segment named was removed on" in refused.output
