"""Events over HTTP: idempotent ingest with per-row errors, retroactive stitching on login,
journeys ordered and paginated, traits and consent on the profile."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.service.conftest import Api

pytestmark = pytest.mark.both_stores

NOW = datetime.now(UTC).replace(microsecond=0)

JOURNEY = """query ($id: ID!, $first: Int!, $after: String, $types: [String!],
                   $channels: [String!], $from: DateTime, $to: DateTime,
                   $order: JourneyOrder! = NEWEST_FIRST) {
  profile(id: $id) {
    journey(first: $first, after: $after, types: $types, channels: $channels,
            from: $from, to: $to, order: $order) {
      edges { cursor node { id type timestamp channel source properties
                            identifiers { kind value original } } }
      nodes { id }
      pageInfo { hasNextPage endCursor }
    }
  }
}"""

PROFILE = """query ($kind: String!, $value: String!) {
  profileByIdentifier(kind: $kind, value: $value) {
    id
    records { source key }
    traits { firstSeen lastSeen events eventCounts { type count } orders orderValue
             lastOrder recencyDays frequency monetary averageOrderValue }
    consent { purpose granted at source via reference }
  }
}"""


def at(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).isoformat()


def ev(event_id: str, type: str, days_ago: float, **identifiers: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": type,
        "timestamp": at(days_ago),
        "channel": "web",
        "source": "shop",
        "identifiers": identifiers,
    }


def profile(api: Api, kind: str, value: str) -> dict[str, Any]:
    result = api.graphql(PROFILE, kind=kind, value=value)
    assert "errors" not in result, result
    found: dict[str, Any] = result["data"]["profileByIdentifier"]
    return found


def journey(api: Api, profile_id: str, first: int = 50, **args: Any) -> dict[str, Any]:
    result = api.graphql(JOURNEY, id=profile_id, first=first, **args)
    assert "errors" not in result, result
    page: dict[str, Any] = result["data"]["profile"]["journey"]
    return page


def ids(page: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in page["edges"]]


@pytest.fixture
def ann(api: Api) -> str:
    """Ann, known to the shop by e-mail; her profile id."""
    api.ingest("shop", [{"id": "s1", "email": "ann@example.com", "first": "Ann"}])
    return str(profile(api, "email", "ann@example.com")["id"])


def test_anonymous_events_join_the_profile_retroactively_when_the_cookie_logs_in(
    api: Api, ann: str
) -> None:
    anonymous = [
        ev("v1", "page_view", 5, cookie_id="ck-1"),
        ev("v2", "product_view", 4, cookie_id="ck-1"),
    ]
    report = api.post_events(anonymous)
    assert (report["accepted"], report["stitched"]) == (2, 0)
    assert ids(journey(api, ann)) == []

    report = api.post_events(ev("l1", "login", 3, cookie_id="ck-1", email="ANN@example.com"))
    assert report["stitched"] == 1 and report["profiles_touched"] == 1
    assert ids(journey(api, ann)) == ["l1", "v2", "v1"]
    # Later anonymous events of the cookie join at once too; a second login stitches nothing new.
    report = api.post_events(
        [
            ev("v3", "page_view", 1, cookie_id="ck-1"),
            ev("l2", "login", 0.5, cookie_id="ck-1", email="ann@example.com"),
        ]
    )
    assert report["stitched"] == 0
    assert ids(journey(api, ann)) == ["l2", "v3", "l1", "v2", "v1"]
    keys = {r["source"] for r in profile(api, "email", "ann@example.com")["records"]}
    assert keys == {"shop", "event-stitching"}


def test_a_shared_device_does_not_stitch_two_people_into_one(api: Api) -> None:
    """The family tablet: two people log in on it; each keeps their own profile."""
    api.ingest(
        "shop",
        [{"id": "s1", "email": "mum@example.com"}, {"id": "s2", "email": "kid@example.com"}],
    )
    report = api.post_events(
        [
            ev("l1", "login", 2, device_id="tablet-1", email="mum@example.com"),
            ev("l2", "login", 1, device_id="tablet-1", email="kid@example.com"),
        ]
    )
    assert report["stitched"] == 2 and report["profiles_merged"] == 0
    mum, kid = profile(api, "email", "mum@example.com"), profile(api, "email", "kid@example.com")
    assert mum["id"] != kid["id"]
    assert ids(journey(api, mum["id"])) == ["l2", "l1"] == ids(journey(api, kid["id"]))


def test_journey_is_newest_first_with_a_stable_order_for_equal_timestamps(
    api: Api, ann: str
) -> None:
    same = at(2)
    events = [
        {**ev(name, "page_view", 0, email="ann@example.com"), "timestamp": same}
        for name in ("b", "c", "a")
    ]
    api.post_events([*events, ev("z", "purchase", 1, email="ann@example.com")])
    assert ids(journey(api, ann)) == ["z", "c", "b", "a"]
    assert ids(journey(api, ann, order="OLDEST_FIRST")) == ["a", "b", "c", "z"]


def test_journey_pages_follow_the_cursor_without_gaps_or_repeats(api: Api, ann: str) -> None:
    api.post_events(
        [ev(f"e{i:02d}", "page_view", i / 10, email="ann@example.com") for i in range(23)]
    )
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = journey(api, ann, first=5, after=after)
        seen += ids(page)
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
    assert pages == 5
    assert seen == [f"e{i:02d}" for i in range(23)]


def test_journey_filters_by_type_channel_and_time(api: Api, ann: str) -> None:
    api.post_events(
        [
            ev("w", "page_view", 10, email="ann@example.com"),
            {**ev("m", "email_open", 5, email="ann@example.com"), "channel": "email"},
            ev("p", "purchase", 3, email="ann@example.com"),
            ev("q", "purchase", 1, email="ann@example.com"),
        ]
    )
    assert ids(journey(api, ann, types=["purchase"])) == ["q", "p"]
    assert ids(journey(api, ann, channels=["email"])) == ["m"]
    assert ids(journey(api, ann, **{"from": at(6), "to": at(2)})) == ["p", "m"]


def test_an_event_keeps_its_identifiers_properties_and_time_zone(api: Api, ann: str) -> None:
    sent = {
        **ev("o1", "purchase", 0, email="ann@example.com"),
        "timestamp": "2026-06-01T12:00:00+02:00",
        "properties": {"order_value": 42.5, "skus": ["A", "B"]},
        "campaign": "summer",  # outside the event's own fields: kept as a property
    }
    api.post_events(sent)
    (edge,) = journey(api, ann)["edges"]
    node = edge["node"]
    assert node["timestamp"] == "2026-06-01T12:00:00+02:00"
    assert node["properties"] == {"order_value": 42.5, "skus": ["A", "B"], "campaign": "summer"}
    assert node["identifiers"] == [
        {"kind": "email", "value": "ann@example.com", "original": "ann@example.com"}
    ]


def test_resent_events_are_not_duplicated(api: Api, ann: str) -> None:
    event = ev("e1", "purchase", 1, email="ann@example.com")
    first = api.post_events(event)
    again = api.post_events([event, event])
    assert (first["created"], again["created"], again["unchanged"]) == (1, 0, 2)
    assert ids(journey(api, ann)) == ["e1"]


def test_bad_events_are_refused_one_by_one_and_the_good_ones_stored(api: Api, ann: str) -> None:
    good = ev("ok", "page_view", 1, email="ann@example.com")
    bad = [
        {**good, "event_id": ""},
        {**good, "event_id": "naive", "timestamp": "2026-01-01T10:00:00"},
        {**good, "event_id": "kind", "identifiers": {"shoe_size": "42"}},
        {**good, "event_id": "none", "identifiers": {}},
        {**good, "event_id": "props", "properties": [1, 2]},
        {**good, "event_id": "consent", "type": "consent", "properties": {"purpose": "fax"}},
        {**good, "event_id": "mail", "identifiers": {"email": "not-an-address"}},
    ]
    report = api.post_events([*bad, good])
    assert (report["accepted"], report["rejected"]) == (1, 7)
    fields = {(e["row"], e["field"]) for e in report["errors"]}
    assert fields == {
        (1, "event_id"),
        (2, "timestamp"),
        (3, "identifiers.shoe_size"),
        (4, "identifiers"),
        (5, "properties"),
        (6, "properties.purpose"),
        (7, "identifiers"),
    }
    assert any(w["field"] == "identifiers.email" for w in report["warnings"])
    assert ids(journey(api, ann)) == ["ok"]


def test_events_need_the_ingest_scope_and_json(api: Api) -> None:
    event = ev("e1", "page_view", 1, cookie_id="c")
    assert api.client.post("/v1/events", json=event).status_code == 401
    assert api.client.post("/v1/events", json=event, headers=api.auth("reader")).status_code == 403
    response = api.client.post(
        "/v1/events",
        content=b"event_id,type\n1,x\n",
        headers={**api.auth("ingester"), "Content-Type": "text/csv"},
    )
    assert response.status_code == 400 and "JSON" in response.json()["error"]["message"]
    ndjson = (
        json.dumps(
            {
                "event_id": "n1",
                "type": "page_view",
                "timestamp": "2026-01-01T00:00:00Z",
                "identifiers": {"cookie_id": "c"},
            }
        ).encode()
        + b"\n"
    )
    response = api.client.post(
        "/v1/events",
        content=ndjson,
        headers={**api.auth("ingester"), "Content-Type": "application/x-ndjson"},
    )
    assert response.json()["accepted"] == 1


def test_a_bad_cursor_or_page_size_is_a_clear_error(api: Api, ann: str) -> None:
    result = api.graphql(JOURNEY, id=ann, first=5, after="not-a-cursor")
    assert result["errors"][0]["extensions"]["code"] == "INVALID_CURSOR"
    result = api.graphql(JOURNEY, id=ann, first=0)
    assert result["errors"][0]["extensions"]["code"] == "INVALID_ARGUMENT"


def test_traits_add_up_the_profiles_events_and_orders(api: Api, ann: str) -> None:
    api.post_events(
        [
            ev("v", "page_view", 40, email="ann@example.com"),
            {
                **ev("o1", "purchase", 20, email="ann@example.com"),
                "properties": {"order_value": 30},
            },
            {
                **ev("o2", "purchase", 10, email="ann@example.com"),
                "properties": {"order_value": "12.5"},
            },
        ]
    )
    traits = profile(api, "email", "ann@example.com")["traits"]
    assert traits["events"] == 3
    assert traits["eventCounts"] == [
        {"type": "page_view", "count": 1},
        {"type": "purchase", "count": 2},
    ]
    assert (traits["orders"], traits["orderValue"], traits["frequency"], traits["monetary"]) == (
        2,
        42.5,
        2,
        42.5,
    )
    assert traits["averageOrderValue"] == 21.25
    assert traits["recencyDays"] == 10
    assert traits["lastOrder"] == at(10)
    # Seen covers event and record times, never load times: Ann's shop record carries no
    # time (the shop's mapping names none) and was loaded just now, which does not count.
    assert (traits["firstSeen"], traits["lastSeen"]) == (at(40), at(10))


def test_seen_traits_are_unknown_without_any_time_and_use_a_records_own_time(
    api: Api, ann: str
) -> None:
    traits = profile(api, "email", "ann@example.com")["traits"]
    assert (traits["firstSeen"], traits["lastSeen"], traits["recencyDays"]) == (None, None, None)
    api.ingest("crm", [{"customer_no": "C1", "email": "ann@example.com", "updated": at(400)}])
    traits = profile(api, "email", "ann@example.com")["traits"]
    assert (traits["firstSeen"], traits["lastSeen"]) == (at(400), at(400))
    api.post_events([ev("v", "page_view", 3, email="ann@example.com")])
    traits = profile(api, "email", "ann@example.com")["traits"]
    assert (traits["firstSeen"], traits["lastSeen"]) == (at(400), at(3))


def test_consent_is_the_latest_statement_per_purpose_from_records_or_events(
    api: Api, graph: Any
) -> None:
    from identity.mapping import SourceMapping

    news = {
        "source": "news",
        "key": "id",
        "timestamp": "at",
        "identifiers": {"email": "email"},
        "attributes": {"opt": {"name": "opt_in", "type": "boolean"}},
        "consent": {"email": "opt_in"},
    }
    graph.ingest.register_source(SourceMapping.from_document(news, rules=graph.rules))
    api.ingest("news", [{"id": "n1", "email": "bo@example.com", "opt": "true", "at": at(30)}])
    consent = profile(api, "email", "bo@example.com")["consent"]
    assert [(c["purpose"], c["granted"], c["via"], c["source"]) for c in consent] == [
        ("email", True, "record", "news")
    ]
    withdraw = {
        **ev("c1", "consent", 2, email="bo@example.com"),
        "properties": {"purpose": "email", "granted": False},
    }
    sms = {
        **ev("c2", "consent", 1, email="bo@example.com"),
        "properties": {"purpose": "sms", "granted": True},
    }
    api.post_events([withdraw, sms])
    consent = profile(api, "email", "bo@example.com")["consent"]
    assert [(c["purpose"], c["granted"], c["via"], c["reference"]) for c in consent] == [
        ("email", False, "event", "c1"),
        ("sms", True, "event", "c2"),
    ]
