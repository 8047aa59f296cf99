"""Destinations in SQLite (DestinationPort): config, delivery state with its lease, and
dead letters; statements in ``queries/destinations.sql``."""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime
from typing import Any

from identity.model import DeadLetter, DestinationRow, DestinationState
from identity.store.changes import dumps, utc
from identity.store.ports import DestinationPort
from identity.store.sqlite.connection import Connection
from identity.store.sqlite.statements import statement


def _sql(name: str) -> str:
    return statement("destinations", name)


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text is not None else None


def _stamp(at: datetime | None) -> str | None:
    # UTC text, which orders as time: the lease compares it in SQL.
    return utc(at).isoformat() if at is not None else None


def _row(row: tuple[Any, ...]) -> DestinationRow:
    name, segment, kind, config, secret, paused, created_at, created_by = row
    return DestinationRow(
        name,
        segment,
        kind,
        json.loads(config),
        secret,
        bool(paused),
        datetime.fromisoformat(created_at),
        created_by,
    )


def _letter(row: tuple[Any, ...]) -> DeadLetter:
    (id_, destination, kind, from_seq, to_seq, after_id, last_id, status) = row[:8]
    attempts, last_status, last_error, at = row[8:]
    return DeadLetter(
        id_,
        destination,
        kind,
        from_seq,
        to_seq,
        after_id,
        last_id,
        status,
        attempts,
        last_status,
        last_error,
        datetime.fromisoformat(at),
    )


class SQLiteDestinations(DestinationPort):
    def __init__(self, db: Connection) -> None:
        self._db = db

    def add(self, row: DestinationRow, state: DestinationState) -> bool:
        with self._db.transaction("destinations.add"):
            added = self._db.execute(
                _sql("add_destination"),
                {
                    "name": row.name,
                    "segment": row.segment,
                    "kind": row.kind,
                    "config": dumps(row.config),
                    "secret": row.secret,
                    "paused": int(row.paused),
                    "created_at": _stamp(row.created_at),
                    "created_by": row.created_by,
                },
            ).rowcount
            if not added:
                return False
            self._db.execute(
                _sql("add_state"),
                {
                    "name": row.name,
                    "cursor_seq": state.cursor_seq,
                    "snapshot_seq": state.snapshot_seq,
                    "snapshot_after": state.snapshot_after,
                },
            )
        return True

    def get(self, names: Collection[str] | None = None) -> list[DestinationRow]:
        with self._db.reading("destinations.get") as conn:
            if names is None:
                rows = conn.execute(_sql("all_destinations")).fetchall()
            else:
                rows = conn.execute(
                    _sql("destinations_named"), {"names": dumps(sorted(set(names)))}
                ).fetchall()
        return [_row(r) for r in rows]

    def remove(self, name: str) -> bool:
        with self._db.transaction("destinations.remove"):
            removed: int = self._db.execute(_sql("remove_destination"), {"name": name}).rowcount
        return removed > 0

    def set_paused(self, name: str, paused: bool) -> bool:
        with self._db.transaction("destinations.set_paused"):
            changed: int = self._db.execute(
                _sql("set_paused"), {"name": name, "paused": int(paused)}
            ).rowcount
        return changed > 0

    def states(self, names: Collection[str]) -> dict[str, DestinationState]:
        with self._db.reading("destinations.states") as conn:
            rows = conn.execute(_sql("states"), {"names": dumps(sorted(set(names)))}).fetchall()
        found: dict[str, DestinationState] = {}
        for row in rows:
            (name, cursor_seq, snapshot_seq, snapshot_after, attempts, next_at, last_error) = row[
                :7
            ]
            last_status, batches, delivered, last_at, owner, until = row[7:]
            found[name] = DestinationState(
                name,
                cursor_seq,
                snapshot_seq,
                snapshot_after,
                attempts,
                _time(next_at),
                last_error,
                last_status,
                batches,
                delivered,
                _time(last_at),
                owner,
                _time(until),
            )
        return found

    def lease(self, name: str, owner: str, now: datetime, until: datetime) -> bool:
        with self._db.transaction("destinations.lease"):
            taken: int = self._db.execute(
                _sql("take_lease"),
                {"name": name, "owner": owner, "now": _stamp(now), "until": _stamp(until)},
            ).rowcount
        return taken > 0

    def release(self, name: str, owner: str) -> None:
        with self._db.transaction("destinations.release"):
            self._db.execute(_sql("release_lease"), {"name": name, "owner": owner})

    def save_state(self, state: DestinationState, owner: str | None) -> bool:
        with self._db.transaction("destinations.save_state"):
            saved: int = self._db.execute(
                _sql("save_state"),
                {
                    "name": state.name,
                    "owner": owner,
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
                },
            ).rowcount
        return saved > 0

    def add_dead_letter(self, letter: DeadLetter) -> int:
        with self._db.transaction("destinations.add_dead_letter"):
            cursor = self._db.execute(
                _sql("add_dead_letter"),
                {
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
                },
            )
            new_id = cursor.lastrowid
        assert new_id is not None
        return int(new_id)

    def dead_letters(
        self, name: str, ids: Collection[int] | None = None, status: str | None = "dead"
    ) -> list[DeadLetter]:
        params = {
            "name": name,
            "ids": dumps(sorted(set(ids))) if ids is not None else None,
            "status": status,
        }
        with self._db.reading("destinations.dead_letters") as conn:
            rows = conn.execute(_sql("dead_letters"), params).fetchall()
        return [_letter(r) for r in rows]

    def update_dead_letter(self, letter: DeadLetter) -> None:
        with self._db.transaction("destinations.update_dead_letter"):
            self._db.execute(
                _sql("update_dead_letter"),
                {
                    "id": letter.id,
                    "status": letter.status,
                    "attempts": letter.attempts,
                    "last_status": letter.last_status,
                    "last_error": letter.last_error,
                    "at": _stamp(letter.at),
                },
            )
