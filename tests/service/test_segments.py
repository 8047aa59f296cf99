"""Segments over HTTP: definitions and their validation, each condition kind, membership
kept current on merges, events and consent, the exactly-once change feed, consent gating
and the streaming export."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from identity.graph import IdentityGraph
from identity.mapping import SourceMapping
from tests.service.conftest import Api

pytestmark = pytest.mark.both_stores

NOW = datetime.now(UTC).replace(microsecond=0)

DEFINE = """mutation ($name: String!, $definition: JSON!) {
  defineSegment(name: $name, definition: $definition) {
    __typename
    ... on SegmentDefined { segment { name size requiresConsent } }
    ... on SegmentInvalid { name problems }
  }
}"""

SEGMENT = """query ($name: String!, $first: Int! = 100, $after: String) {
  segment(name: $name) {
    name size definition
    members(first: $first, after: $after) {
      nodes { profileId } pageInfo { hasNextPage endCursor }
    }
  }
}"""

CHANGES = """query ($name: String!, $after: String, $first: Int! = 1000) {
  segment(name: $name) {
    changes(first: $first, after: $after) {
      nodes { profileId kind at mergedInto } pageInfo { hasNextPage endCursor }
    }
  }
}"""

PROFILE = """query ($kind: String!, $value: String!) {
  profileByIdentifier(kind: $kind, value: $value) { id segments }
}"""

NEWS = {
    "source": "news",
    "key": "id",
    "timestamp": "at",
    "identifiers": {"email": "email"},
    "attributes": {"opt": {"name": "opt_in", "type": "boolean"}},
    "consent": {"email": "opt_in"},
}


def at(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).isoformat()


def ev(event_id: str, type: str, days_ago: float, email: str, **properties: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": type,
        "timestamp": at(days_ago),
        "identifiers": {"email": email},
        "properties": properties,
    }


def define(api: Api, name: str, definition: Any) -> dict[str, Any]:
    result = api.graphql(DEFINE, role="admin", name=name, definition=definition)
    assert "errors" not in result, result
    found: dict[str, Any] = result["data"]["defineSegment"]
    return found


def members(api: Api, name: str) -> set[str]:
    result = api.graphql(SEGMENT, role="activator", name=name)
    assert "errors" not in result, result
    return {m["profileId"] for m in result["data"]["segment"]["members"]["nodes"]}


def pid(api: Api, email: str) -> str:
    result = api.graphql(PROFILE, kind="email", value=email)
    return str(result["data"]["profileByIdentifier"]["id"])


def pull(api: Api, name: str, after: str | None, first: int = 1000) -> dict[str, Any]:
    result = api.graphql(CHANGES, role="activator", name=name, after=after, first=first)
    assert "errors" not in result, result
    found: dict[str, Any] = result["data"]["segment"]["changes"]
    return found


@pytest.fixture
def people(api: Api, graph: IdentityGraph) -> dict[str, str]:
    """Four shop customers (two in London) and their profile ids by first name."""
    graph.ingest.register_source(SourceMapping.from_document(NEWS, rules=graph.rules))
    api.ingest(
        "crm",
        [
            {
                "customer_no": "C1",
                "email": "ann@example.com",
                "first_name": "Ann",
                "city": "London",
            },
            {
                "customer_no": "C2",
                "email": "bob@example.com",
                "first_name": "Bob",
                "city": "london",
            },
            {"customer_no": "C3", "email": "cy@example.com", "first_name": "Cy", "city": "Leeds"},
            {"customer_no": "C4", "email": "di@example.com", "first_name": "Di", "city": "Leeds"},
        ],
    )
    return {n: pid(api, f"{n.lower()}@example.com") for n in ("Ann", "Bob", "Cy", "Di")}


def test_each_condition_kind_selects_its_members(api: Api, people: dict[str, str]) -> None:
    api.post_events(
        [
            ev("a1", "purchase", 3, "ann@example.com", order_value=80),
            ev("a2", "purchase", 10, "ann@example.com", order_value=40),
            ev("b1", "purchase", 45, "bob@example.com", order_value=500),
            ev("c1", "email_open", 5, "cy@example.com"),
            ev("d1", "email_open", 90, "di@example.com"),
            ev("d2", "purchase", 1, "di@example.com", order_value=5, sku="X1"),
        ]
    )
    api.ingest("news", [{"id": "n1", "email": "cy@example.com", "opt": "true", "at": at(1)}])
    ann, bob, cy, di = (people[n] for n in ("Ann", "Bob", "Cy", "Di"))
    cases: dict[str, tuple[Any, set[str]]] = {
        "londoners": ({"attribute": "city", "eq": "LONDON"}, {ann, bob}),
        "city-in": ({"attribute": "city", "in": ["leeds"]}, {cy, di}),
        "no-city": ({"attribute": "city", "exists": False}, set()),
        "two-buys-30d": (
            {"event": "purchase", "within_days": 30, "count": {"gte": 2}},
            {ann},
        ),
        "spent-90d": (
            {"event": "purchase", "within_days": 90, "sum": {"property": "order_value", "gt": 100}},
            {ann, bob},
        ),
        "lapsed-readers": ({"not": {"event": "email_open", "within_days": 60}}, {ann, bob, di}),
        "never-opened": ({"event": "email_open", "count": {"eq": 0}}, {ann, bob}),
        "bought-x1": ({"event": "purchase", "properties": {"sku": "X1"}}, {di}),
        "big-spenders": ({"trait": "monetary", "gte": 120}, {ann, bob}),
        "recent-buyers": ({"trait": "recency_days", "lte": 5}, {ann, di}),
        "mailable": ({"consent": "email"}, {cy}),
        "has-customer-id": ({"identifier": "customer_id"}, {ann, bob, cy, di}),
        "london-or-opened": (
            {"or": [{"attribute": "city", "eq": "london"}, {"event": "email_open"}]},
            {ann, bob, cy, di},
        ),
        "leeds-buyers": (
            {"and": [{"attribute": "city", "eq": "leeds"}, {"event": "purchase"}]},
            {di},
        ),
    }
    for name, (where, expected) in cases.items():
        outcome = define(api, name, {"where": where})
        assert outcome["__typename"] == "SegmentDefined", (name, outcome)
        assert outcome["segment"]["size"] == len(expected), name
        assert members(api, name) == expected, name


def test_bad_definitions_are_refused_naming_each_problem_and_nothing_is_stored(
    api: Api, people: dict[str, str]
) -> None:
    outcome = define(
        api,
        "Bad Name",
        {
            "requires_consent": "fax",
            "where": {
                "and": [
                    {"event": "purchase", "within_days": -1, "count": {"gtee": 2}},
                    {"attribute": "city"},
                    {"trait": "shoe_size", "gt": 1},
                    {"colour": "red"},
                    {"event": "purchase", "sum": {"gt": 5}},
                ]
            },
            "extra": 1,
        },
    )
    assert outcome["__typename"] == "SegmentInvalid"
    problems = "\n".join(outcome["problems"])
    for place in (
        "name:",
        "extra:",
        "requires_consent:",
        "where.and[0].within_days:",
        "where.and[0].count.gtee:",
        "where.and[1]:",
        "where.and[2].trait:",
        "where.and[3]:",
        "where.and[4].sum:",
    ):
        assert place in problems, place
    result = api.graphql("{ segments { name } }", role="activator")
    assert result["data"]["segments"] == []
    assert define(api, "x", "not an object")["__typename"] == "SegmentInvalid"


def test_membership_follows_events_consent_and_record_changes_at_once(
    api: Api, people: dict[str, str]
) -> None:
    define(
        api,
        "mailable-buyers",
        {"requires_consent": "email", "where": {"event": "purchase", "within_days": 30}},
    )
    ann = people["Ann"]
    assert members(api, "mailable-buyers") == set()
    api.post_events(ev("a1", "purchase", 1, "ann@example.com"))
    assert members(api, "mailable-buyers") == set(), "no consent yet"
    api.ingest("news", [{"id": "n1", "email": "ann@example.com", "opt": "true", "at": at(2)}])
    assert members(api, "mailable-buyers") == {ann}
    api.post_events(
        {
            **ev("w1", "consent", 0, "ann@example.com"),
            "properties": {"purpose": "email", "granted": False},
        }
    )
    assert members(api, "mailable-buyers") == set(), "withdrawal exits at once"
    kinds = [c["kind"] for c in pull(api, "mailable-buyers", None)["nodes"]]
    assert kinds == ["ENTERED", "EXITED"]
    result = api.graphql(PROFILE, kind="email", value="ann@example.com")
    assert result["data"]["profileByIdentifier"]["segments"] == []


def test_a_merged_away_profile_exits_and_its_survivor_is_reported(api: Api) -> None:
    api.ingest(
        "shop",
        [
            {"id": "s1", "email": "eve@example.com", "phone": "07400 123456", "first": "Eve"},
            {"id": "s2", "email": "eve.work@example.com", "first": "Eve"},
        ],
    )
    home, work = pid(api, "eve@example.com"), pid(api, "eve.work@example.com")
    assert home != work
    api.post_events(
        [
            ev("h1", "purchase", 1, "eve@example.com"),
            ev("w1", "purchase", 2, "eve.work@example.com"),
        ]
    )
    define(api, "buyers", {"where": {"event": "purchase"}})
    define(api, "two-buys", {"where": {"event": "purchase", "count": {"gte": 2}}})
    cursors = {
        name: pull(api, name, None)["pageInfo"]["endCursor"] for name in ("buyers", "two-buys")
    }
    assert members(api, "buyers") == {home, work} and members(api, "two-buys") == set()

    # Eve's work account gains her phone: the two profiles merge, the older id survives.
    api.ingest(
        "shop",
        [{"id": "s2", "email": "eve.work@example.com", "phone": "07400 123456", "first": "Eve"}],
    )
    survivor = pid(api, "eve.work@example.com")
    assert survivor == pid(api, "eve@example.com")
    gone = ({home, work} - {survivor}).pop()
    buyers = pull(api, "buyers", cursors["buyers"])["nodes"]
    assert [(c["profileId"], c["kind"], c["mergedInto"]) for c in buyers] == [
        (gone, "EXITED", survivor)
    ]
    two = pull(api, "two-buys", cursors["two-buys"])["nodes"]
    assert [(c["profileId"], c["kind"]) for c in two] == [(survivor, "ENTERED")]
    assert members(api, "buyers") == {survivor} and members(api, "two-buys") == {survivor}


def test_the_change_feed_gives_every_change_exactly_once_over_repeated_pulls(
    api: Api, people: dict[str, str]
) -> None:
    define(api, "buyers", {"where": {"event": "purchase"}})
    seen: list[tuple[str, str]] = []
    cursor = None
    emails = ["ann", "bob", "cy", "di"]
    for round, name in enumerate(emails):
        api.post_events(ev(f"p{round}", "purchase", 1, f"{name}@example.com"))
        while True:
            page = pull(api, "buyers", cursor, first=1)
            seen += [(c["profileId"], c["kind"]) for c in page["nodes"]]
            cursor = page["pageInfo"]["endCursor"]
            if not page["pageInfo"]["hasNextPage"]:
                break
        again = pull(api, "buyers", cursor)
        assert again["nodes"] == [] and again["pageInfo"]["endCursor"] == cursor
    assert seen == [(people[n], "ENTERED") for n in ("Ann", "Bob", "Cy", "Di")]
    bad = api.graphql(CHANGES, role="activator", name="buyers", after="bogus")
    assert bad["errors"][0]["extensions"]["code"] == "INVALID_CURSOR"


def test_members_page_by_cursor(api: Api, people: dict[str, str]) -> None:
    define(api, "everyone", {"where": {"identifier": "email"}})
    found: list[str] = []
    after = None
    while True:
        result = api.graphql(SEGMENT, role="activator", name="everyone", first=3, after=after)
        page = result["data"]["segment"]["members"]
        found += [m["profileId"] for m in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert found == sorted(people.values())


def export(api: Api, name: str, role: str = "activator", **params: str) -> Any:
    return api.client.get(f"/v1/segments/{name}/members", params=params, headers=api.auth(role))


def test_export_streams_members_with_chosen_fields_and_only_consented_ones(
    api: Api, people: dict[str, str]
) -> None:
    api.ingest(
        "news",
        [
            {"id": "n1", "email": "ann@example.com", "opt": "true", "at": at(3)},
            {"id": "n2", "email": "bob@example.com", "opt": "false", "at": at(3)},
        ],
    )
    api.post_events(ev("o1", "purchase", 2, "ann@example.com", order_value=12))
    define(
        api,
        "newsletter",
        {"requires_consent": "email", "where": {"attribute": "city", "eq": "london"}},
    )
    response = export(
        api,
        "newsletter",
        role="exporter",
        fields="profile_id,email,city,traits.orders,consent.email",
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    rows = [json.loads(line) for line in response.text.splitlines()]
    assert rows == [
        {
            "profile_id": people["Ann"],
            "email": "ann@example.com",
            "city": "London",
            "traits.orders": 1,
            "consent.email": True,
        }
    ]
    response = export(api, "newsletter", role="exporter", format="csv", fields="profile_id,email")
    assert response.headers["content-type"].startswith("text/csv")
    assert list(csv.reader(io.StringIO(response.text))) == [
        ["profile_id", "email"],
        [people["Ann"], "ann@example.com"],
    ]


def test_export_errors_and_scopes(api: Api, people: dict[str, str]) -> None:
    define(api, "all", {"where": {"identifier": "email"}})
    assert export(api, "nothing").status_code == 404
    for fields, bad in [
        ("traits.shoe_size", "traits.shoe_size"),
        ("profile_id,shoe", "shoe"),
        ("consent.telepathy", "consent.telepathy"),
        ("", ""),
    ]:
        refused = export(api, "all", fields=fields)
        assert refused.status_code == 400, fields
        error = refused.json()["error"]
        assert error["code"] == "INVALID_ARGUMENT" and error["argument"] == "fields"
        if bad:
            assert f"no profile has a field {bad!r}" in error["message"]
            # It lists what can be asked for: kinds, stored attributes, traits, purposes.
            listed = error["message"].split("the fields are ", 1)[1].split(", ")
            assert {"profile_id", "email", "city", "traits.orders", "consent.email"} <= set(listed)
    # Any name a stored record holds is a field, mapped or not (schemaless).
    api.ingest("crm", [{"customer_no": "C9", "email": "zed@example.com", "shoe": "42"}])
    assert export(api, "all", fields="profile_id,shoe").status_code == 200
    assert export(api, "all", format="xml").status_code == 422
    assert export(api, "all", role="reader").status_code == 403
    assert api.client.get("/v1/segments/all/members").status_code == 401
    denied = api.graphql("{ segments { name } }", role="reader")
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    denied = api.graphql(
        DEFINE, role="activator", name="x", definition={"where": {"identifier": "email"}}
    )
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_deleting_a_segment(api: Api, people: dict[str, str]) -> None:
    define(api, "all", {"where": {"identifier": "email"}})
    query = 'mutation { deleteSegment(name: "all") { __typename } }'
    assert (
        api.graphql(query, role="admin")["data"]["deleteSegment"]["__typename"] == "SegmentDeleted"
    )
    assert (
        api.graphql(query, role="admin")["data"]["deleteSegment"]["__typename"] == "SegmentNotFound"
    )


def test_the_scheduled_refresh_moves_time_windows_with_the_clock(
    make_api: Any, people: dict[str, str]
) -> None:
    import time

    api: Api = make_api(segment_refresh_seconds=1)
    # Ann's purchase leaves the 1-day window three seconds from now.
    soon = datetime.now(UTC) - timedelta(days=1) + timedelta(seconds=3)
    api.post_events({**ev("a1", "purchase", 0, "ann@example.com"), "timestamp": soon.isoformat()})
    define(api, "today", {"where": {"event": "purchase", "within_days": 1}})
    assert members(api, "today") == {people["Ann"]}
    deadline = time.monotonic() + 20
    while members(api, "today") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert members(api, "today") == set()
    kinds = [c["kind"] for c in pull(api, "today", None)["nodes"]]
    assert kinds == ["ENTERED", "EXITED"]


def test_one_process_of_a_store_holds_the_scheduled_refresh_and_another_takes_over(
    tmp_path: Path,
) -> None:
    from service.app import Lease

    # Two opens of the file stand for two processes: flock locks belong to each open.
    first, second = Lease(tmp_path / "s.db.lock"), Lease(tmp_path / "s.db.lock")
    assert first.held() and first.held()
    assert not second.held()
    first.release()  # as when the holding process exits
    assert second.held()
    assert not first.held()
    second.release()
