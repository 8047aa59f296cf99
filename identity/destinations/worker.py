"""The delivery worker: for each destination whose lease it holds and whose next attempt
is due, one batch at a time, in order, at least once.

All its state is in the store (cursor, snapshot progress, attempts, next attempt, lease),
so a worker started after a crash carries on where the last one stopped: a batch sent but
not yet acknowledged in the store is sent again, with the same idempotency key.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from identity.destinations.backoff import Backoff
from identity.destinations.model import DEAD, FILE, SNAPSHOT, Batch, Destination, Outcome
from identity.destinations.service import DestinationService, describe
from identity.errors import IdgraphError, UnknownSegment
from identity.model import SEGMENT_REMOVED, DeadLetter, DestinationState

log = logging.getLogger(__name__)

LEASE_SECONDS = 60.0


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


@dataclass(slots=True)
class RunReport:
    """What one pass delivered, and when the next attempt of a waiting batch is due."""

    batches: int = 0
    rows: int = 0
    failures: int = 0
    dead: int = 0
    next_due: datetime | None = None
    delivered: dict[str, int] = field(default_factory=dict)
    """Rows delivered per destination."""

    def add(self, other: RunReport) -> None:
        self.batches += other.batches
        self.rows += other.rows
        self.failures += other.failures
        self.dead += other.dead
        for name, rows in other.delivered.items():
            self.delivered[name] = self.delivered.get(name, 0) + rows
        if other.next_due is not None and (self.next_due is None or other.next_due < self.next_due):
            self.next_due = other.next_due


class DeliveryWorker:
    """Delivers batches of every destination it can lease.

    ``clock`` and ``sleep`` are the worker's time (tests pass fakes, so backoff is
    instant); ``after_send`` is called between sending a batch and storing that it was
    delivered (tests crash there)."""

    def __init__(
        self,
        service: DestinationService,
        *,
        worker_id: str | None = None,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        backoff: Backoff | None = None,
        lease_seconds: float = LEASE_SECONDS,
        after_send: Callable[[Batch, Outcome], None] | None = None,
    ) -> None:
        self.service = service
        self.store = service.store
        self.worker_id = worker_id or default_worker_id()
        self.clock = clock or service.clock
        self.sleep = sleep
        self.backoff = backoff or Backoff()
        self.lease_seconds = lease_seconds
        self.after_send = after_send
        self._held: set[str] = set()

    def run_once(self) -> RunReport:
        """At most one batch for each due destination this worker can lease."""
        report = RunReport()
        destinations = [d for d in self.service.all() if not d.paused]
        states = self.store.destinations.states([d.name for d in destinations])
        for destination in destinations:
            state = states.get(destination.name)
            if state is None or state.stopped is not None:
                continue  # removed meanwhile, or stopped until a steward resumes it
            try:
                report.add(self._turn(destination, state))
            except (IdgraphError, OSError) as error:
                # One destination's trouble (its segment gone, the store busy) is logged
                # and stored; the others carry on.
                report.failures += 1
                log.warning("destination %s: %s", destination.name, describe(error))
            except Exception:
                # A bug must not stop delivery to every other destination.
                report.failures += 1
                log.exception("destination %s: unexpected error", destination.name)
        return report

    def run_until_idle(
        self, progress: Callable[[RunReport], None] | None = None, max_wait: float = 0.0
    ) -> RunReport:
        """Passes until nothing is left to send now; waits for a retry only when it is
        due within ``max_wait`` seconds. ``progress`` gets each pass's report."""
        total = RunReport()
        while True:
            report = self.run_once()
            total.add(report)
            if progress is not None:
                progress(report)
            if report.batches or report.dead:
                continue
            if report.next_due is None:
                return total
            wait = (report.next_due - self.clock()).total_seconds()
            if wait > max_wait:
                total.next_due = report.next_due
                return total
            self.sleep(max(wait, 0.0))

    def run_forever(
        self,
        stop: threading.Event,
        idle_seconds: float = 1.0,
        progress: Callable[[RunReport], None] | None = None,
    ) -> None:
        """Deliver until ``stop`` is set, looking at the feed every ``idle_seconds`` when
        there is nothing to send (sooner when a retry is due); leases are released at the
        end, so another worker takes over at once."""
        try:
            while not stop.is_set():
                report = self.run_once()
                if progress is not None:
                    progress(report)
                if report.batches or report.dead:
                    continue
                wait = idle_seconds
                if report.next_due is not None:
                    due = (report.next_due - self.clock()).total_seconds()
                    wait = max(0.0, min(wait, due))
                stop.wait(wait)
        finally:
            self.release()

    def release(self) -> None:
        for name in sorted(self._held):
            try:
                self.store.destinations.release(name, self.worker_id)
            except IdgraphError as error:
                log.warning("releasing destination %s: %s", name, describe(error))
        self._held.clear()

    # -- one destination ---------------------------------------------------------------------

    def _turn(self, destination: Destination, seen: DestinationState) -> RunReport:
        report = RunReport()
        now = self.clock()
        # Cheap reads first, so that an idle destination costs no write (no lease taken).
        if seen.next_attempt_at is not None and seen.next_attempt_at > now:
            report.next_due = seen.next_attempt_at
            return report
        held = seen.lease_owner not in (None, self.worker_id)
        if held and seen.lease_until is not None and seen.lease_until >= now:
            return report  # another worker delivers it
        snapshot_due = self._snapshot_due(destination, seen, now)
        if (
            seen.snapshot_after is None
            and not snapshot_due
            and not self.store.segments.changes(destination.segment, after=seen.cursor_seq, limit=1)
        ):
            if not self.store.segments.get([destination.segment]):
                self._stop_removed(destination, now)
            return report  # nothing new
        until = now + timedelta(seconds=self.lease_seconds)
        if not self.store.destinations.lease(destination.name, self.worker_id, now, until):
            self._held.discard(destination.name)
            return report  # another worker took it first
        self._held.add(destination.name)
        # Read again under the lease: another worker may have moved it on meanwhile.
        state = self.store.destinations.states([destination.name]).get(destination.name)
        if state is None or state.stopped is not None:
            return report  # removed or stopped meanwhile
        if state.next_attempt_at is not None and state.next_attempt_at > now:
            report.next_due = state.next_attempt_at
            return report
        if self._snapshot_due(destination, state, now):
            # A recurring snapshot (a file destination's --snapshot-every): the members as
            # of the feed's position now; the cursor stays, so the changes after it are
            # written as deltas after the snapshot, none skipped.
            state = replace(
                state,
                snapshot_seq=self.store.segments.last_change_seq(),
                snapshot_after="",
                snapshot_at=now,
            )
            if not self._save(state):
                return report
        try:
            batch, state = self._next_batch(destination, state)
        except UnknownSegment:
            self._stop_removed(destination, now)
            return report
        if batch is None:
            return report
        outcome = self.service.send(destination, batch)
        if self.after_send is not None:
            self.after_send(batch, outcome)
        if outcome.delivered:
            self._delivered(destination, state, batch, outcome, report)
        else:
            self._failed(destination, state, batch, outcome, report)
        return report

    def _save(self, state: DestinationState) -> bool:
        saved = self.store.destinations.save_state(state, self.worker_id)
        if not saved:
            log.warning("destination %s: lease lost; another worker carries on", state.name)
        return saved

    def _next_batch(
        self, destination: Destination, state: DestinationState
    ) -> tuple[Batch | None, DestinationState]:
        if state.snapshot_after is not None:
            if state.snapshot_seq is None:
                # The snapshot's feed position, taken before its first page is read: a
                # change after it is delivered after the snapshot, at least once.
                seq = self.store.segments.last_change_seq()
                state = replace(state, snapshot_seq=seq, cursor_seq=seq, snapshot_at=self.clock())
                if not self._save(state):
                    return None, state
            snapshot_seq = state.snapshot_seq
            assert snapshot_seq is not None and state.snapshot_after is not None
            batch = self.service.snapshot_batch(
                destination, snapshot_seq, state.snapshot_after, cursor=state.cursor_seq
            )
            while not batch.rows and destination.kind != FILE:
                # A page with nobody to send (none left, or none consenting) is not POSTed.
                state = self._advanced(state, batch)
                if not self._save(state):
                    return None, state
                if state.snapshot_after is None:  # the snapshot is done, changes follow
                    return self.service.change_batch(destination, state.cursor_seq), state
                batch = self.service.snapshot_batch(
                    destination, snapshot_seq, state.snapshot_after, cursor=state.cursor_seq
                )
            return batch, state
        if destination.kind == FILE:
            written = self.service.files.acknowledged(destination)
            if written is not None and written > state.cursor_seq:
                # The manifest was renamed into place but the cursor not stored (a crash
                # in between): the range is written; move the cursor there.
                state = replace(state, cursor_seq=written)
                if not self._save(state):
                    return None, state
        self.segments_known(destination)
        return self.service.change_batch(destination, state.cursor_seq), state

    def segments_known(self, destination: Destination) -> None:
        self.service.segments.get(destination.segment)  # UnknownSegment when deleted

    def _snapshot_due(
        self, destination: Destination, state: DestinationState, now: datetime
    ) -> bool:
        """Whether a file destination's recurring snapshot is due: ``snapshot_every_hours``
        since the newest snapshot began (since the destination was added, when it has had
        none), and no snapshot under way."""
        every = destination.snapshot_every_hours
        if destination.kind != FILE or every is None or state.snapshot_after is not None:
            return False
        since = state.snapshot_at or destination.created_at
        return since is not None and now - since >= timedelta(hours=every)

    def _stop_removed(self, destination: Destination, now: datetime) -> None:
        """The segment is gone but the destination was not stopped with it (deleted by an
        older idgraph, or while this worker held it): stop it, visibly, and log it once;
        the worker passes it by from now on. One conditional write: a destination stopped
        already (by the deletion itself) keeps its time, and is not logged again."""
        for name in self.store.destinations.stop_following(
            destination.segment, SEGMENT_REMOVED, now
        ):
            log.warning(
                "destination %s stopped: segment %s no longer exists; remove the destination, "
                "or define the segment again and resume it",
                name,
                destination.segment,
            )

    def _advanced(self, state: DestinationState, batch: Batch) -> DestinationState:
        if batch.kind == SNAPSHOT:
            return replace(state, snapshot_after=None if batch.final else batch.last_id)
        return replace(state, cursor_seq=batch.to_seq)

    def _delivered(
        self,
        destination: Destination,
        state: DestinationState,
        batch: Batch,
        outcome: Outcome,
        report: RunReport,
    ) -> None:
        now = self.clock()
        state = replace(
            self._advanced(state, batch),
            attempts=0,
            next_attempt_at=None,
            last_error=None,
            last_status=outcome.status,
            delivered_batches=state.delivered_batches + 1,
            delivered_rows=state.delivered_rows + len(batch.rows),
            last_delivered_at=now,
        )
        if self._save(state):
            report.batches += 1
            report.rows += len(batch.rows)
            report.delivered[destination.name] = len(batch.rows)

    def _failed(
        self,
        destination: Destination,
        state: DestinationState,
        batch: Batch,
        outcome: Outcome,
        report: RunReport,
    ) -> None:
        now = self.clock()
        attempts = state.attempts + 1
        report.failures += 1
        if outcome.retry and attempts < destination.max_attempts:
            delay = self.backoff.delay(attempts, outcome.retry_after)
            due = now + timedelta(seconds=delay)
            self._save(
                replace(
                    state,
                    attempts=attempts,
                    next_attempt_at=due,
                    last_error=outcome.error,
                    last_status=outcome.status,
                )
            )
            report.next_due = due
            log.info(
                "destination %s: batch %s failed (%s), attempt %d of %d, next in %.1fs",
                destination.name,
                batch.key,
                outcome.error,
                attempts,
                destination.max_attempts,
                delay,
            )
            return
        letter = DeadLetter(
            0,
            destination.name,
            batch.kind,
            batch.from_seq,
            batch.to_seq,
            batch.after_id,
            batch.last_id,
            DEAD,
            attempts,
            outcome.status,
            outcome.error,
            now,
        )
        with self.store.unit_of_work():
            saved = self._save(
                replace(
                    self._advanced(state, batch),
                    attempts=0,
                    next_attempt_at=None,
                    last_error=outcome.error,
                    last_status=outcome.status,
                )
            )
            if saved:
                self.store.destinations.add_dead_letter(letter)
        if saved:
            report.dead += 1
            log.warning(
                "destination %s: batch %s dead-lettered after %d attempt(s): %s",
                destination.name,
                batch.key,
                attempts,
                outcome.error,
            )
