"""Events: ``(:Event)-[:CARRIES]->(:Identifier)`` on the records' identifier nodes, and the
journeys they make.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime

from identity.model import Event, EventQuery, EventWrite, IdentifierKey, ProfileId
from identity.store.changes import event_document, event_from_document, utc
from identity.store.neo4j.connection import Area, Row, Statements
from identity.store.ports import EventPort


def _event_keys(body: str) -> set[IdentifierKey]:
    return {IdentifierKey(k, v) for k, v, _ in json.loads(body)["identifiers"]}


class Neo4jEvents(Area, EventPort):
    """Events and journeys."""

    def put(self, events: Sequence[Event], now: datetime) -> list[EventWrite]:
        last = {e.event_id: e for e in events}
        bodies = {eid: event_document(e) for eid, e in last.items()}

        def work(s: Statements) -> dict[str, str]:
            stored: dict[str, str] = {
                row["event_id"]: row["body"] for row in s.batched("events_by_id", "ids", list(last))
            }
            changed = [eid for eid, body in bodies.items() if stored.get(eid) != body]
            rows = [
                {
                    "event_id": eid,
                    "type": last[eid].type,
                    "channel": last[eid].channel,
                    "ts": utc(last[eid].timestamp),
                    "body": bodies[eid],
                }
                for eid in changed
            ]
            s.batched("put_events", "rows", rows, now=now.isoformat())
            # Edges move from the stored version's identifiers to the new version's.
            removed = [
                {"event_id": eid, "kind": k.kind, "value": k.value}
                for eid in changed
                if eid in stored
                for k in sorted(_event_keys(stored[eid]) - {i.key for i in last[eid].identifiers})
            ]
            s.batched("remove_event_edges", "rows", removed)
            added = [
                {"event_id": eid, "kind": k.kind, "value": k.value}
                for eid in changed
                for k in dict.fromkeys(i.key for i in last[eid].identifiers)
            ]
            s.batched("add_event_edges", "rows", added)
            return stored

        stored = self._db.write("events.put", work)
        writes: list[EventWrite] = []
        seen: set[str] = set()
        for event in events:
            eid = event.event_id
            first = eid not in seen
            differs = stored.get(eid) != bodies[eid]
            writes.append(EventWrite(eid, first and eid not in stored, first and differs))
            seen.add(eid)
        return writes

    def journey(self, profile_id: ProfileId, query: EventQuery) -> list[Event]:
        params = {"profile": profile_id, **_query_params(query)}

        def page(s: Statements) -> list[Row]:
            if query.newest_first:
                return s.run("journey_newest_first", **params)
            return s.run("journey_oldest_first", **params)

        rows = self._db.read("events.journey", page)
        return [event_from_document(row["event_id"], row["body"]) for row in rows]

    def journeys(
        self, profile_ids: Collection[ProfileId], query: EventQuery
    ) -> dict[ProfileId, list[Event]]:
        found: dict[ProfileId, list[Event]] = {pid: [] for pid in profile_ids}
        ids = list(found)
        params = _query_params(query)

        def pages(s: Statements) -> list[Row]:
            if query.newest_first:
                return s.batched("journeys_newest_first", "ids", ids, **params)
            return s.batched("journeys_oldest_first", "ids", ids, **params)

        rows = self._db.read("events.journeys", pages)
        # A profile's page comes from one batch, already in the journey's order.
        for row in rows:
            found[row["profile_id"]].append(event_from_document(row["event_id"], row["body"]))
        return found

    def of_profiles(
        self, profile_ids: Collection[ProfileId], since: datetime | None = None
    ) -> dict[ProfileId, list[Event]]:
        found: dict[ProfileId, list[Event]] = {pid: [] for pid in profile_ids}
        ids = list(found)
        stamp = utc(since) if since else None
        rows = self._db.read(
            "events.of_profiles",
            lambda s: s.batched("events_of_profiles", "ids", ids, since=stamp),
        )
        # A profile's events come from one batch, already in (timestamp, event id) order.
        for row in rows:
            found[row["profile_id"]].append(event_from_document(row["event_id"], row["body"]))
        return found

    def profiles_of(self, event_ids: Collection[str]) -> dict[str, list[ProfileId]]:
        found: dict[str, list[ProfileId]] = {eid: [] for eid in event_ids}
        ids = list(found)
        rows = self._db.read(
            "events.profiles_of", lambda s: s.batched("profiles_of_events", "ids", ids)
        )
        for row in rows:
            found[row["event_id"]].append(row["profile_id"])
        return found

    def count(self) -> int:
        rows = self._db.read("events.count", lambda s: s.run("event_count"))
        return int(rows[0]["events"])


def _query_params(query: EventQuery) -> dict[str, object]:
    """The journey statements' filter, keyset and limit parameters."""
    after_ts, after_id = (utc(query.after[0]), query.after[1]) if query.after else (None, None)
    return {
        "types": list(query.types) if query.types is not None else None,
        "channels": list(query.channels) if query.channels is not None else None,
        "since": utc(query.since) if query.since else None,
        "until": utc(query.until) if query.until else None,
        "after_ts": after_ts,
        "after_id": after_id,
        "limit": query.limit,
    }
