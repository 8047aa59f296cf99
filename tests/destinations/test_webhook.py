"""Pushing a segment's changes to a webhook that fails on purpose: what a consumer that
de-duplicates by seq ends up with is exactly the segment's change feed and its members,
through 5xx, 429, timeouts, dropped connections, dead letters, replays, restarts and two
workers; on both stores."""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest

from identity.destinations import Backoff, DeliveryWorker, DestinationSettings
from identity.destinations.signing import signature, verify
from identity.graph import IdentityGraph
from identity.segments import change_cursor
from tests.destinations.conftest import NAMED, FakeTime, ingest
from tests.destinations.receiver import Consumer, Receiver, feed


def _worker(graph: IdentityGraph, clock: FakeTime, **kwargs: Any) -> DeliveryWorker:
    kwargs.setdefault("backoff", Backoff(rng=random.Random(1)))
    return DeliveryWorker(
        graph.destinations, clock=clock.now, sleep=clock.sleep, worker_id="w1", **kwargs
    )


def _add(graph: IdentityGraph, receiver: Receiver, **kwargs: Any) -> None:
    kwargs.setdefault("fields", ["profile_id", "email", "first_name"])
    graph.destinations.add(DestinationSettings("hook", "named", url=receiver.url, **kwargs))


def _people(graph: IdentityGraph, n: int, prefix: str = "c") -> None:
    ingest(
        graph,
        *[
            {"id": f"{prefix}{i}", "email": f"{prefix}{i}@example.com", "first": f"Ann{i}"}
            for i in range(n)
        ],
    )


def _changes_after(graph: IdentityGraph, seq: int) -> list[tuple[int, str, str, str | None]]:
    return feed(graph.store.segments.changes("named", after=seq, limit=100_000))


def test_the_consumer_gets_exactly_the_feed_and_the_members_through_failures(
    graph: IdentityGraph, receiver: Receiver, clock: FakeTime
) -> None:
    rng = random.Random(18)
    _people(graph, 12)
    graph.segments.define("named", NAMED)
    _add(graph, receiver, batch_size=4, max_attempts=100)
    worker = _worker(graph, clock)
    steps = ["200", "500", "503+retry:3", "429", "408", "close"]
    for _round in range(5):
        rows = []
        for _ in range(rng.randint(3, 6)):
            key = f"r{rng.randrange(15)}"
            row: dict[str, Any] = {"id": key, "email": f"{key}@example.com"}
            if rng.random() < 0.6:
                row["first"] = rng.choice(["Bea", "Cy", "Di"])
            if rng.random() < 0.3:  # shares an e-mail with one of the first people: a merge
                row["email"] = f"c{rng.randrange(12)}@example.com"
            rows.append(row)
        ingest(graph, *rows)
        receiver.will(*(rng.choice(steps) for _ in range(rng.randint(0, 6))))
        worker.run_until_idle(max_wait=float("inf"))
        clock.advance(1)
    worker.run_until_idle(max_wait=float("inf"))

    state = graph.store.destinations.states(["hook"])["hook"]
    assert state.snapshot_after is None and state.snapshot_seq is not None
    consumer = Consumer().take(receiver.processed())
    expected = _changes_after(graph, state.snapshot_seq)
    assert any(c[1] == "exited" and c[3] for c in expected), "no merge happened"
    assert consumer.sequence() == expected
    assert consumer.members() == set(graph.store.segments.members("named", limit=10_000))
    assert not graph.destinations.dead_letters("hook")
    assert len(receiver.requests) > len({r.headers["idempotency-key"] for r in receiver.requests})


def test_entered_rows_carry_the_fields_as_they_are_now_and_exited_rows_none(
    graph: IdentityGraph, receiver: Receiver, clock: FakeTime
) -> None:
    graph.segments.define("named", NAMED)
    _add(graph, receiver, start="now")
    start = graph.store.segments.last_change_seq()
    ingest(graph, {"id": "a", "email": "a@example.com", "first": "Ann"})
    ingest(graph, {"id": "b", "email": "b@example.com", "first": "Bob"})
    ingest(graph, {"id": "b", "email": "b@example.com"})  # no first name: Bob exits
    _worker(graph, clock).run_until_idle()
    (request,) = receiver.requests
    ann, bob, gone = request.rows
    assert (ann["kind"], ann["email"], ann["first_name"]) == ("entered", "a@example.com", "Ann")
    # Built at send time: Bob's entered row has his values now, without the first name.
    assert (bob["kind"], bob["email"], bob["first_name"]) == ("entered", "b@example.com", None)
    assert gone["kind"] == "exited" and gone["profile_id"] == bob["profile_id"]
    assert set(gone) == {"seq", "kind", "at", "profile_id", "merged_into"}
    last = gone["seq"]
    assert [row["seq"] for row in request.rows] == [c[0] for c in _changes_after(graph, start)]
    assert request.headers["idgraph-cursor"] == change_cursor(last)
    assert request.headers["idempotency-key"] == f"hook:{start}-{last}"
    assert request.headers["idgraph-batch"] == f"changes:{start}-{last}"
    assert request.headers["content-type"] == "application/x-ndjson"
    assert request.headers["idgraph-segment"] == "named"
    assert request.headers["idgraph-destination"] == "hook"


