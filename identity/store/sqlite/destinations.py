"""Destinations in SQLite (DestinationPort): config, delivery state with its lease, and
dead letters; statements in ``queries/destinations.sql``."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from identity.model import DeadLetter, DestinationRow, DestinationState
from identity.store.changes import (
    DEAD_LETTER_FIELDS,
    DESTINATION_FIELDS,
    DESTINATION_STATE_FIELDS,
    dead_letter_from,
    dead_letter_params,
    dead_letter_update_params,
    destination_from,
    destination_params,
    destination_start_params,
    destination_state_from,
    destination_state_params,
    dumps,
    utc_stamp,
)
from identity.store.ports import DestinationPort
from identity.store.sqlite.connection import Connection
from identity.store.sqlite.statements import named_row, statement


def _sql(name: str) -> str:
    return statement("destinations", name)


class SQLiteDestinations(DestinationPort):
    def __init__(self, db: Connection) -> None:
        self._db = db

    def add(self, row: DestinationRow, state: DestinationState) -> bool:
        with self._db.transaction("destinations.add"):
            added = self._db.execute(_sql("add_destination"), destination_params(row)).rowcount
            if not added:
                return False
            self._db.execute(
                _sql("add_state"), {"name": row.name, **destination_start_params(state)}
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
        return [destination_from(named_row(DESTINATION_FIELDS, r)) for r in rows]

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
        states = [destination_state_from(named_row(DESTINATION_STATE_FIELDS, r)) for r in rows]
        return {state.name: state for state in states}

    def lease(self, name: str, owner: str, now: datetime, until: datetime) -> bool:
        with self._db.transaction("destinations.lease"):
            taken: int = self._db.execute(
                _sql("take_lease"),
                {"name": name, "owner": owner, "now": utc_stamp(now), "until": utc_stamp(until)},
            ).rowcount
        return taken > 0

    def release(self, name: str, owner: str) -> None:
        with self._db.transaction("destinations.release"):
            self._db.execute(_sql("release_lease"), {"name": name, "owner": owner})

    def save_state(self, state: DestinationState, owner: str | None) -> bool:
        with self._db.transaction("destinations.save_state"):
            saved: int = self._db.execute(
                _sql("save_state"),
                {"name": state.name, "owner": owner, **destination_state_params(state)},
            ).rowcount
        return saved > 0

    def stop_following(self, segment: str, reason: str, at: datetime) -> list[str]:
        with self._db.transaction("destinations.stop_following"):
            rows = self._db.execute(
                _sql("stop_following"),
                {"segment": segment, "reason": reason, "at": utc_stamp(at)},
            ).fetchall()
        return sorted(str(r[0]) for r in rows)

    def add_dead_letter(self, letter: DeadLetter) -> int:
        with self._db.transaction("destinations.add_dead_letter"):
            cursor = self._db.execute(_sql("add_dead_letter"), dead_letter_params(letter))
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
        return [dead_letter_from(named_row(DEAD_LETTER_FIELDS, r)) for r in rows]

    def update_dead_letter(self, letter: DeadLetter) -> None:
        with self._db.transaction("destinations.update_dead_letter"):
            self._db.execute(_sql("update_dead_letter"), dead_letter_update_params(letter))
