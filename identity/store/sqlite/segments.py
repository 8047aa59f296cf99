"""Segment definitions, their members and the membership change log (SegmentPort) in
SQLite."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from identity.model import (
    JSONValue,
    MembershipChange,
    MembershipKind,
    ProfileId,
    SegmentChange,
    SegmentRow,
)
from identity.store.changes import dumps
from identity.store.ports import SegmentPort
from identity.store.sqlite.connection import Connection
from identity.store.sqlite.statements import statement


def _sql(name: str) -> str:
    return statement("segments", name)


def segment_change(row: tuple[Any, ...]) -> SegmentChange:
    """A row of the change columns (seq, segment, profile_id, kind, at, merged_into)."""
    seq, segment, profile_id, kind, at, merged_into = row
    return SegmentChange(
        seq, segment, profile_id, MembershipKind(kind), datetime.fromisoformat(at), merged_into
    )


def apply_members(db: Connection, changes: Sequence[MembershipChange | SegmentChange]) -> None:
    """Adds and removes members as ``changes`` say, inside the caller's transaction."""
    # The last change of each (segment, profile) in log order decides: a profile may
    # enter, exit and enter again within one batch.
    final: dict[tuple[str, ProfileId], MembershipKind] = {}
    for c in changes:
        final[(c.segment, c.profile_id)] = c.kind
    db.executemany(
        _sql("add_member"), [m for m, kind in final.items() if kind == MembershipKind.ENTERED]
    )
    db.executemany(
        _sql("remove_member"), [m for m, kind in final.items() if kind == MembershipKind.EXITED]
    )


class SQLiteSegments(SegmentPort):
    def __init__(self, db: Connection) -> None:
        self._db = db

    def put(self, name: str, definition: dict[str, JSONValue], now: datetime) -> None:
        stamp = now.isoformat()
        with self._db.transaction("segments.put"):
            self._db.execute(_sql("put_segment"), (name, dumps(definition), stamp, stamp))

    def get(self, names: Collection[str] | None = None) -> list[SegmentRow]:
        with self._db.reading("segments.get") as conn:
            if names is None:
                rows = conn.execute(_sql("all_segments")).fetchall()
            else:
                rows = conn.execute(
                    _sql("segments_named"), {"names": dumps(list(names))}
                ).fetchall()
        return [
            SegmentRow(name, json.loads(doc), datetime.fromisoformat(c), datetime.fromisoformat(u))
            for name, doc, c, u in rows
        ]

    def delete(self, name: str) -> bool:
        with self._db.transaction("segments.delete"):
            self._db.execute(_sql("delete_segment_changes"), {"name": name})
            self._db.execute(_sql("delete_segment_members"), {"name": name})
            deleted = self._db.execute(_sql("delete_segment"), {"name": name}).rowcount
        return deleted > 0

    def members(
        self, name: str, after: ProfileId | None = None, limit: int = 1000
    ) -> list[ProfileId]:
        with self._db.reading("segments.members") as conn:
            rows = conn.execute(_sql("segment_members"), (name, after or "", limit)).fetchall()
        return [pid for (pid,) in rows]

    def sizes(self, names: Collection[str] | None = None) -> dict[str, int]:
        params = {"names": dumps(list(names)) if names is not None else None}
        with self._db.reading("segments.sizes") as conn:
            return dict(conn.execute(_sql("segment_sizes"), params).fetchall())

    def memberships_of(self, profile_ids: Collection[ProfileId]) -> dict[ProfileId, list[str]]:
        found: dict[ProfileId, list[str]] = {pid: [] for pid in profile_ids}
        with self._db.reading("segments.memberships_of") as conn:
            for pid, segment in conn.execute(_sql("memberships_of"), {"ids": dumps(list(found))}):
                found[pid].append(segment)
        return found

    def apply_changes(self, changes: Sequence[MembershipChange], now: datetime) -> None:
        at = now.isoformat()
        with self._db.transaction("segments.apply_changes"):
            apply_members(self._db, changes)
            self._db.executemany(
                _sql("log_change"),
                [(c.segment, c.profile_id, c.kind.value, at, c.merged_into) for c in changes],
            )

    def changes(self, name: str, after: int = 0, limit: int = 1000) -> list[SegmentChange]:
        with self._db.reading("segments.changes") as conn:
            rows = conn.execute(_sql("segment_changes"), (name, after, limit)).fetchall()
        return [segment_change(row) for row in rows]

    def last_change_seq(self) -> int:
        with self._db.reading("segments.last_change_seq") as conn:
            seq: int = conn.execute(_sql("last_change_seq")).fetchone()[0]
        return seq
