"""Destinations in Neo4j (DestinationPort): a ``(:Destination {name})`` node holds the
config and the delivery state with its lease, and ``(:DestinationDeadLetter {id})`` nodes
the dead letters. Times are UTC ISO-8601 text, which orders as time.

Properties added after schema version 6 (``stopped``, ``stopped_at``, ``snapshot_at``) need
no migration: a node without them reads as null, a running destination without a snapshot
time; the schema version is unchanged."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from identity.model import DeadLetter, DestinationRow, DestinationState
from identity.store.changes import (
    dead_letter_from,
    dead_letter_params,
    dead_letter_update_params,
    destination_from,
    destination_params,
    destination_start_params,
    destination_state_from,
    destination_state_params,
    utc_stamp,
)
from identity.store.neo4j.connection import Area
from identity.store.ports import DestinationPort


class Neo4jDestinations(Area, DestinationPort):
    """Destinations, their delivery state and lease, and their dead letters."""

    def add(self, row: DestinationRow, state: DestinationState) -> bool:
        params = {**destination_params(row), **destination_start_params(state)}
        rows = self._db.write("destinations.add", lambda s: s.run("add_destination", row=params))
        return int(rows[0]["added"]) > 0

    def get(self, names: Collection[str] | None = None) -> list[DestinationRow]:
        wanted = sorted(set(names)) if names is not None else None
        rows = self._db.read("destinations.get", lambda s: s.run("get_destinations", names=wanted))
        return [destination_from(r) for r in rows]

    def remove(self, name: str) -> bool:
        rows = self._db.write(
            "destinations.remove", lambda s: s.run("remove_destination", name=name)
        )
        return bool(rows) and int(rows[0]["removed"]) > 0

    def set_paused(self, name: str, paused: bool) -> bool:
        rows = self._db.write(
            "destinations.set_paused",
            lambda s: s.run("set_destination_paused", name=name, paused=paused),
        )
        return int(rows[0]["changed"]) > 0

    def states(self, names: Collection[str]) -> dict[str, DestinationState]:
        wanted = sorted(set(names))
        rows = self._db.read(
            "destinations.states", lambda s: s.run("destination_states", names=wanted)
        )
        return {r["name"]: destination_state_from(r) for r in rows}

    def lease(self, name: str, owner: str, now: datetime, until: datetime) -> bool:
        rows = self._db.write(
            "destinations.lease",
            lambda s: s.run(
                "take_destination_lease",
                name=name,
                owner=owner,
                now=utc_stamp(now),
                until=utc_stamp(until),
            ),
        )
        return bool(rows) and int(rows[0]["taken"]) > 0

    def release(self, name: str, owner: str) -> None:
        self._db.write(
            "destinations.release",
            lambda s: s.run("release_destination_lease", name=name, owner=owner),
        )

    def save_state(self, state: DestinationState, owner: str | None) -> bool:
        params = destination_state_params(state)
        rows = self._db.write(
            "destinations.save_state",
            lambda s: s.run("save_destination_state", name=state.name, owner=owner, state=params),
        )
        return bool(rows) and int(rows[0]["saved"]) > 0

    def stop_following(self, segment: str, reason: str, at: datetime) -> list[str]:
        rows = self._db.write(
            "destinations.stop_following",
            lambda s: s.run(
                "stop_destinations_of_segment", segment=segment, reason=reason, at=utc_stamp(at)
            ),
        )
        return sorted(str(r["name"]) for r in rows)

    def add_dead_letter(self, letter: DeadLetter) -> int:
        params = dead_letter_params(letter)
        rows = self._db.write(
            "destinations.add_dead_letter",
            lambda s: s.run("add_destination_dead_letter", row=params),
        )
        return int(rows[0]["id"])

    def dead_letters(
        self, name: str, ids: Collection[int] | None = None, status: str | None = "dead"
    ) -> list[DeadLetter]:
        wanted = sorted(set(ids)) if ids is not None else None
        rows = self._db.read(
            "destinations.dead_letters",
            lambda s: s.run("destination_dead_letters", name=name, ids=wanted, status=status),
        )
        return [dead_letter_from(r) for r in rows]

    def update_dead_letter(self, letter: DeadLetter) -> None:
        self._db.write(
            "destinations.update_dead_letter",
            lambda s: s.run("update_destination_dead_letter", **dead_letter_update_params(letter)),
        )
