"""Events and the identifiers they carry (EventPort) in SQLite. A profile's events are
those carrying an identifier of its records that is not flagged as junk."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from identity.model import Event, EventQuery, EventWrite, ProfileId
from identity.store.changes import dumps, event_document, event_from_document, utc_key
from identity.store.ports import EventPort
from identity.store.sqlite.connection import Connection
from identity.store.sqlite.statements import statement


def _sql(name: str) -> str:
    return statement("events", name)


class SQLiteEvents(EventPort):
    def __init__(self, db: Connection) -> None:
        self._db = db

    def put(self, events: Sequence[Event], now: datetime) -> list[EventWrite]:
        db = self._db
        last = {e.event_id: e for e in events}
        received = now.isoformat()
        with db.transaction("events.put"):
            stored = dict(db.execute(_sql("events_by_id"), {"ids": dumps(list(last))}).fetchall())
            bodies = {eid: event_document(e) for eid, e in last.items()}
            changed = [eid for eid, body in bodies.items() if stored.get(eid) != body]
            db.execute(
                _sql("delete_event_edges"), {"ids": dumps([e for e in changed if e in stored])}
            )
            db.executemany(
                _sql("put_event"),
                [
                    (
                        eid,
                        last[eid].type,
                        last[eid].channel,
                        utc_key(last[eid].timestamp),
                        bodies[eid],
                        received,
                    )
                    for eid in changed
                ],
            )
            db.executemany(
                _sql("add_event_edge"),
                [(i.kind, i.value, eid) for eid in changed for i in last[eid].identifiers],
            )
        writes: list[EventWrite] = []
        seen: set[str] = set()
        differs = set(changed)
        for event in events:
            eid = event.event_id
            created = eid not in stored and eid not in seen
            writes.append(EventWrite(eid, created, eid in differs and eid not in seen))
            seen.add(eid)
        return writes

    def journey(self, profile_id: ProfileId, query: EventQuery) -> list[Event]:
        params = {"profile": profile_id, **_query_params(query)}
        sql = _sql("journey_newest_first" if query.newest_first else "journey_oldest_first")
        with self._db.reading("events.journey") as conn:
            return [event_from_document(eid, body) for eid, body in conn.execute(sql, params)]

    def journeys(
        self, profile_ids: Collection[ProfileId], query: EventQuery
    ) -> dict[ProfileId, list[Event]]:
        found: dict[ProfileId, list[Event]] = {pid: [] for pid in profile_ids}
        if not found:
            return found
        params = {"ids": dumps(list(found)), **_query_params(query)}
        sql = _sql("journeys_newest_first" if query.newest_first else "journeys_oldest_first")
        with self._db.reading("events.journeys") as conn:
            for pid, eid, body in conn.execute(sql, params):
                found[pid].append(event_from_document(eid, body))
        return found

    def of_profiles(
        self, profile_ids: Collection[ProfileId], since: datetime | None = None
    ) -> dict[ProfileId, list[Event]]:
        found: dict[ProfileId, list[Event]] = {pid: [] for pid in profile_ids}
        params = {"ids": dumps(list(found)), "since": utc_key(since) if since else None}
        with self._db.reading("events.of_profiles") as conn:
            for pid, _, eid, body in conn.execute(_sql("events_of_profiles"), params):
                found[pid].append(event_from_document(eid, body))
        return found

    def profiles_of(self, event_ids: Collection[str]) -> dict[str, list[ProfileId]]:
        found: dict[str, list[ProfileId]] = {eid: [] for eid in event_ids}
        with self._db.reading("events.profiles_of") as conn:
            for eid, pid in conn.execute(_sql("profiles_of_events"), {"ids": dumps(list(found))}):
                found[eid].append(pid)
        return found

    def count(self) -> int:
        with self._db.reading("events.count") as conn:
            count: int = conn.execute(_sql("event_count")).fetchone()[0]
        return count


def _query_params(query: EventQuery) -> dict[str, object]:
    """The journey statements' filter, keyset and limit parameters."""
    after_ts, after_id = (utc_key(query.after[0]), query.after[1]) if query.after else (None, None)
    return {
        "types": dumps(list(query.types)) if query.types is not None else None,
        "channels": dumps(list(query.channels)) if query.channels is not None else None,
        "since": utc_key(query.since) if query.since else None,
        "until": utc_key(query.until) if query.until else None,
        "after_ts": after_ts,
        "after_id": after_id,
        "limit": query.limit,
    }