def test_backoff_waits_follow_the_formula_and_honour_retry_after(
    graph: IdentityGraph, receiver: Receiver, clock: FakeTime
) -> None:
    graph.segments.define("named", NAMED)
    _add(graph, receiver, start="now")
    _people(graph, 2)
    receiver.will("500", "500", "500", "500", "503+retry:40", "200")
    worker = _worker(graph, clock, backoff=Backoff(base=1, cap=4, rng=random.Random(7)))
    worker.run_until_idle(max_wait=float("inf"))
    twin = random.Random(7)
    expected = [min(4, 2 ** (n - 1)) * twin.uniform(0.5, 1.0) for n in range(1, 5)]
    assert clock.slept is not None
    assert clock.slept[:4] == pytest.approx(expected)
    assert clock.slept[4] == pytest.approx(40)  # Retry-After above the jittered 4 s step
    for n, waited in enumerate(clock.slept[:4], start=1):
        assert min(4, 2 ** (n - 1)) / 2 <= waited <= min(4, 2 ** (n - 1))
    assert len(receiver.requests) == 6
    assert len({r.headers["idempotency-key"] for r in receiver.requests}) == 1
    state = graph.store.destinations.states(["hook"])["hook"]
    assert state.attempts == 0 and state.last_error is None


def test_after_max_attempts_a_batch_is_dead_lettered_later_ones_arrive_and_replay_delivers(
    graph: IdentityGraph, receiver: Receiver, clock: FakeTime
) -> None:
    graph.segments.define("named", NAMED)
    _add(graph, receiver, start="now", batch_size=2, max_attempts=3)
    start = graph.store.segments.last_change_seq()
    _people(graph, 4)
    receiver.will("500", "502", "504")
    _worker(graph, clock).run_until_idle(max_wait=float("inf"))
    (dead,) = graph.destinations.dead_letters("hook")
    assert (dead.kind, dead.attempts, dead.last_status) == ("changes", 3, 504)
    seqs = [c[0] for c in _changes_after(graph, start)]
    assert dead.from_seq == start and dead.to_seq == seqs[1]
    consumer = Consumer().take(receiver.processed())
    assert consumer.sequence() == _changes_after(graph, start)[2:]

    replayed = graph.destinations.replay("hook", actor="steward")
    assert [r.outcome.delivered for r in replayed] == [True]
    assert not graph.destinations.dead_letters("hook")
    (letter,) = graph.destinations.dead_letters("hook", status="replayed")
    assert letter.id == dead.id and letter.attempts == 4
    last = receiver.requests[-1]
    assert last.headers["idempotency-key"] == f"hook:{start}-{seqs[1]}"
    consumer = Consumer().take(receiver.processed())
    assert consumer.sequence() == _changes_after(graph, start)
    assert graph.audit.entries(action="replay_dead_letters").entries


def test_a_400_dead_letters_at_once(
    graph: IdentityGraph, receiver: Receiver, clock: FakeTime
) -> None:
    graph.segments.define("named", NAMED)
    _add(graph, receiver, start="now", batch_size=2)
    _people(graph, 4)
    receiver.will("400")
    report = _worker(graph, clock).run_until_idle()
    assert report.dead == 1 and report.batches == 1
    (dead,) = graph.destinations.dead_letters("hook")
    assert (dead.attempts, dead.last_status) == (1, 400)
    assert "400" in (dead.last_error or "")
    assert len(receiver.requests) == 2


