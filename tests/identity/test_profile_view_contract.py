"""The profile read model equals a full recomputation after any sequence of writes, on
both stores (hypothesis state machine): records, updates, events (re-sent under their id
with other identifiers too), consent by record and by event, login stitching, steward
merges, splits, separations and undo, erasure, retention, a source's changed priority or
consent mapping, and the clock moving on. After every step every live profile's stored
row equals its recomputation, no row is left for a profile that is not live, the traits
read at "now" equal the traits computed from records and events, and segment membership
equals a fresh evaluation."""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from identity.consent import current_consent, statements
from identity.errors import IdgraphError
from identity.graph import IdentityGraph
from identity.journeys import compute_traits
from identity.mapping import SourceMapping
from identity.model import RecordRef
from identity.rules import Rules, load_rules
from identity.segment_definitions import parse_definition
from identity.store.base import Store
from tests.store.conftest import BACKENDS, backend_params

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
EMAILS = ["ann@example.com", "bob@example.com", "cat@example.com", "family@example.com"]
PHONES = ["+447400100001", "+447400100002", "+447400100003"]
CUSTOMERS = ["C1", "C2", "C3"]
COOKIES = ["ck-1", "ck-2"]
NAMES = ["Ann", "Bob", "Cat", "Émile"]
TYPES = ["purchase", "page_view", "consent", "login"]
SEGMENTS = {
    "buyers": {"where": {"trait": "orders", "gte": 1}},
    "mailable": {"requires_consent": "email", "where": {"identifier": "email"}},
    "recent": {"where": {"trait": "recency_days", "lte": 10}},
    "anns": {"where": {"attribute": "first_name", "eq": "ann"}},
}


def _rules() -> Rules:
    # A small cap on phones, so that shared phones get flagged and stop linking.
    base = load_rules()
    kinds = dict(base.kinds)
    kinds["phone"] = replace(kinds["phone"], cardinality_cap=2)
    return replace(base, kinds=kinds)


def _mapping(source: str, priority: int, consent: bool) -> SourceMapping:
    doc: dict[str, Any] = {
        "source": source,
        "key": "id",
        "timestamp": "at",
        "phone_region": "GB",
        "priority": priority,
        "identifiers": {"email": "email", "phone": "phone", "cust": "customer_id"},
        "attributes": {
            "first": {"name": "first_name", "type": "name"},
            "opt": {"name": "email_opt_in", "type": "boolean"},
            "city": "city",
        },
    }
    if consent:
        doc["consent"] = {"email": "email_opt_in"}
    return SourceMapping.from_document(doc)


records = st.fixed_dictionaries(
    {
        "source": st.sampled_from(["crm", "shop"]),
        "key": st.sampled_from(["1", "2", "3", "4", "5", "6"]),
        "email": st.none() | st.sampled_from(EMAILS),
        "phone": st.none() | st.sampled_from(PHONES),
        "cust": st.none() | st.sampled_from(CUSTOMERS),
        "first": st.none() | st.sampled_from(NAMES),
        "opt": st.none() | st.booleans(),
        "city": st.none() | st.sampled_from(["London", "Leeds"]),
        "days": st.integers(0, 40),
    }
)
events = st.fixed_dictionaries(
    {
        "id": st.sampled_from([f"e{i}" for i in range(8)]),
        "type": st.sampled_from(TYPES),
        "email": st.none() | st.sampled_from(EMAILS),
        "cookie": st.none() | st.sampled_from(COOKIES),
        "cust": st.none() | st.sampled_from(CUSTOMERS),
        "value": st.sampled_from([10, 25.5, "12.30", "NaN", None]),
        "granted": st.booleans(),
        "days": st.integers(0, 40),
    }
)


