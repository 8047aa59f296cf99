"""Access requests (GDPR Art. 15): the export of a person holds everything the graph holds
about them, checked against the demo generator's truth files, on every store."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from identity.demo.generator import generate
from identity.errors import (
    AmbiguousIdentifier,
    InvalidArgument,
    InvalidIdentifier,
    NoProfileWithIdentifier,
    UnknownIdentifierKind,
    UnknownProfile,
)
from identity.evaluation import load_assignment
from identity.graph import IdentityGraph
from identity.ingest import STITCH_SOURCE
from identity.mapping import SourceMapping, load_mapping
from identity.model import IdentifierKey, RecordRef
from identity.privacy.access import ACCESS_EXPORT
from identity.readers import read_file
from identity.rules import load_rules
from tests.store.conftest import BACKENDS, backend_params

UNTIL = datetime(2025, 6, 30, 18, 0, tzinfo=UTC)
PEOPLE = 5
"""How many people of the demo each test exports."""


@dataclass
class Person:
    entity_id: str
    profile_id: str
    records: set[RecordRef]
    events: set[str]
    asked_with: tuple[str, str]
    """An identifier of theirs as one of their records wrote it (not normalised)."""


@dataclass
class Demo:
    graph: IdentityGraph
    people: list[Person]
    raw_events: dict[str, dict[str, Any]]


@pytest.fixture(scope="module", params=backend_params())
def demo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Demo]:
    tmp = tmp_path_factory.mktemp("access")
    files = generate(tmp / "demo", people=150, seed=5, events=1500, until=UNTIL)
    graph = IdentityGraph(BACKENDS[request.param](tmp), load_rules(), clock=lambda: UNTIL)
    for path in sorted(files.mappings_dir.glob("*.toml")):
        graph.ingest.register_source(load_mapping(path, rules=graph.rules))
    for source, path in sorted(files.files.items()):
        graph.ingest.ingest_rows(source, read_file(path, graph.ingest.source(source).format))
    assert files.events_file is not None and files.events_truth is not None
    graph.events.ingest_rows(read_file(files.events_file, "jsonl"))
    raw_events = {
        doc["event_id"]: doc
        for doc in map(json.loads, files.events_file.read_text("utf-8").splitlines())
    }
    events_of: dict[str, set[str]] = defaultdict(set)
    with files.events_truth.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            events_of[row["entity_id"]].add(row["event_id"])
    records_of: dict[str, set[RecordRef]] = defaultdict(set)
    for (source, key), entity in load_assignment(files.truth).items():
        records_of[entity].add(RecordRef(source, key))
    yield Demo(graph, _resolved_people(graph, records_of, events_of), raw_events)
    graph.close()


def _resolved_people(
    graph: IdentityGraph,
    records_of: dict[str, set[RecordRef]],
    events_of: dict[str, set[str]],
) -> list[Person]:
    """People of the truth file with several records that resolution put together in one
    profile of their own (an over- or under-merged person is the matcher's business, not
    the export's), each with an identifier only their profile holds."""
    found: list[Person] = []
    for entity, refs in sorted(records_of.items()):
        if len(refs) < 2:
            continue
        ids = graph.store.records.ids(refs)
        profiles = set(graph.store.profiles.ids_of(list(ids.values())).values())
        if len(profiles) != 1:
            continue
        profile = graph.profiles.get(profiles.pop())
        if {r.ref for r in profile.records if r.record.source != STITCH_SOURCE} != refs:
            continue
        held = [i for r in profile.records if r.ref in refs for i in r.record.identifiers]
        holders = graph.store.profiles.with_identifiers([i.key for i in held])
        own = [i for i in held if holders[i.key] == [profile.id]]
        if not own:
            continue
        asked = (own[0].kind, own[0].original)
        found.append(Person(entity, profile.id, refs, events_of[entity], asked))
        if len(found) == PEOPLE:
            break
    assert len(found) == PEOPLE
    return found


def _keys(graph: IdentityGraph, identifiers: dict[str, Any]) -> set[IdentifierKey]:
    """The identifier keys a raw event of the events file carries, normalised as at ingest."""
    keys = set()
    for kind, value in identifiers.items():
        try:
            keys.add(graph.normaliser.identifier(kind, str(value)).key)
        except (InvalidIdentifier, UnknownIdentifierKind):
            continue
    return keys


def test_the_export_of_a_person_holds_every_record_the_truth_file_lists(demo: Demo) -> None:
    for person in demo.people:
        document = demo.graph.person_data.export("test", identifier=person.asked_with)
        [profile] = document["profiles"]
        assert profile["id"] == person.profile_id
        exported = {
            RecordRef(r["source"], r["key"])
            for r in profile["records"]
            if r["source"] != STITCH_SOURCE
        }
        assert exported == person.records, person.entity_id


def test_the_export_holds_every_event_of_theirs_that_carries_one_of_their_identifiers(
    demo: Demo,
) -> None:
    graph = demo.graph
    found = 0
    for person in demo.people:
        [profile] = graph.person_data.export("test", profile_id=person.profile_id)["profiles"]
        held = {
            IdentifierKey(i["kind"], i["value"])
            for r in profile["records"]
            for i in r["identifiers"]
        }
        expected = {
            e for e in person.events if _keys(graph, demo.raw_events[e]["identifiers"]) & held
        }
        exported = {e["event_id"]: e for e in profile["events"]}
        assert expected <= set(exported), person.entity_id
        for event in exported.values():
            carried = {IdentifierKey(i["kind"], i["value"]) for i in event["identifiers"]}
            assert carried & held, event["event_id"]
        found += len(expected)
    assert found > 0


CONSENT_COLUMNS = {
    "webshop": {"email": "marketing_opt_in"},
    "marketing": {"email": "opt_in_email", "sms": "opt_in_sms"},
}
"""The demo's consent columns per source, as the generator writes them (true/false)."""


def test_the_consent_history_is_every_statement_of_their_records_and_events(demo: Demo) -> None:
    stated = 0
    for person in demo.people:
        [profile] = demo.graph.person_data.export("test", profile_id=person.profile_id)["profiles"]
        # Read from the rows as the sources sent them and from the consent events.
        expected = [
            (purpose, raw[column] in (True, "true"), "record", record["key"])
            for record in profile["records"]
            for purpose, column in CONSENT_COLUMNS.get(record["source"], {}).items()
            if (raw := record["raw"]).get(column) in (True, False, "true", "false")
        ] + [
            (e["properties"]["purpose"], e["properties"]["granted"], "event", e["event_id"])
            for e in profile["events"]
            if e["type"] == "consent"
        ]
        history = profile["consent"]["history"]
        assert sorted(
            (s["purpose"], s["granted"], s["via"], s["reference"]) for s in history
        ) == sorted(expected), person.entity_id
        times = {e["event_id"]: e["timestamp"] for e in profile["events"]}
        times |= {r["key"]: r["timestamp"] or r["updated_at"] for r in profile["records"]}
        assert all(s["at"] == times[s["reference"]] for s in history)
        for purpose, current in profile["consent"]["current"].items():
            latest = max(
                (s for s in history if s["purpose"] == purpose),
                key=lambda s: (datetime.fromisoformat(s["at"]), not s["granted"]),
            )
            assert current == latest
        stated += len(history)
    assert stated > 0


def test_an_export_reads_as_many_statements_for_the_largest_profile_as_for_the_smallest(
    demo: Demo,
) -> None:
    graph = demo.graph
    ids = list(graph.store.profiles.scan_ids())
    events = graph.store.events.of_profiles(ids)
    records = graph.store.profiles.records_of(ids)
    by_size = sorted(ids, key=lambda pid: (len(records[pid]) + len(events[pid]), pid))
    smallest, largest = by_size[0], by_size[-1]
    assert len(records[largest]) + len(events[largest]) > 10 * len(records[smallest])

    def statements_of_an_export(profile_id: str) -> dict[str, int]:
        before = graph.store.statements_per_operation()
        graph.person_data.export("test", profile_id=profile_id)
        after = graph.store.statements_per_operation()
        return {op: n - before.get(op, 0) for op, n in after.items() if n != before.get(op, 0)}

    assert statements_of_an_export(smallest) == statements_of_an_export(largest)


def test_the_document_is_json_with_the_documented_keys_in_order(demo: Demo) -> None:
    person = demo.people[0]
    document = demo.graph.person_data.export("test", identifier=person.asked_with)
    assert json.loads(json.dumps(document)) == document
    assert list(document) == ["generated_at", "subject", "profiles"]
    assert document["subject"] == {
        "by": "identifier",
        "kind": person.asked_with[0],
        "value": person.asked_with[1],
    }
    [profile] = document["profiles"]
    assert list(profile) == [
        "id",
        "created_at",
        "merged_from",
        "golden_record",
        "identifiers",
        "records",
        "events",
        "consent",
        "segments",
        "steward_actions",
    ]
    assert list(profile["records"][0]) == [
        "source",
        "key",
        "ingested_at",
        "updated_at",
        "timestamp",
        "identifiers",
        "attributes",
        "raw",
    ]


# -- crafted graphs: lookups, refusals, steward actions, the audit log --------------------------

SHOP = {
    "source": "shop",
    "key": "id",
    "phone_region": "GB",
    "identifiers": {"email": "email", "phone": "phone", "cust": "customer_id"},
    "attributes": {"first": {"name": "first_name", "type": "name"}},
}


@pytest.fixture(params=backend_params())
def graph(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IdentityGraph]:
    opened = IdentityGraph(BACKENDS[request.param](tmp_path), load_rules())
    opened.ingest.register_source(SourceMapping.from_document(SHOP, rules=opened.rules))
    report = opened.ingest.ingest_rows(
        "shop",
        list(
            enumerate(
                [
                    {"id": "ann-1", "email": "Ann.Lee@Example.com", "first": "Ann"},
                    {"id": "ann-2", "email": "ann.lee@example.com", "phone": "07400 100001"},
                    {
                        "id": "bob-1",
                        "cust": "C1",
                        "email": "bob@example.com",
                        "phone": "07400 100002",
                    },
                    {
                        "id": "cat-1",
                        "cust": "C2",
                        "email": "cat@example.com",
                        "phone": "07400 100002",
                    },
                    {"id": "dan-1", "email": "dan@example.com", "first": "Dan"},
                ],
                start=1,
            )
        ),
    )
    assert not report.errors
    yield opened
    opened.close()


def profile_of(graph: IdentityGraph, key: str) -> str:
    ref = RecordRef("shop", key)
    rid = graph.store.records.ids([ref])[ref]
    return graph.store.profiles.ids_of([rid])[rid]


def test_an_identifier_is_normalised_as_the_profile_lookup_normalises_it(
    graph: IdentityGraph,
) -> None:
    document = graph.person_data.export("test", identifier=("email", "  ANN.LEE@example.COM "))
    [profile] = document["profiles"]
    assert profile["id"] == profile_of(graph, "ann-1")
    assert {r["key"] for r in profile["records"]} == {"ann-1", "ann-2"}
    assert profile["golden_record"]["first_name"] == {
        "value": "Ann",
        "source": "shop",
        "record_key": "ann-1",
    }


def test_a_merged_profile_id_exports_its_survivor_with_the_merge_among_its_steward_actions(
    graph: IdentityGraph,
) -> None:
    ann, dan = profile_of(graph, "ann-1"), profile_of(graph, "dan-1")
    merged = graph.stewardship.merge_profiles([ann, dan], "one person, two addresses", "steward")
    survivor = merged.profiles[0]
    retired = ({ann, dan} - {survivor}).pop()

    [profile] = graph.person_data.export("test", profile_id=retired)["profiles"]

    assert profile["id"] == survivor
    assert retired in profile["merged_from"]
    assert [
        (a["id"], a["action"], a["actor"], a["reason"]) for a in profile["steward_actions"]
    ] == [(merged.action_id, "merge_profiles", "steward", "one person, two addresses")]
    [bob] = graph.person_data.export("test", identifier=("email", "bob@example.com"))["profiles"]
    assert bob["steward_actions"] == []


def test_a_separation_of_one_of_their_records_is_among_their_steward_actions(
    graph: IdentityGraph,
) -> None:
    done = graph.stewardship.separate_records(
        RecordRef("shop", "ann-1"), RecordRef("shop", "ann-2"), "not the same Ann", "steward"
    )
    for key in ("ann-1", "ann-2"):
        [profile] = graph.person_data.export("test", profile_id=profile_of(graph, key))["profiles"]
        assert [a["id"] for a in profile["steward_actions"]] == [done.action_id]
        assert profile["steward_actions"][0]["target"] == "shop/ann-1|shop/ann-2"


def test_an_identifier_held_by_several_profiles_is_refused_as_ambiguous(
    graph: IdentityGraph,
) -> None:
    # Bob and Cat share a phone, but a profile holds one customer id: two profiles.
    with pytest.raises(AmbiguousIdentifier) as refused:
        graph.person_data.export("test", identifier=("phone", "+447400100002"))
    assert refused.value.count == 2


def test_nothing_found_and_bad_requests_are_refused_with_the_domain_errors(
    graph: IdentityGraph,
) -> None:
    export = graph.person_data.export
    with pytest.raises(NoProfileWithIdentifier, match="no profile holds this email") as missing:
        export("test", identifier=("email", "nobody@example.com"))
    assert isinstance(missing.value, UnknownProfile)
    assert "nobody" not in str(missing.value)
    with pytest.raises(UnknownProfile, match="p_missing"):
        export("test", profile_id="p_missing")
    with pytest.raises(UnknownIdentifierKind):
        export("test", identifier=("shoe_size", "42"))
    with pytest.raises(InvalidIdentifier):
        export("test", identifier=("email", "not an address"))
    with pytest.raises(InvalidArgument, match="exactly one"):
        export("test")
    with pytest.raises(InvalidArgument, match="exactly one"):
        export(
            "test", identifier=("email", "dan@example.com"), profile_id=profile_of(graph, "dan-1")
        )
    assert graph.store.audit.entries(action=ACCESS_EXPORT) == []


def test_every_export_is_audited_with_the_profile_ids_and_never_the_identifier_value(
    graph: IdentityGraph,
) -> None:
    graph.person_data.export("dpo@example.org", identifier=("email", "dan@example.com"))
    [entry] = graph.store.audit.entries(action=ACCESS_EXPORT)
    assert entry.entry.actor == "dpo@example.org"
    assert entry.entry.target == profile_of(graph, "dan-1")
    logged = json.dumps(
        [entry.entry.target, entry.entry.reason, entry.entry.before, entry.entry.after]
    )
    assert "dan@example.com" not in logged