def test_timeouts_and_dropped_answers_are_retried_with_the_same_key(
    graph: IdentityGraph, receiver: Receiver, clock: FakeTime
) -> None:
    graph.segments.define("named", NAMED)
    _add(graph, receiver, start="now", timeout_seconds=0.3)
    start = graph.store.segments.last_change_seq()
    _people(graph, 3)
    receiver.will("sleep:1.0", "close", "200")
    _worker(graph, clock).run_until_idle(max_wait=float("inf"))
    assert [r.step for r in receiver.requests] == ["sleep:1.0", "close", "200"]
    assert len({r.headers["idempotency-key"] for r in receiver.requests}) == 1
    assert len({r.body for r in receiver.requests}) == 1
    consumer = Consumer().take(receiver.processed())
    assert consumer.sequence() == _changes_after(graph, start)
    state = graph.store.destinations.states(["hook"])["hook"]
    assert state.attempts == 0 and state.delivered_batches == 1


class Crash(BaseException):
    """The process dies between sending a batch and storing that it was delivered."""


def test_a_worker_dying_after_the_post_leaves_the_batch_to_the_next_one(
    graph: IdentityGraph, receiver: Receiver, clock: FakeTime
) -> None:
    graph.segments.define("named", NAMED)
    _add(graph, receiver, start="now", batch_size=2)
    start = graph.store.segments.last_change_seq()
    _people(graph, 5)

    def crash(*_: object) -> None:
        raise Crash

    with pytest.raises(Crash):
        _worker(graph, clock, after_send=crash).run_once()
    assert len(receiver.requests) == 1
    restarted = DeliveryWorker(
        graph.destinations, clock=clock.now, sleep=clock.sleep, worker_id="w2"
    )
    assert restarted.run_once().batches == 0  # the dead worker's lease still runs
    clock.advance(61)
    restarted.run_until_idle()
    keys = [r.headers["idempotency-key"] for r in receiver.requests]
    second = _changes_after(graph, start)[1][0]
    assert keys[0] == keys[1] == f"hook:{start}-{second}"
    consumer = Consumer().take(receiver.processed())
    assert consumer.sequence() == _changes_after(graph, start)


