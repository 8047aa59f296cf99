"""`idgraph migrate` copies destinations: config, secret, delivery state and dead letters,
and the copy goes on delivering from the same cursor; into either store."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from identity.destinations import DeliveryWorker, DestinationSettings
from identity.graph import IdentityGraph
from identity.mapping import SourceMapping
from identity.migration import migrate_store
from identity.rules import load_rules
from identity.store.base import Store
from identity.store.sqlite import SQLiteStore
from service.webhooks import wire
from tests.destinations.conftest import CRM, FakeTime, ingest
from tests.destinations.receiver import Receiver


def test_destinations_are_copied_with_their_state_and_dead_letters(
    store: Store, clock: FakeTime, tmp_path: Path
) -> None:
    source = IdentityGraph(SQLiteStore(tmp_path / "src.db"), load_rules(), clock=clock.now)
    source.ingest.register_source(SourceMapping.from_document(CRM, rules=source.rules))
    source.segments.define("named", {"where": {"attribute": "first_name", "exists": True}})
    wire(source)
    receiver = Receiver(lambda: source.destinations.all()[0].secret or "").start()
    try:
        source.destinations.add(
            DestinationSettings(
                "hook", "named", url=receiver.url, start="now", batch_size=1, max_attempts=1
            )
        )
        source.destinations.add(DestinationSettings("lake", "named", folder=str(tmp_path / "lake")))
        ingest(
            source,
            {"id": "a", "email": "a@x.org", "first": "A"},
            {"id": "b", "email": "b@x.org", "first": "B"},
        )
        receiver.will("500")
        DeliveryWorker(source.destinations, clock=clock.now, sleep=clock.sleep).run_until_idle()
        report = migrate_store(source.store, store)
        assert report.destinations == 2
        assert store.destinations.get() == source.store.destinations.get()
        names = ["hook", "lake"]
        held_states = source.store.destinations.states(names)
        assert store.destinations.states(names) == {
            n: replace(s, lease_owner=None, lease_until=None) for n, s in held_states.items()
        }
        assert held_states["hook"].cursor_seq > 0
        copied = store.destinations.dead_letters("hook")
        held = source.store.destinations.dead_letters("hook")
        assert [(d.from_seq, d.to_seq, d.attempts, d.last_error) for d in copied] == [
            (d.from_seq, d.to_seq, d.attempts, d.last_error) for d in held
        ] and len(copied) == 1
        # The copy delivers on from where the source stopped.
        target = IdentityGraph(store, load_rules(), clock=clock.now)
        ingest(target, {"id": "c", "email": "c@x.org", "first": "C"})
        wire(target)
        before = len(receiver.requests)
        DeliveryWorker(target.destinations, clock=clock.now, sleep=clock.sleep).run_until_idle()
        rows = [row for r in receiver.requests[before:] for row in r.rows]
        assert [row["profile_id"] for row in rows] == [
            c.profile_id for c in store.segments.changes("named", after=0, limit=10)[-1:]
        ]
    finally:
        receiver.stop()
        source.close()
