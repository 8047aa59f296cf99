"""Destinations in Neo4j (DestinationPort): a ``(:Destination {name})`` node holds the
config and the delivery state with its lease, and ``(:DestinationDeadLetter {id})`` nodes
the dead letters. Times are UTC ISO-8601 text, which orders as time."""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime

from identity.model import DeadLetter, DestinationRow, DestinationState
from identity.store.changes import dumps, utc
from identity.store.neo4j.connection import Area, Row
from identity.store.ports import DestinationPort


def _stamp(at: datetime | None) -> str | None:
    return utc(at).isoformat() if at is not None else None


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text is not None else None


def _letter(row: Row) -> DeadLetter:
    return DeadLetter(
        int(row["id"]),
        row["destination"],
        row["kind"],
        int(row["from_seq"]),
        int(row["to_seq"]),
        row["after_id"],
        row["last_id"],
        row["status"],
        int(row["attempts"]),
        row["last_status"],
        row["last_error"],
        datetime.fromisoformat(row["at"]),
    )


class Neo4jDestinations(Area, DestinationPort):
    """Destinations, their delivery state and lease, and their dead letters."""

    def add(self, row: DestinationRow, state: DestinationState) -> bool:
        params = {
            "name": row.name,
            "segment": row.segment,
            "kind": row.kind,
            "config": dumps(row.config),
            "secret": row.secret,
            "paused": row.paused,
            "created_at": _stamp(row.created_at),
            "created_by": row.created_by,
            "cursor_seq": state.cursor_seq,
            "snapshot_seq": state.snapshot_seq,
            "snapshot_after": state.snapshot_after,
        }
        rows = self._db.write("destinations.add", lambda s: s.run("add_destination", row=params))
        return int(rows[0]["added"]) > 0

    def get(self, names: Collection[str] | None = None) -> list[DestinationRow]:
        wanted = sorted(set(names)) if names is not None else None
        rows = self._db.read("destinations.get", lambda s: s.run("get_destinations", names=wanted))
        return [
            DestinationRow(
                r["name"],
                r["segment"],
                r["kind"],
                json.loads(r["config"]),
                r["secret"],
                bool(r["paused"]),
                datetime.fromisoformat(r["created_at"]),
                r["created_by"],
            )
            for r in rows
        ]

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
        return {
            r["name"]: DestinationState(
                r["name"],
                int(r["cursor_seq"]),
                r["snapshot_seq"],
                r["snapshot_after"],
                int(r["attempts"]),
                _time(r["next_attempt_at"]),
                r["last_error"],
                r["last_status"],
                int(r["delivered_batches"]),
                int(r["delivered_rows"]),
                _time(r["last_delivered_at"]),
                r["lease_owner"],
                _time(r["lease_until"]),
            )
            for r in rows
        }

    def lease(self, name: str, owner: str, now: datetime, until: datetime) -> bool:
        rows = self._db.write(
            "destinations.lease",
            lambda s: s.run(
                "take_destination_lease",
                name=name,
                owner=owner,
                now=_stamp(now),
                until=_stamp(until),
            ),
        )
        return bool(rows) and int(rows[0]["taken"]) > 0

    def release(self, name: str, owner: str) -> None:
        self._db.write(
            "destinations.release",
            lambda s: s.run("release_destination_lease", name=name, owner=owner),
        )

    def save_state(self, state: DestinationState, owner: str | None) -> bool:
        params = {
            "cursor_seq": state.cursor_seq,
            "snapshot_seq": state.snapshot_seq,
            "snapshot_after": state.snapshot_after,
            "attempts": state.attempts,
            "next_attempt_at": _stamp(state.next_attempt_at),
            "last_error": state.last_error,
            "last_status": state.last_status,
            "delivered_batches": state.delivered_batches,
            "delivered_rows": state.delivered_rows,
            "last_delivered_at": _stamp(state.last_delivered_at),
        }
        rows = self._db.write(
            "destinations.save_state",
            lambda s: s.run("save_destination_state", name=state.name, owner=owner, state=params),
        )
        return bool(rows) and int(rows[0]["saved"]) > 0

    def add_dead_letter(self, letter: DeadLetter) -> int:
        params = {
            "destination": letter.destination,
            "kind": letter.kind,
            "from_seq": letter.from_seq,
            "to_seq": letter.to_seq,
            "after_id": letter.after_id,
            "last_id": letter.last_id,
            "status": letter.status,
            "attempts": letter.attempts,
            "last_status": letter.last_status,
            "last_error": letter.last_error,
            "at": _stamp(letter.at),
        }
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
        return [_letter(r) for r in rows]

    def update_dead_letter(self, letter: DeadLetter) -> None:
        self._db.write(
            "destinations.update_dead_letter",
            lambda s: s.run(
                "update_destination_dead_letter",
                id=letter.id,
                status=letter.status,
                attempts=letter.attempts,
                last_status=letter.last_status,
                last_error=letter.last_error,
                at=_stamp(letter.at),
            ),
        )