class ReadModelMachine(RuleBasedStateMachine):
    backend = "sqlite"

    def __init__(self) -> None:
        super().__init__()
        self.now = START
        self.folder = tempfile.TemporaryDirectory()
        store: Store = BACKENDS[self.backend](Path(self.folder.name))
        self.graph = IdentityGraph(store, _rules(), clock=lambda: self.now)
        self.priorities = {"crm": 90, "shop": 50}
        self.consent = {"crm": False, "shop": True}
        for source in ("crm", "shop"):
            self.graph.ingest.register_source(
                _mapping(source, self.priorities[source], self.consent[source])
            )
        for name, document in SEGMENTS.items():
            self.graph.segments.define(name, document)
        self.actions: list[int] = []

    def teardown(self) -> None:
        self.graph.close()
        self.folder.cleanup()

    # -- writes ------------------------------------------------------------------------------

    @rule(record=records)
    def ingest_record(self, record: dict[str, Any]) -> None:
        row: dict[str, Any] = {"id": record["key"], "at": self._at(record["days"])}
        for name in ("email", "phone", "cust", "first", "opt", "city"):
            if record[name] is not None:
                row[name] = record[name]
        self.graph.ingest.ingest_rows(record["source"], [(1, row)])

    @rule(event=events)
    def ingest_event(self, event: dict[str, Any]) -> None:
        identifiers = {k: event[k] for k in ("email", "cookie", "cust") if event[k] is not None}
        if not identifiers:
            identifiers = {"cookie": COOKIES[0]}
        ids = {"email": "email", "cookie": "cookie_id", "cust": "customer_id"}
        properties: dict[str, Any] = {}
        if event["type"] == "purchase" and event["value"] is not None:
            properties["order_value"] = event["value"]
        if event["type"] == "consent":
            properties = {"purpose": "email", "granted": event["granted"]}
        row = {
            "event_id": event["id"],
            "type": event["type"],
            "timestamp": self._at(event["days"]),
            "source": "web",
            "identifiers": {ids[k]: v for k, v in identifiers.items()},
            "properties": properties,
        }
        self.graph.events.ingest_rows([(1, row)])

    @rule(data=st.data())
    def steward_merge(self, data: st.DataObject) -> None:
        live = self._live()
        if len(live) < 2:
            return
        pair = data.draw(st.lists(st.sampled_from(live), min_size=2, max_size=2, unique=True))
        self._act(lambda: self.graph.stewardship.merge_profiles(pair, "test", "steward"))

    @rule(data=st.data())
    def steward_split(self, data: st.DataObject) -> None:
        profiles = [p for p in self.graph.profiles.get_many(self._live()) if p is not None]
        several = [p for p in profiles if len(p.records) >= 2]
        if not several:
            return
        profile = data.draw(st.sampled_from(several))
        refs = [r.ref for r in profile.records]
        cut = data.draw(st.integers(1, len(refs) - 1))
        groups = [refs[:cut], refs[cut:]]
        self._act(lambda: self.graph.stewardship.split_profile(profile.id, groups, "t", "s"))

    @rule(data=st.data())
    def steward_separate(self, data: st.DataObject) -> None:
        refs = self._refs()
        if len(refs) < 2:
            return
        a, b = data.draw(st.lists(st.sampled_from(refs), min_size=2, max_size=2, unique=True))
        self._act(lambda: self.graph.stewardship.separate_records(a, b, "t", "s"))

    @precondition(lambda self: bool(self.actions))
    @rule()
    def undo_last(self) -> None:
        action = self.actions.pop()
        # Refused when a later action stands in the way: then nothing changes.
        with contextlib.suppress(IdgraphError):
            self.graph.stewardship.undo(action, "t", "s")

    @rule(email=st.sampled_from(EMAILS))
    def erase(self, email: str) -> None:
        # Refused when nobody holds it or several do: then nothing changes.
        with contextlib.suppress(IdgraphError):
            self.graph.erasure.erase("dpo", "request", identifiers=[("email", email)])

    @rule(days=st.integers(1, 30))
    def retention(self, days: int) -> None:
        self.now += timedelta(days=days)
        # Records kept 30 days after their time: the oldest go, profiles re-resolve.
        source = self.graph.ingest.source("shop")
        doc = source.to_document()
        doc["retention_days"] = 30
        self.graph.ingest.register_source(SourceMapping.from_document(doc))
        self.graph.retention.apply("system")

    @rule(source=st.sampled_from(["crm", "shop"]), priority=st.sampled_from([10, 50, 90]))
    def change_priority(self, source: str, priority: int) -> None:
        self.priorities[source] = priority
        self._register(source)

    @rule(source=st.sampled_from(["crm", "shop"]))
    def toggle_consent_mapping(self, source: str) -> None:
        self.consent[source] = not self.consent[source]
        self._register(source)

    @rule(days=st.integers(1, 20))
    def advance_clock(self, days: int) -> None:
        self.now += timedelta(days=days)

    # -- the contract ------------------------------------------------------------------------

    @invariant()
    def view_equals_recomputation(self) -> None:
        views = self.graph.views
        assert views.fresh()
        assert views.check() == []
        live = self._live()
        stored = views.get_many(live)
        truth = views.recompute(live)
        assert set(stored) == set(truth) == set(live)
        profiles = {p.id: p for p in self.graph.profiles.get_many(live) if p is not None}
        events = self.graph.store.events.of_profiles(live)
        rules = self.graph.rules.events
        consent_fields = {s: {"email": "email_opt_in"} for s, on in self.consent.items() if on}
        for pid in live:
            mine = events.get(pid, [])
            records = profiles[pid].records
            assert stored[pid].traits.at(self.now) == compute_traits(
                mine, records, rules, self.now
            ), pid
            assert stored[pid].consent == current_consent(
                statements(records, consent_fields, mine, rules)
            ), pid
            assert stored[pid].attributes == profiles[pid].attributes, pid
            assert stored[pid].identifiers == profiles[pid].identifiers, pid

    @invariant()
    def membership_equals_a_fresh_evaluation(self) -> None:
        segments = self.graph.segments
        # Time windows move with the clock only on a refresh, as documented.
        segments.refresh()
        live = self._live()
        facts = segments.facts(live)
        for name, document in SEGMENTS.items():
            definition = parse_definition(name, document, self.graph.rules)
            expected = sorted(pid for pid in live if definition.is_member(facts[pid]))
            assert self.graph.store.segments.members(name, limit=10_000) == expected, name

    # -- helpers -----------------------------------------------------------------------------

    def _at(self, days: int) -> str:
        return (self.now - timedelta(days=days)).isoformat()

    def _live(self) -> list[str]:
        return list(self.graph.store.profiles.scan_ids())

    def _refs(self) -> list[RecordRef]:
        return [ref for ref, _ in self.graph.store.records.scan_profiles()]

    def _act(self, action: Any) -> None:
        try:
            result = action()
        except IdgraphError:
            return  # refused (a steward link in the way): nothing changes
        self.actions.append(result.action_id)

    def _register(self, source: str) -> None:
        self.graph.ingest.register_source(
            _mapping(source, self.priorities[source], self.consent[source])
        )


@pytest.mark.parametrize("backend", backend_params())
def test_the_read_model_equals_a_full_recomputation_after_any_writes(backend: str) -> None:
    machine = type(f"ReadModel_{backend}", (ReadModelMachine,), {"backend": backend})
    examples, steps = (60, 20) if backend == "sqlite" else (12, 12)
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