def test_two_workers_share_one_lease(
    graph: IdentityGraph, receiver: Receiver, clock: FakeTime
) -> None:
    graph.segments.define("named", NAMED)
    _add(graph, receiver, start="now", batch_size=1)
    start = graph.store.segments.last_change_seq()
    _people(graph, 6)
    one = _worker(graph, clock)
    two = DeliveryWorker(graph.destinations, clock=clock.now, sleep=clock.sleep, worker_id="w2")
    assert one.run_once().batches == 1
    assert two.run_once().batches == 0
    one.release()
    assert two.run_once().batches == 1
    assert one.run_once().batches == 0
    two.release()
    # Both at once, in threads: each batch goes out once.
    threads = [threading.Thread(target=w.run_until_idle) for w in (one, two)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    keys = [r.headers["idempotency-key"] for r in receiver.requests]
    assert len(keys) == len(set(keys)) == 6
    assert Consumer().take(receiver.processed()).sequence() == _changes_after(graph, start)


def test_consent_withdrawn_on_a_consent_segment_is_delivered_as_exited(
    graph: IdentityGraph, receiver: Receiver, clock: FakeTime
) -> None:
    graph.segments.define("named", {**NAMED, "requires_consent": "email"})
    _add(graph, receiver, start="now")
    ingest(graph, {"id": "a", "email": "a@example.com", "first": "Ann", "email_ok": True})
    clock.advance(60)
    ingest(graph, {"id": "a", "email": "a@example.com", "first": "Ann", "email_ok": False})
    _worker(graph, clock).run_until_idle()
    rows = [row for r in receiver.requests for row in r.rows]
    assert [r["kind"] for r in rows] == ["entered", "exited"]
    assert "email" not in rows[1]


def test_a_destination_needing_consent_gets_exited_for_an_entered_profile_without_it(
    graph: IdentityGraph, receiver: Receiver, clock: FakeTime
) -> None:
    graph.segments.define("named", NAMED)
    _add(graph, receiver, start="now", requires_consent="email")
    ingest(
        graph,
        {"id": "a", "email": "a@example.com", "first": "Ann", "email_ok": True},
        {"id": "b", "email": "b@example.com", "first": "Bob", "email_ok": False},
        {"id": "c", "email": "c@example.com", "first": "Cy"},
    )
    _worker(graph, clock).run_until_idle()
    rows = {
        row["email"] if "email" in row else row["profile_id"]: row
        for r in receiver.requests
        for row in r.rows
    }
    assert rows["a@example.com"]["kind"] == "entered"
    exited = [row for row in rows.values() if row["kind"] == "exited"]
    assert len(exited) == 2 and all("first_name" not in row for row in exited)


def test_an_erased_person_is_delivered_as_exited_with_no_fields(
    graph: IdentityGraph, receiver: Receiver, clock: FakeTime
) -> None:
    graph.segments.define("named", NAMED)
    _add(graph, receiver, start="now")
    ingest(graph, {"id": "a", "email": "a@example.com", "first": "Ann"})
    graph.erasure.erase("dpo", "asked", identifiers=[("email", "a@example.com")])
    _worker(graph, clock).run_until_idle()
    rows = [row for r in receiver.requests for row in r.rows]
    assert [r["kind"] for r in rows] == ["entered", "exited"]
    # The entered row is built at send time: the person is gone, so no values either.
    assert all(row.get("email") is None and row.get("first_name") is None for row in rows)
    assert "a@example.com" not in b"".join(r.body for r in receiver.requests).decode()


def test_the_snapshot_gives_the_members_and_resumes_where_it_stopped(
    graph: IdentityGraph, receiver: Receiver, clock: FakeTime
) -> None:
    _people(graph, 7)
    graph.segments.define("named", NAMED)
    _add(graph, receiver, batch_size=3)
    receiver.will("200", "500")
    worker = _worker(graph, clock)
    worker.run_once()  # the first page
    worker.run_once()  # the second fails
    state = graph.store.destinations.states(["hook"])["hook"]
    assert state.snapshot_after and state.attempts == 1
    worker.run_until_idle(max_wait=float("inf"))
    consumer = Consumer().take(receiver.processed())
    assert set(consumer.snapshot) == set(graph.store.segments.members("named", limit=100))
    assert [len(r.rows) for r in receiver.requests] == [3, 3, 3, 1]
    assert all(row["seq"] == state.snapshot_seq for r in receiver.requests for row in r.rows)


def test_the_signature_rejects_a_tampered_body_an_old_timestamp_and_another_secret() -> None:
    body = b'{"seq":1}\n'
    header = signature("whsec_a", 1_700_000_000, body)
    assert verify("whsec_a", header, body, now=1_700_000_010)
    assert not verify("whsec_a", header, b'{"seq":2}\n', now=1_700_000_010)
    assert not verify("whsec_a", header, body, now=1_700_000_000 + 301)
    assert not verify("whsec_b", header, body, now=1_700_000_010)
    assert not verify("whsec_a", "v1=" + header.split("v1=")[1], body, now=1_700_000_010)
    rotated = f"{header},v1={'0' * 64}"
    assert verify("whsec_a", rotated, body, now=1_700_000_010)


def test_a_secret_kept_in_the_environment_signs_and_its_absence_is_an_error_not_a_post(
    graph: IdentityGraph, clock: FakeTime
) -> None:
    graph.segments.define("named", NAMED)
    receiver = Receiver(lambda: "whsec_from_env", lambda: clock.now().timestamp()).start()
    try:
        added = graph.destinations.add(
            DestinationSettings(
                "hook", "named", url=receiver.url, start="now", secret_env="HOOK_SECRET"
            )
        )
        assert added.secret is None and graph.destinations.all()[0].secret is None
        ingest(graph, {"id": "a", "email": "a@example.com", "first": "Ann"})
        graph.destinations.secrets = {}
        _worker(graph, clock).run_once()
        state = graph.store.destinations.states(["hook"])["hook"]
        assert state.last_error == "the environment variable HOOK_SECRET is not set"
        assert receiver.requests == []
        graph.destinations.secrets = {"HOOK_SECRET": "whsec_from_env"}
        _worker(graph, clock).run_until_idle(max_wait=float("inf"))
        (request,) = receiver.requests
        assert request.signed
    finally:
        receiver.stop()


def test_a_snapshot_page_with_nobody_consenting_is_not_posted(
    graph: IdentityGraph, receiver: Receiver, clock: FakeTime
) -> None:
    ingest(
        graph,
        *[
            {"id": f"n{i}", "email": f"n{i}@x.org", "first": "N", "email_ok": False}
            for i in range(4)
        ],
        {"id": "y", "email": "y@x.org", "first": "Y", "email_ok": True},
    )
    graph.segments.define("named", NAMED)
    _add(graph, receiver, batch_size=2, requires_consent="email")
    _worker(graph, clock).run_until_idle()
    rows = [row for r in receiver.requests for row in r.rows]
    assert [row["email"] for row in rows] == ["y@x.org"]
    assert all(r.rows for r in receiver.requests)
    assert graph.store.destinations.states(["hook"])["hook"].snapshot_after is None
