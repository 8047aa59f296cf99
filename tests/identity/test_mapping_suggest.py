"""The mapping suggester: what it infers from crafted rows, and where it says it is unsure."""

from __future__ import annotations

import tomllib
from typing import Any

from identity.mapping import SourceMapping
from identity.mapping.events import EventMapping
from identity.mapping.suggest import looks_like_events, suggest_event_mapping, suggest_mapping
from identity.rules import load_rules

RULES = load_rules()


def test_ambiguous_dates_are_mapped_with_a_comment_asking_for_day_first() -> None:
    rows = [{"ref": f"R{n}", "joined": f"0{n + 1}/0{n + 2}/2020"} for n in range(3)]
    draft = suggest_mapping(rows, "Legacy CRM!", RULES.kinds)
    text = draft.to_toml()
    assert "CHECK day_first" in text
    doc = tomllib.loads(text)
    assert doc["source"] == "legacy_crm"
    assert doc["key"] == "ref"
    assert doc["attributes"]["joined"]["type"] == "date"
    SourceMapping.from_document(doc, rules=RULES)  # the draft loads as it is


def test_without_a_unique_column_the_key_is_left_for_the_user() -> None:
    rows = [{"email": "a@example.com", "city": "Leeds"}] * 2
    text = suggest_mapping(rows, "dupes").to_toml()
    assert 'key = "CHANGE_ME"' in text
    assert tomllib.loads(text)["identifiers"] == {"email": "email"}


def test_an_id_column_named_like_a_declared_kind_becomes_that_identifier() -> None:
    rows = [{"id": str(n), "loyalty_id": f"L{n}", "note": ""} for n in range(3)]
    doc = tomllib.loads(suggest_mapping(rows, "shop", RULES.kinds).to_toml())
    assert doc["key"] == "id"
    assert doc["identifiers"] == {"loyalty_id": "loyalty_id"}


def _draft(rows: list[dict[str, Any]], source: str = "export") -> dict[str, Any]:
    text = suggest_mapping(rows, source, RULES.kinds).to_toml()
    doc = tomllib.loads(text)
    SourceMapping.from_document(doc, rules=RULES)  # every draft loads as it is
    return doc


def test_a_name_and_address_column_becomes_an_e_mail_and_a_full_name() -> None:
    requesters = [
        "Ann Lee <ann@example.com>",
        '"Smith, John" <john@example.com>',
        "bo@example.com",
        "Cy Young",
    ]
    doc = _draft([{"ticket": str(n), "requester": r} for n, r in enumerate(requesters)])
    assert doc["derived"] == {
        "requester_email": {"mailbox": "requester", "part": "address", "kind": "email"},
        "full_name": {"mailbox": "requester", "part": "name", "type": "full_name"},
    }
    assert "requester" not in doc.get("identifiers", {})


def test_the_first_element_of_an_array_of_objects_gives_the_attributes_and_the_region() -> None:
    rows = [
        {
            "ref": f"c{n}",
            "contact": {"phones": ["+44 7400 123456"]},
            "addresses": [
                {"line1": "12 High St", "line2": "Flat 2", "postcode": "LS1 4AP",
                 "city": "Leeds", "country": "United Kingdom"},
                {"line1": "1 Old Rd", "postcode": "M1 1AA", "city": "Manchester",
                 "country": "United Kingdom"},
            ],
        }
        for n in range(3)
    ]  # fmt: skip
    doc = _draft(rows)
    assert doc["phone_region"] == {"field": "addresses[0].country", "default": "GB"}
    assert doc["attributes"]["addresses[0].postcode"] == {"name": "postcode"}
    assert doc["attributes"]["addresses[0].city"] == {"name": "city"}
    assert doc["derived"]["address"] == {
        "concat": ["addresses[0].line1", "addresses[0].line2"],
        "sep": ", ",
    }
    assert doc["identifiers"] == {"contact.phones": "phone"}


def test_street_lines_are_joined_into_the_address() -> None:
    rows = [{"id": str(n), "address_line1": "12 High St", "address_line2": ""} for n in range(3)]
    rows[0]["address_line2"] = "Flat 2"
    assert _draft(rows)["derived"]["address"] == {
        "concat": ["address_line1", "address_line2"],
        "sep": ", ",
    }


def test_a_timestamp_in_a_local_format_gets_its_format_and_the_last_change_is_preferred() -> None:
    rows = [
        {"id": str(n), "created": f"2020-01-0{n} 10:00:00", "last_modified": f"2{n}/01/2021 09:30"}
        for n in range(1, 4)
    ]
    doc = _draft(rows)
    assert doc["timestamp"] == "last_modified"
    assert doc["timestamp_format"] == "%d/%m/%Y %H:%M"


def test_a_date_column_mixing_day_first_and_month_first_keeps_both_orders() -> None:
    dates = ["25/12/1980", "12/25/1980", "31/01/1990", "1990-01-31"]
    doc = _draft([{"id": str(n), "dob": d} for n, d in enumerate(dates)])
    dob = doc["attributes"]["dob"]
    assert {"%d/%m/%Y", "%m/%d/%Y", "%Y-%m-%d"} <= set(dob["formats"])
    assert dob["day_first"] is True  # the majority
    assert (
        "CHECK: some values put the day first"
        in suggest_mapping([{"id": str(n), "dob": d} for n, d in enumerate(dates)], "x").to_toml()
    )


def test_an_event_log_gets_an_event_mapping_with_cookie_and_device_ids() -> None:
    rows = [
        {
            "event_id": f"e{n}",
            "type": ["page_view", "login"][n % 2],
            "timestamp": f"2024-07-01T10:0{n}:00Z",
            "channel": "web",
            "anonymous_id": f"a{n % 3}",
            "device": {"id": f"d{n % 2}", "model": "Pixel"},
            "user": {"id": f"u{n}", "email": f"u{n}@example.com"},
        }
        for n in range(6)
    ]
    assert looks_like_events(rows)
    assert not looks_like_events([{"id": str(n), "type": "a"} for n in range(6)])
    text = suggest_event_mapping(rows, RULES.kinds).to_toml()
    doc = tomllib.loads(text)
    EventMapping.from_document(doc, rules=RULES)  # loads as it is
    assert (doc["event_id"], doc["type"], doc["timestamp"]) == ("event_id", "type", "timestamp")
    assert doc["channel"] == "channel"
    assert doc["identifiers"] == {
        "anonymous_id": "cookie_id",
        "device.id": "device_id",
        "user.email": "email",
    }
    assert "user.id: an id" in text
