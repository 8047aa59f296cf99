"""Destinations as use cases: register, list, pause, resume, remove, replay dead letters;
and building and sending one batch, which the worker (:mod:`.worker`) drives.

A batch's rows are built when it is sent: an ``entered`` row carries the profile's fields
as they are now, not as they were when it entered; ``exited`` rows carry none.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from identity.audit import SYSTEM, AuditService
from identity.catalog import FieldCatalog
from identity.destinations.files import FileSink, require_parquet
from identity.destinations.model import (
    CHANGES,
    DEAD,
    FILE,
    REPLAYED,
    SNAPSHOT,
    Batch,
    Destination,
    DestinationSettings,
    Outcome,
    validate,
)
from identity.destinations.signing import new_secret
from identity.destinations.webhook import Transport, WebhookSink, ndjson
from identity.errors import ConfigError, IdgraphError, InvalidArgument
from identity.model import (
    SEGMENT_REMOVED,
    DeadLetter,
    DestinationRow,
    DestinationState,
    JSONValue,
    MembershipKind,
    ProfileId,
    SegmentChange,
)
from identity.resolution import utc_now
from identity.rules import Rules
from identity.segment_definitions import VIEW
from identity.segments import SegmentService, change_cursor
from identity.store.base import Store

log = logging.getLogger(__name__)


class UnknownDestination(InvalidArgument):
    def __init__(self, name: str) -> None:
        super().__init__(f"no destination named {name!r}", argument="name")
        self.name = name


@dataclass(frozen=True, slots=True)
class Added:
    destination: Destination
    secret: str | None
    """The signing secret, shown this once (None: read from ``secret_env``, or a folder)."""


@dataclass(frozen=True, slots=True)
class DestinationView:
    """A destination with its delivery state, how far behind it is, and its dead letters."""

    destination: Destination
    state: DestinationState
    lag: int
    """Changes of its segment logged after its cursor (the snapshot's pages not counted)."""
    dead_letters: list[DeadLetter]

    @property
    def status(self) -> str:
        """``segment_removed`` (stopped), ``paused``, ``retrying``, ``snapshot`` or ``ok``."""
        if self.state.stopped is not None:
            return self.state.stopped
        if self.destination.paused:
            return "paused"
        if self.state.attempts:
            return "retrying"
        if self.state.snapshot_after is not None:
            return "snapshot"
        return "ok"

    @property
    def problem(self) -> str | None:
        """What a stopped destination needs from a steward (None while it delivers)."""
        return stopped_message(self.destination, self.state)


def stopped_message(destination: Destination, state: DestinationState) -> str | None:
    if state.stopped is None:
        return None
    when = f"{state.stopped_at:%Y-%m-%d %H:%M} UTC" if state.stopped_at else "an unknown date"
    if state.stopped == SEGMENT_REMOVED:
        return (
            f"segment {destination.segment} was removed on {when}; remove the destination, "
            "or define the segment again and resume the destination (it starts over with a "
            "new snapshot)"
        )
    return f"stopped ({state.stopped}) on {when}; resume the destination to start it again"


@dataclass(frozen=True, slots=True)
class Replayed:
    letter: DeadLetter
    outcome: Outcome


class DestinationService:
    def __init__(
        self,
        store: Store,
        rules: Rules,
        segments: SegmentService,
        catalog: FieldCatalog,
        audit: AuditService | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.rules = rules
        self.segments = segments
        self.catalog = catalog
        self.audit = audit
        self.clock = clock
        self.transport: Transport | None = None
        """The HTTP client webhooks are sent with; the entry point sets it
        (service/webhooks.py). None: webhooks cannot be delivered from this process."""
        self.secrets: Mapping[str, str] = {}
        """Where ``secret_env`` names are looked up (the entry point passes the
        environment; the domain never reads it)."""
        self.files = FileSink(clock)

    # -- registry ----------------------------------------------------------------------------

    def personal_fields(self, fields: Sequence[str]) -> list[str]:
        """The fields of ``fields`` whose values are personal (adding a destination with
        any needs the right to read personal data)."""
        return [f for f in fields if self.rules.privacy.is_personal(f)]

    def add(self, settings: DestinationSettings, actor: str = SYSTEM) -> Added:
        """Register a destination. Raises InvalidArgument naming the argument at fault,
        UnknownSegment, ConfigError (parquet without pyarrow)."""
        destination = validate(settings, self.rules.events.purposes)
        name, segment, folder = settings.name, settings.segment, settings.folder
        secret_env, start = settings.secret_env, settings.start
        self.segments.get(segment)  # UnknownSegment
        for other in self.all():
            if other.kind == FILE and (other.folder, other.segment) == (folder, segment):
                raise InvalidArgument(
                    f"folder {folder!r}: destination {other.name} already writes segment "
                    f"{segment} there; two would overwrite each other's manifest",
                    argument="folder",
                )
        self._check_fields(destination.fields)
        if destination.format == "parquet":
            require_parquet()
        secret = new_secret() if destination.kind != FILE and secret_env is None else None
        now = self.clock()
        row = DestinationRow(
            name, segment, destination.kind, destination.config(), secret, False, now, actor
        )
        with self.store.unit_of_work():
            if start == "now":
                state = DestinationState(name, cursor_seq=self.store.segments.last_change_seq())
            else:
                state = DestinationState(name, snapshot_after="")
            if not self.store.destinations.add(row, state):
                raise InvalidArgument(
                    f"name {name!r}: a destination of that name exists; remove it first "
                    "or choose another name",
                    argument="name",
                )
            if self.audit is not None:
                after: dict[str, JSONValue] = {**destination.config(), "segment": segment}
                after["start"] = start
                self.audit.record(actor, "add_destination", target=name, after=after)
        return Added(Destination.from_row(row), secret)

    def _check_fields(self, fields: Sequence[str]) -> None:
        """As an export checks its fields, but an attribute a registered source declares
        is allowed before any record holds it: destinations are set up before data."""
        declared = self._declared_attributes()
        unknown = [f for f in fields if f not in declared]
        if unknown:
            self.catalog.check(unknown)

    def _declared_attributes(self) -> set[str]:
        names: set[str] = set()
        for doc in self.store.sources.get_many(self.store.sources.names()).values():
            attributes = doc.get("attributes")
            if isinstance(attributes, dict):
                for column, spec in attributes.items():
                    if isinstance(spec, str):
                        names.add(spec)
                    elif isinstance(spec, dict):
                        names.add(str(spec.get("name", column)))
        return names

    def get(self, name: str) -> Destination:
        found = self.store.destinations.get([name])
        if not found:
            raise UnknownDestination(name)
        return Destination.from_row(found[0])

    def all(self) -> list[Destination]:
        return [Destination.from_row(r) for r in self.store.destinations.get()]

    def views(self, names: Sequence[str] | None = None) -> list[DestinationView]:
        """Destinations (all, or the named ones) with their state, lag and dead letters."""
        rows = self.store.destinations.get(names)
        if names is not None and len(rows) < len(set(names)):
            missing = sorted(set(names) - {r.name for r in rows})
            raise UnknownDestination(missing[0])
        states = self.store.destinations.states([r.name for r in rows])
        views = []
        for row in rows:
            state = states.get(row.name, DestinationState(row.name))
            views.append(
                DestinationView(
                    Destination.from_row(row),
                    state,
                    self._lag(row.segment, state),
                    self.store.destinations.dead_letters(row.name, status=DEAD),
                )
            )
        return views

    def _lag(self, segment: str, state: DestinationState) -> int:
        count, after = 0, state.cursor_seq
        while True:
            page = self.store.segments.changes(segment, after=after, limit=10_000)
            count += len(page)
            if len(page) < 10_000:
                return count
            after = page[-1].seq

    def set_paused(self, name: str, paused: bool, actor: str = SYSTEM) -> Destination:
        """Pause or resume. Resuming a stopped destination (its segment was deleted)
        starts it over with a new snapshot when the segment is defined again; while it is
        not, InvalidArgument says so and nothing changes."""
        with self.store.unit_of_work():
            destination = self.get(name)
            state = self.store.destinations.states([name]).get(name)
            restart = not paused and state is not None and state.stopped is not None
            if restart:
                assert state is not None
                if not self.store.segments.get([destination.segment]):
                    raise InvalidArgument(
                        f"name {name!r}: {stopped_message(destination, state)}",
                        argument="name",
                    )
                self.store.destinations.save_state(
                    replace(
                        state,
                        stopped=None,
                        stopped_at=None,
                        snapshot_seq=None,
                        snapshot_after="",
                        attempts=0,
                        next_attempt_at=None,
                        last_error=None,
                        last_status=None,
                    ),
                    None,
                )
            if not self.store.destinations.set_paused(name, paused):
                raise UnknownDestination(name)
            if self.audit is not None:
                action = "pause_destination" if paused else "resume_destination"
                after: dict[str, JSONValue] = {"restarted": "snapshot"} if restart else {}
                self.audit.record(actor, action, target=name, after=after)
        return self.get(name)

    def remove(self, name: str, actor: str = SYSTEM) -> bool:
        with self.store.unit_of_work():
            old = self.store.destinations.get([name])
            removed = self.store.destinations.remove(name)
            if removed and self.audit is not None:
                before: dict[str, JSONValue] = {**old[0].config, "segment": old[0].segment}
                self.audit.record(actor, "remove_destination", target=name, before=before)
        return removed

    # -- batches -----------------------------------------------------------------------------

    def change_batch(
        self, destination: Destination, after: int, until: int | None = None
    ) -> Batch | None:
        """The next batch of changes after seq ``after`` (up to ``until`` inclusive when
        given, for a replay); None when there are none."""
        changes = self.store.segments.changes(
            destination.segment, after=after, limit=destination.batch_size
        )
        if until is not None:
            changes = [c for c in changes if c.seq <= until]
        if not changes:
            return None
        rows = self.change_rows(destination, changes)
        rows = rows[: fitting(rows, destination.max_batch_bytes)]  # one row per change
        return Batch(
            destination.name,
            destination.segment,
            CHANGES,
            after,
            changes[len(rows) - 1].seq,
            rows,
        )

    def change_rows(
        self, destination: Destination, changes: Sequence[SegmentChange]
    ) -> list[dict[str, JSONValue]]:
        entered = list(
            dict.fromkeys(c.profile_id for c in changes if c.kind == MembershipKind.ENTERED)
        )
        fields = self.segments.rows(entered, destination.fields) if entered else {}
        consented = self._consented(destination, entered)
        rows: list[dict[str, JSONValue]] = []
        for c in changes:
            row: dict[str, JSONValue] = {
                "seq": c.seq,
                "kind": c.kind.value,
                "at": c.at.isoformat(),
                "profile_id": c.profile_id,
                "merged_into": c.merged_into,
            }
            if c.kind == MembershipKind.ENTERED:
                if consented is not None and c.profile_id not in consented:
                    row["kind"] = MembershipKind.EXITED.value  # no consent: never with fields
                else:
                    values = fields.get(c.profile_id)
                    for f in destination.fields:
                        if f != "profile_id":
                            row[f] = values.get(f) if values is not None else None
            rows.append(row)
        return rows

    def _consented(
        self, destination: Destination, profile_ids: Sequence[ProfileId]
    ) -> set[ProfileId] | None:
        """The profiles that consent to the destination's purpose (None: it needs none)."""
        purpose = destination.requires_consent
        if purpose is None:
            return None
        facts = self.segments.facts(profile_ids, needs={VIEW}) if profile_ids else {}
        return {pid for pid, f in facts.items() if f.consented(purpose)}

    def snapshot_batch(
        self,
        destination: Destination,
        snapshot_seq: int,
        after: str,
        until: str | None = None,
        cursor: int | None = None,
    ) -> Batch:
        """A page of the members after ``after`` (up to ``until`` when given, for a
        replay), with the rows of those that consent when the destination needs it, cut
        before its body passes ``max_batch_bytes`` (a replayed page goes whole).
        ``cursor`` is the destination's feed position (the batch's ``from_seq``): the
        snapshot's own for a first snapshot, earlier for a recurring one, whose changes
        after the cursor follow it."""
        page = self.store.segments.members(
            destination.segment, after=after or None, limit=destination.batch_size
        )
        final = len(page) < destination.batch_size
        if until is not None:
            page = [pid for pid in page if pid <= until]
        found = self.segments.rows(page, destination.fields) if page else {}
        consented = self._consented(destination, page)
        at = self.clock().isoformat()
        rows: list[dict[str, JSONValue]] = []
        for pid in page:
            values = found.get(pid)
            if values is None or (consented is not None and pid not in consented):
                continue
            row: dict[str, JSONValue] = {
                "seq": snapshot_seq,
                "kind": SNAPSHOT,
                "at": at,
                "profile_id": pid,
                "merged_into": None,
            }
            row.update({f: values.get(f) for f in destination.fields if f != "profile_id"})
            rows.append(row)
        last_id = page[-1] if page else after
        keep = fitting(rows, destination.max_batch_bytes) if until is None else len(rows)
        if keep < len(rows):
            # Cut by bytes: the next page starts after the last row sent (members skipped
            # before it for want of consent are skipped again).
            rows = rows[:keep]
            last_id, final = str(rows[-1]["profile_id"]), False
        return Batch(
            destination.name,
            destination.segment,
            SNAPSHOT,
            snapshot_seq if cursor is None else cursor,
            snapshot_seq,
            rows,
            after_id=after,
            last_id=last_id,
            final=final,
        )

    def send(self, destination: Destination, batch: Batch) -> Outcome:
        """Deliver one batch to the destination's webhook or folder."""
        if destination.kind == FILE:
            if destination.format == "parquet":
                try:
                    require_parquet()
                except ConfigError as error:
                    return Outcome(False, None, str(error), retry=False)
            return self.files.deliver(destination, batch)
        if self.transport is None:
            raise ConfigError("this process has no HTTP client for webhooks")
        secret = self.secret_of(destination)
        if secret is None:
            return Outcome(
                False, None, f"the environment variable {destination.secret_env} is not set"
            )
        return WebhookSink(self.transport, self.clock).deliver(destination, batch, secret)

    def secret_of(self, destination: Destination) -> str | None:
        if destination.secret_env is not None:
            return self.secrets.get(destination.secret_env)
        return destination.secret

    # -- dead letters ------------------------------------------------------------------------

    def dead_letters(self, name: str, status: str | None = DEAD) -> list[DeadLetter]:
        self.get(name)
        return self.store.destinations.dead_letters(name, status=status)

    def replay(
        self, name: str, ids: Collection[int] | None = None, actor: str = SYSTEM
    ) -> list[Replayed]:
        """Send dead letters again (all, or those of ``ids``), rebuilt from the change log
        with current fields and under their original cursor and idempotency key. A
        delivered one is marked ``replayed``; one that fails stays dead with its new
        error. Audited. Raises UnknownDestination, InvalidArgument for an unknown id or a
        stopped destination (its segment deleted: no change log to rebuild from)."""
        destination = self.get(name)
        state = self.store.destinations.states([name]).get(name)
        if state is not None and state.stopped is not None:
            # The segment's change log went with it: there is nothing to rebuild from.
            raise InvalidArgument(
                f"name {name!r}: {stopped_message(destination, state)}", argument="name"
            )
        letters = self.store.destinations.dead_letters(name, ids=ids, status=DEAD)
        if ids is not None:
            missing = sorted(set(ids) - {letter.id for letter in letters})
            if missing:
                raise InvalidArgument(
                    f"id {missing[0]}: {name} has no dead letter of that id waiting",
                    argument="ids",
                )
        done: list[Replayed] = []
        for letter in letters:
            batch = self._rebuild(destination, letter)
            outcome = self.send(destination, batch) if batch is not None else Outcome(True)
            updated = replace(
                letter,
                status=REPLAYED if outcome.delivered else DEAD,
                attempts=letter.attempts + 1,
                last_status=outcome.status,
                last_error=outcome.error,
                at=self.clock(),
            )
            self.store.destinations.update_dead_letter(updated)
            done.append(Replayed(updated, outcome))
        if self.audit is not None and done:
            after: dict[str, JSONValue] = {
                "replayed": [r.letter.id for r in done if r.outcome.delivered],
                "failed": [r.letter.id for r in done if not r.outcome.delivered],
            }
            self.audit.record(actor, "replay_dead_letters", target=name, after=after)
        return done

    def _rebuild(self, destination: Destination, letter: DeadLetter) -> Batch | None:
        if letter.kind == SNAPSHOT:
            return self.snapshot_batch(
                destination,
                letter.to_seq,
                letter.after_id or "",
                until=letter.last_id,
                cursor=letter.from_seq,
            )
        rows: list[dict[str, JSONValue]] = []
        after = letter.from_seq
        while after < letter.to_seq:
            batch = self.change_batch(destination, after, until=letter.to_seq)
            if batch is None:
                break
            rows.extend(batch.rows)
            after = batch.to_seq
        return Batch(
            destination.name, destination.segment, CHANGES, letter.from_seq, letter.to_seq, rows
        )


def fitting(rows: Sequence[dict[str, JSONValue]], max_bytes: int) -> int:
    """How many leading rows fit in ``max_bytes`` of NDJSON (a webhook's body); at least
    one, so a row larger than the limit goes alone."""
    total = 0
    for index, row in enumerate(rows):
        total += len(ndjson([row]))
        if total > max_bytes and index > 0:
            return index
    return len(rows)


def describe(error: IdgraphError | Exception) -> str:
    """An error for ``last_error``: its type and message, which never carry row values."""
    return f"{type(error).__name__}: {error}"


__all__ = [
    "Added",
    "DestinationService",
    "DestinationView",
    "Replayed",
    "UnknownDestination",
    "change_cursor",
    "describe",
    "fitting",
    "stopped_message",
]
