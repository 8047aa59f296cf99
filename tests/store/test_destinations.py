"""DestinationPort contract, the same on every store: a name is registered once, removing
takes the state and dead letters along, the lease goes to one owner until it runs out,
only the holder saves state, dead letters keep their fields and order."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from identity.model import DeadLetter, DestinationRow, DestinationState
from identity.store.base import Store

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _row(name: str = "hook", **config: object) -> DestinationRow:
    doc = {"url": "https://example.com/h", "fields": ["email"], "batch_size": 10, **config}
    return DestinationRow(name, "named", "webhook", doc, "whsec_x", False, T0, "cli:ann")


def _letter(n: int, status: str = "dead") -> DeadLetter:
    return DeadLetter(0, "hook", "changes", n, n + 5, None, None, status, 3, 503, "HTTP 503", T0)


def test_a_destination_is_registered_once_and_read_back_whole(store: Store) -> None:
    assert store.destinations.add(_row(), DestinationState("hook", cursor_seq=7))
    assert not store.destinations.add(_row(url="https://other"), DestinationState("hook"))
    assert store.destinations.add(_row("lake"), DestinationState("lake", snapshot_after=""))
    assert store.destinations.get() == [_row(), _row("lake")]
    assert store.destinations.get(["lake", "ghost"]) == [_row("lake")]
    states = store.destinations.states(["hook", "lake", "ghost"])
    assert states == {
        "hook": DestinationState("hook", cursor_seq=7),
        "lake": DestinationState("lake", snapshot_after=""),
    }
    assert store.destinations.set_paused("hook", True)
    assert store.destinations.get(["hook"])[0].paused
    assert not store.destinations.set_paused("ghost", True)


def test_the_lease_goes_to_one_owner_until_it_runs_out(store: Store) -> None:
    store.destinations.add(_row(), DestinationState("hook"))
    later = T0 + timedelta(seconds=60)
    assert store.destinations.lease("hook", "a", T0, later)
    assert not store.destinations.lease("hook", "b", T0 + timedelta(seconds=59), later)
    assert store.destinations.lease("hook", "a", T0 + timedelta(seconds=30), later)  # renewal
    assert store.destinations.lease(
        "hook", "b", later + timedelta(seconds=1), later + timedelta(seconds=90)
    )
    assert store.destinations.states(["hook"])["hook"].lease_owner == "b"
    store.destinations.release("hook", "a")  # not a's: nothing happens
    assert store.destinations.states(["hook"])["hook"].lease_owner == "b"
    store.destinations.release("hook", "b")
    state = store.destinations.states(["hook"])["hook"]
    assert state.lease_owner is None and state.lease_until is None
    assert not store.destinations.lease("ghost", "a", T0, later)


def test_only_the_lease_holder_saves_the_state(store: Store) -> None:
    store.destinations.add(_row(), DestinationState("hook"))
    store.destinations.lease("hook", "a", T0, T0 + timedelta(seconds=60))
    moved = DestinationState(
        "hook",
        cursor_seq=12,
        snapshot_seq=4,
        snapshot_after="p_9",
        attempts=2,
        next_attempt_at=T0 + timedelta(seconds=3.25),
        last_error="HTTP 503 Service Unavailable",
        last_status=503,
        delivered_batches=3,
        delivered_rows=30,
        last_delivered_at=T0,
    )
    assert not store.destinations.save_state(moved, "b")
    assert store.destinations.states(["hook"])["hook"].cursor_seq == 0
    assert store.destinations.save_state(moved, "a")
    held = replace(moved, lease_owner="a", lease_until=T0 + timedelta(seconds=60))
    assert store.destinations.states(["hook"])["hook"] == held
    assert store.destinations.save_state(replace(moved, cursor_seq=13), None)  # a steward's
    assert store.destinations.states(["hook"])["hook"].cursor_seq == 13


def test_dead_letters_keep_their_fields_and_go_with_their_destination(store: Store) -> None:
    store.destinations.add(_row(), DestinationState("hook"))
    first = store.destinations.add_dead_letter(_letter(1))
    second = store.destinations.add_dead_letter(_letter(10))
    snapshot = store.destinations.add_dead_letter(
        replace(_letter(20), kind="snapshot", after_id="p_1", last_id="p_5", last_status=None)
    )
    assert first < second < snapshot
    found = store.destinations.dead_letters("hook")
    assert found == [
        replace(_letter(1), id=first),
        replace(_letter(10), id=second),
        replace(
            _letter(20),
            id=snapshot,
            kind="snapshot",
            after_id="p_1",
            last_id="p_5",
            last_status=None,
        ),
    ]
    replayed = replace(found[0], status="replayed", attempts=4, last_status=200, last_error=None)
    store.destinations.update_dead_letter(replayed)
    assert [d.id for d in store.destinations.dead_letters("hook")] == [second, snapshot]
    assert store.destinations.dead_letters("hook", status="replayed") == [replayed]
    assert store.destinations.dead_letters("hook", ids=[snapshot, 999], status=None) == [found[2]]
    assert store.destinations.remove("hook")
    assert not store.destinations.remove("hook")
    assert store.destinations.get() == [] and store.destinations.states(["hook"]) == {}
    assert store.destinations.dead_letters("hook", status=None) == []


def test_a_deleted_segment_stops_its_destinations_and_only_a_steward_restarts_them(
    store: Store,
) -> None:
    store.destinations.add(_row(), DestinationState("hook", cursor_seq=3))
    store.destinations.add(_row("lake"), DestinationState("lake"))
    other = replace(_row("other"), segment="vip")
    store.destinations.add(other, DestinationState("other"))
    store.destinations.save_state(
        DestinationState("hook", cursor_seq=3, attempts=2, next_attempt_at=T0), None
    )
    at = T0 + timedelta(hours=1)
    assert store.destinations.stop_following("named", "segment_removed", at) == ["hook", "lake"]
    assert store.destinations.stop_following("named", "segment_removed", at) == []  # once
    states = store.destinations.states(["hook", "lake", "other"])
    assert states["hook"] == DestinationState(
        "hook", cursor_seq=3, stopped="segment_removed", stopped_at=at
    )
    assert states["other"].stopped is None
    # A worker saving a state it read before the stop (stopped None) keeps it stopped.
    store.destinations.lease("hook", "a", T0, T0 + timedelta(seconds=60))
    assert store.destinations.save_state(DestinationState("hook", cursor_seq=9), "a")
    held = store.destinations.states(["hook"])["hook"]
    assert (held.cursor_seq, held.stopped, held.stopped_at) == (9, "segment_removed", at)
    # A steward's edit (no owner) clears it, with the snapshot time.
    restarted = replace(held, stopped=None, stopped_at=None, snapshot_at=at)
    assert store.destinations.save_state(restarted, None)
    assert store.destinations.states(["hook"])["hook"] == restarted
